//! The file meta group, and how the dataset after it is encoded: declared, sniffed or
//! corrected.

use dicom_core::Tag;
use dicom_dictionary_std::tags;

use super::cursor::Cursor;
use super::dataset::read_dataset;
use super::{
    EXPLICIT_BE, EXPLICIT_LE, Encoding, IMPLICIT_LE, Input, MAX_INFLATED, RawHeader, ReadError,
    is_vr, trim_text,
};

/// File meta values the scan uses.
pub(super) struct Meta {
    pub(super) transfer_syntax: Option<String>,
    pub(super) media_storage_sop_class: Option<String>,
}

pub(super) fn read_meta(cursor: &mut Cursor<'_>) -> Result<Meta, ReadError> {
    let mut meta = Meta {
        transfer_syntax: None,
        media_storage_sop_class: None,
    };
    let mut group_end: Option<usize> = None;
    loop {
        if let Some(end) = group_end
            && cursor.pos >= end
        {
            break;
        }
        if cursor.remaining() < 4 {
            cursor.need(4)?;
        }
        if cursor.peek_u16(0) != 0x0002 {
            break;
        }
        let header = cursor.element_header()?;
        let value = cursor.value(&header)?;
        match header.tag {
            Tag(0x0002, 0x0000) if value.len() == 4 => {
                let length = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
                group_end = Some(cursor.pos.saturating_add(length as usize));
            }
            tags::TRANSFER_SYNTAX_UID => meta.transfer_syntax = Some(trim_text(value)),
            tags::MEDIA_STORAGE_SOP_CLASS_UID => {
                meta.media_storage_sop_class = Some(trim_text(value))
            }
            _ => {}
        }
    }
    Ok(meta)
}

/// Files without the 128-byte preamble and meta group: accepted when the first elements parse as
/// a plausible dataset (group 0008 first, the way such files are written).
pub(super) fn read_without_meta(input: Input<'_>) -> Result<RawHeader<'_>, ReadError> {
    let Some(encoding) = sniff_encoding(input.bytes) else {
        return Err(ReadError::NotDicom(
            "no DICOM preamble, file meta or dataset start".into(),
        ));
    };
    let none = Meta {
        transfer_syntax: None,
        media_storage_sop_class: None,
    };
    let mut header = RawHeader::before_dataset(none, encoding, 0);
    let mut cursor = Cursor::new(input, 0, encoding);
    match read_dataset(&mut cursor, &mut header, true) {
        Ok(()) => Ok(header),
        Err(ReadError::Corrupt(reason)) => Err(ReadError::NotDicom(format!(
            "no DICOM preamble or file meta, and the content does not parse as a dataset ({reason})"
        ))),
        Err(other) => Err(other),
    }
}

/// Guesses the encoding of a dataset that starts at `bytes[0]` with a group 0008 (or 0002/0004)
/// element: big- or little-endian tag, explicit VR letters or an implicit 4-byte length.
pub(super) fn sniff_encoding(bytes: &[u8]) -> Option<Encoding> {
    if bytes.len() < 8 {
        return None;
    }
    let plausible = |group: u16| matches!(group, 0x0002 | 0x0004 | 0x0008);
    let group_le = u16::from_le_bytes([bytes[0], bytes[1]]);
    let group_be = u16::from_be_bytes([bytes[0], bytes[1]]);
    let explicit = is_vr(&bytes[4..6]);
    if plausible(group_le) {
        Some(if explicit { EXPLICIT_LE } else { IMPLICIT_LE })
    } else if plausible(group_be) && explicit {
        Some(EXPLICIT_BE)
    } else {
        None
    }
}

/// Some writers declare one VR mode and write the other. As pydicom (`_is_implicit_vr`) and
/// DCMTK (`-td`, "detecting from data set") do, the first element of the dataset decides: two
/// uppercase letters where an explicit VR stands mean explicit VR, anything else implicit. (An
/// implicit first element would need a length of at least 0x4141 bytes, 16 KB, to pass as
/// letters.) Only the VR mode is corrected, never the byte order.
pub(super) fn correct_vr_mode(declared: Encoding, dataset: &[u8]) -> Encoding {
    match dataset.get(4..6) {
        Some(vr) => Encoding {
            explicit_vr: is_vr(vr),
            ..declared
        },
        None => declared,
    }
}

pub(super) fn inflate_into(deflated: &[u8], out: &mut Vec<u8>) -> Result<(), ReadError> {
    use std::io::Read;
    out.clear();
    let decoder = flate2::read::DeflateDecoder::new(deflated);
    decoder
        .take(MAX_INFLATED + 1)
        .read_to_end(out)
        .map_err(|e| ReadError::Corrupt(format!("deflated dataset does not inflate: {e}")))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(ReadError::Corrupt(format!(
            "deflated dataset inflates beyond {} MiB",
            MAX_INFLATED >> 20
        )));
    }
    Ok(())
}
