//! Value representations: which byte pairs are VRs, their length fields, binary number sizes,
//! and the VR the standard dictionary gives a tag in implicit-VR datasets.

use dicom_core::Tag;
use dicom_dictionary_std::StandardDataDictionary;

use super::cursor::ElementHeader;

/// Whether an element is a sequence: by its VR, or (implicit VR) by the standard dictionary, as
/// dicom-object decides.
pub(super) fn is_sequence(element: &ElementHeader) -> bool {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
    match element.vr {
        Some(vr) => &vr == b"SQ",
        None => {
            element.tag.0 != 0xFFFE
                && StandardDataDictionary
                    .by_tag(element.tag)
                    .is_some_and(|entry| entry.vr() == VirtualVr::Exact(dicom_core::VR::SQ))
        }
    }
}

/// Whether two bytes can be an explicit VR (unknown VRs included, as dicom-rs reads them).
pub fn is_vr(bytes: &[u8]) -> bool {
    bytes.len() == 2 && bytes[0].is_ascii_uppercase() && bytes[1].is_ascii_uppercase()
}

/// Whether an explicit VR has a 4-byte length field: every VR but the short ones of PS3.5
/// 7.1.2, unknown ones included (dicom-rs reads an unknown VR as UN, so must we to agree on
/// where elements end).
pub fn has_long_length(vr: &[u8; 2]) -> bool {
    !matches!(
        vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

/// The size of one value of a binary number VR (`US` 2, `UL` 4, `FD` 8...).
pub(super) fn number_size(vr: &[u8; 2]) -> Option<u32> {
    match vr {
        b"SS" | b"US" => Some(2),
        b"SL" | b"UL" | b"FL" | b"AT" => Some(4),
        b"FD" | b"SV" | b"UV" => Some(8),
        _ => None,
    }
}

/// The size of a binary number the VR of `tag` in an implicit-VR dataset holds, as dicom-object
/// decides that VR: UL for group lengths, else the standard dictionary's (US for US-or-SS).
pub(super) fn implicit_number_size(tag: Tag) -> Option<u32> {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
    if tag.1 == 0 {
        return Some(4);
    }
    match StandardDataDictionary.by_tag(tag)?.vr() {
        VirtualVr::Exact(vr) => number_size(&vr.to_bytes()),
        VirtualVr::Xs => Some(2),
        _ => None,
    }
}
