//! `report.json`: every input of a conversion accounted for (converted, skipped or failed, with
//! the stage and the reason) and the run's totals. Pure code; field names are a public contract.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use crate::contract::FileIssue;

/// Current report format version.
pub const REPORT_VERSION: u32 = 1;

/// Where an input stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Listing and header reading.
    Scan,
    /// Decoding, windowing, encoding (images and videos).
    Render,
    /// Writing to the destination.
    Upload,
    /// Placing label objects (SEG, RTSTRUCT) on the items they reference.
    Labels,
}

/// What became of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Converted,
    Skipped,
    Failed,
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputEntry {
    /// Relative to the source.
    pub path: String,
    pub status: Status,
    /// The stage that skipped or failed it (absent for converted inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub inputs: usize,
    pub converted: usize,
    pub skipped: usize,
    pub failed: usize,
    pub items: usize,
    pub frames: usize,
    pub outputs_written: usize,
    pub outputs_kept: usize,
    pub bytes_written: u64,
    pub bytes_read: u64,
    pub seconds: f64,
    /// Tiles that TILED_SPARSE slides lack, filled with the background (see each slide's
    /// `missing_tiles` in the manifest).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missing_slide_tiles: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The run report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub version: u32,
    pub totals: Totals,
    /// Every input, sorted by path.
    pub inputs: Vec<InputEntry>,
    /// Every label object (SEG, RTSTRUCT): where it was placed and what of it was not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<LabelReport>,
}

/// What became of one label object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelReport {
    /// Relative to the source.
    pub path: String,
    /// `seg` or `rtstruct`.
    pub kind: String,
    /// Items it was placed on (0: the object failed, see `reason`).
    pub items: usize,
    /// Item frames that gained a label from it.
    pub frames: usize,
    /// Why nothing of it was placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Parts not placed (a segment's frame, an ROI's contour), each with its reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_placed: Vec<LabelProblem>,
    /// Placed, with a caveat (a Frame of Reference that differs from its images').
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A part of a label object that was not placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelProblem {
    /// `frame 3`, `ROI "GTV" contour 2`…
    pub what: String,
    pub reason: String,
}

/// Problems of a run, by the stage that found them.
#[derive(Debug, Clone, Default)]
pub struct StageIssues {
    pub skipped: Vec<FileIssue>,
    pub failed: Vec<(Stage, FileIssue)>,
    /// Every label object's outcome (failed ones are in `failed` too).
    pub labels: Vec<LabelReport>,
}

impl RunReport {
    /// Accounts for every input: failed (first stage and reason) over skipped over converted.
    /// `totals` gives the counters the manifest does not hold; its input counts are filled in.
    pub fn new(manifest: &Manifest, issues: &StageIssues, mut totals: Totals) -> RunReport {
        let mut inputs: BTreeMap<&str, InputEntry> = BTreeMap::new();
        for frame in manifest.items.iter().flat_map(|i| &i.frames) {
            inputs.insert(
                &frame.path,
                InputEntry {
                    path: frame.path.clone(),
                    status: Status::Converted,
                    stage: None,
                    reason: None,
                },
            );
        }
        // A slide's levels and associated images are converted with it.
        let slide_instances = manifest
            .items
            .iter()
            .filter_map(|i| i.slide.as_ref())
            .flat_map(|s| &s.instances);
        for path in slide_instances {
            inputs.insert(
                path,
                InputEntry {
                    path: path.clone(),
                    status: Status::Converted,
                    stage: None,
                    reason: None,
                },
            );
        }
        for label in manifest.items.iter().flat_map(|i| &i.labels) {
            inputs.insert(
                &label.source,
                InputEntry {
                    path: label.source.clone(),
                    status: Status::Converted,
                    stage: None,
                    reason: None,
                },
            );
        }
        for issue in &issues.skipped {
            inputs.insert(&issue.path, entry(issue, Status::Skipped, Stage::Scan));
        }
        let mut failed: Vec<&(Stage, FileIssue)> = issues.failed.iter().collect();
        failed.sort_by_key(|(stage, _)| *stage);
        for (stage, issue) in failed {
            match inputs.get(issue.path.as_str()) {
                Some(e) if e.status == Status::Failed => {}
                _ => {
                    inputs.insert(&issue.path, entry(issue, Status::Failed, *stage));
                }
            }
        }
        let inputs: Vec<InputEntry> = inputs.into_values().collect();
        let count = |status| inputs.iter().filter(|e| e.status == status).count();
        totals.inputs = inputs.len();
        totals.converted = count(Status::Converted);
        totals.skipped = count(Status::Skipped);
        totals.failed = count(Status::Failed);
        totals.items = manifest.items.len();
        totals.frames = manifest.items.iter().map(|i| i.frames.len()).sum();
        totals.missing_slide_tiles = manifest
            .items
            .iter()
            .filter_map(|i| i.slide.as_ref())
            .map(|s| s.missing_tiles)
            .sum();
        RunReport {
            version: REPORT_VERSION,
            totals,
            inputs,
            labels: issues.labels.clone(),
        }
    }
}

fn entry(issue: &FileIssue, status: Status, stage: Stage) -> InputEntry {
    InputEntry {
        path: issue.path.clone(),
        status,
        stage: Some(stage),
        reason: Some(issue.reason.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::testing::{manifest, video};

    fn issue(path: &str, reason: &str) -> FileIssue {
        FileIssue {
            path: path.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn every_input_once_with_its_stage() {
        // A video of two slices: in/se/v_0.dcm and in/se/v_1.dcm.
        let manifest = manifest(vec![video("st", "se", "v", 2)], "in", "out");
        let issues = StageIssues {
            skipped: vec![issue("readme.txt", "not DICOM")],
            failed: vec![
                (Stage::Upload, issue("in/se/v_1.dcm", "upload failed")),
                (Stage::Render, issue("in/se/v_1.dcm", "frame 2: corrupt")),
                (Stage::Scan, issue("c.dcm", "truncated")),
            ],
            labels: Vec::new(),
        };
        let report = RunReport::new(&manifest, &issues, Totals::default());
        let statuses: Vec<_> = report
            .inputs
            .iter()
            .map(|e| (e.path.as_str(), e.status, e.stage))
            .collect();
        assert_eq!(
            statuses,
            [
                ("c.dcm", Status::Failed, Some(Stage::Scan)),
                ("in/se/v_0.dcm", Status::Converted, None),
                ("in/se/v_1.dcm", Status::Failed, Some(Stage::Render)),
                ("readme.txt", Status::Skipped, Some(Stage::Scan)),
            ]
        );
        assert_eq!(
            (
                report.totals.inputs,
                report.totals.converted,
                report.totals.failed
            ),
            (4, 1, 2)
        );
        assert_eq!(report.totals.frames, 2);
    }
}
