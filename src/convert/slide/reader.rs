//! Reading any rectangle of a slide level: the tiles it touches are decoded (in parallel) and
//! kept for a few rows of tiles, so that work going row by row decodes each tile about once
//! and memory stays a few rows of tiles, whatever the size of the slide.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::order::slide::{Level, TileRef};
use crate::render::decode::{DicomImage, Samples};
use crate::render::image::Image8;
use crate::render::lut::{GreyMapping, ModalityLut, Voi, Window};
use crate::render::render_frame;
use crate::render::slide::{filled_rgb, paste};

/// The white (or the header's) that fills places without a tile.
pub(super) const BACKGROUND: [u8; 3] = [255, 255, 255];

/// A level's tiles, read through `open` (the file of an instance, decoded lazily).
pub(super) struct LevelReader<'a> {
    pub(super) level: &'a Level,
    open: &'a (dyn Fn(usize) -> Result<Arc<DicomImage>, String> + Sync),
    /// Decoded tiles by grid place, with the row they were last used in.
    cache: Mutex<HashMap<(u32, u32), Arc<Image8>>>,
    /// Rows of tiles kept.
    keep_rows: u32,
}

impl<'a> LevelReader<'a> {
    pub(super) fn new(
        level: &'a Level,
        open: &'a (dyn Fn(usize) -> Result<Arc<DicomImage>, String> + Sync),
    ) -> LevelReader<'a> {
        LevelReader {
            level,
            open,
            cache: Mutex::new(HashMap::new()),
            keep_rows: 3,
        }
    }

    /// The decoded tile at grid place (`x`, `y`): the background where there is none.
    pub(super) fn tile(&self, x: u32, y: u32) -> Result<Arc<Image8>, String> {
        if let Some(tile) = self.lock().get(&(x, y)) {
            return Ok(tile.clone());
        }
        let level = self.level;
        let image = match level.tile(x, y) {
            None => filled_rgb(level.tile_width, level.tile_height, BACKGROUND),
            Some(TileRef { instance, frame }) => {
                let file = (self.open)(instance)?;
                decode_tile(&file, frame, (level.tile_width, level.tile_height))?
            }
        };
        let image = Arc::new(image);
        self.lock().insert((x, y), image.clone());
        Ok(image)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(u32, u32), Arc<Image8>>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `width` x `height` rectangle at (`x`, `y`) of the level, RGB; what lies past the
    /// level's edge is background.
    pub(super) fn region(&self, x: u32, y: u32, width: u32, height: u32) -> Result<Image8, String> {
        let level = self.level;
        let (tw, th) = (level.tile_width, level.tile_height);
        let (columns, rows) = level.grid();
        let (first_x, first_y) = (x / tw, y / th);
        let last_x = ((x + width).div_ceil(tw)).min(columns);
        let last_y = ((y + height).div_ceil(th)).min(rows);
        self.forget_rows_before(first_y);
        let places: Vec<(u32, u32)> = (first_y..last_y)
            .flat_map(|ty| (first_x..last_x).map(move |tx| (tx, ty)))
            .collect();
        let tiles: Vec<((u32, u32), Arc<Image8>)> = places
            .par_iter()
            .map(|&(tx, ty)| self.tile(tx, ty).map(|t| ((tx, ty), t)))
            .collect::<Result<_, String>>()?;
        let mut out = filled_rgb(width, height, BACKGROUND);
        for ((tx, ty), tile) in tiles {
            let rgb;
            let tile = if tile.channels == out.channels {
                &*tile
            } else {
                rgb = as_rgb(&tile);
                &rgb
            };
            // Only the part of the tile inside the level (edge tiles run past it).
            let inside_w = tw.min(level.width - tx * tw);
            let inside_h = th.min(level.height - ty * th);
            let inside = tile
                .cropped(0, 0, inside_w.min(tile.width), inside_h.min(tile.height))
                .ok_or("a tile smaller than the level says")?;
            paste(
                &mut out,
                &inside,
                i64::from(tx * tw) - i64::from(x),
                i64::from(ty * th) - i64::from(y),
            );
        }
        Ok(out)
    }

    /// Drops decoded tiles more than `keep_rows` rows above `row` (work goes down the level).
    fn forget_rows_before(&self, row: u32) {
        let keep_from = row.saturating_sub(self.keep_rows.saturating_sub(1));
        self.lock().retain(|&(_, y), _| y >= keep_from);
    }
}

/// Frame `frame` of `file` as an 8-bit tile: RGB as stored, grey mapped over the whole range
/// of its stored bits (one mapping for every tile of a slide).
pub(super) fn decode_tile(
    file: &DicomImage,
    frame: u32,
    (width, height): (u32, u32),
) -> Result<Image8, String> {
    let decoded = file
        .frame(frame)
        .map_err(|e| format!("frame {frame}: {e}"))?;
    if (decoded.width, decoded.height) != (width, height) {
        return Err(format!(
            "frame {frame} is {}x{}, not the level's {width}x{height} tiles",
            decoded.width, decoded.height
        ));
    }
    // RGB samples pass through; grey ones are windowed over their whole stored range.
    let top = match &decoded.samples {
        Samples::Rgb(_) => 255.0,
        Samples::Grey(_) => f64::from((1u32 << file.bits_stored().min(16)) - 1),
    };
    let mapping = GreyMapping {
        modality: ModalityLut::IDENTITY,
        voi: Voi::Window(Window::min_max(0.0, top)),
        invert: file.is_monochrome1(),
    };
    Ok(render_frame(decoded, &mapping))
}

/// A grey image as RGB.
fn as_rgb(image: &Image8) -> Image8 {
    Image8 {
        width: image.width,
        height: image.height,
        channels: crate::render::image::Channels::Rgb,
        data: image.data.iter().flat_map(|&v| [v, v, v]).collect(),
    }
}
