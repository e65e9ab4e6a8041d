//! Encoding 8-bit images to files: PNG (lossless HQ), JPEG (LQ frames, thumbnails), H.264
//! (MP4 videos and HLS renditions).

#[cfg(feature = "video")]
mod ffmpeg;
pub mod hls;
pub mod jpeg;
pub mod png;
pub mod thumbnail;
pub mod tiff;
#[cfg(feature = "video")]
pub mod video;

/// Encoding settings of a video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoSettings {
    /// Frames per second.
    pub fps: u32,
    /// x264 constant rate factor (0 = lossless … 51; 18-23 is visually transparent for CT).
    pub crf: u8,
}

impl Default for VideoSettings {
    fn default() -> Self {
        VideoSettings { fps: 10, crf: 20 }
    }
}
