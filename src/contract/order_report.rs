//! What a run did with every input: the public JSON contract of `dicomprep order` and the
//! accounting shared by all commands.

use serde::{Deserialize, Serialize};

/// An input that was not turned into slices, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIssue {
    /// Path relative to the source, `/` separators.
    pub path: String,
    /// One line a person can act on.
    pub reason: String,
}

/// The result of `dicomprep order` (field names are a public contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderReport {
    /// The source as the user gave it.
    pub source: String,
    /// The rule the slices were ordered by (`darwin`, `spatial` or `instance`).
    pub rule: String,
    pub series: Vec<SeriesReport>,
    /// Inputs that are not images: not DICOM, DICOMDIR, no pixel data.
    pub skipped: Vec<FileIssue>,
    /// Inputs that should be images but cannot be read: truncated, corrupt, unreadable.
    pub failed: Vec<FileIssue>,
}

/// One series (StudyInstanceUID + SeriesInstanceUID) and its volumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesReport {
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub series_number: Option<i64>,
    pub modality: Option<String>,
    pub series_description: Option<String>,
    pub volumes: Vec<VolumeReport>,
}

/// A run of slices that can share one video: same size, orientation, echo and time point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeReport {
    /// Stable, unique within the series; `0` when the series is one volume.
    pub id: String,
    /// Why this volume was split from the rest of its series; `null` when it was not.
    pub split_reason: Option<String>,
    pub rows: Option<u16>,
    pub columns: Option<u16>,
    /// Unit normal of the slice plane, when the orientation is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal: Option<[f64; 3]>,
    pub slices: Vec<SliceReport>,
    /// Ordering diagnostics, with `--explain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Diagnostics>,
}

/// One slice in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceReport {
    /// Path relative to the source, `/` separators.
    pub path: String,
    /// 0-based frame within the file.
    pub frame: u32,
    pub instance_number: Option<i64>,
    /// Signed distance along the volume's slice normal in mm; `null` when unknown.
    pub position: Option<f64>,
}

impl OrderReport {
    /// Number of slices over all volumes.
    pub fn slice_count(&self) -> usize {
        self.volumes().map(|v| v.slices.len()).sum()
    }

    /// Every volume of every series.
    pub fn volumes(&self) -> impl Iterator<Item = &VolumeReport> {
        self.series.iter().flat_map(|s| &s.volumes)
    }
}

/// What `--explain` reports for one volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Whether positions move monotonically (either way) in InstanceNumber order; `null` when
    /// fewer than two slices have both values.
    pub instance_order_matches_spatial: Option<bool>,
    /// `ascending` or `descending` along the normal in InstanceNumber order, when monotonic.
    pub instance_direction: Option<String>,
    /// Positions held by more than one slice.
    pub duplicate_positions: Vec<DuplicatePosition>,
    /// Median distance between neighbouring distinct positions (mm).
    pub slice_spacing: Option<f64>,
    /// Steps much larger than the median spacing: likely missing slices.
    pub gaps: Vec<Gap>,
    /// Slices whose position is unknown.
    pub slices_without_position: usize,
}

/// A position shared by several slices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicatePosition {
    pub position: f64,
    pub count: usize,
}

/// A step between neighbouring positions that is larger than the spacing allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    pub from_position: f64,
    pub to_position: f64,
    pub step: f64,
    /// round(step / spacing) - 1.
    pub missing_slices: u32,
}
