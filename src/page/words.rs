//! The order diagnostics of a volume in words, and its plot of slice position against order
//! index as inline SVG. Pure code.

use std::fmt::Write;

use crate::contract::order_report::Diagnostics;

/// One sentence per finding of `diagnostics` (already escaped-safe: numbers and fixed words).
pub fn diagnostics_in_words(diagnostics: &Diagnostics) -> Vec<String> {
    let mut lines = Vec::new();
    lines.push(match (
        diagnostics.instance_order_matches_spatial,
        &diagnostics.instance_direction,
    ) {
        (Some(true), Some(direction)) => {
            format!("InstanceNumber follows the slice positions ({direction} along the normal).")
        }
        (Some(true), None) => "InstanceNumber follows the slice positions.".into(),
        (Some(false), _) => {
            "InstanceNumber does not follow the slice positions: the order comes from the rule, not from InstanceNumber alone."
                .into()
        }
        (None, _) => "Too few slices carry both InstanceNumber and a position to compare them.".into(),
    });
    match diagnostics.slice_spacing {
        Some(spacing) => lines.push(format!("Median slice spacing {spacing} mm.")),
        None => lines.push("No slice spacing (fewer than two distinct positions).".into()),
    }
    if !diagnostics.duplicate_positions.is_empty() {
        let held: usize = diagnostics
            .duplicate_positions
            .iter()
            .map(|d| d.count)
            .sum();
        let first = &diagnostics.duplicate_positions[0];
        lines.push(format!(
            "{} position(s) repeat, held by {held} slices (e.g. {} mm, {} times): time points or repeated acquisitions.",
            diagnostics.duplicate_positions.len(),
            first.position,
            first.count
        ));
    }
    for gap in &diagnostics.gaps {
        lines.push(format!(
            "Probable gap between {} mm and {} mm: a step of {} mm, about {} slice(s) missing.",
            gap.from_position, gap.to_position, gap.step, gap.missing_slices
        ));
    }
    if diagnostics.slices_without_position > 0 {
        lines.push(format!(
            "{} slice(s) have no position.",
            diagnostics.slices_without_position
        ));
    }
    lines
}

/// Plot size in pixels.
const WIDTH: f64 = 240.0;
const HEIGHT: f64 = 120.0;
const PAD: f64 = 8.0;
/// Above this many slices the plot draws the line only (no dot per slice).
const MAX_DOTS: usize = 200;

/// Slice position (mm, y) against order index (x) as an inline `<svg>`; slices without a
/// position are left out. `None` when no slice has one.
pub fn position_plot(positions: &[Option<f64>]) -> Option<String> {
    let known: Vec<(usize, f64)> = positions
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.filter(|p| p.is_finite()).map(|p| (i, p)))
        .collect();
    let (lo, hi) = known
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, p)| {
            (lo.min(p), hi.max(p))
        });
    if known.is_empty() {
        return None;
    }
    let last = positions.len().saturating_sub(1).max(1) as f64;
    let x = |i: usize| PAD + (WIDTH - 2.0 * PAD) * i as f64 / last;
    let y = |p: f64| {
        if hi > lo {
            HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * (p - lo) / (hi - lo)
        } else {
            HEIGHT / 2.0
        }
    };
    let mut svg = format!(
        r##"<svg class="plot" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="slice position against order index"><title>slice position (mm, {lo:.1} to {hi:.1}) against order index (0 to {})</title><rect x="0.5" y="0.5" width="{}" height="{}" fill="none" stroke="#bbb"/>"##,
        positions.len().saturating_sub(1),
        WIDTH - 1.0,
        HEIGHT - 1.0
    );
    let points: Vec<String> = known
        .iter()
        .map(|&(i, p)| format!("{:.1},{:.1}", x(i), y(p)))
        .collect();
    let _ = write!(
        svg,
        r##"<polyline fill="none" stroke="#36c" stroke-width="1" points="{}"/>"##,
        points.join(" ")
    );
    if known.len() <= MAX_DOTS {
        for &(i, p) in &known {
            let _ = write!(
                svg,
                r##"<circle cx="{:.1}" cy="{:.1}" r="1.8" fill="#36c"/>"##,
                x(i),
                y(p)
            );
        }
    }
    let _ = write!(
        svg,
        r##"<text x="{PAD}" y="12" font-size="9" fill="#555">{hi:.1} mm</text><text x="{PAD}" y="{}" font-size="9" fill="#555">{lo:.1} mm</text></svg>"##,
        HEIGHT - 3.0
    );
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::explain::diagnose;

    #[test]
    fn a_gap_and_a_reversed_instance_order_are_said_in_words() {
        // InstanceNumber 1..4 going down in space, with one step twice the spacing.
        let slices = [
            (Some(1), Some(20.0)),
            (Some(2), Some(15.0)),
            (Some(3), Some(10.0)),
            (Some(4), Some(0.0)),
        ];
        let words = diagnostics_in_words(&diagnose(&slices)).join(" ");
        assert!(
            words.contains("follows the slice positions (descending"),
            "{words}"
        );
        assert!(words.contains("Median slice spacing 5 mm"), "{words}");
        assert!(
            words.contains("Probable gap between 0 mm and 10 mm"),
            "{words}"
        );
        assert!(words.contains("about 1 slice(s) missing"), "{words}");
    }

    #[test]
    fn repeated_positions_and_missing_ones_are_counted() {
        let slices = [
            (Some(1), Some(0.0)),
            (Some(2), Some(0.0)),
            (Some(3), Some(5.0)),
            (Some(4), None),
        ];
        let words = diagnostics_in_words(&diagnose(&slices)).join(" ");
        assert!(
            words.contains("1 position(s) repeat, held by 2 slices"),
            "{words}"
        );
        assert!(words.contains("1 slice(s) have no position"), "{words}");
    }

    #[test]
    fn the_plot_has_a_dot_per_known_position_and_scales_to_the_box() {
        let svg = position_plot(&[Some(0.0), None, Some(10.0)]).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 2);
        // Index 0 at the left and the bottom, index 2 at the right and the top.
        assert!(svg.contains("points=\"8.0,112.0 232.0,8.0\""), "{svg}");
        assert!(position_plot(&[None, None]).is_none());
        assert!(position_plot(&[]).is_none());
        // One position: a flat line in the middle.
        assert!(position_plot(&[Some(3.0)]).unwrap().contains("8.0,60.0"));
        let many: Vec<Option<f64>> = (0..500).map(|i| Some(f64::from(i))).collect();
        assert_eq!(position_plot(&many).unwrap().matches("<circle").count(), 0);
    }
}
