//! Decode and render the first frames of one object given as bytes, as `convert` does per file.
#![no_main]

use dicomprep::render::decode::{DicomImage, Samples};
use dicomprep::render::render_frame;
use dicomprep::render::window::{WindowChoice, choose_mapping, modality_range};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(image) = DicomImage::from_bytes(data) else {
        return;
    };
    for frame in 0..image.frame_count().min(3) {
        let Ok(decoded) = image.frame(frame) else {
            continue;
        };
        let modality = image.modality_lut(None, None);
        let range = |modality: &_| match &decoded.samples {
            Samples::Grey(values) => {
                let (lo, hi) = values.min_max().unwrap_or((0, 0));
                modality_range(modality, lo, hi)
            }
            Samples::Rgb(_) => (0.0, 255.0),
        };
        let voi = image.header_voi(None, None);
        let mapping = choose_mapping(
            WindowChoice::Header,
            modality,
            voi,
            range,
            image.is_monochrome1(),
        );
        let rendered = render_frame(decoded, &mapping);
        assert_eq!(
            rendered.data.len(),
            rendered.width as usize * rendered.height as usize * rendered.channels.count()
        );
    }
});
