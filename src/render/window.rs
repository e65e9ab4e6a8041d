//! Choosing the VOI window: from the header, from the data (min-max), or given by the user.

use std::str::FromStr;

use super::lut::{GreyMapping, ModalityLut, Voi, Window};

/// How the window of grey images is chosen (`--window`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum WindowChoice {
    /// The first VOI LUT or window in the header; min-max when there is none.
    #[default]
    Header,
    /// The smallest and largest modality value become black and white.
    MinMax,
    /// A given center and width (LINEAR), e.g. from a preset.
    Fixed { center: f64, width: f64 },
}

/// Named CT windows (center, width in HU).
pub const PRESETS: &[(&str, f64, f64)] = &[
    ("lung", -600.0, 1500.0),
    ("mediastinum", 50.0, 350.0),
    ("soft-tissue", 40.0, 400.0),
    ("abdomen", 60.0, 400.0),
    ("liver", 30.0, 150.0),
    ("bone", 400.0, 1800.0),
    ("brain", 40.0, 80.0),
    ("subdural", 75.0, 215.0),
    ("stroke", 40.0, 40.0),
];

impl FromStr for WindowChoice {
    type Err = String;

    /// `header`, `minmax`, `C,W` (e.g. `40,400`) or a preset name.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text {
            "header" => return Ok(WindowChoice::Header),
            "minmax" | "min-max" => return Ok(WindowChoice::MinMax),
            _ => {}
        }
        if let Some(&(_, center, width)) = PRESETS.iter().find(|(name, _, _)| *name == text) {
            return Ok(WindowChoice::Fixed { center, width });
        }
        let parsed = text.split_once(',').and_then(|(c, w)| {
            Some((c.trim().parse::<f64>().ok()?, w.trim().parse::<f64>().ok()?))
        });
        match parsed {
            Some((center, width)) if center.is_finite() && width.is_finite() && width > 0.0 => {
                Ok(WindowChoice::Fixed { center, width })
            }
            _ => {
                let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
                Err(format!(
                    "unknown window {text:?}: use header, minmax, CENTER,WIDTH (width > 0, e.g. 40,400) or one of {}",
                    names.join(", ")
                ))
            }
        }
    }
}

/// Range of modality values reached by stored values in `min..=max`.
pub fn modality_range(modality: &ModalityLut, min: i64, max: i64) -> (f64, f64) {
    match modality {
        ModalityLut::Rescale { .. } => {
            let (a, b) = (modality.apply(min as f64), modality.apply(max as f64));
            (a.min(b), a.max(b))
        }
        ModalityLut::Table(table) => {
            let lo = (min as f64).max(table.first) as i64;
            let hi = (max as f64).min(table.first + table.values.len() as f64 - 1.0) as i64;
            let outputs = (lo..=hi.max(lo)).map(|v| table.lookup(v as f64));
            outputs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            })
        }
    }
}

/// The mapping of a frame: `header_voi` is the header's VOI (if any) and `range` gives the
/// modality range the min-max window spans (the frame's own, or the whole volume's for
/// videos) under `modality`, called only when that window is the one chosen.
pub fn choose_mapping(
    choice: WindowChoice,
    modality: ModalityLut,
    header_voi: Option<Voi>,
    range: impl FnOnce(&ModalityLut) -> (f64, f64),
    invert: bool,
) -> GreyMapping {
    let min_max = || {
        let (lo, hi) = range(&modality);
        Voi::Window(Window::min_max(lo, hi))
    };
    let voi = match choice {
        WindowChoice::Header => header_voi.unwrap_or_else(min_max),
        WindowChoice::MinMax => min_max(),
        WindowChoice::Fixed { center, width } => Voi::Window(Window::linear(center, width)),
    };
    GreyMapping {
        modality,
        voi,
        invert,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::lut::LutTable;

    #[test]
    fn parses_choices_presets_and_explains_mistakes() {
        assert_eq!("header".parse(), Ok(WindowChoice::Header));
        assert_eq!("minmax".parse(), Ok(WindowChoice::MinMax));
        assert_eq!(
            "40,400".parse(),
            Ok(WindowChoice::Fixed {
                center: 40.0,
                width: 400.0
            })
        );
        assert_eq!(
            "lung".parse(),
            Ok(WindowChoice::Fixed {
                center: -600.0,
                width: 1500.0
            })
        );
        let err = "40,-1".parse::<WindowChoice>().unwrap_err();
        assert!(
            err.contains("bone") && err.contains("CENTER,WIDTH"),
            "{err}"
        );
        assert!("soft".parse::<WindowChoice>().is_err());
    }

    #[test]
    fn modality_range_follows_rescale_sign_and_tables() {
        let negative = ModalityLut::Rescale {
            slope: -1.0,
            intercept: 0.0,
        };
        assert_eq!(modality_range(&negative, 0, 10), (-10.0, 0.0));
        let table = ModalityLut::Table(LutTable {
            first: 0.0,
            values: vec![5.0, -3.0, 9.0],
            bits: 16,
        });
        assert_eq!(modality_range(&table, 0, 1), (-3.0, 5.0));
    }

    #[test]
    fn header_choice_falls_back_to_min_max() {
        let mapping = choose_mapping(
            WindowChoice::Header,
            ModalityLut::IDENTITY,
            None,
            |_| (0.0, 100.0),
            false,
        );
        assert_eq!(mapping.voi, Voi::Window(Window::min_max(0.0, 100.0)));
        let fixed = choose_mapping(
            WindowChoice::Fixed {
                center: 1.0,
                width: 2.0,
            },
            ModalityLut::IDENTITY,
            None,
            |_| unreachable!("a fixed window needs no range"),
            true,
        );
        assert!(fixed.invert);
    }
}
