//! Converting one volume: which outputs it needs, which are kept, its slices streamed in
//! chunks to the writers and the video encoder.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use super::ItemChoice;
use super::burned_in::volume_crop;
use super::context::{
    Context, OpenFiles, Picture, SliceOutput, VolumeOutcome, VolumePlan, VolumeWindow, chunk_len,
};
use super::items::hls_keys;
use super::sheet;
use super::video;
use crate::contract::FileIssue;
use crate::contract::keys::{self, FrameLayout};
use crate::contract::manifest::ItemKind;
use crate::order::group::SeriesGroup;
use crate::order::split::Volume;
use crate::render::Image8;

impl Context<'_> {
    /// Whether `key` holds a complete output of an earlier run: present, and of the size the
    /// earlier manifest recorded for it (when it recorded one).
    pub(super) fn kept(&self, key: &str) -> bool {
        let kept = self
            .reuse
            .then(|| self.sink.size(key))
            .flatten()
            .filter(|size| {
                self.previous
                    .sizes
                    .get(key)
                    .is_none_or(|recorded| recorded == size)
            });
        if let Some(size) = kept {
            self.ledger.record(key, size);
        }
        kept.is_some()
    }

    pub(super) fn volume(&self, series: &SeriesGroup, volume: &Volume) -> VolumeOutcome {
        let kind = match self.options.items {
            ItemChoice::Images => Picture::Image,
            ItemChoice::Video => Picture::Video,
            ItemChoice::Auto if volume.slices.len() == 1 => Picture::Image,
            ItemChoice::Auto => Picture::Video,
        };
        let prefix = keys::volume_prefix(
            &series.study_instance_uid,
            &series.series_instance_uid,
            &volume.id,
        );
        let middle = volume.slices.len() / 2;
        let frames = if kind == Picture::Video && self.options.hls_enabled() {
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
            crop: volume_crop(self.instances, &volume.slices, self.options.burned_in),
        };
        let frames_kept: Vec<bool> = (0..volume.slices.len())
            .map(|i| plan.keys(i).iter().all(|k| self.kept(k)))
            .collect();
        let all_kept = frames_kept.iter().all(|&k| k);
        let video_key = keys::video_key(&plan.prefix);
        let kept_video = match (kind, self.options.video) {
            (Picture::Video, Some(_)) if all_kept && self.kept(&video_key) => self
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
            (Picture::Video, Some(settings)) if kept_video.is_none() => Some(settings),
            _ => None,
        };
        plan.window = match kind {
            Picture::Image => VolumeWindow::PerFrame,
            Picture::Video if all_kept && encode.is_none() => {
                match self.previous.windows.get(&video_key) {
                    Some(window) => VolumeWindow::Kept(Some(window.clone())),
                    None => self.volume_window(volume, middle),
                }
            }
            Picture::Video => self.volume_window(volume, middle),
        };

        let mut outcome = VolumeOutcome::default();
        let mut outputs: Vec<SliceOutput> = Vec::new();
        // The planned middle slice as rendered, for the thumbnail.
        let mut middle_image: Option<Image8> = None;
        // The planned contact sheet frames as rendered (at most 16).
        let sheet_picks = match kind {
            Picture::Video => sheet::planned_sheet_frames(volume.slices.len()),
            Picture::Image => Vec::new(),
        };
        let mut sheet_stash: HashMap<usize, Image8> = HashMap::new();
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
                            if kind == Picture::Video && output.index == middle {
                                middle_image.clone_from(&image);
                            }
                            if let Some(image) = &image
                                && sheet_picks.binary_search(&output.index).is_ok()
                            {
                                sheet_stash.insert(output.index, image.clone());
                            }
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
        let thumbnail = match kind {
            Picture::Video => match self.video_thumbnail(&plan, &outputs, middle_image) {
                Ok(thumbnail) => thumbnail,
                Err(issue) => {
                    outcome.failed.push(issue);
                    None
                }
            },
            Picture::Image => None,
        };
        let (contact_sheet, sheet_failure) = match kind {
            Picture::Video if thumbnail.is_some() => {
                match self.contact_sheet(&plan, &outputs, sheet_stash) {
                    Ok(sheet) => (sheet, None),
                    Err(issue) => (
                        None,
                        Some(format!("{} (rendering {})", issue.reason, issue.path)),
                    ),
                }
            }
            _ => (None, None),
        };
        outcome.items = self.items(series, &plan, &outputs, thumbnail);
        if let Some(item) = outcome.items.iter_mut().find(|i| i.kind == ItemKind::Video) {
            item.contact_sheet = contact_sheet;
        }
        let Some(at) = outcome.items.iter().position(|i| i.kind == ItemKind::Video) else {
            return outcome;
        };
        let item = &mut outcome.items[at];
        let failure = match (kept_video, video) {
            (Some((entry, hls)), _) => {
                item.video = Some(entry);
                item.hls = hls;
                outcome.reused += 1;
                None
            }
            (None, Some(Ok(encoded))) => {
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
                        None
                    }
                    Err(reason) => Some(reason),
                }
            }
            (None, Some(Err(reason))) => Some(format!("video {}: {reason}", item.storage_key)),
            (None, None) => None,
        };
        // A video item without the video or the contact sheet it was meant to have is no item.
        if let Some(reason) = failure.or(sheet_failure) {
            let item = outcome.items.remove(at);
            outcome
                .failed
                .extend(item.frames.into_iter().map(|frame| FileIssue {
                    path: frame.path,
                    reason: reason.clone(),
                }));
        }
        outcome
    }

    /// Stores `bytes` under `key`.
    pub(super) fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        let written = self
            .bytes_written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.progress.written(written + bytes.len() as u64);
        let size = bytes.len() as u64;
        self.sink
            .put(key, bytes)
            .map_err(|e| format!("cannot write {}: {e}", self.sink.describe(key)))?;
        self.ledger.record(key, size);
        Ok(())
    }

    /// Stores the staged file `staged` (see [`super::sink::Sink::stage`]) under `key`.
    pub(super) fn put_staged(
        &self,
        key: &str,
        staged: tempfile::NamedTempFile,
    ) -> Result<u64, String> {
        let failed = |e: std::io::Error| format!("cannot write {}: {e}", self.sink.describe(key));
        let size = staged.as_file().metadata().map_err(failed)?.len();
        let written = self.bytes_written.fetch_add(size, Ordering::Relaxed);
        self.progress.written(written + size);
        self.sink.put_staged(key, staged).map_err(failed)?;
        self.ledger.record(key, size);
        Ok(size)
    }
}
