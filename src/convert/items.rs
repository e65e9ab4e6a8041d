//! The manifest items of a converted volume.

use std::collections::BTreeMap;

use super::burned_in::item_note;
use super::context::{Context, Picture, SliceOutput, VolumePlan, VolumeWindow};
use super::window::window_used;
use crate::contract::keys;
use crate::contract::manifest::{FrameEntry, HlsEntry, Item, ItemKind};
use crate::naming::{NameFields, Target, deduplicate};
use crate::order::SliceRef;
use crate::order::group::SeriesGroup;

/// Extension of the name of image items.
pub(super) const IMAGE_EXTENSION: &str = ".png";
/// Extension of the name of video items.
const VIDEO_EXTENSION: &str = ".mp4";
/// Extension of the name of NIfTI-only items.
pub(super) const NIFTI_EXTENSION: &str = ".nii.gz";

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
        let fields = NameFields {
            modality: first.modality.as_deref(),
            series_number: first.series_number,
            series_description: first.series_description.as_deref(),
            volume: &volume.id,
            study_uid: &series.study_instance_uid,
            series_uid: &series.series_instance_uid,
            study_description: first.study_description.as_deref(),
            protocol: first.protocol_name.as_deref(),
            body_part: first.body_part_examined.as_deref(),
        };
        let template = &self.options.name;
        let series_name = template.render(&fields, Target::Series, "");
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
                sop_instance_uid: self.instances[slice.instance].sop_instance_uid.clone(),
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
            series_name: Some(series_name.clone()),
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
            nifti: None,
            labels: Vec::new(),
            label_sheet: None,
            crop: plan.crop,
            burned_in: None,
            slide: None,
        };
        let burned_in = |slices: &[SliceRef]| {
            item_note(self.instances, slices, plan.crop, self.options.burned_in)
        };
        match kind {
            Picture::Image => outputs
                .iter()
                .map(|output| {
                    let key = keys::image_key(prefix, output.index);
                    let frames = vec![frame_entry(output, key.clone(), None)];
                    let target = Target::Image {
                        slice: output.index,
                        slices: volume.slices.len(),
                    };
                    let name = template.render(&fields, target, IMAGE_EXTENSION);
                    let thumbnail = keys::image_thumbnail_key(prefix, output.index);
                    Item {
                        thumbnail_bytes: output.thumbnail_bytes,
                        burned_in: burned_in(&volume.slices[output.index..=output.index]),
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
            Picture::Video if outputs.is_empty() || thumbnail_bytes.is_none() => Vec::new(),
            Picture::Video => {
                let frames: Vec<FrameEntry> = outputs
                    .iter()
                    .map(|o| {
                        frame_entry(
                            o,
                            keys::hq_key(prefix, o.index, plan.frames),
                            Some(keys::lq_key(prefix, o.index, plan.frames)),
                        )
                    })
                    .collect();
                let (width, height) = (outputs[0].width, outputs[0].height);
                let name = template.render(&fields, Target::Video, VIDEO_EXTENSION);
                vec![Item {
                    thumbnail_bytes,
                    burned_in: burned_in(&volume.slices),
                    ..item(
                        name,
                        ItemKind::Video,
                        width,
                        height,
                        keys::video_key(prefix),
                        keys::video_thumbnail_key(prefix),
                        frames,
                    )
                }]
            }
        }
    }
}

/// Makes item names and series names unique (see [`deduplicate`]): colliding item names are
/// numbered by study, series, volume and key, colliding series names by study and series.
pub(super) fn make_names_unique(items: &mut [Item]) {
    let entries: Vec<_> = items
        .iter()
        .map(|item| {
            let extension = match item.kind {
                ItemKind::Image => IMAGE_EXTENSION,
                ItemKind::Video => VIDEO_EXTENSION,
                ItemKind::Volume => NIFTI_EXTENSION,
                ItemKind::Slide => IMAGE_EXTENSION,
            };
            let order = (
                &item.study_instance_uid,
                &item.series_instance_uid,
                &item.volume,
                &item.storage_key,
            );
            (item.name.clone(), extension, order)
        })
        .collect();
    let names = deduplicate(&entries);
    // One name per series (the first item's), made unique among the series.
    let mut series: BTreeMap<(String, String), String> = BTreeMap::new();
    for item in items.iter() {
        if let Some(name) = &item.series_name {
            let key = (
                item.study_instance_uid.clone(),
                item.series_instance_uid.clone(),
            );
            series.entry(key).or_insert_with(|| name.clone());
        }
    }
    let entries: Vec<_> = series
        .iter()
        .map(|(order, name)| (name.clone(), "", order))
        .collect();
    let series_names: BTreeMap<_, _> = series.keys().cloned().zip(deduplicate(&entries)).collect();
    for (item, name) in items.iter_mut().zip(names) {
        item.name = name;
        let key = (
            item.study_instance_uid.clone(),
            item.series_instance_uid.clone(),
        );
        if let Some(name) = series_names.get(&key) {
            item.series_name = Some(name.clone());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::testing::{image, video};

    /// Items of two series with equal description and number (same names), listed in `order`.
    fn named(order: &[usize]) -> Vec<(String, Option<String>)> {
        let mut all = [
            video("1.2", "1.2.9", "0", 2),
            video("1.2", "1.2.5", "0", 2),
            image("1.2", "1.2.7", 0, 2, 2),
            image("1.2", "1.2.7", 1, 2, 2),
        ];
        for item in &mut all[..2] {
            item.name = "CT_2_Chest_0.mp4".into();
            item.series_name = Some("CT_2_Chest".into());
        }
        for item in &mut all[2..] {
            item.name = "CT_2_Chest_0.png".into();
            item.series_name = Some("ct_2_chest".into());
        }
        let mut items: Vec<Item> = order.iter().map(|&i| all[i].clone()).collect();
        make_names_unique(&mut items);
        let mut names: Vec<(usize, (String, Option<String>))> = order
            .iter()
            .zip(items)
            .map(|(&i, item)| (i, (item.name, item.series_name)))
            .collect();
        names.sort();
        names.into_iter().map(|(_, n)| n).collect()
    }

    #[test]
    fn equal_names_are_numbered_by_series_whatever_the_listing_order() {
        let expected = vec![
            (
                "CT_2_Chest_0-2.mp4".to_string(),
                Some("CT_2_Chest-3".to_string()),
            ),
            (
                "CT_2_Chest_0.mp4".to_string(),
                Some("CT_2_Chest".to_string()),
            ),
            (
                "CT_2_Chest_0.png".to_string(),
                Some("ct_2_chest-2".to_string()),
            ),
            (
                "CT_2_Chest_0-2.png".to_string(),
                Some("ct_2_chest-2".to_string()),
            ),
        ];
        assert_eq!(named(&[0, 1, 2, 3]), expected);
        assert_eq!(named(&[3, 1, 0, 2]), expected);
    }
}
