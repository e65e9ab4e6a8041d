//! Rendering: DICOM pixels to 8-bit images.
//!
//! [`decode`] turns a frame into stored values, [`lut`] holds the maths from stored values to
//! grey levels, [`window`] chooses the VOI window, and [`render_frame`] puts them together.

pub mod contact_sheet;
pub mod decode;
pub mod guard;
pub mod image;
pub mod jpeg_ls;
pub mod lut;
pub mod mapping;
pub mod rle;
pub mod slide;
pub mod thumbnail;
pub mod volume_window;
pub mod window;

pub use image::{Channels, Image8};

use decode::{Frame, Samples};
use lut::GreyMapping;

/// Renders a decoded frame to 8 bits: grey frames through `mapping`, colour frames as they are.
pub fn render_frame(frame: Frame, mapping: &GreyMapping) -> Image8 {
    let (channels, data) = match frame.samples {
        Samples::Grey(values) => (Channels::Gray, mapping.map_grey(&values)),
        Samples::Rgb(rgb) => (Channels::Rgb, rgb),
    };
    Image8 {
        width: frame.width,
        height: frame.height,
        channels,
        data,
    }
}

/// Burns the overlay planes that belong to image frame `frame` into `image`, in white
/// (what DCMTK shows when overlays are on).
pub fn burn_overlays(image: &mut Image8, planes: &[dicom_pixeldata::OverlayPlane], frame: u32) {
    let samples = image.channels.count();
    for plane in planes {
        let Some(overlay_frame) = plane.frame_for_image_frame(frame) else {
            continue;
        };
        let [origin_row, origin_column] = plane.origin();
        for row in 0..u32::from(plane.rows()) {
            for column in 0..u32::from(plane.columns()) {
                if !plane.is_set(overlay_frame, row, column) {
                    continue;
                }
                // Origin is 1-based: (1, 1) is the image's top-left pixel.
                let (y, x) = (
                    i64::from(origin_row) - 1 + i64::from(row),
                    i64::from(origin_column) - 1 + i64::from(column),
                );
                if (0..i64::from(image.height)).contains(&y)
                    && (0..i64::from(image.width)).contains(&x)
                {
                    let at = (y as usize * image.width as usize + x as usize) * samples;
                    image.data[at..at + samples].fill(255);
                }
            }
        }
    }
}
