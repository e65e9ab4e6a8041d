//! Contact sheets: up to [`MAX_FRAMES`] evenly spaced frames of a volume on one grid, so a
//! person sees the whole volume (order, window, coverage) in one image.
//!
//! The layout ([`sheet_frames`], [`sheet_geometry`]) is pure arithmetic; [`make_contact_sheet`]
//! puts already rendered frames on the grid.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::render::image::{Channels, Image8};

/// Most frames on one sheet (a 4 x 4 grid).
pub const MAX_FRAMES: usize = 16;
/// Largest side of one tile; frames are shrunk to fit, never enlarged.
pub const TILE_MAX: u32 = 256;
/// Black pixels between neighbouring tiles.
pub const GAP: u32 = 2;

/// Which of `count` frames go on a sheet of at most `max` frames: all of them when they fit,
/// else `max` evenly spaced ones, the first and the last included (index `k` of the sheet is
/// frame `round(k * (count - 1) / (max - 1))`).
pub fn sheet_frames(count: usize, max: usize) -> Vec<usize> {
    if count <= max {
        return (0..count).collect();
    }
    if max <= 1 {
        return if max == 1 { vec![0] } else { Vec::new() };
    }
    let (span, steps) = (count - 1, max - 1);
    (0..max).map(|k| (k * span + steps / 2) / steps).collect()
}

/// The grid of a sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SheetGeometry {
    pub columns: u32,
    pub rows: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    /// Size of the whole sheet, gaps included.
    pub width: u32,
    pub height: u32,
}

impl SheetGeometry {
    /// Top-left corner of tile `k` (row by row).
    pub fn origin(&self, k: usize) -> (u32, u32) {
        let k = k as u32;
        let (column, row) = (k % self.columns, k / self.columns);
        (
            column * (self.tile_width + GAP),
            row * (self.tile_height + GAP),
        )
    }
}

/// The grid for `frames` frames of `width` x `height`: `ceil(sqrt(frames))` columns, as many
/// rows as needed, tiles the frame size shrunk to fit [`TILE_MAX`] (aspect kept, at least 1 px).
/// `None` when there is nothing to show.
pub fn sheet_geometry(frames: usize, width: u32, height: u32) -> Option<SheetGeometry> {
    if frames == 0 || width == 0 || height == 0 {
        return None;
    }
    let frames = u32::try_from(frames).ok()?;
    let columns = (1..=frames).find(|c| c * c >= frames)?;
    let rows = frames.div_ceil(columns);
    let scale = (f64::from(TILE_MAX) / f64::from(width.max(height))).min(1.0);
    let side = |s: u32| ((f64::from(s) * scale).round() as u32).clamp(1, s);
    let (tile_width, tile_height) = (side(width), side(height));
    Some(SheetGeometry {
        columns,
        rows,
        tile_width,
        tile_height,
        width: columns * tile_width + (columns - 1) * GAP,
        height: rows * tile_height + (rows - 1) * GAP,
    })
}

/// `frames` (in sheet order) on one grid sized from the first frame; frames of another size are
/// fitted into their tile and centred. Grey unless a frame is RGB. `None` without frames.
pub fn make_contact_sheet(frames: &[Image8]) -> Option<Image8> {
    let first = frames.first()?;
    let geometry = sheet_geometry(frames.len(), first.width, first.height)?;
    let channels = if frames.iter().any(|f| f.channels == Channels::Rgb) {
        Channels::Rgb
    } else {
        Channels::Gray
    };
    let mut sheet = Image8::filled(geometry.width, geometry.height, channels, 0);
    let bytes = channels.count();
    for (k, frame) in frames.iter().enumerate() {
        let tile = fit(frame, geometry.tile_width, geometry.tile_height, channels);
        let (x0, y0) = geometry.origin(k);
        let x0 = x0 + (geometry.tile_width - tile.width) / 2;
        let y0 = y0 + (geometry.tile_height - tile.height) / 2;
        let row_len = tile.width as usize * bytes;
        for y in 0..tile.height as usize {
            let from = y * row_len;
            let to = ((y0 as usize + y) * geometry.width as usize + x0 as usize) * bytes;
            sheet.data[to..to + row_len].copy_from_slice(&tile.data[from..from + row_len]);
        }
    }
    Some(sheet)
}

/// `image` in `channels`, shrunk (Lanczos3) to fit `width` x `height` with its aspect kept.
fn fit(image: &Image8, width: u32, height: u32, channels: Channels) -> Image8 {
    let image = match (image.channels, channels) {
        (Channels::Gray, Channels::Rgb) => Image8 {
            width: image.width,
            height: image.height,
            channels,
            data: image.data.iter().flat_map(|&v| [v, v, v]).collect(),
        },
        _ => image.clone(),
    };
    let scale = (f64::from(width) / f64::from(image.width))
        .min(f64::from(height) / f64::from(image.height))
        .min(1.0);
    let side = |s: u32| ((f64::from(s) * scale).round() as u32).clamp(1, s);
    let (w, h) = (side(image.width), side(image.height));
    if (w, h) == (image.width, image.height) {
        return image;
    }
    let pixel_type = match channels {
        Channels::Gray => PixelType::U8,
        Channels::Rgb => PixelType::U8x3,
    };
    let src = ImageRef::new(image.width, image.height, &image.data, pixel_type)
        .expect("Image8 data holds width * height * channels bytes");
    let mut to = Image::new(w, h, pixel_type);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(&src, &mut to, &options)
        .expect("same pixel type, non-empty images");
    Image8 {
        width: w,
        height: h,
        channels,
        data: to.into_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_frames_are_all_on_the_sheet() {
        assert_eq!(sheet_frames(0, 16), Vec::<usize>::new());
        assert_eq!(sheet_frames(1, 16), [0]);
        assert_eq!(sheet_frames(5, 16), [0, 1, 2, 3, 4]);
        assert_eq!(sheet_frames(16, 16), (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn many_frames_are_evenly_spaced_with_both_ends() {
        let picked = sheet_frames(150, 16);
        assert_eq!(picked.len(), 16);
        assert_eq!((picked[0], picked[15]), (0, 149));
        // 149 / 15 = 9.93: steps of 9 or 10, never more apart.
        assert!(picked.windows(2).all(|w| (9..=10).contains(&(w[1] - w[0]))));
        assert_eq!(sheet_frames(17, 16).len(), 16);
        assert_eq!(
            sheet_frames(31, 16),
            (0..16).map(|k| 2 * k).collect::<Vec<_>>()
        );
        assert_eq!(sheet_frames(10, 1), [0]);
    }

    #[test]
    fn grids_are_square_enough() {
        let grid = |n| sheet_geometry(n, 64, 64).map(|g| (g.columns, g.rows));
        assert_eq!(grid(0), None);
        assert_eq!(grid(1), Some((1, 1)));
        assert_eq!(grid(2), Some((2, 1)));
        assert_eq!(grid(5), Some((3, 2)));
        assert_eq!(grid(9), Some((3, 3)));
        assert_eq!(grid(15), Some((4, 4)));
        assert_eq!(grid(16), Some((4, 4)));
    }

    #[test]
    fn tiles_shrink_to_fit_and_never_grow() {
        let small = sheet_geometry(16, 64, 64).unwrap();
        assert_eq!((small.tile_width, small.tile_height), (64, 64));
        assert_eq!(
            (small.width, small.height),
            (4 * 64 + 3 * GAP, 4 * 64 + 3 * GAP)
        );
        let ct = sheet_geometry(16, 512, 512).unwrap();
        assert_eq!((ct.tile_width, ct.tile_height), (256, 256));
        let wide = sheet_geometry(4, 1024, 256).unwrap();
        assert_eq!((wide.tile_width, wide.tile_height), (256, 64));
        assert_eq!((wide.width, wide.height), (2 * 256 + GAP, 2 * 64 + GAP));
        let sliver = sheet_geometry(1, 5000, 1).unwrap();
        assert_eq!((sliver.tile_width, sliver.tile_height), (256, 1));
        assert_eq!(small.origin(5), (64 + GAP, 64 + GAP));
    }

    #[test]
    fn frames_land_in_their_tiles() {
        let frames: Vec<Image8> = (0..5u8)
            .map(|v| Image8::filled(8, 4, Channels::Gray, 10 + v * 40))
            .collect();
        let sheet = make_contact_sheet(&frames).unwrap();
        // 3 x 2 grid of 8 x 4 tiles.
        assert_eq!((sheet.width, sheet.height), (3 * 8 + 2 * GAP, 2 * 4 + GAP));
        assert_eq!(sheet.channels, Channels::Gray);
        let at = |x: u32, y: u32| sheet.data[(y * sheet.width + x) as usize];
        assert_eq!(at(0, 0), 10);
        assert_eq!(at(8 + GAP, 0), 50);
        assert_eq!(at(2 * (8 + GAP) + 7, 3), 90);
        assert_eq!(at(8 + GAP, 4 + GAP), 170);
        assert_eq!(at(8, 0), 0, "gap");
        assert_eq!(at(2 * (8 + GAP), 4 + GAP), 0, "the sixth tile stays empty");
    }

    #[test]
    fn an_rgb_frame_makes_an_rgb_sheet_and_big_frames_shrink() {
        let frames = [
            Image8::filled(512, 512, Channels::Gray, 100),
            Image8::filled(512, 512, Channels::Rgb, 200),
        ];
        let sheet = make_contact_sheet(&frames).unwrap();
        assert_eq!(sheet.channels, Channels::Rgb);
        assert_eq!((sheet.width, sheet.height), (2 * 256 + GAP, 256));
        assert_eq!(&sheet.data[..3], &[100, 100, 100]);
        let second = ((256 + GAP) * 3) as usize;
        assert_eq!(&sheet.data[second..second + 3], &[200, 200, 200]);
        assert!(make_contact_sheet(&[]).is_none());
    }
}
