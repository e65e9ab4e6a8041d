//! The series a label object says it labels: a SEG's ReferencedSeriesSequence, an RTSTRUCT's
//! RT Referenced Series (under its Referenced Frame of Reference and RT Referenced Study).
//! A selection of series (`--where`) keeps the label objects of the series it selects.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::attributes::{items, text};
use crate::render::decode::open_dataset;

/// The SeriesInstanceUIDs `object` references.
pub fn referenced_series(object: &InMemDicomObject) -> Vec<String> {
    let mut out: Vec<String> = items(object, tags::REFERENCED_SERIES_SEQUENCE)
        .iter()
        .filter_map(|s| text(s, tags::SERIES_INSTANCE_UID))
        .collect();
    for frame in items(object, tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE) {
        for study in items(frame, tags::RT_REFERENCED_STUDY_SEQUENCE) {
            for series in items(study, tags::RT_REFERENCED_SERIES_SEQUENCE) {
                out.extend(text(series, tags::SERIES_INSTANCE_UID));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// [`referenced_series`] of the label object in `bytes` (its header only is parsed).
pub fn referenced_series_of(bytes: &[u8]) -> Result<Vec<String>, String> {
    let object = open_dataset(bytes).map_err(|e| e.0)?;
    Ok(referenced_series(&object))
}
