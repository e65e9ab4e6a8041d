//! Deterministic output keys. Pure code.
//!
//! ```text
//! <study_uid>/<series_uid>/<volume_id>/
//!     images/00000.png          image items: one PNG per slice
//!     thumbnails/00000.jpg      image items: one thumbnail per slice
//!     frames/hq/00000.png       video items: lossless frame per slice
//!     frames/lq/00000.jpg       video items: JPEG frame per slice
//!     thumbnail.jpg             video items: thumbnail of the middle slice
//!     video.mp4                 video items: the video (written by the video stage)
//! manifest.json
//! ```
//! Keys derive from UIDs and volume ids only, never from patient data. A UID that is not a
//! valid UID (digits and dots, at most 64 characters) is replaced by `x` and a hash of it, so no
//! header value can add path separators, `..` or control characters to a key.

/// Key of the manifest, written last.
pub const MANIFEST_KEY: &str = "manifest.json";

/// The folder of one volume's outputs: `<study>/<series>/<volume>`.
pub fn volume_prefix(study_uid: &str, series_uid: &str, volume_id: &str) -> String {
    format!(
        "{}/{}/{}",
        safe_uid(study_uid),
        safe_uid(series_uid),
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

/// Lossless (HQ) frame `index` of a video item.
pub fn hq_key(prefix: &str, index: usize) -> String {
    format!("{prefix}/frames/hq/{index:05}.png")
}

/// JPEG (LQ) frame `index` of a video item.
pub fn lq_key(prefix: &str, index: usize) -> String {
    format!("{prefix}/frames/lq/{index:05}.jpg")
}

/// Thumbnail of a video item.
pub fn video_thumbnail_key(prefix: &str) -> String {
    format!("{prefix}/thumbnail.jpg")
}

/// The video file of a video item.
pub fn video_key(prefix: &str) -> String {
    format!("{prefix}/video.mp4")
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
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_layout() {
        let prefix = volume_prefix("1.2.3", "1.2.3.4", "0");
        assert_eq!(prefix, "1.2.3/1.2.3.4/0");
        assert_eq!(image_key(&prefix, 7), "1.2.3/1.2.3.4/0/images/00007.png");
        assert_eq!(
            image_thumbnail_key(&prefix, 7),
            "1.2.3/1.2.3.4/0/thumbnails/00007.jpg"
        );
        assert_eq!(hq_key(&prefix, 0), "1.2.3/1.2.3.4/0/frames/hq/00000.png");
        assert_eq!(
            lq_key(&prefix, 12345),
            "1.2.3/1.2.3.4/0/frames/lq/12345.jpg"
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
