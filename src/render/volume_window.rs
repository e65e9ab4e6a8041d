//! One header window for all frames of a video, chosen from every slice's own window.
//!
//! Some scanners write each slice's min-max as its window: the slices of one volume then carry
//! different windows, and one slice with a bright outlier pixel carries a window many times
//! wider than the rest. Taking any one slice's window (the middle one, say) can leave every
//! other frame nearly black. So the volume's window is the one most slices carry when a strict
//! majority carries it, else the median centre and the median width of all of them.

use std::cmp::Ordering;

/// How [`shared_header_window`] chose the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedRule {
    /// Every slice with a window carries this one.
    All,
    /// More than half of the slices with a window carry this one.
    Majority,
    /// No window is carried by most slices: the median centre and the median width.
    Median,
}

/// The window chosen for a whole volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharedWindow {
    pub center: f64,
    pub width: f64,
    pub rule: SharedRule,
    /// Slices that carry exactly this window.
    pub carriers: usize,
    /// Slices that carry a usable window at all.
    pub with_window: usize,
    /// Slices of the volume.
    pub slices: usize,
}

impl SharedWindow {
    /// Says in words how the window was chosen, e.g. `carried by 110 of 130 slices`.
    pub fn explain(&self) -> String {
        let missing = match self.slices - self.with_window {
            0 => String::new(),
            n => format!("; {n} slices carry no window"),
        };
        let how = match self.rule {
            SharedRule::All => format!("carried by all {} slices with a window", self.with_window),
            SharedRule::Majority => format!(
                "carried by {} of {} slices with a window (the most common)",
                self.carriers, self.with_window
            ),
            SharedRule::Median => format!(
                "median centre and width of {} slices' windows (no window is carried by most)",
                self.with_window
            ),
        };
        how + &missing
    }
}

/// The window of a volume whose slices carry `windows` (centre, width) in slice order; `None`
/// when no slice carries a usable one (finite centre, finite positive width).
pub fn shared_header_window(
    windows: impl IntoIterator<Item = (Option<f64>, Option<f64>)>,
) -> Option<SharedWindow> {
    let mut slices = 0;
    let mut usable: Vec<(f64, f64)> = Vec::new();
    for (center, width) in windows {
        slices += 1;
        if let (Some(c), Some(w)) = (center, width)
            && c.is_finite()
            && w.is_finite()
            && w > 0.0
        {
            usable.push((c, w));
        }
    }
    if usable.is_empty() {
        return None;
    }
    let with_window = usable.len();
    let by_pair = |a: &(f64, f64), b: &(f64, f64)| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1));
    let mut sorted = usable.clone();
    sorted.sort_by(by_pair);
    // The most common pair; ties go to the smallest (centre, width), so the choice does not
    // depend on the order of the slices.
    let mut best = (sorted[0], 0usize);
    let mut run = (sorted[0], 0usize);
    for &pair in &sorted {
        if by_pair(&pair, &run.0) == Ordering::Equal {
            run.1 += 1;
        } else {
            run = (pair, 1);
        }
        if run.1 > best.1 {
            best = run;
        }
    }
    let ((center, width), carriers) = best;
    if 2 * carriers > with_window {
        let rule = if carriers == with_window {
            SharedRule::All
        } else {
            SharedRule::Majority
        };
        return Some(SharedWindow {
            center,
            width,
            rule,
            carriers,
            with_window,
            slices,
        });
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        }
    };
    let center = median(usable.iter().map(|w| w.0).collect());
    let width = median(usable.iter().map(|w| w.1).collect());
    let carriers = usable
        .iter()
        .filter(|w| w.0 == center && w.1 == width)
        .count();
    Some(SharedWindow {
        center,
        width,
        rule: SharedRule::Median,
        carriers,
        with_window,
        slices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(pairs: &[(f64, f64)]) -> Vec<(Option<f64>, Option<f64>)> {
        pairs.iter().map(|&(c, w)| (Some(c), Some(w))).collect()
    }

    #[test]
    fn one_window_everywhere_is_taken() {
        let chosen = shared_header_window(windows(&[(40.0, 400.0); 5])).unwrap();
        assert_eq!((chosen.center, chosen.width), (40.0, 400.0));
        assert_eq!(chosen.rule, SharedRule::All);
        assert_eq!(chosen.explain(), "carried by all 5 slices with a window");
    }

    #[test]
    fn the_majority_window_beats_the_middle_slice_outlier() {
        // 110 of 130 slices carry 153/307; the middle one carries an outlier's 3010/6020.
        let mut pairs = vec![(153.0, 307.0); 130];
        pairs[65] = (3010.0, 6020.0);
        for pair in pairs.iter_mut().take(19) {
            *pair = (160.0, 320.0);
        }
        let chosen = shared_header_window(windows(&pairs)).unwrap();
        assert_eq!((chosen.center, chosen.width), (153.0, 307.0));
        assert_eq!(chosen.rule, SharedRule::Majority);
        assert_eq!(chosen.carriers, 110);
    }

    #[test]
    fn per_slice_windows_give_the_medians() {
        let mut pairs: Vec<(f64, f64)> = (0..9)
            .map(|i| (100.0 + f64::from(i), 200.0 + 2.0 * f64::from(i)))
            .collect();
        pairs[4] = (5000.0, 10000.0);
        let chosen = shared_header_window(windows(&pairs)).unwrap();
        assert_eq!(chosen.rule, SharedRule::Median);
        assert_eq!((chosen.center, chosen.width), (105.0, 210.0));
        // An even count takes the mean of the two middle values.
        let chosen = shared_header_window(windows(&[(1.0, 10.0), (3.0, 30.0)])).unwrap();
        assert_eq!((chosen.center, chosen.width), (2.0, 20.0));
    }

    #[test]
    fn slices_without_usable_windows_are_counted_but_not_used() {
        let mut list = windows(&[(10.0, 20.0), (10.0, 20.0)]);
        list.push((None, Some(5.0)));
        list.push((Some(1.0), Some(0.0)));
        list.push((Some(f64::NAN), Some(3.0)));
        let chosen = shared_header_window(list).unwrap();
        assert_eq!(chosen.rule, SharedRule::All);
        assert_eq!((chosen.with_window, chosen.slices), (2, 5));
        assert!(chosen.explain().ends_with("; 3 slices carry no window"));
        assert_eq!(shared_header_window(vec![(None, None)]), None);
    }

    #[test]
    fn ties_do_not_depend_on_slice_order() {
        let a = shared_header_window(windows(&[(1.0, 2.0), (3.0, 4.0)])).unwrap();
        let b = shared_header_window(windows(&[(3.0, 4.0), (1.0, 2.0)])).unwrap();
        assert_eq!(a, b);
    }
}
