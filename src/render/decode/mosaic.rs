//! Siemens mosaics: tile k of the file's single stored frame is given as frame k, so that a
//! mosaic renders as the slices the scan lists (see [`crate::scan::mosaic`]).

use std::sync::OnceLock;

use super::{DecodeError, DicomImage, Frame, Samples};
use crate::scan::Mosaic;

/// A mosaic's layout and its stored frame, decoded on the first tile asked for and kept while
/// the image lives (one frame: the memory any tile needs anyway).
pub(super) struct Tiles {
    layout: Mosaic,
    stored: OnceLock<Result<Frame, DecodeError>>,
}

impl Tiles {
    pub(super) fn count(&self) -> u32 {
        self.layout.tiles
    }
}

impl DicomImage {
    /// Presents a Siemens mosaic file as `mosaic.tiles` frames of one tile each. Fails when
    /// the file is not the single frame of `mosaic.rows` x `mosaic.columns` the layout cuts.
    pub fn with_mosaic(mut self, mosaic: &Mosaic) -> Result<Self, DecodeError> {
        let fits = self.frames == 1
            && self.rows == u32::from(mosaic.rows)
            && self.columns == u32::from(mosaic.columns)
            && mosaic.is_consistent();
        if !fits {
            return Err(DecodeError(format!(
                "the header scan read a {}x{} mosaic of {} tiles, but the file holds {} frame(s) of {}x{}",
                mosaic.columns, mosaic.rows, mosaic.tiles, self.frames, self.columns, self.rows
            )));
        }
        self.tiles = Some(Tiles {
            layout: *mosaic,
            stored: OnceLock::new(),
        });
        Ok(self)
    }

    /// Tile `tile` of a mosaic, cut from its stored frame.
    pub(super) fn tile(&self, tiles: &Tiles, tile: u32) -> Result<Frame, DecodeError> {
        let layout = &tiles.layout;
        if tile >= layout.tiles {
            return Err(DecodeError(format!(
                "frame {tile} out of range ({} mosaic tiles)",
                layout.tiles
            )));
        }
        let stored = tiles.stored.get_or_init(|| self.stored_frame(0));
        let stored = stored.as_ref().map_err(Clone::clone)?;
        let (x, y) = layout.tile_origin(tile);
        let origin = (x as usize, y as usize);
        let size = (
            usize::from(layout.tile_columns),
            usize::from(layout.tile_rows),
        );
        let width = stored.width as usize;
        let outside = || DecodeError(format!("mosaic tile {tile} lies outside the stored frame"));
        let samples = match &stored.samples {
            Samples::Grey(values) => {
                Samples::Grey(values.crop(width, origin, size).ok_or_else(outside)?)
            }
            Samples::Rgb(rgb) => {
                Samples::Rgb(crop_rgb(rgb, width, origin, size).ok_or_else(outside)?)
            }
        };
        Ok(Frame {
            width: u32::from(layout.tile_columns),
            height: u32::from(layout.tile_rows),
            samples,
        })
    }
}

/// The `width` x `height` rectangle at (`x`, `y`) of interleaved RGB `frame_width` pixels wide.
fn crop_rgb(
    rgb: &[u8],
    frame_width: usize,
    (x, y): (usize, usize),
    (width, height): (usize, usize),
) -> Option<Vec<u8>> {
    if x.checked_add(width)? > frame_width
        || y.checked_add(height)?
            .checked_mul(frame_width)?
            .checked_mul(3)?
            > rgb.len()
    {
        return None;
    }
    let mut out = Vec::with_capacity(width * height * 3);
    for row in y..y + height {
        let start = (row * frame_width + x) * 3;
        out.extend_from_slice(&rgb[start..start + width * 3]);
    }
    Some(out)
}
