//! `manifest.json`: the single record of what a conversion produced (field names are a public
//! contract; the upload and payload stages read it).

use serde::{Deserialize, Serialize};

use crate::report::FileIssue;
use crate::store::Location;

/// Current manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// Everything a conversion wrote, and every input it did not convert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// The options the outputs were made with; a re-run with other options rewrites them.
    pub settings: Settings,
    /// Where the DICOM files were read from (frame `path`s are relative to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Location>,
    /// Where the outputs were written (every key is relative to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Location>,
    pub items: Vec<Item>,
    pub skipped: Vec<FileIssue>,
    pub failed: Vec<FileIssue>,
}

/// Options that change output bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `auto`, `images` or `video`.
    pub item_kind: String,
    /// `header`, `minmax` or `C,W`.
    pub window: String,
    /// The ordering rule.
    pub rule: String,
    /// JPEG quality of LQ frames.
    pub lq_quality: u8,
    /// Overlays (60xx) burned into the images.
    #[serde(default)]
    pub overlays: bool,
    /// Frames per second and x264 CRF of videos.
    #[serde(default)]
    pub fps: u32,
    #[serde(default)]
    pub crf: u8,
}

/// An annotation item: one image, or one volume shown as a video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub name: String,
    pub kind: ItemKind,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    /// Volume id within the series (from `dicomprep order`).
    pub volume: String,
    pub series_number: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_description: Option<String>,
    pub modality: Option<String>,
    pub width: u32,
    pub height: u32,
    /// Key of the image, or of the video file.
    pub storage_key: String,
    pub thumbnail_key: String,
    /// Frames in slice order.
    pub frames: Vec<FrameEntry>,
    /// The video file of a video item, measured from the file written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoEntry>,
    /// The VOI window applied to grey frames, when one window applies to the whole item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowUsed>,
}

/// Image or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Image,
    Video,
}

/// One frame of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameEntry {
    /// Source file, relative to SRC.
    pub path: String,
    /// 0-based frame within the source file.
    pub frame: u32,
    /// Lossless PNG (for image items, the image itself).
    pub hq_key: String,
    /// JPEG for playback; `null` for image items.
    pub lq_key: Option<String>,
    pub width: u32,
    pub height: u32,
    pub hq_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lq_bytes: Option<u64>,
}

/// What a video file holds (fields as annotation platforms' video metadata name them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoEntry {
    pub fps: u32,
    pub frame_count: u64,
    /// Seconds: frame_count / fps.
    pub duration: f64,
    /// Frame size in the file (odd sides are padded to even).
    pub width: u32,
    pub height: u32,
    pub file_size: u64,
    pub mime_type: String,
    pub codec: String,
}

/// A window as applied (LINEAR unless `function` says otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowUsed {
    pub center: f64,
    pub width: f64,
    /// `header`, `minmax`, `fixed` or `lut` (a VOI LUT table).
    pub source: String,
}
