//! Values of a label object's data set: text, numbers and sequence items, absent as `None`.

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

pub(super) fn text(object: &InMemDicomObject, tag: Tag) -> Option<String> {
    let text = object.get(tag)?.to_str().ok()?;
    let text = text.trim_matches(|c: char| c == ' ' || c == '\0');
    (!text.is_empty()).then(|| text.to_string())
}

pub(super) fn int(object: &InMemDicomObject, tag: Tag) -> Option<i64> {
    object.get(tag)?.to_int::<i64>().ok()
}

pub(super) fn floats(object: &InMemDicomObject, tag: Tag) -> Vec<f64> {
    object
        .get(tag)
        .and_then(|e| e.to_multi_float64().ok())
        .unwrap_or_default()
}

pub(super) fn ints(object: &InMemDicomObject, tag: Tag) -> Vec<i64> {
    object
        .get(tag)
        .and_then(|e| e.to_multi_int::<i64>().ok())
        .unwrap_or_default()
}

/// The items of sequence `tag` (none when absent or not a sequence).
pub(super) fn items(object: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    object.get(tag).and_then(|e| e.items()).unwrap_or(&[])
}

/// The first item of sequence `tag`.
pub(super) fn first(object: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    items(object, tag).first()
}

/// `N` numbers of `tag`, when it holds exactly that many finite values.
pub(super) fn array<const N: usize>(object: &InMemDicomObject, tag: Tag) -> Option<[f64; N]> {
    let values = floats(object, tag);
    let array: [f64; N] = values.try_into().ok()?;
    array.iter().all(|v| v.is_finite()).then_some(array)
}
