//! Reading header values the way dcm2niix does: text and binary VRs alike, private elements
//! included even when a file stores them as UN (implicit VR, or a dictionary that does not
//! know them).

use dicom_core::{Tag, VR};
use dicom_object::InMemDicomObject;

/// Text of an element, trimmed of padding (spaces, NULs); `None` when absent or empty.
/// Backslash-separated values stay joined, as dcm2niix keeps them (e.g. `SK\SS`).
pub(crate) fn text(ds: &InMemDicomObject, tag: Tag) -> Option<String> {
    let element = ds.get(tag)?;
    let s = if element.vr() == VR::UN {
        latin1(&element.to_bytes().ok()?)
    } else {
        element.to_str().ok()?.into_owned()
    };
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

/// Every number of an element: binary (FD, FL, US, SS, UL, SL) or text (DS, IS), or UN
/// holding either (text is tried first; then 8 or 4 bytes are read as one little-endian float).
pub(crate) fn floats(ds: &InMemDicomObject, tag: Tag) -> Vec<f64> {
    let Some(element) = ds.get(tag) else {
        return Vec::new();
    };
    if element.vr() == VR::UN {
        let Ok(bytes) = element.to_bytes() else {
            return Vec::new();
        };
        let from_text = numbers_in(&latin1(&bytes));
        if !from_text.is_empty() {
            return from_text;
        }
        // Binary UN: FD, FL or SS by length (the private tags read here use these).
        return match bytes.len() {
            8 => vec![f64::from_le_bytes(
                bytes[..8].try_into().unwrap_or_default(),
            )],
            4 => vec![f32::from_le_bytes(bytes[..4].try_into().unwrap_or_default()) as f64],
            2 => vec![i16::from_le_bytes([bytes[0], bytes[1]]) as f64],
            _ => Vec::new(),
        };
    }
    match element.to_multi_float64() {
        Ok(v) => v.into_iter().filter(|x| x.is_finite()).collect(),
        Err(_) => element.to_str().map(|s| numbers_in(&s)).unwrap_or_default(),
    }
}

/// The first number of an element.
pub(crate) fn float(ds: &InMemDicomObject, tag: Tag) -> Option<f64> {
    floats(ds, tag).first().copied()
}

/// The first item of a sequence element.
pub(crate) fn first_item(ds: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    ds.get(tag)?.items()?.first()
}

/// All items of a sequence element (empty when absent or not a sequence).
pub(crate) fn items(ds: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    ds.get(tag).and_then(|e| e.items()).unwrap_or(&[])
}

/// Backslash-separated numbers as C's `atof` reads them ("+0", "1e3"); unreadable parts are
/// skipped.
fn numbers_in(s: &str) -> Vec<f64> {
    s.split('\\')
        .filter_map(|p| {
            let p = p.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            p.strip_prefix('+').unwrap_or(p).parse::<f64>().ok()
        })
        .filter(|x| x.is_finite())
        .collect()
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
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
    pub fn of(ds: &InMemDicomObject) -> Vendor {
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
