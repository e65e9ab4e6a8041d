//! 8-bit images: what rendering produces and encoders consume.

/// Samples per pixel of an 8-bit image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// One grey sample per pixel.
    Gray,
    /// Red, green, blue, interleaved.
    Rgb,
}

impl Channels {
    /// Bytes per pixel.
    pub fn count(self) -> usize {
        match self {
            Channels::Gray => 1,
            Channels::Rgb => 3,
        }
    }
}

/// An 8-bit grey or RGB image, rows top to bottom, pixels interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image8 {
    pub width: u32,
    pub height: u32,
    pub channels: Channels,
    /// `width * height * channels.count()` bytes.
    pub data: Vec<u8>,
}

impl Image8 {
    /// An image of the given size filled with `value`.
    pub fn filled(width: u32, height: u32, channels: Channels, value: u8) -> Self {
        let len = width as usize * height as usize * channels.count();
        Image8 {
            width,
            height,
            channels,
            data: vec![value; len],
        }
    }
}

#[cfg(test)]
impl Image8 {
    /// A test pattern: sample = `x * dx + y * dy + channel * dc` (wrapping), for encoder tests.
    pub(crate) fn gradient(
        width: u32,
        height: u32,
        channels: Channels,
        (dx, dy, dc): (u32, u32, u32),
    ) -> Self {
        let n = channels.count();
        let mut image = Image8::filled(width, height, channels, 0);
        for (i, v) in image.data.iter_mut().enumerate() {
            let (pixel, c) = (i / n, i % n);
            let (x, y) = (pixel as u32 % width, pixel as u32 / width);
            *v = (x * dx + y * dy + c as u32 * dc) as u8;
        }
        image
    }
}
