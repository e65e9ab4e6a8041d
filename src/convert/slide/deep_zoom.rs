//! Deep Zoom (the OpenSeadragon convention): level L of a W x H slide is
//! ceil(W / 2^(max - L)) x ceil(H / 2^(max - L)), max = ceil(log2(max(W, H))); tiles of
//! `tile` pixels with `overlap` pixels of their neighbours on each inner side; each level made
//! from the nearest source level at least as large, area-averaged.

use rayon::prelude::*;

use super::reader::LevelReader;
use crate::encode::jpeg::{Huffman, encode_jpeg};
use crate::render::slide::resample_area;

/// Deep Zoom's default tile size and overlap (libvips, OpenSeadragon).
pub(super) const TILE: u32 = 254;
pub(super) const OVERLAP: u32 = 1;
/// JPEG quality of the tiles.
const QUALITY: u8 = 90;

/// The geometry of a slide's Deep Zoom pyramid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DeepZoom {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) tile: u32,
    pub(super) overlap: u32,
}

impl DeepZoom {
    pub(super) fn new(width: u32, height: u32) -> DeepZoom {
        DeepZoom {
            width,
            height,
            tile: TILE,
            overlap: OVERLAP,
        }
    }

    /// The finest level's number.
    pub(super) fn max_level(&self) -> u32 {
        let side = self.width.max(self.height).max(1);
        u32::BITS - (side - 1).leading_zeros()
    }

    /// The size of level `level`.
    pub(super) fn level_size(&self, level: u32) -> (u32, u32) {
        let shift = self.max_level() - level;
        let scale = |side: u32| (u64::from(side).div_ceil(1u64 << shift)).max(1) as u32;
        (scale(self.width), scale(self.height))
    }

    /// Tiles across and down at `level`.
    pub(super) fn grid(&self, level: u32) -> (u32, u32) {
        let (w, h) = self.level_size(level);
        (w.div_ceil(self.tile), h.div_ceil(self.tile))
    }

    /// The rectangle (x, y, width, height) tile (`column`, `row`) of `level` shows.
    pub(super) fn tile_rect(&self, level: u32, column: u32, row: u32) -> (u32, u32, u32, u32) {
        let (w, h) = self.level_size(level);
        let span = |index: u32, side: u32| {
            let start =
                (index * self.tile).saturating_sub(if index > 0 { self.overlap } else { 0 });
            let end = ((index + 1) * self.tile + self.overlap).min(side);
            (start, end - start)
        };
        let (x, width) = span(column, w);
        let (y, height) = span(row, h);
        (x, y, width, height)
    }

    /// The `.dzi` descriptor.
    pub(super) fn xml(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Image xmlns=\"http://schemas.microsoft.com/deepzoom/2008\" Format=\"jpg\" Overlap=\"{}\" TileSize=\"{}\"><Size Width=\"{}\" Height=\"{}\"/></Image>\n",
            self.overlap, self.tile, self.width, self.height
        )
    }
}

/// Makes every tile of level `level` of `zoom` from `source` (a level at least as large) and
/// hands each, row by row, to `store(column, row, jpeg)`; returns the tiles made.
pub(super) fn write_level(
    zoom: &DeepZoom,
    level: u32,
    source: &LevelReader<'_>,
    store: &(dyn Fn(u32, u32, Vec<u8>) -> Result<(), String> + Sync),
) -> Result<u64, String> {
    let (w, h) = zoom.level_size(level);
    let scale = (
        f64::from(source.level.width) / f64::from(w),
        f64::from(source.level.height) / f64::from(h),
    );
    let (columns, rows) = zoom.grid(level);
    for row in 0..rows {
        (0..columns).into_par_iter().try_for_each(|column| {
            let (x, y, tw, th) = zoom.tile_rect(level, column, row);
            // The source pixels the tile covers, whole pixels around them.
            let (sx0, sy0) = (f64::from(x) * scale.0, f64::from(y) * scale.1);
            let (sx1, sy1) = (f64::from(x + tw) * scale.0, f64::from(y + th) * scale.1);
            let (rx, ry) = (sx0.floor() as u32, sy0.floor() as u32);
            let rw = (sx1.ceil() as u32).min(source.level.width).max(rx + 1) - rx;
            let rh = (sy1.ceil() as u32).min(source.level.height).max(ry + 1) - ry;
            let region = source.region(rx, ry, rw, rh)?;
            let tile = if scale == (1.0, 1.0) {
                // A level of the slide itself: the region is the tile.
                region
            } else {
                let origin = (sx0 - f64::from(rx), sy0 - f64::from(ry));
                resample_area(&region, origin, scale, (tw, th))
            };
            let jpeg = encode_jpeg(&tile, QUALITY, Huffman::Standard).map_err(|e| e.to_string())?;
            store(column, row, jpeg)
        })?;
    }
    Ok(u64::from(columns) * u64::from(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_halve_up_to_the_full_size_and_tiles_overlap_inside() {
        // OpenSeadragon's rule on a 20000 x 15000 slide: 16 levels above 1 x 1.
        let zoom = DeepZoom::new(20000, 15000);
        assert_eq!(zoom.max_level(), 15);
        assert_eq!(zoom.level_size(15), (20000, 15000));
        assert_eq!(zoom.level_size(14), (10000, 7500));
        assert_eq!(zoom.level_size(8), (157, 118));
        assert_eq!(zoom.level_size(0), (1, 1));
        assert_eq!(zoom.grid(15), (79, 60));
        assert_eq!(zoom.tile_rect(15, 0, 0), (0, 0, 255, 255));
        assert_eq!(zoom.tile_rect(15, 1, 2), (253, 507, 256, 256));
        assert_eq!(zoom.tile_rect(15, 78, 59), (19811, 14985, 189, 15));
        let small = DeepZoom::new(50, 50);
        assert_eq!(small.max_level(), 6);
        assert_eq!(small.level_size(5), (25, 25));
        assert_eq!(small.tile_rect(6, 0, 0), (0, 0, 50, 50));
        assert_eq!(DeepZoom::new(1, 1).max_level(), 0);
        assert!(
            zoom.xml()
                .contains(r#"Overlap="1" TileSize="254"><Size Width="20000" Height="15000"/>"#)
        );
    }
}
