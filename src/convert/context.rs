//! What the per-volume work shares: the run's context (source, sink, options, previous run,
//! counters) and each volume's plan (its kind, keys and window), with the outcomes it reports.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::ConvertOptions;
use super::integrity::Ledger;
use super::previous::Previous;
use super::sink::Sink;
use crate::Progress;
use crate::contract::FileIssue;
use crate::contract::keys::{self, FrameLayout};
use crate::contract::manifest::{Crop, Item, WindowUsed};
use crate::order::split::Volume;
use crate::render::decode::DicomImage;
use crate::render::lut::Voi;
use crate::scan::InstanceHeader;
use crate::scan::source::Source;

/// What converting one volume produced.
#[derive(Debug, Default)]
pub(super) struct VolumeOutcome {
    pub(super) items: Vec<Item>,
    pub(super) failed: Vec<FileIssue>,
    pub(super) written: usize,
    pub(super) reused: usize,
}

/// One slice's outputs, as written or found.
#[derive(Debug, Clone)]
pub(super) struct SliceOutput {
    pub(super) index: usize,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) hq_bytes: u64,
    pub(super) lq_bytes: Option<u64>,
    /// The thumbnail of an image item.
    pub(super) thumbnail_bytes: Option<u64>,
    pub(super) written: usize,
    pub(super) reused: usize,
}

/// Everything the per-volume work needs.
pub(super) struct Context<'a> {
    pub(super) source: &'a Source,
    pub(super) previous: Previous,
    pub(super) instances: &'a [InstanceHeader],
    pub(super) sink: &'a dyn Sink,
    pub(super) options: &'a ConvertOptions,
    pub(super) reuse: bool,
    pub(super) progress: &'a dyn Progress,
    pub(super) bytes_written: AtomicU64,
    pub(super) bytes_read: AtomicU64,
    /// Every key written or kept, with its size (see [`super::integrity`]).
    pub(super) ledger: Ledger,
}

/// The VOI choice for a volume: fixed for every frame of a video, or decided per frame.
#[derive(Debug, Clone)]
pub(super) enum VolumeWindow {
    /// One VOI for all frames (videos): no flicker.
    Shared {
        /// The header's VOI (window or table), when it is the one applied.
        voi: Option<Voi>,
        /// The volume's modality range, for a min-max window.
        range: (f64, f64),
        /// `header`, `minmax` or `fixed`.
        source: &'static str,
        /// How a header window was chosen from the slices' windows, in words.
        chosen_by: Option<String>,
    },
    /// Each image chooses its own (image items).
    PerFrame,
    /// Nothing is rendered: every output exists; the window recorded for it before.
    Kept(Option<WindowUsed>),
}

/// What the pictures of a volume are: one image item per slice, or one video item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Picture {
    Image,
    Video,
}

/// How one volume is converted: its kind, keys and window.
pub(super) struct VolumePlan<'v> {
    pub(super) volume: &'v Volume,
    pub(super) kind: Picture,
    pub(super) prefix: String,
    pub(super) middle: usize,
    pub(super) window: VolumeWindow,
    pub(super) frames: FrameLayout,
    /// The part of each frame the pictures show (`--burned-in crop`); `None`: all of it.
    pub(super) crop: Option<Crop>,
}

impl VolumePlan<'_> {
    /// The keys slice `index` writes (a video's thumbnail is made once its slices are done).
    pub(super) fn keys(&self, index: usize) -> Vec<String> {
        let prefix = &self.prefix;
        match self.kind {
            Picture::Image => vec![
                keys::image_key(prefix, index),
                keys::image_thumbnail_key(prefix, index),
            ],
            Picture::Video => vec![
                keys::hq_key(prefix, index, self.frames),
                keys::lq_key(prefix, index, self.frames),
            ],
        }
    }
}

/// Slices rendered together: enough to keep every thread busy, few enough to bound memory.
pub(super) fn chunk_len() -> usize {
    (rayon::current_num_threads() * 4).max(8)
}

/// The decoded files of the current chunk (a multi-frame file stays open across chunks).
pub(super) type OpenFiles = HashMap<usize, Result<Arc<DicomImage>, String>>;
