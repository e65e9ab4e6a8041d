//! Thumbnails: our equivalent of `mogrify -resize "356x200>" -format jpg -quality 50` run on
//! an 8-bit PNG written by [`crate::encode::png::encode_png`].
//!
//! - Size: [`thumbnail_size`], ImageMagick's `ParseMetaGeometry` for `356x200>` (fit inside,
//!   keep the aspect ratio, never enlarge).
//! - Resampling: [`make_thumbnail`], the filter ImageMagick's `ResizeImage` picks for the PNGs
//!   we write. Checked with ImageMagick 6.9.11-60 Q16 (Debian 12) and
//!   `convert in.png -define filter:verbose=1 -resize "356x200>" null:` on every fixture of
//!   `test-data/thumbnails/`:
//!   - 8-bit greyscale PNG (colour type 0): IM6's PNG reader gives a PseudoClass image (a grey
//!     colormap), and `ResizeImage` uses Mitchell for PseudoClass: `filter = Cubic`,
//!     `window = Box`, `support = 2`, `B,C = 0.333333,0.333333`. Holds for all five grey
//!     fixtures (CT 512x512, 256x1024, 216x216, 484x300).
//!   - 8-bit RGB PNG (colour type 2): DirectClass, so the default Lanczos: `filter = SincFast`,
//!     `window = SincFast`, `support = 3` (= Lanczos3). This holds even with few colours: the
//!     palette-colour fixture has 207 distinct colours and the YBR_RCT one 282, and both
//!     stay DirectClass (IM6 does not turn an RGB PNG into PseudoClass by counting colours).
//!   - Unchanged size (e.g. 64x64): IM uses Point, i.e. a plain copy.
//! - Encoding: [`crate::encode::jpeg::encode_jpeg`] at quality 50: libjpeg settings as IM's,
//!   1-component JPEG for grey, YCbCr 4:2:0 for RGB.
//!
//! Not reproduced: IM resizes at 16-bit (Q16) precision with the passes in its own order and
//! uses a float DCT; fast_image_resize works on 8-bit samples with fixed-point weights.
//! `tests/it/thumbnail.rs` compares against the real `mogrify` (same sizes, PSNR >= 35 dB).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::encode::jpeg::encode_jpeg;
use crate::encode::png::EncodeError;
use crate::render::image::{Channels, Image8};

/// Largest thumbnail width.
pub const MAX_WIDTH: u32 = 356;
/// Largest thumbnail height.
pub const MAX_HEIGHT: u32 = 200;
/// JPEG quality of thumbnails.
pub const QUALITY: u8 = 50;

/// The size ImageMagick gives a `width` x `height` image for `-resize "356x200>"`.
///
/// `scale = min(356 / width, 200 / height)` in double precision; each side becomes
/// `max(floor(scale * side + 0.5), 1)` and then never exceeds the original side.
/// A zero side stays zero (there is nothing to resize).
pub fn thumbnail_size(width: u32, height: u32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (width, height);
    }
    let scale =
        (f64::from(MAX_WIDTH) / f64::from(width)).min(f64::from(MAX_HEIGHT) / f64::from(height));
    let side = |original: u32| -> u32 {
        // The product is at most 356.5 or so: the cast cannot overflow.
        let scaled = (scale * f64::from(original) + 0.5).floor() as u32;
        scaled.max(1).min(original)
    };
    (side(width), side(height))
}

/// `image` shrunk to [`thumbnail_size`] with the filter ImageMagick would use (see the module
/// docs): Mitchell (B = C = 1/3) for grey, Lanczos3 for RGB, a copy when the size is unchanged.
pub fn make_thumbnail(image: &Image8) -> Image8 {
    let (width, height) = thumbnail_size(image.width, image.height);
    if (width, height) == (image.width, image.height) {
        return image.clone();
    }
    let (pixel_type, filter) = match image.channels {
        Channels::Gray => (PixelType::U8, FilterType::Mitchell),
        Channels::Rgb => (PixelType::U8x3, FilterType::Lanczos3),
    };
    let src = ImageRef::new(image.width, image.height, &image.data, pixel_type)
        .expect("Image8 data holds width * height * channels bytes");
    let mut dst = Image::new(width, height, pixel_type);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter));
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .expect("same pixel type, non-empty images");
    Image8 {
        width,
        height,
        channels: image.channels,
        data: dst.into_vec(),
    }
}

/// The thumbnail JPEG of `image`: [`make_thumbnail`] encoded at quality [`QUALITY`].
pub fn encode_thumbnail(image: &Image8) -> Result<Vec<u8>, EncodeError> {
    encode_jpeg(&make_thumbnail(image), QUALITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_imagemagick() {
        // Each checked with ImageMagick 6.9.11:
        // convert -size WxH xc:gray50 -resize "356x200>" -format "%wx%h" info:
        let cases = [
            ((512, 512), (200, 200)),
            ((1920, 1080), (356, 200)),
            ((300, 150), (300, 150)),
            ((64, 64), (64, 64)),
            ((1024, 256), (356, 89)),
            ((256, 1024), (50, 200)),
            ((640, 480), (267, 200)),
            ((3, 3), (3, 3)),
            ((1, 5000), (1, 200)),
            ((5000, 1), (356, 1)),
            ((357, 201), (355, 200)),
            ((484, 300), (323, 200)),
            ((800, 350), (356, 156)),
        ];
        for ((w, h), expected) in cases {
            assert_eq!(thumbnail_size(w, h), expected, "{w}x{h}");
        }
    }

    #[test]
    fn never_enlarges_and_fits() {
        for w in (1..2000).step_by(37) {
            for h in (1..2000).step_by(41) {
                let (tw, th) = thumbnail_size(w, h);
                assert!(tw >= 1 && th >= 1 && tw <= w && th <= h, "{w}x{h}");
                assert!(tw <= MAX_WIDTH && th <= MAX_HEIGHT, "{w}x{h} -> {tw}x{th}");
            }
        }
    }

    #[test]
    fn unchanged_size_is_a_copy() {
        let mut image = Image8::filled(64, 48, Channels::Gray, 0);
        for (i, v) in image.data.iter_mut().enumerate() {
            *v = (i * 13) as u8;
        }
        assert_eq!(make_thumbnail(&image), image);
    }

    #[test]
    fn shrinks_flat_images_to_flat_images() {
        for channels in [Channels::Gray, Channels::Rgb] {
            let thumb = make_thumbnail(&Image8::filled(512, 512, channels, 77));
            assert_eq!((thumb.width, thumb.height), (200, 200));
            assert_eq!(thumb.channels, channels);
            assert_eq!(thumb.data.len(), 200 * 200 * channels.count());
            assert!(thumb.data.iter().all(|&v| v == 77));
        }
    }

    #[test]
    fn thumbnail_jpeg_has_the_thumbnail_size() {
        let jpeg = encode_thumbnail(&Image8::filled(640, 480, Channels::Rgb, 200)).unwrap();
        let d = mozjpeg::Decompress::new_mem(&jpeg).unwrap();
        assert_eq!(d.size(), (267, 200));
        assert_eq!(d.components().len(), 3);
    }
}
