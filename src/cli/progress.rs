//! Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise (logs of
//! batch jobs), nothing when quiet. The command line's side of [`crate::progress::Progress`].

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Seconds between plain progress lines when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Progress of one stage, counting items (files or frames).
#[derive(Debug, Clone)]
pub struct TerminalProgress {
    bar: ProgressBar,
    /// Plain lines instead of a bar: when the last one was printed.
    plain: Option<Arc<Mutex<Instant>>>,
}

impl TerminalProgress {
    /// Progress over `total` items of `what` (e.g. "scan").
    pub fn new(what: &str, total: u64, visible: bool) -> Self {
        let (target, plain) = Self::target(visible);
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let style = ProgressStyle::with_template(
            "{prefix:>6} [{bar:30}] {human_pos}/{human_len} files {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        TerminalProgress { bar, plain }
    }

    /// A spinner for work of unknown length (e.g. listing a bucket).
    pub fn spinner(what: &str, visible: bool) -> Self {
        let (target, plain) = Self::target(visible);
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template("{prefix:>6} {spinner} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        if plain.is_none() {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        TerminalProgress { bar, plain }
    }

    fn target(visible: bool) -> (ProgressDrawTarget, Option<Arc<Mutex<Instant>>>) {
        match (visible, std::io::stderr().is_terminal()) {
            (true, true) => (ProgressDrawTarget::stderr(), None),
            (true, false) => (
                ProgressDrawTarget::hidden(),
                Some(Arc::new(Mutex::new(Instant::now()))),
            ),
            (false, _) => (ProgressDrawTarget::hidden(), None),
        }
    }

    /// The plain progress line: `render: 1200/5000 (24%), 310/s, about 12 s left`.
    fn line(&self) -> String {
        let position = self.bar.position();
        let rate = self.bar.per_sec();
        let message = self.bar.message();
        let message = if message.is_empty() {
            String::new()
        } else {
            format!(", {message}")
        };
        match self.bar.length() {
            Some(total) if total > 0 => format!(
                "{}: {position}/{total} ({:.0}%), {rate:.0}/s, about {} s left{message}",
                self.bar.prefix(),
                100.0 * position as f64 / total as f64,
                self.bar.eta().as_secs()
            ),
            _ => format!("{}: {position}, {rate:.0}/s{message}", self.bar.prefix()),
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl crate::progress::Progress for TerminalProgress {
    fn advance(&self, n: u64) {
        self.bar.inc(n);
        let Some(last) = &self.plain else { return };
        let Ok(mut last) = last.try_lock() else {
            return;
        };
        if last.elapsed() >= PLAIN_EVERY {
            *last = Instant::now();
            eprintln!("{}", self.line());
        }
    }

    fn written(&self, bytes: u64) {
        self.bar
            .set_message(format!("{} written", human_bytes(bytes)));
    }
}

/// `12.3 MB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress as _;

    #[test]
    fn plain_lines_say_position_total_and_rate() {
        let progress = TerminalProgress {
            bar: ProgressBar::with_draw_target(Some(200), ProgressDrawTarget::hidden()),
            plain: None,
        };
        progress.bar.set_prefix("render");
        progress.advance(50);
        let line = progress.line();
        assert!(line.starts_with("render: 50/200 (25%), "), "{line}");
        assert!(line.ends_with(" s left"), "{line}");
        progress.written(12_345_678);
        assert!(progress.line().ends_with(" s left, 12.3 MB written"));
        assert_eq!(human_bytes(999), "999 B");
    }
}
