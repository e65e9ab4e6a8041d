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

    /// The `width` x `height` rectangle at column `x`, row `y`; `None` when it does not lie
    /// within the image.
    pub fn cropped(&self, x: u32, y: u32, width: u32, height: u32) -> Option<Image8> {
        if x.checked_add(width)? > self.width || y.checked_add(height)? > self.height {
            return None;
        }
        let n = self.channels.count();
        let (stride, row) = (self.width as usize * n, width as usize * n);
        let mut data = Vec::with_capacity(row * height as usize);
        for r in y as usize..(y + height) as usize {
            let start = r * stride + x as usize * n;
            data.extend_from_slice(&self.data[start..start + row]);
        }
        Some(Image8 {
            width,
            height,
            channels: self.channels,
            data,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crop_keeps_the_rectangle_and_refuses_what_lies_outside() {
        let image = Image8::gradient(5, 4, Channels::Rgb, (1, 10, 100));
        let crop = image.cropped(1, 2, 3, 2).unwrap();
        assert_eq!((crop.width, crop.height), (3, 2));
        let at = |im: &Image8, x: u32, y: u32| {
            let i = ((y * im.width + x) * 3) as usize;
            im.data[i..i + 3].to_vec()
        };
        assert_eq!(at(&crop, 0, 0), at(&image, 1, 2));
        assert_eq!(at(&crop, 2, 1), at(&image, 3, 3));
        assert!(image.cropped(3, 0, 3, 1).is_none());
        assert!(image.cropped(0, 3, 1, 2).is_none());
        assert_eq!(image.cropped(0, 0, 5, 4).unwrap(), image);
    }
}
