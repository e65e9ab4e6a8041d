//! Rendering: DICOM pixels to 8-bit images.
//!
//! [`decode`] turns a frame into stored values, [`lut`] holds the maths from stored values to
//! grey levels, [`window`] chooses the VOI window, and [`render_frame`] puts them together.

pub mod decode;
pub mod image;
pub mod lut;
pub mod rle;
pub mod thumbnail;
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
