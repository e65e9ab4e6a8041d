//! Progress bars on stderr, shown only to a person watching a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that stays hidden when stderr is not a terminal or output is quiet.
#[derive(Debug, Clone)]
pub struct Progress(ProgressBar);

impl Progress {
    /// A bar counting `total` items of `what` (e.g. "scan").
    pub fn new(what: &str, total: u64, visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), Self::target(visible));
        let style = ProgressStyle::with_template(
            "{prefix:>6} [{bar:30}] {human_pos}/{human_len} files {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        Progress(bar)
    }

    /// A spinner for work of unknown length (e.g. listing a bucket).
    pub fn spinner(what: &str, visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, Self::target(visible));
        let style = ProgressStyle::with_template("{prefix:>6} {spinner} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Progress(bar)
    }

    /// A bar that never draws (library use, tests).
    pub fn hidden() -> Self {
        Progress(ProgressBar::hidden())
    }

    fn target(visible: bool) -> ProgressDrawTarget {
        if visible && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    }

    /// Advances the bar.
    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
