//! The labels stage of a conversion: every label object (SEG, RTSTRUCT) of the scan is read
//! from the source, placed on the frames of the manifest's items, and written per labelled
//! item as a Darwin JSON 2.0 file and an Encord label row beside the item's pictures. The
//! items gain `labels`; report.json gains each object's outcome.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;

use super::ConvertOptions;
use super::label_nifti::write_label_maps;
use super::label_sheet::label_sheet;
use super::sink::Sink;
use crate::contract::FileIssue;
use crate::contract::keys;
use crate::contract::manifest::{
    ContactSheetEntry, Item, ItemKind, LabelEntry, Manifest, SegmentEntry,
};
use crate::contract::run_report::{LabelProblem, LabelReport, Stage, StageIssues};
use crate::labels::colour::hex;
use crate::labels::darwin::{DarwinItem, darwin_file};
use crate::labels::encord::{EncordItem, encord_file};
use crate::labels::layers::{Layer, item_layers};
use crate::labels::place::{Frames, Target};
use crate::labels::{Placed, place_object};
use crate::scan::source::Source;
use crate::scan::{InstanceHeader, LabelClass, ScanReport};

/// The label objects of a scan, each read and placed on image frames (or why not). Placing
/// needs no item: a run does it while its items are being rendered.
pub struct PlacedLabels<'a> {
    objects: Vec<&'a InstanceHeader>,
    placed: Vec<Result<Placed, String>>,
    frames: Frames<'a>,
}

/// Reads every label object of `scan` (when `options.labels` says so) and places it on the
/// scan's image frames; with `copy_dicom`, copies the objects placed. `None` when labels are
/// off or there are none.
pub fn place_labels<'a>(
    scan: &'a ScanReport,
    source: &Source,
    sink: &dyn Sink,
    options: &ConvertOptions,
) -> Option<PlacedLabels<'a>> {
    let label_options = options.labels?;
    let objects: Vec<&InstanceHeader> = scan
        .instances
        .iter()
        .filter(|h| LabelClass::of(h.sop_class_uid.as_deref()).is_some())
        .collect();
    if objects.is_empty() {
        return None;
    }
    let frames = Frames::new(&scan.instances);
    let placed = objects
        .par_iter()
        .map(|header| {
            let bytes = source.read(&header.path)?;
            let placed = place_object(bytes.clone(), header, &frames, label_options)?;
            if options.copy_dicom {
                let key = keys::dicom_copy_key(&header.path);
                sink.put_durable(&key, bytes.to_vec())
                    .map_err(|e| format!("copy to {} failed: {e}", sink.describe(&key)))?;
            }
            Ok(placed)
        })
        .collect();
    Some(PlacedLabels {
        objects,
        placed,
        frames,
    })
}

/// Gives `manifest`'s items the labels of their frames: writes each labelled item's files and
/// records each object's outcome in `manifest` (objects placed on no item fail) and `issues`;
/// returns the files written and their bytes. A whole run calls it once its items are
/// assembled; a scale-out run at merge (an object and its images may lie in different shards).
pub fn attach_labels(
    manifest: &mut Manifest,
    issues: &mut StageIssues,
    labels: PlacedLabels<'_>,
    sink: &dyn Sink,
) -> (usize, u64) {
    let PlacedLabels {
        objects,
        placed,
        frames,
    } = labels;
    let by_path: HashMap<&str, usize> = frames_by_path(&frames, manifest);
    // The image frame of each item frame.
    let targets: Vec<Vec<Option<Target>>> = manifest
        .items
        .iter()
        .map(|item| {
            item.frames
                .iter()
                .map(|f| {
                    let instance = *by_path.get(f.path.as_str())?;
                    Some(Target {
                        instance,
                        frame: f.frame,
                    })
                })
                .collect()
        })
        .collect();
    let mut items_of: HashMap<Target, Vec<usize>> = HashMap::new();
    for (i, item_targets) in targets.iter().enumerate() {
        for target in item_targets.iter().flatten() {
            items_of.entry(*target).or_default().push(i);
        }
    }
    let mut written = (0, 0);
    let mut reports = Vec::with_capacity(objects.len());
    // Which objects each item shows, in object order.
    let mut on_item: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (o, result) in placed.iter().enumerate() {
        let class = LabelClass::of(objects[o].sop_class_uid.as_deref()).map_or("", |c| c.name());
        let mut report = LabelReport {
            path: objects[o].path.clone(),
            kind: class.into(),
            items: 0,
            frames: 0,
            reason: None,
            not_placed: Vec::new(),
            warnings: Vec::new(),
        };
        let mut items: Vec<usize> = Vec::new();
        let mut item_frames = 0;
        if let Ok(placed) = result {
            let mut on: Vec<Target> = placed.shapes.keys().map(|(t, _)| *t).collect();
            on.dedup();
            for target in &on {
                let of = items_of.get(target).map_or(&[][..], Vec::as_slice);
                item_frames += of.len();
                items.extend(of);
            }
            items.sort_unstable();
            items.dedup();
            report.not_placed = placed
                .problems
                .iter()
                .map(|(what, reason)| LabelProblem {
                    what: what.clone(),
                    reason: reason.clone(),
                })
                .collect();
            report.warnings = placed.warnings.clone();
        }
        let failure = match result {
            Err(reason) => Some(reason.clone()),
            Ok(_) if items.is_empty() => Some(
                "placed on no item: the images it references were not converted (see their own entries)".into(),
            ),
            Ok(_) => None,
        };
        match failure {
            Some(reason) => {
                report.reason = Some(reason.clone());
                let issue = FileIssue {
                    path: objects[o].path.clone(),
                    reason,
                };
                manifest.failed.push(issue.clone());
                issues.failed.push((Stage::Labels, issue));
            }
            None => {
                for &item in &items {
                    on_item.entry(item).or_default().push(o);
                }
                report.items = items.len();
                report.frames = item_frames;
            }
        }
        reports.push(report);
    }
    issues.labels = reports;

    // Items are done in parallel; each reads only its own entry of the manifest.
    let done: Vec<(usize, ItemOutputs)> = on_item
        .par_iter()
        .map(|(&item_index, object_indices)| {
            let shown = ItemObjects {
                indices: object_indices,
                placed: &placed,
                headers: &objects,
            };
            let item = &manifest.items[item_index];
            let outputs = item_outputs(item, &targets[item_index], &shown, &frames, sink);
            (item_index, outputs)
        })
        .collect();
    for (item_index, outputs) in done {
        written.0 += outputs.written;
        written.1 += outputs.bytes;
        let item = &mut manifest.items[item_index];
        item.labels = outputs.labels;
        item.label_sheet = outputs.sheet;
    }
    // Label files are queued like the other outputs: those that did not arrive are not named.
    let failed: Vec<String> = sink.flush().into_iter().map(|f| f.key).collect();
    if !failed.is_empty() {
        written.0 = written.0.saturating_sub(failed.len());
        forget_keys(manifest, &failed);
    }
    written
}

/// The scanned image of each path the manifest's frames name.
fn frames_by_path<'a>(frames: &Frames<'_>, manifest: &'a Manifest) -> HashMap<&'a str, usize> {
    let wanted: std::collections::HashSet<&str> = manifest
        .items
        .iter()
        .flat_map(|i| i.frames.iter().map(|f| f.path.as_str()))
        .collect();
    frames
        .instances()
        .iter()
        .enumerate()
        .filter_map(|(i, h)| wanted.get(h.path.as_str()).map(|&p| (p, i)))
        .collect()
}

/// The label objects placed on one item: their indices in the scan's label objects, in order.
struct ItemObjects<'a> {
    indices: &'a [usize],
    placed: &'a [Result<Placed, String>],
    headers: &'a [&'a InstanceHeader],
}

/// What was made for one item.
struct ItemOutputs {
    labels: Vec<LabelEntry>,
    sheet: Option<ContactSheetEntry>,
    written: usize,
    bytes: u64,
}

/// The label files of one item (Darwin, Encord, label sheet, NIfTI label maps) and its entries.
fn item_outputs(
    item: &Item,
    targets: &[Option<Target>],
    objects: &ItemObjects<'_>,
    frames: &Frames<'_>,
    sink: &dyn Sink,
) -> ItemOutputs {
    let shown: Vec<&Placed> = objects
        .indices
        .iter()
        .filter_map(|&o| objects.placed[o].as_ref().ok())
        .collect();
    // Label maps sample the frames' own planes; the annotation files and the sheet are drawn
    // on the item's pictures, so the labels of a cropped item are cut as its pictures are.
    let on_frames = item_layers(targets, &shown);
    let layers: Cow<[Layer]> = match item.crop {
        Some(crop) => Cow::Owned(on_frames.iter().map(|l| l.clone().cropped(crop)).collect()),
        None => Cow::Borrowed(&on_frames),
    };
    let mut out = ItemOutputs {
        labels: Vec::with_capacity(objects.indices.len()),
        sheet: None,
        written: 0,
        bytes: 0,
    };
    // The annotation files and the label sheet side by side.
    let ((darwin_key, encord_key), sheet) = rayon::join(
        || write_item_files(item, &layers, sink, &mut out),
        || {
            (item.kind != ItemKind::Volume)
                .then(|| label_sheet(item, &layers, sink))
                .flatten()
        },
    );
    if let Some(sheet) = &sheet {
        out.written += 1;
        out.bytes += sheet.bytes;
    }
    out.sheet = sheet;
    let planes: Vec<_> = targets
        .iter()
        .map(|t| t.and_then(|t| frames.plane(t)))
        .collect();
    for (position, &o) in objects.indices.iter().enumerate() {
        let Ok(placed) = &objects.placed[o] else {
            continue;
        };
        let of_object: Vec<&Layer> = layers.iter().filter(|l| l.object == position).collect();
        let on_planes: Vec<&Layer> = on_frames.iter().filter(|l| l.object == position).collect();
        let mut labelled: Vec<usize> = of_object
            .iter()
            .flat_map(|l| l.frames.keys().copied())
            .collect();
        labelled.sort_unstable();
        labelled.dedup();
        let maps = item
            .nifti
            .as_ref()
            .and_then(|nifti| write_label_maps(nifti, position + 1, &on_planes, &planes, sink));
        if let Some(maps) = &maps {
            out.written += maps.files;
            out.bytes += maps.bytes;
        }
        let (nifti_key, nifti_segments) = maps.map_or((None, Vec::new()), |m| (m.map, m.segments));
        let header = objects.headers[o];
        out.labels.push(LabelEntry {
            kind: placed.class.name().into(),
            source: header.path.clone(),
            sop_instance_uid: header.sop_instance_uid.clone().unwrap_or_default(),
            segments: of_object
                .iter()
                .map(|l| SegmentEntry {
                    number: l.number,
                    name: l.name.clone(),
                    color: hex(l.color),
                })
                .collect(),
            darwin_key: darwin_key.clone(),
            encord_key: encord_key.clone(),
            nifti_key,
            nifti_segments,
            frames: labelled.len(),
        });
    }
    out
}

/// Takes `failed` keys out of the items' label entries and label sheets.
fn forget_keys(manifest: &mut Manifest, failed: &[String]) {
    let gone = |key: &Option<String>| key.as_ref().is_some_and(|k| failed.contains(k));
    for item in &mut manifest.items {
        if gone(&item.label_sheet.as_ref().map(|s| s.key.clone())) {
            item.label_sheet = None;
        }
        for label in &mut item.labels {
            for key in [
                &mut label.darwin_key,
                &mut label.encord_key,
                &mut label.nifti_key,
            ] {
                if gone(key) {
                    *key = None;
                }
            }
            label.nifti_segments.retain(|s| !failed.contains(&s.key));
        }
    }
}

/// Writes the Darwin and Encord files of `item` (items with pictures only); returns their keys
/// (`None` where not written).
fn write_item_files(
    item: &Item,
    layers: &[Layer],
    sink: &dyn Sink,
    outcome: &mut ItemOutputs,
) -> (Option<String>, Option<String>) {
    if item.kind == ItemKind::Volume || layers.is_empty() {
        return (None, None);
    }
    let framed = item.kind == ItemKind::Video;
    let source_file = item.frames.first().map_or(item.name.as_str(), |f| {
        f.path.rsplit('/').next().unwrap_or(&f.path)
    });
    let seed = item.storage_key.as_str();
    // The two files side by side.
    let (darwin, encord) = rayon::join(
        || {
            let darwin = DarwinItem {
                name: &item.name,
                path: "/",
                slot_name: "0",
                slot_type: if framed { "dicom" } else { "image" },
                width: item.width,
                height: item.height,
                frame_count: item.frames.len(),
                framed,
                source_file,
                seed,
            };
            darwin_file(&darwin, layers).to_json()
        },
        || {
            let encord = EncordItem {
                title: &item.name,
                data_type: if framed { "dicom" } else { "image" },
                width: item.width,
                height: item.height,
                frame_images: item
                    .frames
                    .iter()
                    .map(|f| (f.sop_instance_uid.as_deref(), f.path.as_str()))
                    .collect(),
                seed,
            };
            serde_json::to_vec(&encord_file(&encord, layers))
        },
    );
    let mut put = |key: String, bytes: serde_json::Result<Vec<u8>>| {
        let bytes = bytes.ok()?;
        let size = bytes.len() as u64;
        sink.put(&key, bytes).ok()?;
        outcome.written += 1;
        outcome.bytes += size;
        Some(key)
    };
    (
        put(
            keys::label_key(&item.storage_key, "darwin.json"),
            Ok(darwin),
        ),
        put(keys::label_key(&item.storage_key, "encord.json"), encord),
    )
}
