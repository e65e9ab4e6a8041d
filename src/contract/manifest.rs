//! `manifest.json`: the single record of what a conversion produced (field names are a public
//! contract; the upload and payload stages read it).

use serde::{Deserialize, Serialize};

use crate::contract::FileIssue;
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

impl Manifest {
    /// A manifest of no items, with these settings and locations.
    pub fn empty(
        settings: Settings,
        source: Option<Location>,
        destination: Option<Location>,
    ) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            settings,
            source,
            destination,
            items: Vec::new(),
            skipped: Vec::new(),
            failed: Vec::new(),
        }
    }
}

/// The options of a conversion: all but `name` change output bytes.
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
    /// HLS renditions and darwin-py's frame layout for videos (`--hls`).
    #[serde(default)]
    pub hls: bool,
    /// The `--name` template of item names (empty in manifests of earlier versions). Names
    /// change no key, so a re-run that changes only this keeps every output.
    #[serde(default)]
    pub name: String,
    /// Source files copied to `dicom/<path>` in the destination (`--copy-dicom`); payloads
    /// that name DICOM files then name the copies.
    #[serde(default)]
    pub copy_dicom: bool,
    /// What is written (`--outputs`): `render`, `nifti` or `render,nifti`.
    #[serde(default = "default_outputs")]
    pub outputs: String,
    /// NIfTI files are gzip-compressed (`.nii.gz`).
    #[serde(default = "default_true")]
    pub nifti_gzip: bool,
    /// Label objects (SEG, RTSTRUCT) placed on the items (`--labels`): `auto` or `off`. Label
    /// files are made again on every run, so a change keeps every other output.
    #[serde(default = "default_labels")]
    pub labels: String,
    /// Fraction of MaximumFractionalValue from which a fractional SEG pixel is in its segment.
    #[serde(default = "default_seg_threshold")]
    pub seg_threshold: f64,
    /// What was done with pixels that may carry burned-in text (`--burned-in`): `crop`,
    /// `skip` or `keep` (manifests of earlier versions kept everything).
    #[serde(default = "default_burned_in")]
    pub burned_in: String,
    /// The long side of whole-slide pictures, at most (`--slide-max-size`).
    #[serde(default = "default_slide_max_size")]
    pub slide_max_size: u32,
    /// Slides' label images: `skip` or `keep` (`--slide-label`).
    #[serde(default = "default_slide_labels")]
    pub slide_labels: String,
    /// Slides' optical paths and focal planes shown: `first` or `all` (`--slide-planes`).
    #[serde(default = "default_slide_planes")]
    pub slide_planes: String,
    /// Slides get Deep Zoom tiles (`--slide-deep-zoom`).
    #[serde(default = "default_true")]
    pub slide_deep_zoom: bool,
}

fn default_slide_planes() -> String {
    "first".into()
}

fn default_slide_max_size() -> u32 {
    8192
}

fn default_slide_labels() -> String {
    "skip".into()
}

fn default_burned_in() -> String {
    "keep".into()
}

fn default_labels() -> String {
    "auto".into()
}

fn default_seg_threshold() -> f64 {
    0.5
}

fn default_outputs() -> String {
    "render".into()
}

fn default_true() -> bool {
    true
}

impl Settings {
    /// Whether outputs made with `other` are the outputs these settings make (every setting
    /// but the name template equal).
    pub fn same_outputs(&self, other: &Settings) -> bool {
        let names_aside = Settings {
            name: other.name.clone(),
            labels: other.labels.clone(),
            seg_threshold: other.seg_threshold,
            ..self.clone()
        };
        names_aside == *other
    }
}

/// An annotation item: one image, or one volume shown as a video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The item's name (`--name`), unique in the manifest, with its extension (`.png`, `.mp4`).
    pub name: String,
    /// The name of the item's series, unique among the series of the manifest, for payloads
    /// that make one item per series (absent in manifests of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_name: Option<String>,
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
    /// Size of the thumbnail as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_bytes: Option<u64>,
    /// Frames in slice order.
    pub frames: Vec<FrameEntry>,
    /// The video file of a video item, measured from the file written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoEntry>,
    /// The VOI window applied to grey frames, when one window applies to the whole item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowUsed>,
    /// HLS renditions, section frames and frames manifest of a video item, written by
    /// `convert --hls` (Darwin's read-only video slot schema reads them); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hls: Option<HlsEntry>,
    /// Contact sheet of a video item (absent for images and for manifests of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_sheet: Option<ContactSheetEntry>,
    /// The NIfTI file holding the item's volume (`--outputs nifti`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nifti: Option<NiftiEntry>,
    /// Label objects (SEG, RTSTRUCT) placed on the item's frames, with the annotation files
    /// made of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<LabelEntry>,
    /// The frames with labels, their outlines drawn in the labels' colours (items with pictures
    /// and labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_sheet: Option<ContactSheetEntry>,
    /// The part of each source frame the item's pictures show, when they are cropped (to the
    /// ultrasound regions, `--burned-in crop`): frame coordinates of the pictures' pixels
    /// (and of their labels) are the item's plus (x, y).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<Crop>,
    /// What the item's sources say about burned-in text, when they say something to mind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burned_in: Option<BurnedIn>,
    /// A whole-slide image's outputs (items of kind `slide`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slide: Option<SlideEntry>,
}

/// The outputs and levels of a whole-slide image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlideEntry {
    /// The tiled pyramidal BigTIFF (`slide.tif`).
    pub pyramid_key: String,
    pub pyramid_bytes: u64,
    /// The Deep Zoom descriptor (`slide.dzi`; its tiles under `slide_files/LEVEL/COL_ROW.jpg`,
    /// all written before it); null with `--slide-deep-zoom no`.
    pub dzi_key: Option<String>,
    pub dzi_bytes: Option<u64>,
    /// Deep Zoom tiles written (every level).
    pub dzi_tiles: u64,
    /// The whole slide as one picture (PNG), and as a JPEG, at most `--slide-max-size` px.
    pub hq_key: String,
    pub lq_key: String,
    pub thumbnail_key: String,
    /// Level 0 (the pyramid's largest level), pixels.
    pub width: u32,
    pub height: u32,
    /// The pyramid's levels, largest first.
    pub levels: Vec<SlideLevel>,
    /// Microns per pixel at level 0 (PixelSpacing), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpp: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_power: Option<f64>,
    /// The optical path shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optical_path: Option<String>,
    /// The focal plane shown (from 0), and its z offset (µm) where the frames give it.
    #[serde(default)]
    pub focal_plane: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z_offset: Option<f64>,
    /// Tiles a TILED_SPARSE level lacks, filled with the background.
    pub missing_tiles: usize,
    /// Overview, thumbnail (and, with `--slide-label keep`, label) images, as pictures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub associated: Vec<AssociatedEntry>,
    /// The source instances (levels and associated images), relative to SRC.
    pub instances: Vec<String>,
}

/// One level of a slide's pyramid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlideLevel {
    pub width: u32,
    pub height: u32,
    /// Level 0's width over this level's.
    pub downsample: f64,
    pub tile_width: u32,
    pub tile_height: u32,
    /// Whether the pyramid holds the source's JPEG tiles as they were (else decoded and
    /// encoded once).
    pub copied: bool,
}

/// An associated image of a slide, as a PNG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssociatedEntry {
    /// `overview`, `thumbnail` or `label`.
    pub kind: String,
    pub key: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub path: String,
}

/// A rectangle of a frame: first column and row, width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crop {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// An item's burned-in text, as its sources declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BurnedIn {
    /// Ultrasound cut to its regions ([`Item::crop`]): the text band is left out.
    Cropped,
    /// Declares BurnedInAnnotation YES and was rendered whole (`--burned-in keep`).
    Kept,
    /// A Secondary Capture or other non-acquisition image that does not declare
    /// BurnedInAnnotation: it may contain burned-in text.
    Undeclared,
}

/// A label object placed on an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelEntry {
    /// `seg` or `rtstruct`.
    pub kind: String,
    /// The label object's file, relative to SRC.
    pub source: String,
    pub sop_instance_uid: String,
    /// Its segments (ROIs) placed on this item.
    pub segments: Vec<SegmentEntry>,
    /// The item's Darwin JSON 2.0 file (all of its labels), for pictures.
    pub darwin_key: Option<String>,
    /// The item's Encord label row (all of its labels), for pictures.
    pub encord_key: Option<String>,
    /// The NIfTI label map of this object on the item's volume (`--outputs nifti`): the
    /// volume's dims and affine, the value a segment number; absent when segments overlap
    /// (see `nifti_segments`).
    pub nifti_key: Option<String>,
    /// Where this object's segments overlap: one binary NIfTI per segment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nifti_segments: Vec<SegmentFile>,
    /// Item frames with a label of this object.
    pub frames: usize,
}

/// The binary NIfTI of one segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentFile {
    pub number: u16,
    pub key: String,
}

/// A segment (SEG) or ROI (RTSTRUCT).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// SegmentNumber or ROINumber: the value of the NIfTI label map.
    pub number: u16,
    /// SegmentLabel or ROIName: the annotation class.
    pub name: String,
    /// Display colour, `#rrggbb`.
    pub color: String,
}

/// A NIfTI file and the files beside it (`null` where there is none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NiftiEntry {
    /// `.nii.gz` (or `.nii`).
    pub image: String,
    /// BIDS JSON sidecar.
    pub sidecar: Option<String>,
    /// b-values and gradient directions of diffusion volumes.
    pub bval: Option<String>,
    pub bvec: Option<String>,
    /// Size of the image as written.
    pub image_bytes: u64,
    /// x, y, z and t voxel counts.
    pub dims: [usize; 4],
    /// The volume ids of the series the file holds, in time order.
    pub volumes: Vec<String>,
    /// What a reader should know (uneven spacing, gantry tilt), in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The sform rows: voxel (i, j, k) to RAS+ millimetres (absent in manifests of earlier
    /// versions). Label maps are written on this grid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affine: Option<[[f64; 4]; 3]>,
}

/// One JPEG of up to 16 evenly spaced HQ frames of a video item, row by row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactSheetEntry {
    pub key: String,
    /// Size in bytes as written.
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub columns: u32,
    pub rows: u32,
    /// The 0-based frame indices on the sheet, in tile order.
    pub frames: Vec<u32>,
}

/// Image or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Image,
    Video,
    /// A volume written as NIfTI only (`--outputs nifti`): `storage_key` is the NIfTI file,
    /// frames name their sources and no pictures.
    Volume,
    /// A whole-slide image: `storage_key` is the picture of the whole slide (HQ PNG, its one
    /// frame), `slide` the pyramid, Deep Zoom tiles and levels.
    Slide,
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
    /// SOP Instance UID of the source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sop_instance_uid: Option<String>,
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

/// What `convert --hls` writes for a video item, in the terms of Darwin's read-only video slot
/// (`native_fps`, `visible_frames`, `total_frames`, HLS renditions, sections, frames manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HlsEntry {
    /// Frame rate of the encoded video.
    pub native_fps: f64,
    /// Frames a viewer steps through (all of them unless the video was downsampled).
    pub visible_frames: u64,
    /// Frames in the video.
    pub total_frames: u64,
    /// The high-quality rendition.
    pub high_quality: HlsRendition,
    /// The low-quality (playback) rendition.
    pub low_quality: HlsRendition,
    /// Key prefix of the per-frame HQ images (`<prefix>/<frame>.<extension>`).
    pub sections_key_prefix: String,
    /// Extension of the HQ frame images (`png` or `jpg`).
    pub sections_key_extension: String,
    /// Key prefix of the per-frame LQ images, when they were written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_quality_sections_key_prefix: Option<String>,
    /// Key of `frames_manifest.txt` (`FRAME_IN_SEGMENT:SEGMENT:VISIBLE:TIMESTAMP` per line).
    pub frames_manifest_key: String,
}

/// One HLS rendition: its playlist and segments, in play order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HlsRendition {
    /// Key of the `index.m3u8` playlist as written (segment URIs relative to it).
    pub index_key: String,
    /// Bits per second.
    pub bitrate: u64,
    /// The segments, in play order.
    pub segments: Vec<HlsSegment>,
}

/// One HLS segment (`.ts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HlsSegment {
    pub key: String,
    /// Seconds (the playlist's `#EXTINF`).
    pub duration: f64,
}

/// A window as applied (LINEAR unless `function` says otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowUsed {
    pub center: f64,
    pub width: f64,
    /// `header`, `minmax`, `fixed` or `lut` (a VOI LUT table).
    pub source: String,
    /// How a header window was chosen from the slices' own windows, in words (e.g. `carried
    /// by 110 of 130 slices with a window (the most common)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_by: Option<String>,
}

/// A key an item names, with the size the manifest records for it (when it records one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedKey<'a> {
    pub key: &'a str,
    pub size: Option<u64>,
}

impl Item {
    /// Every key this item names (each once): its image or video, its thumbnail, every HQ and
    /// LQ frame, its contact sheet, and the HLS playlists, segments and frames manifest. The `storage_key` of a
    /// video item converted without MP4 (`video` absent) names nothing and is not listed.
    pub fn named_keys(&self) -> Vec<NamedKey<'_>> {
        let named = |key, size| NamedKey { key, size };
        let mut keys = Vec::with_capacity(2 + 2 * self.frames.len());
        // An item's Darwin and Encord files hold all its labels: each is named once.
        for label in &self.labels {
            let files = [&label.darwin_key, &label.encord_key, &label.nifti_key];
            let segments = label.nifti_segments.iter().map(|s| &s.key);
            for key in files.into_iter().flatten().chain(segments) {
                if !keys.iter().any(|k: &NamedKey<'_>| k.key == key) {
                    keys.push(named(key, None));
                }
            }
        }
        if let Some(sheet) = &self.label_sheet {
            keys.push(named(&sheet.key, Some(sheet.bytes)));
        }
        match (&self.video, self.kind) {
            (Some(video), _) => keys.push(named(&self.storage_key, Some(video.file_size))),
            // An image item's storage key is its one frame's HQ key, listed below.
            (None, ItemKind::Image) if self.frames.iter().any(|f| f.hq_key == self.storage_key) => {
            }
            (None, ItemKind::Image) => keys.push(named(&self.storage_key, None)),
            (None, ItemKind::Video) => {}
            (None, ItemKind::Slide) => {
                if let Some(slide) = &self.slide {
                    keys.push(named(&slide.pyramid_key, Some(slide.pyramid_bytes)));
                    if let Some(dzi) = &slide.dzi_key {
                        keys.push(named(dzi, slide.dzi_bytes));
                    }
                    for associated in &slide.associated {
                        keys.push(named(&associated.key, Some(associated.bytes)));
                    }
                }
            }
            (None, ItemKind::Volume) => {
                // Pictures are not made: the NIfTI files are all the item names.
                self.push_nifti_keys(&mut keys);
                return keys;
            }
        }
        self.push_nifti_keys(&mut keys);
        keys.push(named(&self.thumbnail_key, self.thumbnail_bytes));
        if let Some(sheet) = &self.contact_sheet {
            keys.push(named(&sheet.key, Some(sheet.bytes)));
        }
        for frame in &self.frames {
            keys.push(named(&frame.hq_key, Some(frame.hq_bytes)));
            if let Some(lq) = &frame.lq_key {
                keys.push(named(lq, frame.lq_bytes));
            }
        }
        if let Some(hls) = &self.hls {
            for rendition in [&hls.high_quality, &hls.low_quality] {
                keys.push(named(&rendition.index_key, None));
                keys.extend(rendition.segments.iter().map(|s| named(&s.key, None)));
            }
            keys.push(named(&hls.frames_manifest_key, None));
        }
        keys
    }

    fn push_nifti_keys<'a>(&'a self, keys: &mut Vec<NamedKey<'a>>) {
        if let Some(nifti) = &self.nifti {
            keys.push(NamedKey {
                key: &nifti.image,
                size: Some(nifti.image_bytes),
            });
            let extra = [&nifti.sidecar, &nifti.bval, &nifti.bvec];
            keys.extend(
                extra
                    .into_iter()
                    .flatten()
                    .map(|key| NamedKey { key, size: None }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_name_template_leaves_outputs_as_they_are() {
        let settings = crate::convert::ConvertOptions::default().settings();
        let renamed = super::Settings {
            name: "{series_uid}".into(),
            ..settings.clone()
        };
        assert!(settings.same_outputs(&renamed) && renamed.same_outputs(&settings));
        let rewindowed = super::Settings {
            window: "minmax".into(),
            ..renamed.clone()
        };
        assert!(!settings.same_outputs(&rewindowed));
    }
}
