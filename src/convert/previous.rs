//! What the previous run recorded, so that a re-run keeps its complete outputs.

use std::collections::HashMap;

use crate::contract::keys;
use crate::contract::manifest::{
    ContactSheetEntry, HlsEntry, Item, Manifest, NiftiEntry, VideoEntry, WindowUsed,
};

/// What the previous run's manifest recorded (when its outputs may be kept).
#[derive(Debug, Default)]
pub(super) struct Previous {
    /// Sizes of every output the manifest recorded one for (frames, thumbnails, videos), by key.
    pub(super) sizes: HashMap<String, u64>,
    /// Windows of videos, by video key.
    pub(super) windows: HashMap<String, WindowUsed>,
    /// Video entries and HLS outputs, by video key.
    pub(super) videos: HashMap<String, (VideoEntry, Option<HlsEntry>)>,
    /// Contact sheets, by their key.
    pub(super) sheets: HashMap<String, ContactSheetEntry>,
    /// NIfTI files and their companions, by image key.
    pub(super) nifti: HashMap<String, NiftiEntry>,
    /// Slide items, by their folder (`<study>/<series>/slide`).
    pub(super) slides: HashMap<String, Item>,
}

impl Previous {
    /// What `manifest` recorded; nothing without one.
    pub(super) fn from_manifest(manifest: Option<&Manifest>) -> Previous {
        let mut previous = Previous::default();
        for item in manifest.iter().flat_map(|m| &m.items) {
            for named in item.named_keys() {
                if let Some(size) = named.size {
                    previous.sizes.insert(named.key.to_owned(), size);
                }
            }
            if let Some(window) = &item.window {
                previous
                    .windows
                    .insert(item.storage_key.clone(), window.clone());
            }
            if let Some(sheet) = &item.contact_sheet {
                previous.sheets.insert(sheet.key.clone(), sheet.clone());
            }
            if let Some(nifti) = &item.nifti {
                previous.nifti.insert(nifti.image.clone(), nifti.clone());
            }
            if item.slide.is_some() {
                let prefix = keys::slide_prefix(
                    &item.study_instance_uid,
                    &item.series_instance_uid,
                    &item.volume,
                );
                previous.slides.insert(prefix, item.clone());
            }
            if let Some(video) = &item.video {
                previous
                    .videos
                    .insert(item.storage_key.clone(), (video.clone(), item.hls.clone()));
            }
        }
        previous
    }
}
