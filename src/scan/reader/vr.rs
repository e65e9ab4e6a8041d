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
pub const fn has_long_length(vr: &[u8; 2]) -> bool {
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
pub(super) const fn number_size(vr: &[u8; 2]) -> Option<u32> {
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

/// What an explicit VR's two letters say, looked up in a table rather than matched (the
/// element walker's hottest branch): [`LONG_LENGTH`] set for a 4-byte length field, the low
/// bits the size of its binary numbers (0 for none). `None` when the bytes are not a VR.
pub(super) fn vr_facts(vr: &[u8; 2]) -> Option<u8> {
    let (a, b) = (vr[0].wrapping_sub(b'A'), vr[1].wrapping_sub(b'A'));
    (a < 26 && b < 26).then(|| VR_FACTS[usize::from(a) * 26 + usize::from(b)])
}

/// The flag of [`vr_facts`] for a 4-byte length field.
pub(super) const LONG_LENGTH: u8 = 0x80;

/// [`vr_facts`] of every pair of capital letters.
static VR_FACTS: [u8; 26 * 26] = {
    let mut table = [0u8; 26 * 26];
    let mut i = 0;
    while i < table.len() {
        let vr = [b'A' + (i / 26) as u8, b'A' + (i % 26) as u8];
        let size = match number_size(&vr) {
            Some(size) => size as u8,
            None => 0,
        };
        table[i] = if has_long_length(&vr) { LONG_LENGTH } else { 0 } | size;
        i += 1;
    }
    table
};

/// The [`VR`](dicom_core::VR) of an explicit VR's bytes as dicom-object reads it (UN for one it
/// does not know): a match on the bytes, not on text.
pub(super) fn vr_of(vr: [u8; 2]) -> dicom_core::VR {
    use dicom_core::VR::*;
    match &vr {
        b"AE" => AE,
        b"AS" => AS,
        b"AT" => AT,
        b"CS" => CS,
        b"DA" => DA,
        b"DS" => DS,
        b"DT" => DT,
        b"FL" => FL,
        b"FD" => FD,
        b"IS" => IS,
        b"LO" => LO,
        b"LT" => LT,
        b"OB" => OB,
        b"OD" => OD,
        b"OF" => OF,
        b"OL" => OL,
        b"OV" => OV,
        b"OW" => OW,
        b"PN" => PN,
        b"SH" => SH,
        b"SL" => SL,
        b"SQ" => SQ,
        b"SS" => SS,
        b"ST" => ST,
        b"SV" => SV,
        b"TM" => TM,
        b"UC" => UC,
        b"UI" => UI,
        b"UL" => UL,
        b"UN" => UN,
        b"UR" => UR,
        b"US" => US,
        b"UT" => UT,
        b"UV" => UV,
        _ => UN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table and the byte match say what the definitions (and dicom-core) say, for every
    /// pair of bytes.
    #[test]
    fn tables_agree_with_the_definitions_for_every_pair_of_bytes() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let vr = [a, b];
                let facts = vr_facts(&vr);
                assert_eq!(facts.is_some(), is_vr(&vr), "{vr:?}");
                if let Some(facts) = facts {
                    assert_eq!(facts & LONG_LENGTH != 0, has_long_length(&vr), "{vr:?}");
                    assert_eq!(
                        u32::from(facts & !LONG_LENGTH),
                        number_size(&vr).unwrap_or(0),
                        "{vr:?}"
                    );
                }
                let theirs = dicom_core::VR::from_binary(vr).unwrap_or(dicom_core::VR::UN);
                assert_eq!(vr_of(vr), theirs, "{vr:?}");
            }
        }
    }
}
