//! Decode one JPEG-LS codestream given as bytes, as a frame of a JPEG-LS DICOM file is.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(decoded) = dicomprep::render::jpeg_ls::decode(data) {
        assert_eq!(
            decoded.samples.len(),
            decoded.width * decoded.height * decoded.components
        );
        let max = (1u32 << decoded.precision) - 1;
        assert!(decoded.samples.iter().all(|&s| u32::from(s) <= max));
    }
});
