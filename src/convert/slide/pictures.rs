//! The whole slide as one picture, at most `max_size` pixels on its long side: made from the
//! nearest level at least as large, a band of rows at a time (never held whole), area-averaged.

use super::reader::LevelReader;
use crate::render::image::{Channels, Image8};
use crate::render::slide::{paste, resample_area};

/// Output rows made per band.
const BAND_ROWS: u32 = 256;

/// The size of the picture of a `width` x `height` slide that fits `max_size`.
pub(super) fn picture_size(width: u32, height: u32, max_size: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= max_size {
        return (width, height);
    }
    let scale = f64::from(max_size) / f64::from(long);
    let side = |s: u32| ((f64::from(s) * scale).round() as u32).max(1);
    (side(width), side(height))
}

/// The picture of the level `source` reads, resized to `size`, handed to `each` a band of
/// rows at a time, top to bottom.
pub(super) fn picture_bands(
    source: &LevelReader<'_>,
    size: (u32, u32),
    each: &mut dyn FnMut(&Image8) -> Result<(), String>,
) -> Result<(), String> {
    let level = source.level;
    let scale = (
        f64::from(level.width) / f64::from(size.0),
        f64::from(level.height) / f64::from(size.1),
    );
    let mut row = 0;
    while row < size.1 {
        let rows = BAND_ROWS.min(size.1 - row);
        let sy0 = f64::from(row) * scale.1;
        let sy1 = f64::from(row + rows) * scale.1;
        let ry = sy0.floor() as u32;
        let rh = (sy1.ceil() as u32).min(level.height).max(ry + 1) - ry;
        let band = source.region(0, ry, level.width, rh)?;
        each(&resample_area(
            &band,
            (0.0, sy0 - f64::from(ry)),
            scale,
            (size.0, rows),
        ))?;
        row += rows;
    }
    Ok(())
}

/// The picture of the level `source` reads, resized to `size` (a small one: thumbnails).
pub(super) fn whole_picture(source: &LevelReader<'_>, size: (u32, u32)) -> Result<Image8, String> {
    let mut picture = Image8::filled(size.0, size.1, Channels::Rgb, 0);
    let mut row = 0;
    picture_bands(source, size, &mut |band| {
        paste(&mut picture, band, 0, i64::from(row));
        row += band.height;
        Ok(())
    })?;
    Ok(picture)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_fit_the_long_side() {
        assert_eq!(picture_size(20000, 15000, 8192), (8192, 6144));
        assert_eq!(picture_size(15000, 20001, 8192), (6144, 8192));
        assert_eq!(picture_size(50, 40, 8192), (50, 40));
        assert_eq!(picture_size(100000, 10, 100), (100, 1));
    }
}
