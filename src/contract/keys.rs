//! Deterministic output keys. Pure code.
//!
//! ```text
//! <study_uid>/<series_uid>/<volume_id>/
//!     images/00000.png          image items: one PNG per slice
//!     thumbnails/00000.jpg      image items: one thumbnail per slice
//!     frames/hq/00000.png       video items: lossless frame per slice
//!     frames/lq/00000.jpg       video items: JPEG frame per slice
//!     thumbnail.jpg             video items: thumbnail of the middle slice
//!     contact_sheet.jpg         video items: up to 16 evenly spaced frames on one grid
//!     video.mp4                 video items: the video (written by the video stage)
//!     volume.nii.gz             --outputs nifti: the volume (4D: every time point of the
//!                               series; `.nii` with --nifti-gzip no), in the folder of the
//!                               volume id without its time-point label
//!     volume.json, volume.bval, volume.bvec   its BIDS sidecar and diffusion gradients
//! <study_uid>/<series_uid>/slide/   a whole-slide image
//!     slide.tif                 tiled pyramidal BigTIFF, one IFD per level
//!     slide.dzi, slide_files/LEVEL/COL_ROW.jpg   Deep Zoom (written before slide.dzi)
//!     slide.png, slide.jpg      the whole slide as one picture (HQ, LQ)
//!     thumbnail.jpg             its thumbnail
//!     associated/overview.png, associated/thumbnail.png (associated/label.png with
//!                               --slide-label keep)
//!   with --hls, video items instead follow darwin-py's read-only video layout:
//!     sections/high/000000000.png   lossless frame per slice (from 0, nine digits)
//!     sections/low/000000000.jpg    JPEG frame per slice
//!     segments/high/index.m3u8, segments/high/000000000.ts   HQ HLS rendition
//!     segments/low/index.m3u8,  segments/low/000000000.ts    LQ HLS rendition
//!     frames_manifest.txt       FRAME_IN_SEGMENT:SEGMENT:VISIBLE:TIMESTAMP per frame
//! manifest.json
//! report.json
//! ```
//! Keys derive from UIDs and volume ids only, never from patient data. A UID that is not a
//! valid UID (digits and dots, at most 64 characters) is replaced by `x` and a hash of it, so no
//! header value can add path separators, `..` or control characters to a key.

/// Key of the manifest, written after every output.
pub const MANIFEST_KEY: &str = "manifest.json";

/// Key of the run report (every input accounted for), written after the manifest.
pub const REPORT_KEY: &str = "report.json";

/// Where `--copy-dicom` writes the source files, below the destination.
pub const DICOM_COPY_PREFIX: &str = "dicom";

/// Key of the copy of source file `path` (a source-relative path: for DICOMweb,
/// `studies/{uid}/series/{uid}/instances/{uid}`).
pub fn dicom_copy_key(path: &str) -> String {
    format!("{DICOM_COPY_PREFIX}/{path}")
}

/// The folder of one series' outputs: `<study>/<series>`.
pub fn series_folder(study_uid: &str, series_uid: &str) -> String {
    format!("{}/{}", safe_uid(study_uid), safe_uid(series_uid))
}

/// The folder of one volume's outputs: `<study>/<series>/<volume>`.
pub fn volume_prefix(study_uid: &str, series_uid: &str, volume_id: &str) -> String {
    format!(
        "{}/{}",
        series_folder(study_uid, series_uid),
        safe_label(volume_id)
    )
}

/// Image item `index` (0-based slice index in the volume).
pub fn image_key(prefix: &str, index: usize) -> String {
    format!("{prefix}/images/{index:05}.png")
}

/// Thumbnail of image item `index`.
pub fn image_thumbnail_key(prefix: &str, index: usize) -> String {
    format!("{prefix}/thumbnails/{index:05}.jpg")
}

/// How the frames of video items are named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FrameLayout {
    /// `frames/hq/00000.png`, `frames/lq/00000.jpg`.
    #[default]
    Frames,
    /// darwin-py's read-only video layout (with HLS): `sections/high/000000000.png`,
    /// `sections/low/000000000.jpg`.
    Sections,
}

/// Lossless (HQ) frame `index` of a video item.
pub fn hq_key(prefix: &str, index: usize, frames: FrameLayout) -> String {
    match frames {
        FrameLayout::Frames => format!("{prefix}/frames/hq/{index:05}.png"),
        FrameLayout::Sections => format!("{}/{index:09}.png", sections_prefix(prefix, HIGH)),
    }
}

/// JPEG (LQ) frame `index` of a video item.
pub fn lq_key(prefix: &str, index: usize, frames: FrameLayout) -> String {
    match frames {
        FrameLayout::Frames => format!("{prefix}/frames/lq/{index:05}.jpg"),
        FrameLayout::Sections => format!("{}/{index:09}.jpg", sections_prefix(prefix, LOW)),
    }
}

/// The high-quality rendition's name in `sections/` and `segments/`.
pub const HIGH: &str = "high";
/// The low-quality rendition's name.
pub const LOW: &str = "low";

/// Folder of the per-frame images of a rendition (`high` or `low`).
pub fn sections_prefix(prefix: &str, rendition: &str) -> String {
    format!("{prefix}/sections/{rendition}")
}

/// Folder of the HLS playlist and segments of a rendition (`high` or `low`).
pub fn segments_prefix(prefix: &str, rendition: &str) -> String {
    format!("{prefix}/segments/{rendition}")
}

/// The frames manifest of a video item with HLS.
pub fn frames_manifest_key(prefix: &str) -> String {
    format!("{prefix}/frames_manifest.txt")
}

/// Thumbnail of a video item.
pub fn video_thumbnail_key(prefix: &str) -> String {
    format!("{prefix}/thumbnail.jpg")
}

/// Contact sheet of a video item: up to 16 evenly spaced HQ frames on one JPEG.
pub fn contact_sheet_key(prefix: &str) -> String {
    format!("{prefix}/contact_sheet.jpg")
}

/// The video file of a video item.
pub fn video_key(prefix: &str) -> String {
    format!("{prefix}/video.mp4")
}

/// The folder of a whole-slide image's outputs: `<study>/<series>/<slide id>` (`slide`, or
/// `slide-pathP-planeZ` for the other optical paths and focal planes).
pub fn slide_prefix(study_uid: &str, series_uid: &str, slide_id: &str) -> String {
    volume_prefix(study_uid, series_uid, slide_id)
}

/// A file of a slide folder: `slide.tif`, `slide.dzi`, `slide.png`, `slide.jpg`,
/// `thumbnail.jpg`.
pub fn slide_file_key(prefix: &str, name: &str) -> String {
    format!("{prefix}/{name}")
}

/// A Deep Zoom tile (OpenSeadragon's layout beside `slide.dzi`).
pub fn deep_zoom_tile_key(prefix: &str, level: u32, column: u32, row: u32) -> String {
    format!("{prefix}/slide_files/{level}/{column}_{row}.jpg")
}

/// An associated image of a slide (`overview`, `thumbnail`, `label`).
pub fn associated_key(prefix: &str, kind: &str) -> String {
    format!("{prefix}/associated/{kind}.png")
}

/// The NIfTI file of a volume folder (`.nii.gz`, or `.nii` when not compressed).
pub fn nifti_key(prefix: &str, gzip: bool) -> String {
    let extension = if gzip { "nii.gz" } else { "nii" };
    format!("{prefix}/volume.{extension}")
}

/// A file beside the NIfTI file: `json`, `bval` or `bvec`.
pub fn nifti_companion_key(prefix: &str, extension: &str) -> String {
    format!("{prefix}/volume.{extension}")
}

/// A label file of the item whose picture is `storage_key`: `<folder>/<stem>.<suffix>` beside
/// it (`video.darwin.json`, `images/00003.encord.json`).
pub fn label_key(storage_key: &str, suffix: &str) -> String {
    let stem = storage_key
        .rsplit_once('/')
        .map_or(storage_key, |(_, name)| name)
        .split('.')
        .next()
        .unwrap_or("item");
    match storage_key.rsplit_once('/') {
        Some((folder, _)) => format!("{folder}/{stem}.{suffix}"),
        None => format!("{stem}.{suffix}"),
    }
}

/// A UID as a key segment: kept when it is a valid UID, otherwise `x` + a stable hash.
pub fn safe_uid(uid: &str) -> String {
    let valid = !uid.is_empty()
        && uid.len() <= 64
        && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !uid.starts_with('.')
        && !uid.ends_with('.')
        && !uid.contains("..");
    if valid {
        uid.to_string()
    } else if uid.is_empty() {
        "unknown".to_string()
    } else {
        format!("x{:016x}", fnv1a(uid.as_bytes()))
    }
}

/// A volume id as a key segment: letters, digits, `-`, `_` and inner `.` kept, else hashed.
pub fn safe_label(label: &str) -> String {
    let valid = !label.is_empty()
        && label.len() <= 64
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !label.starts_with('.')
        && !label.contains("..");
    if valid {
        label.to_string()
    } else {
        format!("x{:016x}", fnv1a(label.as_bytes()))
    }
}

/// 64-bit FNV-1a: stable across runs and platforms.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slide_keys_follow_the_layout() {
        let prefix = slide_prefix("1.2", "1.2.3", "slide");
        assert_eq!(prefix, "1.2/1.2.3/slide");
        assert_eq!(
            slide_file_key(&prefix, "slide.tif"),
            "1.2/1.2.3/slide/slide.tif"
        );
        assert_eq!(
            deep_zoom_tile_key(&prefix, 12, 3, 40),
            "1.2/1.2.3/slide/slide_files/12/3_40.jpg"
        );
        assert_eq!(
            associated_key(&prefix, "overview"),
            "1.2/1.2.3/slide/associated/overview.png"
        );
        let other = slide_prefix("1.2", "1.2.3", "slide-path2-plane1");
        assert_eq!(other, "1.2/1.2.3/slide-path2-plane1");
    }

    #[test]
    fn keys_follow_the_layout() {
        let prefix = volume_prefix("1.2.3", "1.2.3.4", "0");
        assert_eq!(prefix, "1.2.3/1.2.3.4/0");
        assert_eq!(image_key(&prefix, 7), "1.2.3/1.2.3.4/0/images/00007.png");
        assert_eq!(
            image_thumbnail_key(&prefix, 7),
            "1.2.3/1.2.3.4/0/thumbnails/00007.jpg"
        );
        let frames = FrameLayout::Frames;
        assert_eq!(
            hq_key(&prefix, 0, frames),
            "1.2.3/1.2.3.4/0/frames/hq/00000.png"
        );
        assert_eq!(
            lq_key(&prefix, 12345, frames),
            "1.2.3/1.2.3.4/0/frames/lq/12345.jpg"
        );
        let sections = FrameLayout::Sections;
        assert_eq!(
            hq_key(&prefix, 0, sections),
            "1.2.3/1.2.3.4/0/sections/high/000000000.png"
        );
        assert_eq!(
            lq_key(&prefix, 12, sections),
            "1.2.3/1.2.3.4/0/sections/low/000000012.jpg"
        );
        assert_eq!(
            video_thumbnail_key(&prefix),
            "1.2.3/1.2.3.4/0/thumbnail.jpg"
        );
        assert_eq!(video_key(&prefix), "1.2.3/1.2.3.4/0/video.mp4");
    }

    #[test]
    fn hostile_values_cannot_escape_the_destination() {
        for hostile in [
            "../../etc",
            "/abs",
            "a/b",
            "1.2\n3",
            "",
            "..",
            "1..2",
            &"9".repeat(65),
        ] {
            let key = volume_prefix(hostile, hostile, hostile);
            assert!(!key.contains(".."), "{key}");
            assert!(!key.starts_with('/'));
            assert_eq!(key.split('/').count(), 3, "{key}");
            assert!(key.bytes().all(|b| b.is_ascii_graphic()), "{key:?}");
        }
        assert_eq!(safe_uid("../x"), safe_uid("../x"), "stable");
        assert_ne!(safe_uid("../x"), safe_uid("../y"));
    }
}
