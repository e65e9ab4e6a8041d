//! Reading header values the way dcm2niix does: text and binary VRs alike, private elements
//! included even when a file stores them as UN (implicit VR, or a dictionary that does not
//! know them).

use dicom_core::Tag;

use crate::scan::reader::Dataset;

/// Text of an element, trimmed of padding (spaces, NULs); `None` when absent or empty.
/// Backslash-separated values stay joined, as dcm2niix keeps them (e.g. `SK\SS`).
pub(crate) fn text(ds: &Dataset<'_>, tag: Tag) -> Option<String> {
    let s = ds.get(tag)?.text()?;
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

/// Every number of an element (see [`crate::scan::reader::Attribute::numbers`]).
pub(crate) fn floats(ds: &Dataset<'_>, tag: Tag) -> Vec<f64> {
    ds.get(tag).map(|a| a.numbers()).unwrap_or_default()
}

/// The first number of an element.
pub(crate) fn float(ds: &Dataset<'_>, tag: Tag) -> Option<f64> {
    floats(ds, tag).first().copied()
}

/// The first item of a sequence element.
pub(crate) fn first_item<'t>(ds: &Dataset<'t>, tag: Tag) -> Option<Dataset<'t>> {
    ds.item(tag, 0)
}

/// The scanner vendor as dcm2niix names it in sidecars, from the first two letters of
/// Manufacturer (0008,0070).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Siemens,
    Ge,
    Philips,
    Hitachi,
    Mediso,
    Toshiba,
    Canon,
    Uih,
    Bruker,
    MrSolutions,
    Hyperfine,
    Unknown,
}

impl Vendor {
    /// Reads (0008,0070) of `ds`.
    pub fn of(ds: &Dataset<'_>) -> Vendor {
        let name = text(ds, dicom_dictionary_std::tags::MANUFACTURER).unwrap_or_default();
        let mut chars = name.chars().map(|c| c.to_ascii_uppercase());
        match (chars.next(), chars.next()) {
            (Some('S'), Some('I')) | (Some('C'), Some('P')) => Vendor::Siemens,
            (Some('G'), Some('E')) => Vendor::Ge,
            (Some('H'), Some('I')) => Vendor::Hitachi,
            (Some('M'), Some('E')) => Vendor::Mediso,
            (Some('P'), Some('H')) => Vendor::Philips,
            (Some('T'), Some('O')) => Vendor::Toshiba,
            (Some('C'), Some('A')) => Vendor::Canon,
            (Some('U'), Some('I')) => Vendor::Uih,
            (Some('B'), Some('R')) => Vendor::Bruker,
            (Some('M'), Some('R')) => Vendor::MrSolutions,
            (Some('H'), Some('Y')) => Vendor::Hyperfine,
            _ => Vendor::Unknown,
        }
    }

    /// The sidecar's "Manufacturer" value; `None` for an unknown vendor (dcm2niix omits it).
    pub fn bids_name(self) -> Option<&'static str> {
        Some(match self {
            Vendor::Siemens => "Siemens",
            Vendor::Ge => "GE",
            Vendor::Philips => "Philips",
            Vendor::Hitachi => "Hitachi",
            Vendor::Mediso => "Mediso",
            Vendor::Toshiba => "Toshiba",
            Vendor::Canon => "Canon",
            Vendor::Uih => "UIH",
            Vendor::Bruker => "Bruker",
            Vendor::MrSolutions => "MRSolutions",
            Vendor::Hyperfine => "Hyperfine",
            Vendor::Unknown => return None,
        })
    }
}

/// `v` printed as C's `printf("%g")` (6 significant digits, trailing zeros dropped, exponent
/// form below 1e-4 and from 1e6), the way dcm2niix writes numbers into .bval/.bvec/.json.
pub fn format_g(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    // Rounding to 6 significant digits first tells which form %g picks.
    let sci = format!("{v:.5e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        let mantissa = strip_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let decimals = (5 - exponent).max(0) as usize;
    strip_zeros(&format!("{v:.decimals$}")).to_string()
}

/// `v` as the number dcm2niix's `%g` text reads back as: what a parser of its JSON sees.
pub fn round_g(v: f64) -> f64 {
    format_g(v).parse().unwrap_or(v)
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}
