//! From scanned instances to the ordered series and volumes of an [`OrderReport`]. Pure code.

use rayon::prelude::*;

use super::slide::is_slide;
use crate::contract::FileIssue;
use crate::contract::order_report::{OrderReport, SeriesReport, SliceReport, VolumeReport};
use crate::order::explain::diagnose;
use crate::order::group::{SeriesGroup, group_series};
use crate::order::split::{Volume, split_series};
use crate::order::{Rule, SliceKey};
use crate::scan::{InstanceHeader, LabelClass, ScanReport};

/// Options of the ordering step.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct OrderOptions {
    pub rule: Rule,
    /// Add ordering diagnostics to every volume.
    pub explain: bool,
}

impl OrderOptions {
    /// Options with `rule` and no diagnostics.
    pub fn new(rule: Rule) -> Self {
        OrderOptions {
            rule,
            explain: false,
        }
    }

    /// Turns diagnostics on or off.
    pub fn with_explain(mut self, explain: bool) -> Self {
        self.explain = explain;
        self
    }
}

/// A series with its ordered volumes.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSeries {
    pub group: SeriesGroup,
    pub volumes: Vec<Volume>,
}

/// Groups, splits and orders the scanned instances; series are processed in parallel.
pub fn plan_volumes(instances: &[InstanceHeader], rule: Rule) -> Vec<PlannedSeries> {
    group_series(instances)
        .into_par_iter()
        .map(|group| {
            let volumes = split_series(instances, &group.members, rule);
            PlannedSeries { group, volumes }
        })
        .collect()
}

/// The `order` report: the planned volumes with their slices spelled out.
pub fn plan_order(scan: &ScanReport, source: &str, options: OrderOptions) -> OrderReport {
    let instances = &scan.instances;
    let series = plan_volumes(instances, options.rule)
        .into_par_iter()
        .map(|planned| {
            let first = &instances[planned.group.members[0]];
            let volumes = planned
                .volumes
                .into_iter()
                .map(|volume| volume_report(instances, volume, options.explain))
                .collect();
            SeriesReport {
                study_instance_uid: planned.group.study_instance_uid,
                series_instance_uid: planned.group.series_instance_uid,
                series_number: first.series_number,
                modality: first.modality.clone(),
                series_description: first.series_description.clone(),
                volumes,
            }
        })
        .collect();
    OrderReport {
        source: source.to_string(),
        rule: rule_name(options.rule).to_string(),
        series,
        skipped: {
            let mut skipped: Vec<FileIssue> = label_objects(scan)
                .chain(slides(scan))
                .chain(scan.skipped.iter().cloned())
                .collect();
            skipped.sort_by(|a, b| a.path.cmp(&b.path));
            skipped
        },
        failed: scan.failed.clone(),
    }
}

/// Label objects (SEG, RTSTRUCT) as skipped inputs of the order: they are no slices of their
/// own, `convert` places them on the slices they reference.
fn label_objects(scan: &ScanReport) -> impl Iterator<Item = FileIssue> + '_ {
    scan.instances.iter().filter_map(|header| {
        let class = LabelClass::of(header.sop_class_uid.as_deref())?;
        let what = match class {
            LabelClass::Segmentation => "a segmentation (SEG)",
            LabelClass::StructureSet => "an RT structure set",
        };
        Some(FileIssue {
            path: header.path.clone(),
            reason: format!(
                "{what}: a label object, not slices; convert places it on the images it references"
            ),
        })
    })
}

/// Whole-slide images as skipped inputs of the order: tiles of a pyramid, not slices; `convert`
/// makes each slide a pyramid, Deep Zoom tiles and pictures.
fn slides(scan: &ScanReport) -> impl Iterator<Item = FileIssue> + '_ {
    scan.instances.iter().filter(|h| is_slide(h)).map(|header| FileIssue {
        path: header.path.clone(),
        reason: "a whole-slide image (slide microscopy): tiles of a pyramid, not slices; convert makes each slide a pyramid, Deep Zoom tiles and pictures".into(),
    })
}

/// The name of a rule as the CLI and the report spell it.
pub fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::Darwin => "darwin",
        Rule::Spatial => "spatial",
        Rule::Instance => "instance",
    }
}

fn volume_report(instances: &[InstanceHeader], volume: Volume, explain: bool) -> VolumeReport {
    let first = volume.slices.first().map(|s| &instances[s.instance]);
    let slices: Vec<SliceReport> = volume
        .slices
        .iter()
        .map(|&slice| {
            let key = SliceKey::of(slice, instances, volume.normal);
            SliceReport {
                path: key.path.to_string(),
                frame: slice.frame,
                instance_number: key.instance_number,
                position: key.position.distance(),
            }
        })
        .collect();
    let diagnostics = explain.then(|| {
        let values: Vec<_> = slices
            .iter()
            .map(|s| (s.instance_number, s.position))
            .collect();
        diagnose(&values)
    });
    VolumeReport {
        id: volume.id,
        split_reason: volume.split_reason,
        rows: first.and_then(|h| h.rows),
        columns: first.and_then(|h| h.columns),
        normal: volume.normal,
        slices,
        diagnostics,
    }
}
