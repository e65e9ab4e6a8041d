//! Decode and render every frame of one object given as bytes, as `convert` does per file.
#![no_main]

use dicomprep::render::decode::DicomImage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dicomprep::render::render_all_frames(data, 4);
    let _ = DicomImage::from_bytes(data);
});
