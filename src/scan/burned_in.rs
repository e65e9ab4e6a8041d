//! What a header says about text burned into its pixels: BurnedInAnnotation (0028,0301) and
//! the Sequence of Ultrasound Regions (0018,6011), whose regions hold the image proper (the
//! scanner's text band lies outside them).

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use serde::{Deserialize, Serialize};

use super::reader::{Endian, RawElement, trim_text};

/// One ultrasound region: its first and last column and row (inclusive), as the header gives
/// them (they may run past the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub min_x: u32,
    pub min_y: u32,
    pub max_x: u32,
    pub max_y: u32,
}

/// SOP classes of Secondary Capture images: pictures of screens and documents, not
/// acquisitions (SC, and the multi-frame single-bit, grayscale byte and word, and true
/// colour SCs).
const SECONDARY_CAPTURE_CLASSES: &[&str] = &[
    "1.2.840.10008.5.1.4.1.1.7",
    "1.2.840.10008.5.1.4.1.1.7.1",
    "1.2.840.10008.5.1.4.1.1.7.2",
    "1.2.840.10008.5.1.4.1.1.7.3",
    "1.2.840.10008.5.1.4.1.1.7.4",
];

/// Whether an image is no acquisition (a Secondary Capture class, or Modality SC or OT):
/// the kind of picture that often carries text without saying so.
pub fn is_non_acquisition(sop_class_uid: Option<&str>, modality: Option<&str>) -> bool {
    sop_class_uid.is_some_and(|c| SECONDARY_CAPTURE_CLASSES.contains(&c))
        || matches!(modality, Some("SC" | "OT"))
}

/// BurnedInAnnotation: `Some(true)` for YES, `Some(false)` for NO, `None` when absent or
/// neither.
pub(super) fn declared(value: Option<&[u8]>) -> Option<bool> {
    match trim_text(value?).to_ascii_uppercase().as_str() {
        "YES" => Some(true),
        "NO" => Some(false),
        _ => None,
    }
}

/// The regions of the kept Sequence of Ultrasound Regions items; items without all four
/// corners, or whose corners are reversed, are left out.
pub(super) fn regions(items: &[Vec<RawElement<'_>>], endian: Endian) -> Vec<Region> {
    items
        .iter()
        .filter_map(|item| {
            let value = |tag: Tag| {
                let bytes = item.iter().find(|(t, _)| *t == tag)?.1;
                let bytes: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
                Some(match endian {
                    Endian::Little => u32::from_le_bytes(bytes),
                    Endian::Big => u32::from_be_bytes(bytes),
                })
            };
            let region = Region {
                min_x: value(tags::REGION_LOCATION_MIN_X0)?,
                min_y: value(tags::REGION_LOCATION_MIN_Y0)?,
                max_x: value(tags::REGION_LOCATION_MAX_X1)?,
                max_y: value(tags::REGION_LOCATION_MAX_Y1)?,
            };
            (region.min_x <= region.max_x && region.min_y <= region.max_y).then_some(region)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_and_regions_are_read_as_written() {
        assert_eq!(declared(Some(b"YES ")), Some(true));
        assert_eq!(declared(Some(b"NO")), Some(false));
        assert_eq!(declared(Some(b"")), None);
        assert_eq!(declared(None), None);
        let corner = |tag, v: u32| {
            (
                tag,
                &*Box::leak(v.to_le_bytes().to_vec().into_boxed_slice()),
            )
        };
        let item = |x0, y0, x1, y1| {
            vec![
                corner(tags::REGION_LOCATION_MIN_X0, x0),
                corner(tags::REGION_LOCATION_MIN_Y0, y0),
                corner(tags::REGION_LOCATION_MAX_X1, x1),
                corner(tags::REGION_LOCATION_MAX_Y1, y1),
            ]
        };
        let mut partial = item(1, 2, 3, 4);
        partial.pop();
        let items = vec![item(120, 60, 800, 518), item(9, 9, 3, 20), partial];
        assert_eq!(
            regions(&items, Endian::Little),
            [Region {
                min_x: 120,
                min_y: 60,
                max_x: 800,
                max_y: 518
            }]
        );
        assert!(is_non_acquisition(
            Some("1.2.840.10008.5.1.4.1.1.7"),
            Some("US")
        ));
        assert!(is_non_acquisition(None, Some("OT")));
        assert!(!is_non_acquisition(
            Some("1.2.840.10008.5.1.4.1.1.2"),
            Some("CT")
        ));
    }
}
