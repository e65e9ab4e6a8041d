//! The manifest items of a converted volume.

use super::layout::{self};
use super::volume::{Context, SliceOutput, VolumePlan, VolumeWindow};
use super::window::window_used;
use crate::contract::manifest::{FrameEntry, HlsEntry, Item, ItemKind};
use crate::index::SeriesGroup;

impl Context<'_> {
    /// Manifest items of a volume: one per slice for images, one for a video (whose thumbnail
    /// holds `thumbnail_bytes`; a video without a thumbnail is no item).
    pub(super) fn items(
        &self,
        series: &SeriesGroup,
        plan: &VolumePlan,
        outputs: &[SliceOutput],
        thumbnail_bytes: Option<u64>,
    ) -> Vec<Item> {
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
            thumbnail_bytes: None,
            frames,
            video: None,
            window: match window {
                VolumeWindow::Shared {
                    voi,
                    range,
                    source,
                    chosen_by,
                } => window_used(
                    voi.as_ref(),
                    *range,
                    source,
                    chosen_by.as_ref(),
                    &self.options.window,
                ),
                VolumeWindow::PerFrame => None,
                VolumeWindow::Kept(window) => window.clone(),
            },
            hls: None,
            contact_sheet: None,
        };
        match kind {
            ItemKind::Image => outputs
                .iter()
                .map(|output| {
                    let key = layout::image_key(prefix, output.index);
                    let frames = vec![frame_entry(output, key.clone(), None)];
                    let name = format!("{series_key}_{volume_key}_{:05}.png", output.index);
                    let thumbnail = layout::image_thumbnail_key(prefix, output.index);
                    Item {
                        thumbnail_bytes: output.thumbnail_bytes,
                        ..item(
                            name,
                            ItemKind::Image,
                            output.width,
                            output.height,
                            key,
                            thumbnail,
                            frames,
                        )
                    }
                })
                .collect(),
            ItemKind::Video if outputs.is_empty() || thumbnail_bytes.is_none() => Vec::new(),
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
                vec![Item {
                    thumbnail_bytes,
                    ..item(
                        name,
                        ItemKind::Video,
                        width,
                        height,
                        layout::video_key(prefix),
                        layout::video_thumbnail_key(prefix),
                        frames,
                    )
                }]
            }
        }
    }
}

/// Every key of an item's HLS outputs.
pub(super) fn hls_keys(hls: &HlsEntry) -> impl Iterator<Item = &str> {
    [&hls.high_quality, &hls.low_quality]
        .into_iter()
        .flat_map(|r| {
            std::iter::once(r.index_key.as_str()).chain(r.segments.iter().map(|s| s.key.as_str()))
        })
        .chain(std::iter::once(hls.frames_manifest_key.as_str()))
}
