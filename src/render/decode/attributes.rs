//! Attributes read from the parsed object: numbers, text, LUT and palette tables.

use super::*;

// Elements are looked up with `get`: `element` builds an error for a missing one, with a
// backtrace when RUST_BACKTRACE is set, costly for attributes that are usually absent.

pub(super) fn int_value(object: &DefaultDicomObject, tag: Tag) -> Option<i64> {
    object.get(tag)?.to_int::<i64>().ok()
}

pub(super) fn text_value(object: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let text = object.get(tag)?.to_str().ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

pub(super) fn first_item(object: &DefaultDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    object.get(tag)?.items()?.first()
}

/// Reads LUT Descriptor + LUT Data of a Modality/VOI LUT Sequence item.
pub(super) fn read_lut<D: DataDictionary + Clone>(item: &InMemDicomObject<D>) -> Option<LutTable> {
    let descriptor: Vec<i64> = item.get(tags::LUT_DESCRIPTOR)?.to_multi_int().ok()?;
    lut_from(&descriptor, item.get(tags::LUT_DATA)?.value().primitive()?)
}

/// Builds a table from a descriptor (entries, first mapped value, bits) and its data; 8-bit
/// entries may come packed in bytes or one per 16-bit word.
pub(super) fn lut_from(descriptor: &[i64], data: &PrimitiveValue) -> Option<LutTable> {
    let [entries, first, bits] = descriptor.get(..3)?.try_into().ok()?;
    let entries = if entries == 0 {
        65536
    } else {
        entries as usize
    };
    let bytes = data.to_bytes();
    let values: Vec<f64> = if bits <= 8 && bytes.len() == entries {
        bytes.iter().map(|&b| f64::from(b)).collect()
    } else {
        bytes
            .chunks_exact(2)
            .take(entries)
            .map(|c| f64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect()
    };
    (!values.is_empty()).then(|| LutTable {
        first: first as f64,
        values,
        bits: bits.clamp(1, 16) as u32,
    })
}

pub(super) fn read_palette(object: &DefaultDicomObject) -> Result<[LutTable; 3], DecodeError> {
    let channel = |descriptor: Tag, data: Tag, name: &str| -> Result<LutTable, DecodeError> {
        let missing = || {
            DecodeError(format!(
                "PALETTE COLOR without a usable {name} palette (segmented palettes are not supported)"
            ))
        };
        let descriptor: Vec<i64> = object
            .get(descriptor)
            .and_then(|e| e.to_multi_int().ok())
            .ok_or_else(missing)?;
        object
            .get(data)
            .ok_or_else(missing)?
            .value()
            .primitive()
            .and_then(|p| lut_from(&descriptor, p))
            .ok_or_else(missing)
    };
    Ok([
        channel(
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "red",
        )?,
        channel(
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "green",
        )?,
        channel(
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "blue",
        )?,
    ])
}
