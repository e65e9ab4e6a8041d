//! `dicomprep convert`: ordered volumes to 8-bit images, LQ frames and thumbnails under
//! deterministic keys, with `manifest.json` written last.
//!
//! Volumes, files and frames are processed in parallel (rayon); each task holds one decoded
//! frame at a time, so memory follows the number of threads, not the size of the study.
//! Outputs that already exist are reused when the settings are unchanged, so a re-run resumes.

pub mod layout;
pub mod manifest;
pub mod sink;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::encode::jpeg::{Huffman, encode_jpeg};
use crate::encode::png::{decode_png, encode_png};
use crate::encode::video::{VideoSettings, VideoWriter, probe};
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
use crate::split::Volume;
use manifest::{
    FrameEntry, Item, ItemKind, MANIFEST_VERSION, Manifest, Settings, VideoEntry, WindowUsed,
};
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
        }
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
}

/// Renders every planned volume of `scan` (files under `source_base`) into `sink`.
pub fn convert(
    source_base: &Path,
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
    // Windows of videos whose outputs are all kept are carried over from the earlier manifest.
    let previous_windows = previous
        .iter()
        .filter(|_| !settings_changed)
        .flat_map(|m| &m.items)
        .filter_map(|item| Some((item.storage_key.clone(), item.window.clone()?)))
        .collect();
    let context = Context {
        base: source_base.to_path_buf(),
        previous_windows,
        instances: &scan.instances,
        sink,
        options,
        reuse: !options.overwrite && !settings_changed,
        progress,
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
        source: None,
        destination: None,
        items: Vec::new(),
        skipped: scan.skipped.clone(),
        failed: scan.failed.clone(),
    };
    let (mut written, mut reused) = (0, 0);
    let mut failed_paths: BTreeMap<String, String> = BTreeMap::new();
    for outcome in outcomes {
        manifest.items.extend(outcome.items);
        written += outcome.written;
        reused += outcome.reused;
        for issue in outcome.failed {
            failed_paths.entry(issue.path).or_insert(issue.reason);
        }
    }
    manifest.failed.extend(
        failed_paths
            .into_iter()
            .map(|(path, reason)| FileIssue { path, reason }),
    );
    let json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    sink.put_durable(layout::MANIFEST_KEY, &json)?;
    Ok(ConvertReport {
        manifest,
        written,
        reused,
        settings_changed,
    })
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
    base: PathBuf,
    previous_windows: BTreeMap<String, WindowUsed>,
    instances: &'a [InstanceHeader],
    sink: &'a dyn Sink,
    options: &'a ConvertOptions,
    reuse: bool,
    progress: &'a Progress,
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

impl Context<'_> {
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
        let keys = |index: usize| -> Vec<String> {
            match kind {
                ItemKind::Image => vec![
                    layout::image_key(&prefix, index),
                    layout::image_thumbnail_key(&prefix, index),
                ],
                ItemKind::Video => {
                    let mut keys = vec![
                        layout::hq_key(&prefix, index),
                        layout::lq_key(&prefix, index),
                    ];
                    if index == middle {
                        keys.push(layout::video_thumbnail_key(&prefix));
                    }
                    keys
                }
            }
        };
        let all_present = self.reuse
            && (0..volume.slices.len())
                .all(|i| keys(i).iter().all(|k| self.sink.size(k).is_some()));
        let window = match kind {
            ItemKind::Image => VolumeWindow::PerFrame,
            ItemKind::Video if all_present => {
                match self.previous_windows.get(&layout::video_key(&prefix)) {
                    Some(window) => VolumeWindow::Kept(Some(window.clone())),
                    None => self.volume_window(volume, middle),
                }
            }
            ItemKind::Video => self.volume_window(volume, middle),
        };

        // Slices grouped by file, so each file is opened once.
        let mut by_file: BTreeMap<usize, Vec<(usize, u32)>> = BTreeMap::new();
        for (index, slice) in volume.slices.iter().enumerate() {
            by_file
                .entry(slice.instance)
                .or_default()
                .push((index, slice.frame));
        }
        let results: Vec<Result<SliceOutput, FileIssue>> = by_file
            .into_par_iter()
            .flat_map_iter(|(instance, frames)| {
                self.file_slices(instance, &frames, kind, &prefix, middle, &window, &keys)
            })
            .collect();

        let mut outcome = VolumeOutcome::default();
        let mut outputs: Vec<SliceOutput> = Vec::new();
        for result in results {
            match result {
                Ok(output) => {
                    outcome.written += output.written;
                    outcome.reused += output.reused;
                    outputs.push(output);
                }
                Err(issue) => outcome.failed.push(issue),
            }
        }
        outputs.sort_by_key(|o| o.index);
        outcome.items = self.items(series, volume, kind, &prefix, &outputs, &window);
        let video_item = outcome.items.iter_mut().find(|i| i.kind == ItemKind::Video);
        if let (Some(item), Some(settings)) = (video_item, self.options.video) {
            let wrote_frames = outcome.written > 0;
            match self.video(item, settings, wrote_frames) {
                Ok((entry, written)) => {
                    item.video = Some(entry);
                    outcome.written += usize::from(written);
                    outcome.reused += usize::from(!written);
                }
                Err(reason) => outcome.failed.push(FileIssue {
                    path: item.frames[0].path.clone(),
                    reason: format!("video {}: {reason}", item.storage_key),
                }),
            }
        }
        outcome
    }

    /// Encodes the item's MP4 from its HQ frames, in slice order, one frame in memory at a
    /// time (so the video holds exactly the HQ pixels). An existing video is kept when no
    /// frame was rewritten. Returns the measured video and whether it was written.
    fn video(
        &self,
        item: &Item,
        settings: VideoSettings,
        frames_rewritten: bool,
    ) -> Result<(VideoEntry, bool), String> {
        let key = &item.storage_key;
        let temporary = std::env::temp_dir().join(format!(
            "dicomprep-{}-{:?}.mp4",
            std::process::id(),
            std::thread::current().id()
        ));
        let existing = if self.reuse && !frames_rewritten {
            self.sink.get(key)
        } else {
            None
        };
        let written = existing.is_none();
        // The video is made (or an existing one copied) in a temporary file, where FFmpeg
        // measures it, then stored under its key.
        let result = (|| {
            match &existing {
                Some(bytes) => std::fs::write(&temporary, bytes).map_err(|e| e.to_string())?,
                None => self.encode_video(item, settings, &temporary)?,
            }
            let info = probe(&temporary).map_err(|e| e.to_string())?;
            let bytes = match existing {
                Some(bytes) => bytes,
                None => std::fs::read(&temporary).map_err(|e| e.to_string())?,
            };
            Ok::<_, String>((info, bytes))
        })();
        let _ = std::fs::remove_file(&temporary);
        let (info, bytes) = result?;
        if written {
            self.sink
                .put(key, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", self.sink.describe(key)))?;
        }
        let entry = VideoEntry {
            fps: info.fps,
            frame_count: info.frame_count,
            duration: info.duration,
            width: info.width,
            height: info.height,
            file_size: bytes.len() as u64,
            mime_type: "video/mp4".into(),
            codec: "h264".into(),
        };
        Ok((entry, written))
    }

    /// Encodes the item's HQ frames, read back one at a time in slice order, into `path`.
    fn encode_video(
        &self,
        item: &Item,
        settings: VideoSettings,
        path: &Path,
    ) -> Result<(), String> {
        let first = &item.frames[0];
        let mut writer = VideoWriter::create(path, first.width, first.height, settings)
            .map_err(|e| e.to_string())?;
        for frame in &item.frames {
            let png = self
                .sink
                .get(&frame.hq_key)
                .ok_or_else(|| format!("{} is missing", frame.hq_key))?;
            let image = decode_png(&png).map_err(|e| e.to_string())?;
            writer.push(&image).map_err(|e| e.to_string())?;
        }
        writer.finish().map_err(|e| e.to_string())
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
            if let Ok(image) = DicomImage::open(&self.base.join(&header.path)) {
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
                let image = DicomImage::open(&self.base.join(&header.path)).ok()?;
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

    /// Renders and writes the given frames of one file.
    #[allow(clippy::too_many_arguments)]
    fn file_slices(
        &self,
        instance: usize,
        frames: &[(usize, u32)],
        kind: ItemKind,
        prefix: &str,
        middle: usize,
        window: &VolumeWindow,
        keys: &(dyn Fn(usize) -> Vec<String> + Sync),
    ) -> Vec<Result<SliceOutput, FileIssue>> {
        let header = &self.instances[instance];
        let fail = |frame: u32, reason: String| {
            let reason = if header.number_of_frames > 1 {
                format!("frame {frame}: {reason}")
            } else {
                reason
            };
            FileIssue {
                path: header.path.clone(),
                reason,
            }
        };
        // Reuse: every output of every frame present.
        if self.reuse {
            let existing: Option<Vec<SliceOutput>> = frames
                .iter()
                .map(|&(index, _)| {
                    let sizes: Vec<u64> = keys(index)
                        .iter()
                        .map(|k| self.sink.size(k))
                        .collect::<Option<_>>()?;
                    Some(SliceOutput {
                        index,
                        width: u32::from(header.columns.unwrap_or(0)),
                        height: u32::from(header.rows.unwrap_or(0)),
                        hq_bytes: sizes[0],
                        lq_bytes: (kind == ItemKind::Video).then(|| sizes[1]),
                        written: 0,
                        reused: sizes.len(),
                    })
                })
                .collect();
            if let Some(existing) = existing {
                self.progress.inc(frames.len() as u64);
                return existing.into_iter().map(Ok).collect();
            }
        }
        let image = match DicomImage::open(&self.base.join(&header.path)) {
            Ok(image) => image,
            Err(e) => {
                self.progress.inc(frames.len() as u64);
                return frames
                    .iter()
                    .map(|&(_, frame)| Err(fail(frame, e.to_string())))
                    .collect();
            }
        };
        frames
            .par_iter()
            .map(|&(index, frame)| {
                let result = self
                    .render_slice(&image, header, frame, window)
                    .and_then(|rendered| {
                        self.write_slice(&rendered, index, kind, prefix, middle, keys)
                    })
                    .map_err(|reason| fail(frame, reason));
                self.progress.inc(1);
                result
            })
            .collect()
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
            (_, Samples::Rgb(_)) => {
                choose_mapping(WindowChoice::MinMax, modality, None, (0.0, 255.0), false)
            }
            (VolumeWindow::Shared(voi, range, _), _) => choose_mapping(
                self.options.window,
                modality,
                voi.clone(),
                *range,
                image.is_monochrome1(),
            ),
            (VolumeWindow::PerFrame | VolumeWindow::Kept(_), Samples::Grey(values)) => {
                let (lo, hi) = values.min_max().unwrap_or((0, 0));
                let range = modality_range(&modality, lo, hi);
                let (center, width) = frame_window(header, frame);
                let voi = image.header_voi(center, width);
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

    fn write_slice(
        &self,
        rendered: &Image8,
        index: usize,
        kind: ItemKind,
        prefix: &str,
        middle: usize,
        keys: &(dyn Fn(usize) -> Vec<String> + Sync),
    ) -> Result<SliceOutput, String> {
        let keys = keys(index);
        let put = |key: &str, bytes: &[u8]| {
            self.sink
                .put(key, bytes)
                .map_err(|e| format!("cannot write {}: {e}", self.sink.describe(key)))
        };
        let hq = encode_png(rendered).map_err(|e| e.to_string())?;
        put(&keys[0], &hq)?;
        let mut written = 1;
        let lq_bytes = match kind {
            ItemKind::Image => {
                let thumbnail = encode_thumbnail(rendered).map_err(|e| e.to_string())?;
                put(&keys[1], &thumbnail)?;
                written += 1;
                None
            }
            ItemKind::Video => {
                let lq = encode_jpeg(rendered, self.options.lq_quality, Huffman::Standard)
                    .map_err(|e| e.to_string())?;
                put(&keys[1], &lq)?;
                written += 1;
                if index == middle {
                    let thumbnail = encode_thumbnail(rendered).map_err(|e| e.to_string())?;
                    put(&layout::video_thumbnail_key(prefix), &thumbnail)?;
                    written += 1;
                }
                Some(lq.len() as u64)
            }
        };
        Ok(SliceOutput {
            index,
            width: rendered.width,
            height: rendered.height,
            hq_bytes: hq.len() as u64,
            lq_bytes,
            written,
            reused: 0,
        })
    }

    /// Manifest items of a volume: one per slice for images, one for a video.
    fn items(
        &self,
        series: &SeriesGroup,
        volume: &Volume,
        kind: ItemKind,
        prefix: &str,
        outputs: &[SliceOutput],
        window: &VolumeWindow,
    ) -> Vec<Item> {
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
                            layout::hq_key(prefix, o.index),
                            Some(layout::lq_key(prefix, o.index)),
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
