//! Encoding a video item: the MP4 and, with `--hls`, the HLS renditions and frames manifest,
//! from the frames the renderer streams in (FFmpeg; the `video` feature).

#[cfg(feature = "video")]
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(feature = "video")]
use std::sync::mpsc;

#[cfg(feature = "video")]
use crate::contract::keys;
use crate::contract::manifest::{HlsEntry, VideoEntry};
#[cfg(feature = "video")]
use crate::contract::manifest::{HlsRendition, HlsSegment};
#[cfg(feature = "video")]
use crate::encode::video::{Container, VideoWriter, probe};
#[cfg(feature = "video")]
use crate::encode::{VideoSettings, hls};
#[cfg(feature = "video")]
use crate::render::Image8;

/// Outputs made in memory: key and bytes.
pub(super) type Files = Vec<(String, Vec<u8>)>;

/// What encoding a video item produced.
pub(super) struct EncodedVideo {
    /// The MP4, as measured.
    pub entry: VideoEntry,
    pub mp4: Vec<u8>,
    /// With HLS: the renditions' playlists and segments and the frames manifest.
    pub hls_files: Files,
    pub hls: Option<HlsEntry>,
}

/// Encodes the frames received, in order, into an MP4 and, when `hls` gives the item's key
/// prefix, into HQ and LQ HLS renditions too (in a temporary folder, where FFmpeg measures
/// them).
#[cfg(feature = "video")]
pub(super) fn encode_stream(
    frames: mpsc::Receiver<Image8>,
    settings: VideoSettings,
    hls: Option<&str>,
) -> Result<EncodedVideo, String> {
    static VIDEOS: AtomicU64 = AtomicU64::new(0);
    let folder = std::env::temp_dir().join(format!(
        "dicomprep-{}-{}",
        std::process::id(),
        VIDEOS.fetch_add(1, Ordering::Relaxed)
    ));
    let mp4 = folder.join("video.mp4");
    let renditions: Vec<(&str, std::path::PathBuf)> = [keys::HIGH, keys::LOW]
        .into_iter()
        .map(|name| (name, folder.join(name)))
        .collect();
    let result = (|| {
        for (_, dir) in &renditions {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut writers: Vec<VideoWriter> = Vec::new();
        let mut count = 0u64;
        for image in frames {
            if writers.is_empty() {
                let (w, h) = (image.width, image.height);
                let open = |container| {
                    VideoWriter::open(container, w, h, settings).map_err(|e| e.to_string())
                };
                writers.push(open(Container::Mp4(&mp4))?);
                if hls.is_some() {
                    let high = VideoSettings {
                        crf: hls::HQ_CRF,
                        ..settings
                    };
                    let low = VideoSettings {
                        crf: hls::LQ_CRF,
                        ..settings
                    };
                    let (hq, lq) = (&renditions[0].1, &renditions[1].1);
                    writers.push(
                        VideoWriter::open(Container::Hls(hq, hls::high_quality()), w, h, high)
                            .map_err(|e| e.to_string())?,
                    );
                    writers.push(
                        VideoWriter::open(Container::Hls(lq, hls::low_quality(h)), w, h, low)
                            .map_err(|e| e.to_string())?,
                    );
                }
            }
            for writer in &mut writers {
                writer.push(&image).map_err(|e| e.to_string())?;
            }
            count += 1;
        }
        if writers.is_empty() {
            return Err("no frame could be rendered".into());
        }
        for writer in writers {
            writer.finish().map_err(|e| e.to_string())?;
        }
        let info = probe(&mp4).map_err(|e| e.to_string())?;
        let mp4 = std::fs::read(&mp4).map_err(|e| e.to_string())?;
        let entry = VideoEntry {
            fps: info.fps,
            frame_count: info.frame_count,
            duration: info.duration,
            width: info.width,
            height: info.height,
            file_size: mp4.len() as u64,
            mime_type: "video/mp4".into(),
            codec: "h264".into(),
        };
        let (hls, hls_files) = match hls {
            Some(prefix) => {
                let (entry, files) = collect_hls(prefix, &renditions, settings.fps, count)?;
                (Some(entry), files)
            }
            None => (None, Vec::new()),
        };
        Ok(EncodedVideo {
            entry,
            mp4,
            hls_files,
            hls,
        })
    })();
    let _ = std::fs::remove_dir_all(&folder);
    result
}

/// Reads the HLS renditions written under `renditions` (`high`, `low`) back as outputs under
/// the item's `prefix`, with the frames manifest, and describes them for the manifest.
#[cfg(feature = "video")]
fn collect_hls(
    prefix: &str,
    renditions: &[(&str, std::path::PathBuf)],
    fps: u32,
    frames: u64,
) -> Result<(HlsEntry, Files), String> {
    let mut files = Vec::new();
    let mut described = Vec::new();
    for (name, dir) in renditions {
        let folder = keys::segments_prefix(prefix, name);
        let playlist =
            std::fs::read_to_string(dir.join("index.m3u8")).map_err(|e| e.to_string())?;
        let mut segments = Vec::new();
        let (mut durations, mut sizes) = (Vec::new(), Vec::new());
        for (uri, duration) in hls::segments(&playlist) {
            let bytes = std::fs::read(dir.join(&uri)).map_err(|e| format!("{uri}: {e}"))?;
            let key = format!("{folder}/{uri}");
            durations.push(duration);
            sizes.push(bytes.len() as u64);
            segments.push(HlsSegment {
                key: key.clone(),
                duration,
            });
            files.push((key, bytes));
        }
        let index_key = format!("{folder}/index.m3u8");
        files.push((index_key.clone(), playlist.into_bytes()));
        described.push((
            HlsRendition {
                index_key,
                bitrate: hls::bitrate(&durations, &sizes),
                segments,
            },
            durations,
        ));
    }
    let (low, _) = described.pop().ok_or("no low-quality rendition")?;
    let (high, high_durations) = described.pop().ok_or("no high-quality rendition")?;
    let per_segment = hls::frames_per_segment(&high_durations, fps, frames);
    let frames_manifest_key = keys::frames_manifest_key(prefix);
    files.push((
        frames_manifest_key.clone(),
        hls::frames_manifest(&per_segment, fps).into_bytes(),
    ));
    let entry = HlsEntry {
        native_fps: f64::from(fps),
        visible_frames: frames,
        total_frames: frames,
        high_quality: high,
        low_quality: low,
        sections_key_prefix: keys::sections_prefix(prefix, keys::HIGH),
        sections_key_extension: "png".into(),
        low_quality_sections_key_prefix: Some(keys::sections_prefix(prefix, keys::LOW)),
        frames_manifest_key,
    };
    Ok((entry, files))
}
