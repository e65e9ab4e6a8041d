//! `dicomprep convert`: ordered volumes to 8-bit images, LQ frames and thumbnails under
//! deterministic keys, with `manifest.json` written last.
//!
//! Volumes, files and frames are processed in parallel (rayon); each task holds one decoded
//! frame at a time, so memory follows the number of threads, not the size of the study.
//! Outputs that already exist are reused when the settings are unchanged, so a re-run resumes.

pub mod layout;
pub mod manifest;
pub mod run_report;
pub mod sink;
mod video;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use rayon::prelude::*;

use crate::encode::VideoSettings;
use crate::encode::jpeg::{Huffman, encode_jpeg};
use crate::encode::png::encode_png;
use crate::index::SeriesGroup;
use crate::order::Rule;
use crate::plan::{plan_volumes, rule_name};
use crate::progress::Progress;
use crate::render::decode::{DicomImage, Samples};
use crate::render::lut::{ModalityLut, Voi};
use crate::render::thumbnail::encode_thumbnail;
use crate::render::window::{WindowChoice, choose_mapping, modality_range};
use crate::render::{Image8, burn_overlays, render_frame};
use crate::report::FileIssue;
use crate::scan::{InstanceHeader, ScanReport};
use crate::source::Source;
use crate::split::Volume;
use layout::FrameLayout;
use manifest::{
    FrameEntry, HlsEntry, Item, ItemKind, MANIFEST_VERSION, Manifest, Settings, VideoEntry,
    WindowUsed,
};
use run_report::{Stage, StageIssues};
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
        }
    }
}

/// JPEG quality of LQ frames: about what `ffmpeg -q:v 5` gives, the playback quality annotation
/// platforms extract.
pub const DEFAULT_LQ_QUALITY: u8 = 75;

impl ConvertOptions {
    fn settings(&self) -> Settings {
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
        }
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
}

/// Renders every planned volume of `scan` (files read from `source`) into `sink`.
pub fn convert(
    source: &Source,
    scan: &ScanReport,
    sink: &dyn Sink,
    options: &ConvertOptions,
    progress: &Progress,
) -> std::io::Result<ConvertReport> {
    let settings = options.settings();
    let previous: Option<Manifest> = sink
        .get(layout::MANIFEST_KEY)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let settings_changed = previous.as_ref().is_some_and(|m| m.settings != settings);
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
    };

    let planned = plan_volumes(&scan.instances, options.rule);
    let jobs: Vec<(&SeriesGroup, &Volume)> = planned
        .iter()
        .flat_map(|s| s.volumes.iter().map(move |v| (&s.group, v)))
        .collect();
    let outcomes: Vec<VolumeOutcome> = jobs
        .par_iter()
        .map(|(series, volume)| context.volume(series, volume))
        .collect();

    let mut manifest = Manifest {
        version: MANIFEST_VERSION,
        settings,
        source: Some(source.location()),
        destination: Some(sink.location()),
        items: Vec::new(),
        skipped: scan.skipped.clone(),
        failed: scan.failed.clone(),
    };
    let (mut written, mut reused) = (0, 0);
    let mut issues = StageIssues {
        skipped: scan.skipped.clone(),
        failed: scan
            .failed
            .iter()
            .map(|i| (Stage::Scan, i.clone()))
            .collect(),
    };
    let mut failed_paths: BTreeMap<String, String> = BTreeMap::new();
    for outcome in outcomes {
        manifest.items.extend(outcome.items);
        written += outcome.written;
        reused += outcome.reused;
        for issue in outcome.failed {
            failed_paths
                .entry(issue.path.clone())
                .or_insert(issue.reason.clone());
            issues.failed.push((Stage::Render, issue));
        }
    }
    // Items whose outputs did not all arrive are left out (a re-run makes them again).
    let failed_uploads: BTreeMap<String, String> =
        sink.flush().into_iter().map(|f| (f.key, f.error)).collect();
    manifest.items.retain(|item| {
        let Some((key, error)) = item_keys(item).find_map(|k| failed_uploads.get_key_value(k))
        else {
            return true;
        };
        let reason = format!("upload of {} failed: {error}", sink.describe(key));
        for frame in &item.frames {
            failed_paths
                .entry(frame.path.clone())
                .or_insert_with(|| reason.clone());
            let issue = FileIssue {
                path: frame.path.clone(),
                reason: reason.clone(),
            };
            issues.failed.push((Stage::Upload, issue));
        }
        false
    });
    written -= failed_uploads.len().min(written);
    manifest.failed.extend(
        failed_paths
            .into_iter()
            .map(|(path, reason)| FileIssue { path, reason }),
    );
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    let manifest_bytes = json.len() as u64;
    sink.put_durable(layout::MANIFEST_KEY, json)?;
    Ok(ConvertReport {
        manifest,
        written,
        reused,
        settings_changed,
        bytes_written: context.bytes_written.into_inner() + manifest_bytes,
        bytes_read: context.bytes_read.into_inner(),
        issues,
    })
}

/// Every key an item refers to.
fn item_keys(item: &Item) -> impl Iterator<Item = &str> {
    let video = item.video.is_some().then_some(item.storage_key.as_str());
    [item.thumbnail_key.as_str()]
        .into_iter()
        .chain(video)
        .chain(
            item.frames
                .iter()
                .flat_map(|f| std::iter::once(f.hq_key.as_str()).chain(f.lq_key.as_deref())),
        )
}

/// What the previous run's manifest recorded (when its outputs may be kept).
#[derive(Debug, Default)]
struct Previous {
    /// Sizes of frames and videos, by key.
    sizes: HashMap<String, u64>,
    /// Windows of videos, by video key.
    windows: HashMap<String, WindowUsed>,
    /// Video entries and HLS outputs, by video key.
    videos: HashMap<String, (VideoEntry, Option<HlsEntry>)>,
}

impl Previous {
    fn from_manifest(manifest: Option<&Manifest>) -> Previous {
        let mut previous = Previous::default();
        for item in manifest.iter().flat_map(|m| &m.items) {
            for frame in &item.frames {
                previous.sizes.insert(frame.hq_key.clone(), frame.hq_bytes);
                if let (Some(key), Some(size)) = (&frame.lq_key, frame.lq_bytes) {
                    previous.sizes.insert(key.clone(), size);
                }
            }
            if let Some(window) = &item.window {
                previous
                    .windows
                    .insert(item.storage_key.clone(), window.clone());
            }
            if let Some(video) = &item.video {
                previous
                    .sizes
                    .insert(item.storage_key.clone(), video.file_size);
                previous
                    .videos
                    .insert(item.storage_key.clone(), (video.clone(), item.hls.clone()));
            }
        }
        previous
    }
}

/// What converting one volume produced.
#[derive(Debug, Default)]
struct VolumeOutcome {
    items: Vec<Item>,
    failed: Vec<FileIssue>,
    written: usize,
    reused: usize,
}

/// One slice's outputs, as written or found.
#[derive(Debug, Clone)]
struct SliceOutput {
    index: usize,
    width: u32,
    height: u32,
    hq_bytes: u64,
    lq_bytes: Option<u64>,
    written: usize,
    reused: usize,
}

/// Everything the per-volume work needs.
struct Context<'a> {
    source: &'a Source,
    previous: Previous,
    instances: &'a [InstanceHeader],
    sink: &'a dyn Sink,
    options: &'a ConvertOptions,
    reuse: bool,
    progress: &'a Progress,
    bytes_written: AtomicU64,
    bytes_read: AtomicU64,
}

/// The VOI choice for a volume: fixed for every frame of a video, or decided per frame.
#[derive(Debug, Clone)]
enum VolumeWindow {
    /// One VOI for all frames (videos): no flicker.
    Shared(Option<Voi>, (f64, f64), &'static str),
    /// Each image chooses its own (image items).
    PerFrame,
    /// Nothing is rendered: every output exists; the window recorded for it before.
    Kept(Option<WindowUsed>),
}

/// How one volume is converted: its kind, keys and window.
struct VolumePlan<'v> {
    volume: &'v Volume,
    kind: ItemKind,
    prefix: String,
    middle: usize,
    window: VolumeWindow,
    frames: FrameLayout,
}

impl VolumePlan<'_> {
    /// The keys slice `index` writes.
    fn keys(&self, index: usize) -> Vec<String> {
        let prefix = &self.prefix;
        match self.kind {
            ItemKind::Image => vec![
                layout::image_key(prefix, index),
                layout::image_thumbnail_key(prefix, index),
            ],
            ItemKind::Video => {
                let mut keys = vec![
                    layout::hq_key(prefix, index, self.frames),
                    layout::lq_key(prefix, index, self.frames),
                ];
                if index == self.middle {
                    keys.push(layout::video_thumbnail_key(prefix));
                }
                keys
            }
        }
    }
}

/// Slices rendered together: enough to keep every thread busy, few enough to bound memory.
fn chunk_len() -> usize {
    (rayon::current_num_threads() * 4).max(8)
}

/// The decoded files of the current chunk (a multi-frame file stays open across chunks).
type OpenFiles = HashMap<usize, Result<Arc<DicomImage>, String>>;

impl Context<'_> {
    /// Whether `key` holds a complete output of an earlier run: present, and of the size the
    /// earlier manifest recorded for it (when it recorded one).
    fn kept(&self, key: &str) -> bool {
        self.reuse
            && self.sink.size(key).is_some_and(|size| {
                self.previous
                    .sizes
                    .get(key)
                    .is_none_or(|&recorded| recorded == size)
            })
    }

    fn volume(&self, series: &SeriesGroup, volume: &Volume) -> VolumeOutcome {
        let kind = match self.options.items {
            ItemChoice::Images => ItemKind::Image,
            ItemChoice::Video => ItemKind::Video,
            ItemChoice::Auto if volume.slices.len() == 1 => ItemKind::Image,
            ItemChoice::Auto => ItemKind::Video,
        };
        let prefix = layout::volume_prefix(
            &series.study_instance_uid,
            &series.series_instance_uid,
            &volume.id,
        );
        let middle = volume.slices.len() / 2;
        let frames = if kind == ItemKind::Video && self.options.hls_enabled() {
            FrameLayout::Sections
        } else {
            FrameLayout::Frames
        };
        let mut plan = VolumePlan {
            volume,
            kind,
            prefix,
            middle,
            window: VolumeWindow::PerFrame,
            frames,
        };
        let frames_kept: Vec<bool> = (0..volume.slices.len())
            .map(|i| plan.keys(i).iter().all(|k| self.kept(k)))
            .collect();
        let all_kept = frames_kept.iter().all(|&k| k);
        let video_key = layout::video_key(&plan.prefix);
        let kept_video = match (kind, self.options.video) {
            (ItemKind::Video, Some(_)) if all_kept && self.kept(&video_key) => self
                .previous
                .videos
                .get(&video_key)
                .filter(|(_, hls)| match (hls, self.options.hls_enabled()) {
                    (Some(hls), true) => hls_keys(hls).all(|k| self.kept(k)),
                    (None, false) => true,
                    _ => false,
                })
                .cloned(),
            _ => None,
        };
        let encode = match (kind, self.options.video) {
            (ItemKind::Video, Some(settings)) if kept_video.is_none() => Some(settings),
            _ => None,
        };
        plan.window = match kind {
            ItemKind::Image => VolumeWindow::PerFrame,
            ItemKind::Video if all_kept && encode.is_none() => {
                match self.previous.windows.get(&video_key) {
                    Some(window) => VolumeWindow::Kept(Some(window.clone())),
                    None => self.volume_window(volume, middle),
                }
            }
            ItemKind::Video => self.volume_window(volume, middle),
        };

        let mut outcome = VolumeOutcome::default();
        let mut outputs: Vec<SliceOutput> = Vec::new();
        let video = std::thread::scope(|scope| {
            let (frames, received) = mpsc::sync_channel::<Image8>(chunk_len());
            let hls = (plan.frames == FrameLayout::Sections).then_some(plan.prefix.as_str());
            #[cfg(feature = "video")]
            let encoder = encode
                .map(|settings| scope.spawn(move || video::encode_stream(received, settings, hls)));
            // Without FFmpeg, `video` is always `None`: there is nothing to encode.
            #[cfg(not(feature = "video"))]
            let encoder: Option<
                std::thread::ScopedJoinHandle<Result<video::EncodedVideo, String>>,
            > = {
                let _ = (scope, received, hls);
                None
            };
            let mut open = OpenFiles::new();
            let indices: Vec<usize> = (0..volume.slices.len()).collect();
            for chunk in indices.chunks(chunk_len()) {
                let needs_pixels = |i: usize| encode.is_some() || !frames_kept[i];
                for result in self.render_chunk(&plan, chunk, &needs_pixels, &mut open) {
                    match result {
                        Ok((output, image)) => {
                            outcome.written += output.written;
                            outcome.reused += output.reused;
                            outputs.push(output);
                            if let (Some(image), true) = (image, encode.is_some()) {
                                // The encoder only stops early on an error it reports.
                                let _ = frames.send(image);
                            }
                        }
                        Err(issue) => outcome.failed.push(issue),
                    }
                }
            }
            drop(frames);
            encoder.map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err("the video encoder stopped unexpectedly".into()))
            })
        });
        outcome.items = self.items(series, &plan, &outputs);
        let video_item = outcome.items.iter_mut().find(|i| i.kind == ItemKind::Video);
        match (video_item, kept_video, video) {
            (Some(item), Some((entry, hls)), _) => {
                item.video = Some(entry);
                item.hls = hls;
                outcome.reused += 1;
            }
            (Some(item), None, Some(Ok(encoded))) => {
                let mut files = vec![(item.storage_key.clone(), encoded.mp4)];
                files.extend(encoded.hls_files);
                let stored: Result<Vec<()>, String> = files
                    .into_iter()
                    .map(|(key, bytes)| self.put(&key, bytes))
                    .collect();
                match stored {
                    Ok(stored) => {
                        item.video = Some(encoded.entry);
                        item.hls = encoded.hls;
                        outcome.written += stored.len();
                    }
                    Err(reason) => outcome.failed.push(FileIssue {
                        path: item.frames[0].path.clone(),
                        reason,
                    }),
                }
            }
            (Some(item), None, Some(Err(reason))) => outcome.failed.push(FileIssue {
                path: item.frames[0].path.clone(),
                reason: format!("video {}: {reason}", item.storage_key),
            }),
            _ => {}
        }
        outcome
    }

    /// Stores `bytes` under `key`.
    fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        let written = self
            .bytes_written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.progress.written(written + bytes.len() as u64);
        self.sink
            .put(key, bytes)
            .map_err(|e| format!("cannot write {}: {e}", self.sink.describe(key)))
    }

    /// Renders and writes slices `chunk` of a volume in parallel, in slice order; returns each
    /// slice's outputs and, when it was rendered, its image (for the video).
    fn render_chunk(
        &self,
        plan: &VolumePlan,
        chunk: &[usize],
        needs_pixels: &(dyn Fn(usize) -> bool + Sync),
        open: &mut OpenFiles,
    ) -> Vec<Result<(SliceOutput, Option<Image8>), FileIssue>> {
        let slices = &plan.volume.slices;
        let wanted: BTreeSet<usize> = chunk
            .iter()
            .filter(|&&i| needs_pixels(i))
            .map(|&i| slices[i].instance)
            .collect();
        open.retain(|instance, _| wanted.contains(instance));
        let opened: Vec<(usize, Result<Arc<DicomImage>, String>)> = wanted
            .iter()
            .filter(|instance| !open.contains_key(instance))
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|&instance| (instance, self.open_instance(instance)))
            .collect();
        open.extend(opened);
        let open = &*open;
        chunk
            .par_iter()
            .map(|&index| {
                let slice = slices[index];
                let header = &self.instances[slice.instance];
                let fail = |reason: String| FileIssue {
                    path: header.path.clone(),
                    reason: if header.number_of_frames > 1 {
                        format!("frame {}: {reason}", slice.frame)
                    } else {
                        reason
                    },
                };
                let result = if needs_pixels(index) {
                    let image = open
                        .get(&slice.instance)
                        .cloned()
                        .unwrap_or_else(|| Err("not opened".into()));
                    image
                        .and_then(|image| {
                            self.render_slice(&image, header, slice.frame, &plan.window)
                        })
                        .and_then(|rendered| {
                            let output = self.write_slice(&rendered, index, plan)?;
                            Ok((output, Some(rendered)))
                        })
                        .map_err(fail)
                } else {
                    Ok((self.kept_slice(plan, index), None))
                };
                self.progress.inc(1);
                result
            })
            .collect()
    }

    /// Opens the file of `instance` for decoding.
    fn open_instance(&self, instance: usize) -> Result<Arc<DicomImage>, String> {
        self.open_image(&self.instances[instance]).map(Arc::new)
    }

    /// Opens (downloads, for buckets) the file of `header` for decoding.
    fn open_image(&self, header: &InstanceHeader) -> Result<DicomImage, String> {
        self.bytes_read
            .fetch_add(header.file_size, Ordering::Relaxed);
        self.source.open_image(&header.path)
    }

    /// The outputs of a slice whose every output is kept from an earlier run.
    fn kept_slice(&self, plan: &VolumePlan, index: usize) -> SliceOutput {
        let header = &self.instances[plan.volume.slices[index].instance];
        let keys = plan.keys(index);
        let size = |key: &String| self.sink.size(key).unwrap_or(0);
        SliceOutput {
            index,
            width: u32::from(header.columns.unwrap_or(0)),
            height: u32::from(header.rows.unwrap_or(0)),
            hq_bytes: size(&keys[0]),
            lq_bytes: (plan.kind == ItemKind::Video).then(|| size(&keys[1])),
            written: 0,
            reused: keys.len(),
        }
    }

    /// Chooses one VOI for a whole video: the middle slice's header window, else the volume's
    /// modality range (a first pass over every frame), or the user's fixed window.
    fn volume_window(&self, volume: &Volume, middle: usize) -> VolumeWindow {
        if let WindowChoice::Fixed { .. } = self.options.window {
            return VolumeWindow::Shared(None, (0.0, 0.0), "fixed");
        }
        if self.options.window == WindowChoice::Header {
            let slice = volume.slices[middle];
            let header = &self.instances[slice.instance];
            if let Ok(image) = self.open_image(header) {
                let (center, width) = frame_window(header, slice.frame);
                if let Some(voi) = image.header_voi(center, width) {
                    return VolumeWindow::Shared(Some(voi), (0.0, 0.0), "header");
                }
            }
        }
        let mut by_file: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for slice in &volume.slices {
            by_file.entry(slice.instance).or_default().push(slice.frame);
        }
        let range = by_file
            .into_par_iter()
            .filter_map(|(instance, frames)| {
                let header = &self.instances[instance];
                let image = self.open_image(header).ok()?;
                frames
                    .iter()
                    .filter_map(|&frame| {
                        let Samples::Grey(values) = image.frame(frame).ok()?.samples else {
                            return None;
                        };
                        let (lo, hi) = values.min_max()?;
                        Some(modality_range(
                            &frame_modality(&image, header, frame),
                            lo,
                            hi,
                        ))
                    })
                    .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
            })
            .reduce(
                || (f64::INFINITY, f64::NEG_INFINITY),
                |a, b| (a.0.min(b.0), a.1.max(b.1)),
            );
        VolumeWindow::Shared(None, range, "minmax")
    }

    fn render_slice(
        &self,
        image: &DicomImage,
        header: &InstanceHeader,
        frame: u32,
        window: &VolumeWindow,
    ) -> Result<Image8, String> {
        let decoded = image.frame(frame).map_err(|e| e.to_string())?;
        let modality = frame_modality(image, header, frame);
        let mapping = match (window, &decoded.samples) {
            (_, Samples::Rgb(_)) => choose_mapping(
                WindowChoice::MinMax,
                modality,
                None,
                |_| (0.0, 255.0),
                false,
            ),
            (VolumeWindow::Shared(voi, range, _), _) => choose_mapping(
                self.options.window,
                modality,
                voi.clone(),
                |_| *range,
                image.is_monochrome1(),
            ),
            (VolumeWindow::PerFrame | VolumeWindow::Kept(_), Samples::Grey(values)) => {
                let (center, width) = frame_window(header, frame);
                let voi = image.header_voi(center, width);
                // The frame's range is computed only for a min-max window.
                let range = |modality: &ModalityLut| {
                    let (lo, hi) = values.min_max().unwrap_or((0, 0));
                    modality_range(modality, lo, hi)
                };
                choose_mapping(
                    self.options.window,
                    modality,
                    voi,
                    range,
                    image.is_monochrome1(),
                )
            }
        };
        let mut rendered = render_frame(decoded, &mapping);
        if self.options.overlays {
            let planes = image.overlays().map_err(|e| e.to_string())?;
            burn_overlays(&mut rendered, &planes, frame);
        }
        Ok(rendered)
    }

    /// Encodes and stores the outputs of one rendered slice (outputs kept from an earlier run
    /// are not written again).
    fn write_slice(
        &self,
        rendered: &Image8,
        index: usize,
        plan: &VolumePlan,
    ) -> Result<SliceOutput, String> {
        let keys = plan.keys(index);
        let (mut written, mut reused) = (0, 0);
        let mut store = |key: &str, bytes: Vec<u8>| {
            if self.kept(key) {
                reused += 1;
                return Ok(());
            }
            written += 1;
            self.put(key, bytes)
        };
        let hq = encode_png(rendered).map_err(|e| e.to_string())?;
        let hq_bytes = hq.len() as u64;
        store(&keys[0], hq)?;
        let lq_bytes = match plan.kind {
            ItemKind::Image => {
                let thumbnail = encode_thumbnail(rendered).map_err(|e| e.to_string())?;
                store(&keys[1], thumbnail)?;
                None
            }
            ItemKind::Video => {
                let lq = encode_jpeg(rendered, self.options.lq_quality, Huffman::Standard)
                    .map_err(|e| e.to_string())?;
                let lq_bytes = lq.len() as u64;
                store(&keys[1], lq)?;
                if index == plan.middle {
                    let thumbnail = encode_thumbnail(rendered).map_err(|e| e.to_string())?;
                    store(&keys[2], thumbnail)?;
                }
                Some(lq_bytes)
            }
        };
        Ok(SliceOutput {
            index,
            width: rendered.width,
            height: rendered.height,
            hq_bytes,
            lq_bytes,
            written,
            reused,
        })
    }

    /// Manifest items of a volume: one per slice for images, one for a video.
    fn items(&self, series: &SeriesGroup, plan: &VolumePlan, outputs: &[SliceOutput]) -> Vec<Item> {
        let (volume, kind, prefix, window) = (plan.volume, plan.kind, &plan.prefix, &plan.window);
        let first = &self.instances[series.members[0]];
        // Names are built like keys, so no header value reaches them unchecked.
        let (series_key, volume_key) = (
            layout::safe_uid(&series.series_instance_uid),
            layout::safe_label(&volume.id),
        );
        let frame_entry = |output: &SliceOutput, hq_key: String, lq_key: Option<String>| {
            let slice = volume.slices[output.index];
            FrameEntry {
                path: self.instances[slice.instance].path.clone(),
                frame: slice.frame,
                hq_key,
                lq_key,
                width: output.width,
                height: output.height,
                hq_bytes: output.hq_bytes,
                lq_bytes: output.lq_bytes,
            }
        };
        let item = |name: String,
                    kind,
                    width,
                    height,
                    storage_key: String,
                    thumbnail_key: String,
                    frames| Item {
            name,
            kind,
            study_instance_uid: series.study_instance_uid.clone(),
            series_instance_uid: series.series_instance_uid.clone(),
            volume: volume.id.clone(),
            series_number: first.series_number,
            series_description: first.series_description.clone(),
            modality: first.modality.clone(),
            width,
            height,
            storage_key,
            thumbnail_key,
            frames,
            video: None,
            window: match window {
                VolumeWindow::Shared(voi, range, source) => {
                    window_used(voi.as_ref(), *range, source, &self.options.window)
                }
                VolumeWindow::PerFrame => None,
                VolumeWindow::Kept(window) => window.clone(),
            },
            hls: None,
        };
        match kind {
            ItemKind::Image => outputs
                .iter()
                .map(|output| {
                    let key = layout::image_key(prefix, output.index);
                    let frames = vec![frame_entry(output, key.clone(), None)];
                    let name = format!("{series_key}_{volume_key}_{:05}.png", output.index);
                    let thumbnail = layout::image_thumbnail_key(prefix, output.index);
                    item(
                        name,
                        ItemKind::Image,
                        output.width,
                        output.height,
                        key,
                        thumbnail,
                        frames,
                    )
                })
                .collect(),
            ItemKind::Video if outputs.is_empty() => Vec::new(),
            ItemKind::Video => {
                let frames: Vec<FrameEntry> = outputs
                    .iter()
                    .map(|o| {
                        frame_entry(
                            o,
                            layout::hq_key(prefix, o.index, plan.frames),
                            Some(layout::lq_key(prefix, o.index, plan.frames)),
                        )
                    })
                    .collect();
                let (width, height) = (outputs[0].width, outputs[0].height);
                let name = format!("{series_key}_{volume_key}.mp4");
                vec![item(
                    name,
                    ItemKind::Video,
                    width,
                    height,
                    layout::video_key(prefix),
                    layout::video_thumbnail_key(prefix),
                    frames,
                )]
            }
        }
    }
}

/// Every key of an item's HLS outputs.
fn hls_keys(hls: &HlsEntry) -> impl Iterator<Item = &str> {
    [&hls.high_quality, &hls.low_quality]
        .into_iter()
        .flat_map(|r| {
            std::iter::once(r.index_key.as_str()).chain(r.segments.iter().map(|s| s.key.as_str()))
        })
        .chain(std::iter::once(hls.frames_manifest_key.as_str()))
}

/// The window a video was rendered with, for the manifest.
fn window_used(
    voi: Option<&Voi>,
    range: (f64, f64),
    source: &str,
    choice: &WindowChoice,
) -> Option<WindowUsed> {
    let (center, width) = match (choice, voi) {
        (WindowChoice::Fixed { center, width }, _) => (*center, *width),
        (_, Some(Voi::Window(w))) => (w.center, w.width),
        (_, Some(Voi::Table(_))) => {
            return Some(WindowUsed {
                center: 0.0,
                width: 0.0,
                source: "lut".into(),
            });
        }
        (_, None) if range.0.is_finite() => {
            let w = crate::render::lut::Window::min_max(range.0, range.1);
            (w.center, w.width)
        }
        _ => return None,
    };
    Some(WindowUsed {
        center,
        width,
        source: source.into(),
    })
}

/// Rescale of one frame: per-frame functional groups first, then the instance's, or the file's
/// Modality LUT Sequence.
fn frame_modality(image: &DicomImage, header: &InstanceHeader, frame: u32) -> ModalityLut {
    let per_frame = header.frames.get(frame as usize);
    let slope = per_frame
        .and_then(|f| f.rescale_slope)
        .or(header.rescale_slope);
    let intercept = per_frame
        .and_then(|f| f.rescale_intercept)
        .or(header.rescale_intercept);
    image.modality_lut(slope, intercept)
}

/// First window center/width of one frame: per-frame first, then the instance's.
fn frame_window(header: &InstanceHeader, frame: u32) -> (Option<f64>, Option<f64>) {
    let per_frame = header.frames.get(frame as usize);
    let center = per_frame
        .and_then(|f| f.window_center)
        .or(header.window_center.first().copied());
    let width = per_frame
        .and_then(|f| f.window_width)
        .or(header.window_width.first().copied());
    (center, width)
}
