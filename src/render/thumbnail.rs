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
//!     `window = Box`, `support = 2`, `B,C = 0.333333,0.333333`. Holds for all five resized
//!     grey fixtures (two CT 512x512, 256x1024, 216x216, 484x300).
//!   - 8-bit RGB PNG (colour type 2): DirectClass, so the default Lanczos: `filter = SincFast`,
//!     `window = SincFast`, `support = 3` (= Lanczos3). This holds even with few colours: the
//!     palette-colour fixture has 207 distinct colours and the YBR_RCT one 282, and both
//!     stay DirectClass (IM6 does not turn an RGB PNG into PseudoClass by counting colours).
//!   - Unchanged size (e.g. 64x64): `ResizeImage` returns a copy without setting up a filter
//!     (`filter:verbose` prints nothing), so we copy too.
//! - Encoding: [`crate::encode::thumbnail`] (JPEG at quality 50, libjpeg settings as IM's,
//!   1-component JPEG for grey, YCbCr 4:2:0 for RGB).
//!
//! Not reproduced exactly: IM resizes at 16-bit (Q16) precision where fast_image_resize works
//! on 8-bit samples with fixed-point weights (at most 1-2 levels apart on the fixtures), and
//! IM's JPEG DCT differs from ours (see [`crate::encode::jpeg::encode_jpeg`]).
//! `tests/it/thumbnail.rs` compares against the real `mogrify` (same sizes, PSNR >= 35 dB).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::render::image::{Channels, Image8};

/// Largest thumbnail width.
pub const MAX_WIDTH: u32 = 356;
/// Largest thumbnail height.
pub const MAX_HEIGHT: u32 = 200;

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
///
/// Like ImageMagick's `ResizeImage`, this runs two separable passes and clamps in between, in
/// IM's order: horizontal first when `new_width / width > new_height / height`, else vertical
/// first. The order matters because the intermediate image is clamped to 0..=max: with
/// Lanczos' negative lobes, the other order left errors of up to 30 levels at sharp edges
/// (PSNR 44 dB against `convert -resize` on the 640x480 RGB fixture, 54 dB in IM's order).
/// fast_image_resize's own two-pass resize always goes vertical first for 8-bit images, so
/// each pass is a separate one-axis resize here. The intermediate is 8-bit where IM's is
/// 16-bit; measured on the fixtures this costs at most 1-2 levels (PSNR 51-58 dB).
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
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter));
    let mut resizer = Resizer::new();
    let mut pass = |from: &ImageRef, w: u32, h: u32| -> Image<'static> {
        let mut to = Image::new(w, h, pixel_type);
        resizer
            .resize(from, &mut to, &options)
            .expect("same pixel type, non-empty images");
        to
    };
    let x_factor = f64::from(width) / f64::from(image.width);
    let y_factor = f64::from(height) / f64::from(image.height);
    let intermediate = if x_factor > y_factor {
        (width, image.height)
    } else {
        (image.width, height)
    };
    // A pass whose size equals its input's would be a no-op in fast_image_resize (it leaves
    // the destination untouched), so skip it.
    let data = if intermediate == (image.width, image.height) || intermediate == (width, height) {
        pass(&src, width, height).into_vec()
    } else {
        let mid = pass(&src, intermediate.0, intermediate.1);
        let mid = ImageRef::new(mid.width(), mid.height(), mid.buffer(), pixel_type)
            .expect("the resizer's own output");
        pass(&mid, width, height).into_vec()
    };
    Image8 {
        width,
        height,
        channels: image.channels,
        data,
    }
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
}
