//! What the previous run recorded, so that a re-run keeps its complete outputs.

use std::collections::HashMap;

use crate::contract::manifest::{HlsEntry, Manifest, VideoEntry, WindowUsed};

/// What the previous run's manifest recorded (when its outputs may be kept).
#[derive(Debug, Default)]
pub(super) struct Previous {
    /// Sizes of frames and videos, by key.
    pub(super) sizes: HashMap<String, u64>,
    /// Windows of videos, by video key.
    pub(super) windows: HashMap<String, WindowUsed>,
    /// Video entries and HLS outputs, by video key.
    pub(super) videos: HashMap<String, (VideoEntry, Option<HlsEntry>)>,
}

impl Previous {
    pub(super) fn from_manifest(manifest: Option<&Manifest>) -> Previous {
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
