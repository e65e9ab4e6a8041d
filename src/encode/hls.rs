//! HLS renditions for Darwin's read-only video schema: the rendition settings darwin-py's
//! extractor uses, playlist parsing, and the frames manifest. Pure code.

/// An HLS rendition: playlist `index.m3u8` and `%09d.ts` segments from 0 in one folder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HlsSettings {
    /// Target segment length in seconds (segments are cut at the next keyframe).
    pub segment_seconds: u32,
    /// Keyframe interval in frames.
    pub gop: u32,
    /// Height of the rendition when lower than the frames' (width follows, even).
    pub max_height: Option<u32>,
}

/// Target segment length, seconds.
pub const SEGMENT_SECONDS: u32 = 2;
/// Keyframe interval of both renditions, frames.
pub const GOP: u32 = 15;
/// x264 CRF of the high-quality rendition.
pub const HQ_CRF: u8 = 23;
/// x264 CRF of the low-quality rendition.
pub const LQ_CRF: u8 = 40;

/// The high-quality rendition: full size.
pub fn high_quality() -> HlsSettings {
    HlsSettings {
        segment_seconds: SEGMENT_SECONDS,
        gop: GOP,
        max_height: None,
    }
}

/// The low-quality rendition: frames taller than 720 px are halved, but kept at least 720 px
/// high (`if(gt(ih,720),max(ceil(ih/4)*2,720),ih)`).
pub fn low_quality(height: u32) -> HlsSettings {
    HlsSettings {
        segment_seconds: SEGMENT_SECONDS,
        gop: GOP,
        max_height: (height > 720).then(|| (height.div_ceil(4) * 2).max(720)),
    }
}

/// The segments of a media playlist: URI and `#EXTINF` duration, in play order.
pub fn segments(playlist: &str) -> Vec<(String, f64)> {
    let mut segments = Vec::new();
    let mut duration = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(info) = line.strip_prefix("#EXTINF:") {
            duration = info.split(',').next().and_then(|d| d.trim().parse().ok());
        } else if !line.is_empty() && !line.starts_with('#') {
            segments.push((line.to_string(), duration.take().unwrap_or(0.0)));
        }
    }
    segments
}

/// Frames in each segment of a constant-rate video of `total` frames at `fps`, from the
/// segments' durations (the last segment takes what is left).
pub fn frames_per_segment(durations: &[f64], fps: u32, total: u64) -> Vec<u64> {
    let mut left = total;
    let mut counts: Vec<u64> = durations
        .iter()
        .map(|d| {
            let n = ((d * f64::from(fps)).round() as u64).min(left);
            left -= n;
            n
        })
        .collect();
    if let Some(last) = counts.last_mut() {
        *last += left;
    }
    counts
}

/// `frames_manifest.txt`: one line per frame, `FRAME_IN_SEGMENT:SEGMENT:VISIBLE:TIMESTAMP`
/// (every frame visible; timestamps in seconds as Python prints floats), lines joined by `\n`.
pub fn frames_manifest(frames_per_segment: &[u64], fps: u32) -> String {
    let mut lines = Vec::new();
    let mut frame = 0u64;
    for (segment, &count) in frames_per_segment.iter().enumerate() {
        for in_segment in 0..count {
            let timestamp = frame as f64 / f64::from(fps.max(1));
            lines.push(format!("{in_segment}:{segment}:1:{timestamp:?}"));
            frame += 1;
        }
    }
    lines.join("\n")
}

/// Average bitrate (bits per second) over the segments: each segment's size over its duration.
pub fn bitrate(durations: &[f64], sizes: &[u64]) -> u64 {
    let rates: Vec<f64> = durations
        .iter()
        .zip(sizes)
        .filter(|(d, _)| **d > 0.0)
        .map(|(d, &size)| size as f64 * 8.0 / d)
        .collect();
    if rates.is_empty() {
        0
    } else {
        (rates.iter().sum::<f64>() / rates.len() as f64).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_quality_halves_tall_frames_but_keeps_720() {
        assert_eq!(low_quality(512).max_height, None);
        assert_eq!(low_quality(720).max_height, None);
        assert_eq!(low_quality(1080).max_height, Some(720));
        assert_eq!(low_quality(2160).max_height, Some(1080));
        assert_eq!(low_quality(1442).max_height, Some(722));
    }

    #[test]
    fn playlists_parse_into_segments() {
        let playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:3.000000,\n000000000.ts\n#EXTINF:1.500000,\n000000001.ts\n#EXT-X-ENDLIST\n";
        assert_eq!(
            segments(playlist),
            [
                ("000000000.ts".to_string(), 3.0),
                ("000000001.ts".to_string(), 1.5)
            ]
        );
    }

    #[test]
    fn frames_manifest_numbers_frames_within_segments() {
        let counts = frames_per_segment(&[0.3, 0.2], 10, 5);
        assert_eq!(counts, [3, 2]);
        assert_eq!(
            frames_manifest(&counts, 10),
            "0:0:1:0.0\n1:0:1:0.1\n2:0:1:0.2\n0:1:1:0.3\n1:1:1:0.4"
        );
        // Rounding never loses or invents frames.
        assert_eq!(frames_per_segment(&[2.9999, 2.0], 10, 51), [30, 21]);
    }

    #[test]
    fn bitrate_is_the_mean_of_segment_rates() {
        assert_eq!(bitrate(&[2.0, 1.0], &[1000, 1000]), 6000);
        assert_eq!(bitrate(&[], &[]), 0);
    }
}
