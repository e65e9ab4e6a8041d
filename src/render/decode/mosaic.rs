//! Siemens mosaics: tile k of the file's single stored frame is given as frame k, so that a
//! mosaic renders as the slices the scan lists (see [`crate::scan::mosaic`]).

use std::sync::OnceLock;

use super::{DecodeError, DicomImage, Frame};
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
        stored
            .cropped(
                x,
                y,
                u32::from(layout.tile_columns),
                u32::from(layout.tile_rows),
            )
            .ok_or_else(|| DecodeError(format!("mosaic tile {tile} lies outside the stored frame")))
    }
}
