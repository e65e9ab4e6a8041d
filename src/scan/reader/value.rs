//! Reading the values of a [`HeaderTree`](super::HeaderTree) element: text and numbers, from
//! text and binary VRs alike, and from UN (implicit VR private elements, or tags a writer's
//! dictionary did not know).

use dicom_core::VR;

use super::tree::Attribute;

impl Attribute<'_> {
    /// The value as text: UN and other byte VRs as Latin-1, binary numbers printed and joined
    /// by backslashes, strings decoded (UTF-8, else Latin-1) with each value's trailing padding
    /// dropped, as dicom-object's `to_str` gives them; `None` for sequences.
    pub fn text(&self) -> Option<String> {
        let bytes = self.bytes();
        Some(match self.vr() {
            VR::SQ => return None,
            VR::UN | VR::OB | VR::OW | VR::OF | VR::OD | VR::OL | VR::OV => latin1(bytes),
            VR::LT | VR::ST | VR::UT => decoded(bytes).trim_end_matches([' ', '\0']).to_string(),
            vr if binary_size(vr).is_some() => self
                .binary_numbers()
                .iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join("\\"),
            _ => decoded(bytes)
                .split('\\')
                .map(|v| v.trim_end_matches([' ', '\0']))
                .collect::<Vec<_>>()
                .join("\\"),
        })
    }

    /// Every finite number of the value: binary (FD, FL, US, SS, UL, SL) or text (DS, IS), or
    /// UN holding either (text is tried first; then 8, 4 or 2 bytes are read as one
    /// little-endian FD, FL or SS, the types of the private elements read this way).
    pub fn numbers(&self) -> Vec<f64> {
        let bytes = self.bytes();
        match self.vr() {
            VR::UN => {
                let from_text = numbers_in(&latin1(bytes));
                if !from_text.is_empty() {
                    return from_text;
                }
                match *bytes {
                    [a, b, c, d, e, f, g, h] => vec![f64::from_le_bytes([a, b, c, d, e, f, g, h])],
                    [a, b, c, d] => vec![f64::from(f32::from_le_bytes([a, b, c, d]))],
                    [a, b] => vec![f64::from(i16::from_le_bytes([a, b]))],
                    _ => Vec::new(),
                }
            }
            VR::SQ | VR::OB | VR::OW | VR::OF | VR::OD | VR::OL | VR::OV | VR::AT => Vec::new(),
            vr if binary_size(vr).is_some() => self.binary_numbers(),
            _ => numbers_in(&decoded(bytes)),
        }
        .into_iter()
        .filter(|x| x.is_finite())
        .collect()
    }

    /// The values of a binary number element, in its byte order.
    fn binary_numbers(&self) -> Vec<f64> {
        let vr = self.vr();
        let Some(size) = binary_size(vr) else {
            return Vec::new();
        };
        let big = self.is_big_endian();
        self.bytes()
            .chunks_exact(size)
            .map(|chunk| {
                let mut b = [0u8; 8];
                b[..size].copy_from_slice(chunk);
                if big {
                    b[..size].reverse();
                }
                let four = [b[0], b[1], b[2], b[3]];
                match vr {
                    VR::US => f64::from(u16::from_le_bytes([b[0], b[1]])),
                    VR::SS => f64::from(i16::from_le_bytes([b[0], b[1]])),
                    VR::UL => f64::from(u32::from_le_bytes(four)),
                    VR::SL => f64::from(i32::from_le_bytes(four)),
                    VR::FL => f64::from(f32::from_le_bytes(four)),
                    VR::SV => i64::from_le_bytes(b) as f64,
                    VR::UV => u64::from_le_bytes(b) as f64,
                    _ => f64::from_le_bytes(b),
                }
            })
            .collect()
    }
}

/// The size of one value of a binary number VR.
fn binary_size(vr: VR) -> Option<usize> {
    match vr {
        VR::US | VR::SS => Some(2),
        VR::UL | VR::SL | VR::FL => Some(4),
        VR::FD | VR::SV | VR::UV => Some(8),
        _ => None,
    }
}

/// Backslash-separated numbers as C's `atof` reads them ("+0", "1e3"); unreadable parts are
/// skipped.
fn numbers_in(s: &str) -> Vec<f64> {
    s.split('\\')
        .filter_map(|p| {
            let p = p.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            p.strip_prefix('+').unwrap_or(p).parse::<f64>().ok()
        })
        .collect()
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// Text bytes as UTF-8 when they are, else as Latin-1 (ISO_IR 100, the usual other set).
fn decoded(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => std::borrow::Cow::Owned(latin1(bytes)),
    }
}
