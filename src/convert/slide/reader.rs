//! Reading any rectangle of a slide level: the tiles it touches are decoded (in parallel) and
//! kept for a few rows of tiles, so that work going row by row decodes each tile about once
//! and memory stays a few rows of tiles, whatever the size of the slide.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::files::SlideFiles;

use rayon::prelude::*;

use crate::order::slide::{Level, TileRef};
use crate::render::decode::{DicomImage, Samples};
use crate::render::image::Image8;
use crate::render::lut::{GreyMapping, ModalityLut, Voi, Window};
use crate::render::render_frame;
use crate::render::slide::{filled_rgb, paste_part};
use crate::scan::InstanceHeader;

/// The white (or the header's) that fills places without a tile.
pub(super) const BACKGROUND: [u8; 3] = [255, 255, 255];

/// A decoded tile (or why it could not be), made once.
type Tile = Arc<OnceLock<Result<Arc<Image8>, String>>>;

/// A level's tiles, read through the slide's `files` (decoded lazily).
pub(super) struct LevelReader<'a> {
    pub(super) level: &'a Level,
    files: &'a SlideFiles<'a>,
    grey: &'a GreyMapping,
    /// Decoded tiles by grid place. A place's cell is made before its tile is decoded, so
    /// that regions asking for the same tile at once (neighbouring Deep Zoom tiles) share one
    /// decode: each tile is read once while kept, and the run's bytes read do not depend on
    /// the threads' timing.
    cache: Mutex<HashMap<(u32, u32), Tile>>,
    /// Rows of tiles kept.
    keep_rows: u32,
}

impl<'a> LevelReader<'a> {
    pub(super) fn new(
        level: &'a Level,
        files: &'a SlideFiles<'a>,
        grey: &'a GreyMapping,
    ) -> LevelReader<'a> {
        LevelReader {
            level,
            files,
            grey,
            cache: Mutex::new(HashMap::new()),
            keep_rows: 3,
        }
    }

    /// The decoded tile at grid place (`x`, `y`): the background where there is none.
    pub(super) fn tile(&self, x: u32, y: u32) -> Result<Arc<Image8>, String> {
        let cell = self.lock().entry((x, y)).or_default().clone();
        cell.get_or_init(|| self.decode(x, y).map(Arc::new)).clone()
    }

    fn decode(&self, x: u32, y: u32) -> Result<Image8, String> {
        let level = self.level;
        match level.tile(x, y) {
            None => Ok(filled_rgb(level.tile_width, level.tile_height, BACKGROUND)),
            Some(TileRef { instance, frame }) => {
                let (file, index) = self.files.holding(instance, frame)?;
                decode_tile(
                    &file,
                    index,
                    (level.tile_width, level.tile_height),
                    self.grey,
                )
                .map_err(|e| self.files.named(instance, format!("frame {frame}: {e}")))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(u32, u32), Tile>> {
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
            let inside = (
                tw.min(level.width - tx * tw),
                th.min(level.height - ty * th),
            );
            if tile.width < inside.0 || tile.height < inside.1 {
                return Err("a tile smaller than the level says".into());
            }
            paste_part(
                &mut out,
                tile,
                inside,
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

/// Frame `frame` of `file` as an 8-bit tile: RGB as stored, grey through `grey` (one mapping
/// for every tile of a slide, [`slide_mapping`]).
pub(super) fn decode_tile(
    file: &DicomImage,
    frame: u32,
    (width, height): (u32, u32),
    grey: &GreyMapping,
) -> Result<Image8, String> {
    let decoded = file.frame(frame).map_err(|e| e.to_string())?;
    if (decoded.width, decoded.height) != (width, height) {
        return Err(format!(
            "a frame is {}x{}, not the level's {width}x{height} tiles",
            decoded.width, decoded.height
        ));
    }
    Ok(render_frame(decoded, grey))
}

/// How the grey values of a slide become 8 bits, the same for every tile of every level (no
/// seams): the header's window, else the range of the values of its smallest level (read
/// whole: it is small), else the whole range of the stored bits. Colour samples pass through.
pub(super) fn slide_mapping(
    smallest: &Level,
    header: &InstanceHeader,
    files: &SlideFiles<'_>,
) -> Result<GreyMapping, String> {
    let (file, _) = files.holding(smallest.instances[0], 0)?;
    mapping(&file, header, &mut || {
        let mut range: Option<(i64, i64)> = None;
        for tile in smallest.tiles.iter().flatten() {
            let (file, index) = files.holding(tile.instance, tile.frame)?;
            let values = grey_range(&file, index)
                .map_err(|e| files.named(tile.instance, format!("frame {}: {e}", tile.frame)))?;
            range = match (range, values) {
                (Some((a, b)), Some((lo, hi))) => Some((a.min(lo), b.max(hi))),
                (range, values) => range.or(values),
            };
        }
        Ok(range)
    })
}

/// The mapping of a single image (an associated image), by the same rules over its own values.
pub(super) fn image_mapping(
    file: &DicomImage,
    header: &InstanceHeader,
) -> Result<GreyMapping, String> {
    mapping(file, header, &mut || grey_range(file, 0))
}

/// The mapping of `file`'s grey values: `header`'s window, else `range()` when the samples
/// have more than 8 bits, else the stored bits' whole range.
fn mapping(
    file: &DicomImage,
    header: &InstanceHeader,
    range: &mut dyn FnMut() -> Result<Option<(i64, i64)>, String>,
) -> Result<GreyMapping, String> {
    let window = match (header.window_center.first(), header.window_width.first()) {
        (Some(&center), Some(&width)) if width > 0.0 => Some(Window::linear(center, width)),
        _ => None,
    };
    let wide_grey = header.samples_per_pixel.unwrap_or(1) == 1 && file.bits_stored() > 8;
    let range = if wide_grey && window.is_none() {
        range()?
    } else {
        None
    };
    let top = f64::from((1u32 << file.bits_stored().min(16)) - 1);
    let voi = match (window, range) {
        (Some(window), _) => window,
        (None, Some((lo, hi))) => Window::min_max(lo as f64, hi as f64),
        (None, None) => Window::min_max(0.0, top),
    };
    Ok(GreyMapping {
        modality: ModalityLut::IDENTITY,
        voi: Voi::Window(voi),
        invert: file.is_monochrome1(),
    })
}

/// The lowest and highest grey value of frame `frame` (`None` for colour).
fn grey_range(file: &DicomImage, frame: u32) -> Result<Option<(i64, i64)>, String> {
    let decoded = file.frame(frame).map_err(|e| e.to_string())?;
    Ok(match &decoded.samples {
        Samples::Grey(values) => values.min_max(),
        Samples::Rgb(_) => None,
    })
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
