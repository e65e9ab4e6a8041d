//! A batch of scan results turned into SQLite row values. Building rows (the `header` JSON
//! above all) is most of a write's CPU and needs no connection, so it runs in parallel on the
//! reading side while the single writer only binds and inserts. Pure code.

use std::collections::HashMap;

use rayon::prelude::*;
use rusqlite::types::Value;

use super::{QueryResult, Version};
use crate::contract::FileIssue;
use crate::contract::index_schema::INSTANCE_COLUMNS;
use crate::scan::{InstanceHeader, ScanReport};

/// Values of one `frames` row after its `path` and `frame` columns.
pub(super) type FrameValues = [Value; 10];

/// The rows of one instance.
pub(super) struct InstanceRows {
    /// The `instances` row, in [`INSTANCE_COLUMNS`] order.
    pub(super) values: Vec<Value>,
    /// Its `frames` rows (enhanced multi-frame objects), frame 0 first.
    pub(super) frames: Vec<FrameValues>,
}

/// One `inputs` row: a skipped or failed input.
pub(super) struct InputRow {
    pub(super) issue: FileIssue,
    /// `skipped` or `failed`.
    pub(super) outcome: &'static str,
    pub(super) version: Option<Version>,
}

/// Everything one write inserts.
#[derive(Default)]
pub struct Rows {
    pub(super) instances: Vec<InstanceRows>,
    pub(super) inputs: Vec<InputRow>,
}

impl Rows {
    /// The rows of `report`; `versions` gives each input's listed identity (absent: not
    /// recorded).
    pub fn new(report: &ScanReport, versions: &HashMap<String, Version>) -> Rows {
        let instances = report
            .instances
            .par_iter()
            .map(|header| InstanceRows {
                values: instance_values(header, versions.get(&header.path)),
                frames: frame_values(header),
            })
            .collect();
        let issues = (report.skipped.iter().map(|i| ("skipped", i)))
            .chain(report.failed.iter().map(|i| ("failed", i)));
        let inputs = issues
            .map(|(outcome, issue)| InputRow {
                issue: issue.clone(),
                outcome,
                version: versions.get(&issue.path).cloned(),
            })
            .collect();
        Rows { instances, inputs }
    }

    /// The paths of every row (instances first).
    pub(super) fn paths(&self) -> impl Iterator<Item = &str> {
        let instances = self.instances.iter().map(|row| match &row.values[0] {
            Value::Text(path) => path.as_str(),
            _ => unreachable!("the first column of an instances row is its path"),
        });
        instances.chain(self.inputs.iter().map(|row| row.issue.path.as_str()))
    }

    /// The SeriesInstanceUIDs of the instances.
    pub(super) fn series(&self) -> impl Iterator<Item = &str> {
        let column = INSTANCE_COLUMNS
            .iter()
            .position(|c| *c == "series_instance_uid")
            .expect("instances has a series_instance_uid column");
        self.instances
            .iter()
            .filter_map(move |row| match &row.values[column] {
                Value::Text(uid) => Some(uid.as_str()),
                _ => None,
            })
    }
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The `frames` rows of `header` (without path and frame number).
fn frame_values(header: &InstanceHeader) -> Vec<FrameValues> {
    let text = |v: Option<String>| v.map_or(Value::Null, Value::Text);
    let int = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
    let real = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    header
        .frames
        .iter()
        .map(|f| {
            [
                text(f.image_position_patient.map(|v| json(&v))),
                text(f.image_orientation_patient.map(|v| json(&v))),
                text(f.stack_id.clone()),
                int(f.in_stack_position.map(i64::from)),
                int(f.temporal_position_index.map(i64::from)),
                text(
                    (!f.dimension_index_values.is_empty()).then(|| json(&f.dimension_index_values)),
                ),
                real(f.rescale_slope),
                real(f.rescale_intercept),
                real(f.window_center),
                real(f.window_width),
            ]
        })
        .collect()
}

/// The instances of a scan as the index's `instances` rows would hold them, without writing an
/// index: [`INSTANCE_COLUMNS`] and one row per instance (the Python package's `scan`).
pub fn instance_records(instances: &[InstanceHeader]) -> QueryResult {
    let cell = |value: Value| match value {
        Value::Null | Value::Blob(_) => serde_json::Value::Null,
        Value::Integer(i) => i.into(),
        Value::Real(r) => r.into(),
        Value::Text(t) => t.into(),
    };
    QueryResult {
        columns: INSTANCE_COLUMNS.iter().map(|c| c.to_string()).collect(),
        rows: instances
            .par_iter()
            .map(|h| instance_values(h, None).into_iter().map(cell).collect())
            .collect(),
    }
}

/// The `instances` row of `header`, in [`INSTANCE_COLUMNS`] order.
fn instance_values(header: &InstanceHeader, version: Option<&Version>) -> Vec<Value> {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
    let int = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
    let real = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    let small = |v: Option<u16>| int(v.map(i64::from));
    let list = |v: &[f64]| {
        if v.is_empty() {
            Value::Null
        } else {
            Value::Text(json(v))
        }
    };
    let values = vec![
        Value::Text(header.path.clone()),
        Value::Integer(version.map_or(header.file_size, |v| v.size) as i64),
        int(version.and_then(|v| v.mtime_ns)),
        text(&version.and_then(|v| v.etag.clone())),
        Value::Text(header.transfer_syntax.clone()),
        text(&header.sop_class_uid),
        text(&header.sop_instance_uid),
        text(&header.study_instance_uid),
        text(&header.series_instance_uid),
        text(&header.modality),
        int(header.series_number),
        text(&header.series_description),
        text(&header.study_date),
        text(&header.study_description),
        text(&header.protocol_name),
        text(&header.body_part_examined),
        text(&header.manufacturer),
        text(&header.manufacturer_model_name),
        int(header.instance_number),
        real(header.slice_location),
        header
            .image_position_patient
            .map_or(Value::Null, |v| Value::Text(json(&v))),
        header
            .image_orientation_patient
            .map_or(Value::Null, |v| Value::Text(json(&v))),
        real(header.pixel_spacing.map(|p| p[0])),
        real(header.pixel_spacing.map(|p| p[1])),
        real(header.slice_thickness),
        small(header.rows),
        small(header.columns),
        Value::Integer(i64::from(header.number_of_frames)),
        small(header.samples_per_pixel),
        text(&header.photometric_interpretation),
        small(header.bits_allocated),
        small(header.bits_stored),
        small(header.pixel_representation),
        real(header.rescale_slope),
        real(header.rescale_intercept),
        list(&header.window_center),
        list(&header.window_width),
        if header.image_type.is_empty() {
            Value::Null
        } else {
            Value::Text(header.image_type.join("\\"))
        },
        int(header.echo_number),
        int(header.acquisition_number),
        int(header.temporal_position_identifier),
        header.burned_in_annotation.map_or(Value::Null, |yes| {
            Value::Text(if yes { "YES" } else { "NO" }.into())
        }),
        int(header.slide.as_ref().map(|s| i64::from(s.total_columns))),
        int(header.slide.as_ref().map(|s| i64::from(s.total_rows))),
        Value::Text(json(header)),
    ];
    debug_assert_eq!(values.len(), INSTANCE_COLUMNS.len());
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::FrameHeader;

    #[test]
    fn rows_name_every_input_and_series() {
        let header = |path: &str, series: Option<&str>| InstanceHeader {
            path: path.into(),
            series_instance_uid: series.map(Into::into),
            frames: vec![FrameHeader::default(); 2],
            ..InstanceHeader::default()
        };
        let report = ScanReport {
            instances: vec![header("a.dcm", Some("1.2")), header("b.dcm", None)],
            skipped: vec![FileIssue {
                path: "notes.txt".into(),
                reason: "not DICOM".into(),
            }],
            failed: vec![FileIssue {
                path: "bad.dcm".into(),
                reason: "truncated".into(),
            }],
        };
        let version = Version {
            size: 7,
            mtime_ns: None,
            etag: Some("\"e\"".into()),
        };
        let versions = HashMap::from([("bad.dcm".to_string(), version.clone())]);
        let rows = Rows::new(&report, &versions);
        let paths: Vec<&str> = rows.paths().collect();
        assert_eq!(paths, ["a.dcm", "b.dcm", "notes.txt", "bad.dcm"]);
        assert_eq!(rows.series().collect::<Vec<_>>(), ["1.2"]);
        assert_eq!(rows.instances[0].frames.len(), 2);
        assert_eq!(rows.inputs[1].outcome, "failed");
        assert_eq!(rows.inputs[1].version, Some(version));
        assert_eq!(rows.inputs[0].version, None);
    }
}
