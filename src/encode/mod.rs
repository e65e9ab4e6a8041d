//! Encoding 8-bit images to files: PNG (lossless HQ) and JPEG (LQ frames, thumbnails).

pub mod jpeg;
pub mod png;
pub mod video;
