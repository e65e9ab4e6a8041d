//! Encoding 8-bit images to files: PNG (lossless HQ), JPEG (LQ frames, thumbnails), H.264
//! (MP4 videos and HLS renditions).

pub mod hls;
pub mod jpeg;
pub mod png;
pub mod video;
