//! DICOM JSON (PS3.18 F.2, what WADO-RS `metadata` returns) to the header record a file scan
//! makes. Pure code.
//!
//! Each instance's attributes are re-encoded as the raw element values the file scan keeps
//! (text as written, US/UL as little-endian binary, the functional groups of enhanced objects
//! flattened per frame), and decoded by the same [`record::decode_instance`], so a record from
//! a server equals the record of the same file on disk, except for what metadata lacks: the
//! transfer syntax (empty; it is in the retrieved instance) and the file size (0).

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use serde_json::{Map, Value};

use crate::contract::FileIssue;
use crate::contract::keys::safe_uid;
use crate::scan::ScanOutcome;
use crate::scan::reader::{Encoding, Endian, PixelDataInfo, RawElement, RawHeader};
use crate::scan::record;

/// An element's value re-encoded as a file holds it.
type OwnedElement = (Tag, Vec<u8>);

/// The path that names an instance of a DICOMweb source: relative to the service root, and a
/// WADO-RS URL path (`studies/{study}/series/{series}/instances/{sop}`).
pub fn instance_path(study: &str, series: &str, sop: &str) -> String {
    format!("studies/{study}/series/{series}/instances/{sop}")
}

/// What one entry of a series' metadata array is: an instance, a skip (no pixel data) or a
/// failure, named by its [`instance_path`]. `index` (the entry's position) names entries
/// without a SOP Instance UID.
pub fn decode_entry(entry: &Value, study: &str, series: &str, index: usize) -> ScanOutcome {
    let fallback = || format!("studies/{study}/series/{series}/instances/#{index}");
    let Some(object) = entry.as_object() else {
        return failed(
            fallback(),
            "metadata entry is not a DICOM JSON object".into(),
        );
    };
    let uid = |tag: Tag| text_value(object, tag);
    let (Some(study), Some(series), Some(sop)) = (
        uid(tags::STUDY_INSTANCE_UID),
        uid(tags::SERIES_INSTANCE_UID),
        uid(tags::SOP_INSTANCE_UID),
    ) else {
        return failed(
            fallback(),
            "metadata lacks the Study, Series or SOP Instance UID".into(),
        );
    };
    let safe = [&study, &series, &sop].map(|u| safe_uid(u));
    let path = instance_path(&safe[0], &safe[1], &safe[2]);
    if safe != [&study, &series, &sop].map(|u| u.to_string()) {
        return failed(
            path,
            "a Study, Series or SOP Instance UID is not a valid UID".into(),
        );
    }
    let structure_set =
        uid(tags::SOP_CLASS_UID).as_deref() == Some(crate::scan::label_class::RT_STRUCTURE_SET);
    if !has_pixels(object) && !structure_set {
        return ScanOutcome::Skipped(FileIssue {
            path,
            reason: "DICOM without pixel data (not an image: report, plan, structure set, stub…)"
                .into(),
        });
    }
    let elements = leaf_elements(object);
    let shared: Vec<OwnedElement> = sequence_items(object, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)
        .next()
        .map(functional_group)
        .unwrap_or_default();
    let per_frame: Vec<Vec<OwnedElement>> =
        sequence_items(object, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .map(functional_group)
            .collect();
    let regions: Vec<Vec<OwnedElement>> =
        sequence_items(object, tags::SEQUENCE_OF_ULTRASOUND_REGIONS)
            .map(leaf_elements_without_charset)
            .collect();
    let optical_paths: Vec<Vec<OwnedElement>> = sequence_items(object, tags::OPTICAL_PATH_SEQUENCE)
        .map(leaf_elements_without_charset)
        .collect();
    let raw = RawHeader {
        transfer_syntax: Some(String::new()),
        media_storage_sop_class: None,
        encoding: Encoding {
            explicit_vr: true,
            endian: Endian::Little,
        },
        dataset_start: 0,
        vr_mode_corrected: false,
        elements: borrowed(&elements),
        shared_group: borrowed(&shared),
        per_frame_groups: per_frame.iter().map(|g| borrowed(g)).collect(),
        ultrasound_regions: regions.iter().map(|g| borrowed(g)).collect(),
        optical_paths: optical_paths.iter().map(|g| borrowed(g)).collect(),
        pixel_data: Some(PixelDataInfo {
            tag: tags::PIXEL_DATA,
            offset: 0,
            length: None,
        }),
    };
    match record::decode_instance(&raw, path.clone(), 0) {
        Ok(header) => ScanOutcome::Instance(Box::new(header)),
        Err(reason) => failed(path, reason),
    }
}

fn failed(path: String, reason: String) -> ScanOutcome {
    ScanOutcome::Failed(FileIssue { path, reason })
}

fn borrowed(elements: &[OwnedElement]) -> Vec<RawElement<'_>> {
    elements.iter().map(|(t, v)| (*t, v.as_slice())).collect()
}

/// Whether the instance has pixels: a Pixel Data attribute (a bulk data reference), or, since
/// servers leave compressed Pixel Data out of metadata, Rows and Columns.
fn has_pixels(object: &Map<String, Value>) -> bool {
    let present = |tag: Tag| object.contains_key(&tag_key(tag));
    present(tags::PIXEL_DATA)
        || present(tags::FLOAT_PIXEL_DATA)
        || present(tags::DOUBLE_FLOAT_PIXEL_DATA)
        || (present(tags::ROWS) && present(tags::COLUMNS))
}

/// `(0020,000D)` as a DICOM JSON key: `0020000D`.
fn tag_key(tag: Tag) -> String {
    format!("{:04X}{:04X}", tag.0, tag.1)
}

fn parse_key(key: &str) -> Option<Tag> {
    if key.len() != 8 {
        return None;
    }
    let group = u16::from_str_radix(&key[..4], 16).ok()?;
    let element = u16::from_str_radix(&key[4..], 16).ok()?;
    Some(Tag(group, element))
}

/// The first value of a text attribute.
fn text_value(object: &Map<String, Value>, tag: Tag) -> Option<String> {
    object
        .get(&tag_key(tag))?
        .get("Value")?
        .as_array()?
        .first()?
        .as_str()
        .map(str::to_string)
        .filter(|s| !s.is_empty())
}

/// The items of a sequence attribute.
fn sequence_items(
    object: &Map<String, Value>,
    tag: Tag,
) -> impl Iterator<Item = &Map<String, Value>> {
    object
        .get(&tag_key(tag))
        .and_then(|a| a.get("Value"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// The non-sequence attributes of a dataset, re-encoded; the character set becomes UTF-8
/// (DICOM JSON is Unicode).
fn leaf_elements(object: &Map<String, Value>) -> Vec<OwnedElement> {
    let mut elements: Vec<OwnedElement> = object
        .iter()
        .filter_map(|(key, attribute)| {
            let tag = parse_key(key)?;
            if tag == tags::SPECIFIC_CHARACTER_SET {
                return None;
            }
            Some((tag, encode_value(attribute)?))
        })
        .collect();
    elements.push((tags::SPECIFIC_CHARACTER_SET, b"ISO_IR 192".to_vec()));
    elements
}

/// One functional-group item: the leaf attributes of the sequences inside it (Plane Position,
/// Frame Content, Pixel Measures...), in order.
fn functional_group(item: &Map<String, Value>) -> Vec<OwnedElement> {
    item.iter()
        .filter(|(_, attribute)| vr(attribute) == Some("SQ"))
        .flat_map(|(key, _)| {
            let tag = parse_key(key);
            tag.into_iter()
                .flat_map(|tag| sequence_items(item, tag))
                .flat_map(leaf_elements_without_charset)
        })
        .collect()
}

fn leaf_elements_without_charset(object: &Map<String, Value>) -> Vec<OwnedElement> {
    let mut elements = leaf_elements(object);
    elements.pop();
    elements
}

fn vr(attribute: &Value) -> Option<&str> {
    attribute.get("vr").and_then(Value::as_str)
}

/// The value bytes a file would hold for this attribute: text values joined with `\`,
/// numbers of DS and IS as text, US/SS/UL/SL/FL/FD as little-endian binary. `None` for what
/// the header record never reads (person names, bulk data, sequences, tags).
fn encode_value(attribute: &Value) -> Option<Vec<u8>> {
    let values = attribute.get("Value").and_then(Value::as_array);
    let values = values.map(Vec::as_slice).unwrap_or_default();
    match vr(attribute)? {
        "US" => Some(binary(values, |n| (n as u16).to_le_bytes().to_vec())),
        "SS" => Some(binary(values, |n| (n as i16).to_le_bytes().to_vec())),
        "UL" => Some(binary(values, |n| (n as u32).to_le_bytes().to_vec())),
        "SL" => Some(binary(values, |n| (n as i32).to_le_bytes().to_vec())),
        "FD" => Some(floats(values, |f| f.to_le_bytes().to_vec())),
        "FL" => Some(floats(values, |f| (f as f32).to_le_bytes().to_vec())),
        "AE" | "AS" | "CS" | "DA" | "DS" | "DT" | "IS" | "LO" | "LT" | "SH" | "ST" | "TM"
        | "UC" | "UI" | "UR" | "UT" => {
            let parts: Vec<String> = values.iter().map(text).collect();
            Some(parts.join("\\").into_bytes())
        }
        _ => None,
    }
}

/// A text or number value as DICOM text (a number printed so that it parses back to itself).
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Floating-point values (numbers, or numeric strings) each encoded by `encode`.
fn floats(values: &[Value], encode: impl Fn(f64) -> Vec<u8>) -> Vec<u8> {
    values
        .iter()
        .filter_map(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .flat_map(encode)
        .collect()
}

/// Integer values (numbers, or numeric strings) each encoded by `encode`; others are dropped.
fn binary(values: &[Value], encode: impl Fn(i64) -> Vec<u8>) -> Vec<u8> {
    values
        .iter()
        .filter_map(|v| match v {
            Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .flat_map(encode)
        .collect()
}

/// Every entry of a series' metadata answer, decoded; an answer that is not a JSON array is
/// an error about the whole series.
pub fn decode_series(
    metadata: &Value,
    study: &str,
    series: &str,
) -> Result<Vec<ScanOutcome>, String> {
    let entries = metadata.as_array().ok_or_else(|| {
        format!(
            "series metadata is not a JSON array but {}",
            match metadata {
                Value::Object(_) => "an object",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                Value::Null => "null",
                Value::Array(_) => "an array",
            }
        )
    })?;
    Ok(entries
        .iter()
        .enumerate()
        .map(|(index, entry)| decode_entry(entry, study, series, index))
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ST: &str = "1.2.3";
    const SE: &str = "1.2.3.4";

    fn ct_slice() -> Value {
        json!({
            "00080008": {"vr": "CS", "Value": ["ORIGINAL", "PRIMARY", "AXIAL"]},
            "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
            "00080018": {"vr": "UI", "Value": ["1.2.3.4.5"]},
            "00080060": {"vr": "CS", "Value": ["CT"]},
            "0008103E": {"vr": "LO", "Value": ["Tête axiale"]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JOHN"}]},
            "0020000D": {"vr": "UI", "Value": [ST]},
            "0020000E": {"vr": "UI", "Value": [SE]},
            "00200011": {"vr": "IS", "Value": [3]},
            "00200013": {"vr": "IS", "Value": ["7"]},
            "00200032": {"vr": "DS", "Value": [-125.5, -130, 0.1]},
            "00200037": {"vr": "DS", "Value": [1, 0, 0, 0, 1, 0]},
            "00201041": {"vr": "DS", "Value": [0.1]},
            "00280010": {"vr": "US", "Value": [512]},
            "00280011": {"vr": "US", "Value": [256]},
            "00280100": {"vr": "US", "Value": [16]},
            "00280103": {"vr": "US", "Value": [1]},
            "00281050": {"vr": "DS", "Value": [40, 400]},
            "00281051": {"vr": "DS", "Value": [80, 2000]},
            "00281052": {"vr": "DS", "Value": [-1024]},
            "00281053": {"vr": "DS", "Value": [1]},
            "7FE00010": {"vr": "OW", "BulkDataURI": "http://h/bulk/7fe00010"}
        })
    }

    fn instance(outcome: ScanOutcome) -> record::InstanceHeader {
        match outcome {
            ScanOutcome::Instance(header) => *header,
            other => panic!("not an instance: {other:?}"),
        }
    }

    #[test]
    fn a_ct_slice_becomes_the_record_a_file_scan_makes() {
        let header = instance(decode_entry(&ct_slice(), ST, SE, 0));
        assert_eq!(
            header.path,
            "studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5"
        );
        assert_eq!(header.transfer_syntax, "");
        assert_eq!(header.modality.as_deref(), Some("CT"));
        assert_eq!(header.series_description.as_deref(), Some("Tête axiale"));
        assert_eq!(header.series_number, Some(3));
        assert_eq!(header.instance_number, Some(7));
        assert_eq!(header.image_position_patient, Some([-125.5, -130.0, 0.1]));
        assert_eq!(
            header.image_orientation_patient,
            Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
        );
        assert_eq!(header.slice_location, Some(0.1));
        assert_eq!((header.rows, header.columns), (Some(512), Some(256)));
        assert_eq!(header.bits_allocated, Some(16));
        assert_eq!(header.pixel_representation, Some(1));
        assert_eq!(header.window_center, vec![40.0, 400.0]);
        assert_eq!(header.window_width, vec![80.0, 2000.0]);
        assert_eq!(header.rescale_intercept, Some(-1024.0));
        assert_eq!(header.image_type, ["ORIGINAL", "PRIMARY", "AXIAL"]);
        assert_eq!(header.number_of_frames, 1);
        assert!(header.frames.is_empty());
        let printed = serde_json::to_string(&header).unwrap();
        assert!(!printed.contains("DOE"), "no patient name in the record");
    }

    #[test]
    fn ultrasound_regions_and_burned_in_annotation_are_kept_as_from_a_file() {
        let mut object = ct_slice();
        let map = object.as_object_mut().unwrap();
        map.insert("00280301".into(), json!({"vr": "CS", "Value": ["YES"]}));
        let region = |x0: u32, y0: u32, x1: u32, y1: u32| {
            json!({
                "00186018": {"vr": "UL", "Value": [x0]},
                "0018601A": {"vr": "UL", "Value": [y0]},
                "0018601C": {"vr": "UL", "Value": [x1]},
                "0018601E": {"vr": "UL", "Value": [y1]},
                "00186012": {"vr": "US", "Value": [1]}
            })
        };
        map.insert(
            "00186011".into(),
            json!({"vr": "SQ", "Value": [region(120, 60, 800, 518), region(176, 522, 743, 576)]}),
        );
        let header = instance(decode_entry(&object, ST, SE, 0));
        assert_eq!(header.burned_in_annotation, Some(true));
        let corners: Vec<[u32; 4]> = header
            .ultrasound_regions
            .iter()
            .map(|r| [r.min_x, r.min_y, r.max_x, r.max_y])
            .collect();
        assert_eq!(corners, [[120, 60, 800, 518], [176, 522, 743, 576]]);
    }

    #[test]
    fn enhanced_multi_frame_functional_groups_become_frames() {
        let mut object = ct_slice();
        let map = object.as_object_mut().unwrap();
        map.remove("00200032");
        map.remove("00200037");
        map.insert("00280008".into(), json!({"vr": "IS", "Value": [2]}));
        let frame = |z: f64, position: u32| {
            json!({
                "00209111": {"vr": "SQ", "Value": [{
                    "00209056": {"vr": "SH", "Value": ["1"]},
                    "00209057": {"vr": "UL", "Value": [position]},
                    "00209157": {"vr": "UL", "Value": [1, position]}
                }]},
                "00209113": {"vr": "SQ", "Value": [{
                    "00200032": {"vr": "DS", "Value": [0, 0, z]}
                }]}
            })
        };
        map.insert(
            "52009229".into(),
            json!({"vr": "SQ", "Value": [{
                "00209116": {"vr": "SQ", "Value": [{"00200037": {"vr": "DS", "Value": [1, 0, 0, 0, 1, 0]}}]},
                "00289110": {"vr": "SQ", "Value": [{"00280030": {"vr": "DS", "Value": [0.5, 0.5]}, "00180050": {"vr": "DS", "Value": [2]}}]},
                "00289145": {"vr": "SQ", "Value": [{"00281052": {"vr": "DS", "Value": [0]}, "00281053": {"vr": "DS", "Value": [2.5]}}]}
            }]}),
        );
        map.insert(
            "52009230".into(),
            json!({"vr": "SQ", "Value": [frame(10.0, 1), frame(12.5, 2)]}),
        );
        let header = instance(decode_entry(&object, ST, SE, 0));
        assert_eq!(header.number_of_frames, 2);
        assert_eq!(header.frames.len(), 2);
        assert_eq!(
            header.frames[1].image_position_patient,
            Some([0.0, 0.0, 12.5])
        );
        assert_eq!(
            header.frames[1].image_orientation_patient,
            Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
        );
        assert_eq!(header.frames[1].in_stack_position, Some(2));
        assert_eq!(header.frames[1].dimension_index_values, vec![1, 2]);
        assert_eq!(header.frames[0].stack_id.as_deref(), Some("1"));
        assert_eq!(header.frames[0].rescale_slope, Some(2.5));
        assert_eq!(header.pixel_spacing, Some([0.5, 0.5]));
        assert_eq!(header.slice_thickness, Some(2.0));
        assert_eq!(header.frame_position(0), Some([0.0, 0.0, 10.0]));
    }

    #[test]
    fn non_images_are_skipped_and_broken_entries_fail_with_a_reason() {
        let report = json!({
            "00080018": {"vr": "UI", "Value": ["1.2.3.9"]},
            "0020000D": {"vr": "UI", "Value": [ST]},
            "0020000E": {"vr": "UI", "Value": [SE]},
            "00080060": {"vr": "CS", "Value": ["SR"]}
        });
        assert!(matches!(
            decode_entry(&report, ST, SE, 0),
            ScanOutcome::Skipped(_)
        ));
        let ScanOutcome::Failed(issue) = decode_entry(&json!([1, 2]), ST, SE, 4) else {
            panic!("an array entry fails")
        };
        assert_eq!(issue.path, "studies/1.2.3/series/1.2.3.4/instances/#4");
        let mut hostile = ct_slice();
        hostile["00080018"] = json!({"vr": "UI", "Value": ["../../etc/passwd"]});
        let ScanOutcome::Failed(issue) = decode_entry(&hostile, ST, SE, 0) else {
            panic!("an invalid UID fails")
        };
        assert!(!issue.path.contains(".."), "{}", issue.path);
        assert!(issue.reason.contains("not a valid UID"));
        let mut bad_frames = ct_slice();
        bad_frames["00280008"] = json!({"vr": "IS", "Value": ["many"]});
        let ScanOutcome::Failed(issue) = decode_entry(&bad_frames, ST, SE, 0) else {
            panic!("a NumberOfFrames that is no number fails")
        };
        assert!(issue.reason.contains("NumberOfFrames"), "{}", issue.reason);
    }

    #[test]
    fn metadata_that_is_not_an_array_is_a_series_error() {
        let err = decode_series(&json!({"error": "x"}), ST, SE).unwrap_err();
        assert!(err.contains("not a JSON array but an object"), "{err}");
        let outcomes = decode_series(&json!([ct_slice()]), ST, SE).unwrap();
        assert_eq!(outcomes.len(), 1);
    }
}
