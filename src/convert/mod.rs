//! `dicomprep convert`: ordered volumes to 8-bit images, LQ frames and thumbnails under
//! deterministic keys, with `manifest.json` written last.
//!
//! Volumes, files and frames are processed in parallel (rayon); each task holds one decoded
//! frame at a time, so memory follows the number of threads, not the size of the study.
//! Outputs that already exist are reused when the settings are unchanged, so a re-run resumes.

mod assemble;
pub mod burned_in;
mod context;
mod integrity;
mod items;
mod label_nifti;
mod label_sheet;
mod labels;
pub use labels::{attach_labels, place_labels};
mod nifti;
mod opened;
mod previous;
pub mod publish;
mod sheet;
pub mod sink;
mod slices;
mod slide;
mod stack_files;
pub mod stack_reader;
mod video;
mod volume;
mod window;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use rayon::prelude::*;

use crate::Progress;
use crate::contract::FileIssue;
use crate::contract::keys;
use crate::contract::manifest::{Manifest, Settings};
use crate::contract::run_report::{Stage, StageIssues};
use crate::encode::VideoSettings;
use crate::labels::LabelOptions;
use crate::naming::{NameTemplate, NameTemplateError};
use crate::order::Rule;
use crate::order::group::SeriesGroup;
use crate::order::plan::{plan_volumes, rule_name};
use crate::order::slide::{SlidePlan, plan_slides};
use crate::order::split::Volume;
use crate::render::window::WindowChoice;
use crate::scan::ScanReport;
use crate::scan::source::Source;
pub(crate) use assemble::{Assembly, Part, Present, assemble};
use burned_in::BurnedInChoice;
use context::{Context, VolumeOutcome};
use integrity::Ledger;
use previous::Previous;
use sink::Sink;

/// Whether volumes become image items or video items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ItemChoice {
    /// Volumes of one slice become images, the rest videos.
    #[default]
    Auto,
    /// Every slice is its own image item.
    Images,
    /// Every volume is a video item (HQ + LQ frames and one thumbnail).
    Video,
}

/// What a conversion writes (`--outputs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outputs {
    /// 8-bit pictures: images, frames, thumbnails and videos (`render`).
    pub render: bool,
    /// NIfTI volumes with BIDS sidecars (`nifti`).
    pub nifti: bool,
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs {
            render: true,
            nifti: false,
        }
    }
}

impl std::str::FromStr for Outputs {
    type Err = String;

    /// A comma list of `render` and `nifti`.
    fn from_str(list: &str) -> Result<Self, String> {
        let mut outputs = Outputs {
            render: false,
            nifti: false,
        };
        for word in list.split(',').map(str::trim) {
            match word {
                "render" => outputs.render = true,
                "nifti" => outputs.nifti = true,
                other => {
                    return Err(format!(
                        "unknown output {other:?}: use a comma list of render and nifti"
                    ));
                }
            }
        }
        Ok(outputs)
    }
}

impl std::fmt::Display for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<&str> = [(self.render, "render"), (self.nifti, "nifti")]
            .into_iter()
            .filter_map(|(on, word)| on.then_some(word))
            .collect();
        f.write_str(&words.join(","))
    }
}

/// Options of a conversion.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    pub items: ItemChoice,
    pub window: WindowChoice,
    pub rule: Rule,
    /// JPEG quality of LQ frames (1-100).
    pub lq_quality: u8,
    /// Rewrite outputs even when they exist.
    pub overwrite: bool,
    /// Burn overlays (60xx) into the images.
    pub overlays: bool,
    /// Frame rate and quality of the MP4 of video items; `None` writes frames and thumbnail
    /// only.
    pub video: Option<VideoSettings>,
    /// Also HLS renditions and a frames manifest per video item, with darwin-py's frame layout
    /// (needs `video`).
    pub hls: bool,
    /// How items are named (titles only: keys do not depend on it).
    pub name: NameTemplate,
    /// Also write every source file rendered under `dicom/` in the destination (DICOMweb
    /// sources: what read-write registrations need).
    pub copy_dicom: bool,
    /// What is written: pictures, NIfTI volumes, or both.
    pub outputs: Outputs,
    /// NIfTI files are gzip-compressed (`.nii.gz`).
    pub nifti_gzip: bool,
    /// Label objects (SEG, RTSTRUCT) are placed on the items they reference (`--labels auto`);
    /// `None` leaves them aside (`--labels off`).
    pub labels: Option<LabelOptions>,
    /// What is done with pixels that may carry burned-in text (`--burned-in`).
    pub burned_in: BurnedInChoice,
    /// Whole-slide pictures fit this many pixels on their long side (`--slide-max-size`).
    pub slide_max_size: u32,
    /// Slides' label images (the glass's label) are written (`--slide-label keep`).
    pub slide_labels: bool,
    /// Every optical path at every focal plane of a slide becomes a pyramid of its own
    /// (`--slide-planes all`); else the first only.
    pub slide_planes: bool,
    /// Slides get Deep Zoom tiles (`--slide-deep-zoom yes`, the default).
    pub slide_deep_zoom: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            items: ItemChoice::Auto,
            window: WindowChoice::Header,
            rule: Rule::Darwin,
            lq_quality: DEFAULT_LQ_QUALITY,
            overwrite: false,
            overlays: false,
            video: Some(VideoSettings::default()),
            hls: false,
            name: NameTemplate::default(),
            copy_dicom: false,
            outputs: Outputs::default(),
            nifti_gzip: true,
            labels: Some(LabelOptions::default()),
            burned_in: BurnedInChoice::default(),
            slide_max_size: DEFAULT_SLIDE_MAX_SIZE,
            slide_labels: false,
            slide_planes: false,
            slide_deep_zoom: true,
        }
    }
}

/// The long side of a whole-slide picture, at most (pixels).
pub const DEFAULT_SLIDE_MAX_SIZE: u32 = 8192;

/// JPEG quality of LQ frames: about what `ffmpeg -q:v 5` gives, the playback quality annotation
/// platforms extract.
pub const DEFAULT_LQ_QUALITY: u8 = 75;

impl ConvertOptions {
    /// The settings these options record in the manifest.
    pub(crate) fn settings(&self) -> Settings {
        Settings {
            item_kind: match self.items {
                ItemChoice::Auto => "auto",
                ItemChoice::Images => "images",
                ItemChoice::Video => "video",
            }
            .into(),
            window: match self.window {
                WindowChoice::Header => "header".into(),
                WindowChoice::MinMax => "minmax".into(),
                WindowChoice::Fixed { center, width } => format!("{center},{width}"),
            },
            rule: rule_name(self.rule).into(),
            lq_quality: self.lq_quality,
            overlays: self.overlays,
            fps: self.video.map_or(0, |v| v.fps),
            crf: self.video.map_or(0, |v| v.crf),
            hls: self.hls_enabled(),
            name: self.name.to_string(),
            copy_dicom: self.copy_dicom,
            outputs: self.outputs.to_string(),
            nifti_gzip: self.nifti_gzip,
            labels: if self.labels.is_some() { "auto" } else { "off" }.into(),
            seg_threshold: self
                .labels
                .map_or(LabelOptions::default().seg_threshold, |l| l.seg_threshold),
            burned_in: self.burned_in.name().into(),
            slide_max_size: self.slide_max_size,
            slide_labels: if self.slide_labels { "keep" } else { "skip" }.into(),
            slide_planes: if self.slide_planes { "all" } else { "first" }.into(),
            slide_deep_zoom: self.slide_deep_zoom,
        }
    }

    /// The options that record `settings` (the inverse of [`ConvertOptions::settings`]), for
    /// a shard converting with its plan's settings.
    pub fn from_settings(settings: &Settings) -> Result<ConvertOptions, String> {
        let items = match settings.item_kind.as_str() {
            "auto" => ItemChoice::Auto,
            "images" => ItemChoice::Images,
            "video" => ItemChoice::Video,
            other => return Err(format!("unknown item kind {other:?}")),
        };
        let rule = [Rule::Darwin, Rule::Spatial, Rule::Instance]
            .into_iter()
            .find(|&rule| rule_name(rule) == settings.rule)
            .ok_or_else(|| format!("unknown rule {:?}", settings.rule))?;
        let options = ConvertOptions {
            items,
            window: settings.window.parse()?,
            rule,
            lq_quality: settings.lq_quality,
            overwrite: false,
            overlays: settings.overlays,
            video: (settings.fps > 0).then_some(VideoSettings {
                fps: settings.fps,
                crf: settings.crf,
            }),
            hls: settings.hls,
            name: settings
                .name
                .parse()
                .map_err(|e: NameTemplateError| e.to_string())?,
            copy_dicom: settings.copy_dicom,
            outputs: settings.outputs.parse()?,
            nifti_gzip: settings.nifti_gzip,
            labels: match settings.labels.as_str() {
                "auto" => Some(LabelOptions {
                    seg_threshold: settings.seg_threshold,
                }),
                "off" => None,
                other => return Err(format!("unknown labels setting {other:?}")),
            },
            burned_in: BurnedInChoice::from_name(&settings.burned_in)
                .ok_or_else(|| format!("unknown burned-in setting {:?}", settings.burned_in))?,
            slide_max_size: settings.slide_max_size,
            slide_labels: settings.slide_labels == "keep",
            slide_planes: settings.slide_planes == "all",
            slide_deep_zoom: settings.slide_deep_zoom,
        };
        if options.settings() != *settings {
            return Err(format!("settings {settings:?} cannot be reproduced"));
        }
        Ok(options)
    }

    /// Whether HLS outputs are made (they come with the MP4).
    fn hls_enabled(&self) -> bool {
        self.hls && self.video.is_some()
    }
}

/// What a conversion did.
#[derive(Debug, Clone)]
pub struct ConvertReport {
    pub manifest: Manifest,
    /// Outputs written in this run.
    pub written: usize,
    /// Outputs found complete from an earlier run and kept.
    pub reused: usize,
    /// Whether earlier outputs were made with other settings and were rewritten.
    pub settings_changed: bool,
    /// Bytes of outputs written (the manifest included).
    pub bytes_written: u64,
    /// Bytes of DICOM files read for rendering.
    pub bytes_read: u64,
    /// Skipped and failed inputs by stage, for the run report.
    pub issues: StageIssues,
    /// Writes that failed (key → last error), for a shard to record.
    pub failed_writes: BTreeMap<String, String>,
    /// Images that declare burned-in text and were rendered whole (`--burned-in keep`).
    pub burned_in_kept: usize,
}

/// Renders every planned volume of `scan` (files read from `source`) into `sink`, and writes
/// the manifest last under [`keys::MANIFEST_KEY`].
pub fn convert(
    source: &Source,
    scan: &ScanReport,
    sink: &dyn Sink,
    options: &ConvertOptions,
    progress: &dyn Progress,
) -> std::io::Result<ConvertReport> {
    convert_to(source, scan, sink, options, ManifestTarget::Run, progress)
}

/// Where a conversion's manifest goes.
#[derive(Debug, Clone, Copy)]
pub enum ManifestTarget<'a> {
    /// `manifest.json`: the whole result, item names made unique.
    Run,
    /// A shard's own manifest under `key`: item names as the template made them, and items
    /// whose outputs did not all arrive kept (`merge` numbers collisions over every shard's
    /// items, as one run would, then leaves those out).
    Shard { key: &'a str },
}

/// As [`convert`], with the manifest at `target`: an earlier manifest there is what a re-run
/// resumes from.
pub fn convert_to(
    source: &Source,
    scan: &ScanReport,
    sink: &dyn Sink,
    options: &ConvertOptions,
    target: ManifestTarget<'_>,
    progress: &dyn Progress,
) -> std::io::Result<ConvertReport> {
    let (manifest_key, assembly) = match target {
        ManifestTarget::Run => (keys::MANIFEST_KEY, Assembly::Whole),
        ManifestTarget::Shard { key } => (key, Assembly::Shard),
    };
    let settings = options.settings();
    // Images whose burned-in text cannot be cut away are left out before anything is planned.
    let scan = &*burned_in::screen(scan, options.burned_in, options.slide_labels);
    let previous: Option<Manifest> = sink
        .get(manifest_key)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let settings_changed = previous
        .as_ref()
        .is_some_and(|m| !m.settings.same_outputs(&settings));
    let reuse = !options.overwrite && !settings_changed;
    let context = Context {
        source,
        previous: Previous::from_manifest(previous.as_ref().filter(|_| reuse)),
        instances: &scan.instances,
        sink,
        options,
        reuse,
        progress,
        bytes_written: AtomicU64::new(0),
        bytes_read: AtomicU64::new(0),
        ledger: Ledger::default(),
    };

    let planned = plan_volumes(&scan.instances, options.rule);
    let jobs: Vec<(&SeriesGroup, &Volume)> = planned
        .iter()
        .flat_map(|s| s.volumes.iter().map(move |v| (&s.group, v)))
        .collect();
    // Label objects are read and placed on their images while the items are made (shards
    // leave them to the merge: an object and its images may be in different shards).
    let (outcomes, placed_labels) = rayon::join(
        || {
            let mut outcomes: Vec<VolumeOutcome> = if options.outputs.render {
                jobs.par_iter()
                    .map(|(series, volume)| context.volume(series, volume))
                    .collect()
            } else {
                Vec::new()
            };
            if options.outputs.nifti {
                context.nifti(&planned, &mut outcomes);
            }
            // Slides after the series, in the order of their study and series (as a merge
            // puts them).
            let slides = plan_slides(&scan.instances, options.slide_planes);
            if options.outputs.render {
                outcomes.extend(context.slides(&slides));
            } else {
                outcomes.push(no_nifti_of_slides(scan, &slides));
            }
            outcomes
        },
        || {
            (assembly == Assembly::Whole)
                .then(|| labels::place_labels(scan, source, sink, options))
                .flatten()
        },
    );

    let (mut written, mut reused) = (0, 0);
    let mut parts = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        written += outcome.written;
        reused += outcome.reused;
        parts.push(Part {
            items: outcome.items,
            failed: outcome
                .failed
                .into_iter()
                .map(|issue| (Stage::Render, issue))
                .collect(),
        });
    }
    let failed_uploads: BTreeMap<String, String> =
        sink.flush().into_iter().map(|f| (f.key, f.error)).collect();
    let Context {
        ledger,
        bytes_written,
        bytes_read,
        ..
    } = context;
    let sizes = ledger.settle(&failed_uploads);
    // A copy that did not arrive fails its input: read-write payloads would name it.
    parts.push(Part {
        items: Vec::new(),
        failed: failed_uploads
            .iter()
            .filter_map(|(key, error)| {
                let path = key
                    .strip_prefix(keys::DICOM_COPY_PREFIX)?
                    .strip_prefix('/')?;
                let reason = format!("copy to {} failed: {error}", sink.describe(key));
                Some((
                    Stage::Upload,
                    FileIssue {
                        path: path.to_string(),
                        reason,
                    },
                ))
            })
            .collect(),
    });
    let describe = |key: &str| sink.describe(key);
    let present = Present {
        sizes: &sizes,
        failed_writes: &failed_uploads,
        describe: &describe,
    };
    let head = Manifest::empty(settings, Some(source.location()), Some(sink.location()));
    let (mut manifest, mut issues) = assemble(head, scan, parts, &present, assembly);
    written -= failed_uploads.len().min(written);
    let mut label_bytes = 0;
    if let Some(placed) = placed_labels {
        let (files, bytes) = labels::attach_labels(&mut manifest, &mut issues, placed, sink);
        written += files;
        label_bytes = bytes;
    }
    let manifest_bytes = write_manifest(sink, manifest_key, &manifest)?;
    Ok(ConvertReport {
        manifest,
        written,
        reused,
        settings_changed,
        bytes_written: bytes_written.into_inner() + label_bytes + manifest_bytes,
        bytes_read: bytes_read.into_inner(),
        issues,
        failed_writes: failed_uploads,
        burned_in_kept: burned_in::kept_declared(scan, options.burned_in),
    })
}

/// Slides have no NIfTI volume: with `--outputs nifti` alone their instances fail, saying so.
fn no_nifti_of_slides(scan: &ScanReport, slides: &SlidePlan) -> VolumeOutcome {
    let members = slides.slides.iter().flat_map(|s| s.members.iter().copied());
    let failed = slides.failed.iter().map(|(i, _)| *i);
    VolumeOutcome {
        failed: members
            .chain(failed)
            .map(|i| FileIssue {
                path: scan.instances[i].path.clone(),
                reason: "a whole-slide image has no NIfTI volume: convert it with --outputs render"
                    .into(),
            })
            .collect(),
        ..VolumeOutcome::default()
    }
}

/// Writes `manifest` under `key` once every queued output is stored; returns its size.
pub(crate) fn write_manifest(
    sink: &dyn Sink,
    key: &str,
    manifest: &Manifest,
) -> std::io::Result<u64> {
    let json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
    let bytes = json.len() as u64;
    sink.put_durable(key, json)?;
    Ok(bytes)
}

/// Writes the report pages over `manifest` (`index.html`, `index-2.html`, …; see
/// [`crate::page`]) into `sink`, each whole, after every queued output. Call it after the
/// manifest (and the run report) are written, with the `scan` and `rule` the conversion used,
/// so the pages link only keys the manifest names. Returns the keys written.
pub fn write_pages(
    sink: &dyn Sink,
    manifest: &Manifest,
    scan: &ScanReport,
    source: &Source,
    rule: Rule,
) -> Result<Vec<String>, (String, std::io::Error)> {
    let order = crate::order::plan::plan_order(
        scan,
        &source.location().to_string(),
        crate::order::plan::OrderOptions::new(rule).with_explain(true),
    );
    let mut keys = Vec::new();
    if crate::page::shows_slides(&manifest.items) {
        let key = crate::page::VIEWER_KEY;
        sink.put_durable(key, crate::page::VIEWER_JS.to_vec())
            .map_err(|e| (key.to_string(), e))?;
    }
    for (key, html) in crate::page::render_pages(manifest, &order, crate::page::DEFAULT_PAGE_SIZE) {
        sink.put_durable(&key, html.into_bytes())
            .map_err(|e| (key.clone(), e))?;
        keys.push(key);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_options() {
        let mut options = ConvertOptions {
            items: ItemChoice::Video,
            window: WindowChoice::Fixed {
                center: 40.5,
                width: 400.0,
            },
            rule: Rule::Spatial,
            lq_quality: 60,
            overlays: true,
            hls: true,
            ..ConvertOptions::default()
        };
        let back = ConvertOptions::from_settings(&options.settings()).unwrap();
        assert_eq!(back.settings(), options.settings());
        options.video = None;
        let back = ConvertOptions::from_settings(&options.settings()).unwrap();
        assert_eq!(back.video, None);
        let mut wrong = options.settings();
        wrong.rule = "alphabetical".into();
        assert_eq!(
            ConvertOptions::from_settings(&wrong).unwrap_err(),
            "unknown rule \"alphabetical\""
        );
    }
}
