//! Siemens mosaics: one single-frame file holding every slice of a time point, tiled row by
//! row in a square grid. The scan presents such a file as a multi-frame instance whose
//! frames are its tiles, each with its own position, so that ordering, splitting, rendering
//! and the index see tiles as slices. Pure code.
//!
//! The geometry is dcm2niix's (and nibabel's): the file's ImagePositionPatient is the corner
//! of the whole grid, not of a tile. Tile 0 lies half the grid's extra width and height further
//! along the row and column directions; tile k lies k slice spacings from tile 0 along the
//! slice normal (row × column direction), or against it when the CSA SliceNormalVector
//! points the other way.

use super::vector::{cross, dot, unit};
use serde::{Deserialize, Serialize};

use super::csa::CsaHeader;

/// How a mosaic file holds its slices: `tiles` images of `tile_rows` x `tile_columns` in a
/// `grid` x `grid` square, row by row, in one stored frame of `rows` x `columns`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mosaic {
    /// Slices in the file (CSA NumberOfImagesInMosaic, else (0019,xx0A)).
    pub tiles: u32,
    /// Tiles per row and per column of the grid: ceil(sqrt(tiles)).
    pub grid: u32,
    /// Rows of the stored frame (the whole grid).
    pub rows: u16,
    /// Columns of the stored frame (the whole grid).
    pub columns: u16,
    pub tile_rows: u16,
    pub tile_columns: u16,
    /// CSA SliceNormalVector: its sign says in which direction the tiles are stacked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice_normal: Option<[f64; 3]>,
    /// CSA ProtocolSliceNumber > 1: the scanner numbered the slices in reverse (dcm2niix then
    /// stores the tiles in reverse order in NIfTI).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reversed: bool,
}

/// The elements of the CSA image header [`Mosaic::from_source`] reads.
pub const CSA_ELEMENTS: &[&str] = &[
    "NumberOfImagesInMosaic",
    "SliceNormalVector",
    "ProtocolSliceNumber",
];

/// What a file says about its mosaic, as read from its header.
#[derive(Debug, Clone, Default)]
pub struct MosaicSource {
    /// Rows and Columns of the stored frame.
    pub rows: Option<u16>,
    pub columns: Option<u16>,
    /// The parsed CSA image header, if any.
    pub csa: Option<CsaHeader>,
    /// Siemens (0019,xx0A) NumberOfImagesInMosaic.
    pub private_tiles: Option<u16>,
}

impl Mosaic {
    /// The mosaic layout, when the tile count is known and the grid divides the frame evenly.
    pub fn from_source(source: &MosaicSource) -> Option<Mosaic> {
        let tiles = source
            .csa
            .as_ref()
            .and_then(CsaHeader::number_of_images_in_mosaic)
            .or_else(|| source.private_tiles.map(u32::from).filter(|&t| t > 0))?;
        let grid = grid_of(tiles)?;
        let (rows, columns) = (source.rows?, source.columns?);
        let g = u16::try_from(grid).ok()?;
        if rows % g != 0 || columns % g != 0 || rows == 0 || columns == 0 {
            return None;
        }
        let csa = source.csa.as_ref();
        Some(Mosaic {
            tiles,
            grid,
            rows,
            columns,
            tile_rows: rows / g,
            tile_columns: columns / g,
            slice_normal: csa.and_then(CsaHeader::slice_normal_vector),
            reversed: csa
                .and_then(|c| c.number("ProtocolSliceNumber"))
                .is_some_and(|n| n > 1.0),
        })
    }

    /// Whether the fields agree: the grid is the tile count's, and its tiles fill the frame
    /// (a record read back from an index or a plan is checked before pixels are cut).
    pub fn is_consistent(&self) -> bool {
        grid_of(self.tiles) == Some(self.grid)
            && u32::from(self.tile_rows) * self.grid == u32::from(self.rows)
            && u32::from(self.tile_columns) * self.grid == u32::from(self.columns)
            && self.tile_rows > 0
            && self.tile_columns > 0
    }

    /// Column and row of the first pixel of tile `tile` in the stored frame.
    pub fn tile_origin(&self, tile: u32) -> (u32, u32) {
        (
            (tile % self.grid) * u32::from(self.tile_columns),
            (tile / self.grid) * u32::from(self.tile_rows),
        )
    }

    /// The position (ImagePositionPatient of its first pixel) of every tile, given the file's
    /// `position` (the grid's), `orientation`, `pixel_spacing` (row spacing, column spacing)
    /// and the slice spacing `dz` (SpacingBetweenSlices when > 0, else SliceThickness).
    pub fn tile_positions(
        &self,
        position: [f64; 3],
        orientation: [f64; 6],
        pixel_spacing: [f64; 2],
        dz: f64,
    ) -> Vec<[f64; 3]> {
        let row = [orientation[0], orientation[1], orientation[2]];
        let column = [orientation[3], orientation[4], orientation[5]];
        let x = row.map(|v| v * pixel_spacing[1]);
        let y = column.map(|v| v * pixel_spacing[0]);
        let fx = f64::from(self.columns - self.tile_columns) / 2.0;
        let fy = f64::from(self.rows - self.tile_rows) / 2.0;
        let first = [0, 1, 2].map(|k| position[k] + x[k] * fx + y[k] * fy);
        let normal = unit(cross(row, column));
        let along = match self.slice_normal {
            Some(n) if dot(n, normal) < 0.0 => -1.0,
            _ => 1.0,
        };
        let step = normal.map(|v| v * (dz * along));
        (0..self.tiles)
            .map(|t| [0, 1, 2].map(|k| first[k] + step[k] * f64::from(t)))
            .collect()
    }
}

/// The smallest g with g² ≥ tiles (ceil of the square root, in integers).
fn grid_of(tiles: u32) -> Option<u32> {
    if tiles == 0 {
        return None;
    }
    let mut g = f64::from(tiles).sqrt() as u32;
    while u64::from(g) * u64::from(g) < u64::from(tiles) {
        g += 1;
    }
    while g > 1 && u64::from(g - 1) * u64::from(g - 1) >= u64::from(tiles) {
        g -= 1;
    }
    Some(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mosaic(tiles: u32, normal: Option<[f64; 3]>) -> Mosaic {
        let source = MosaicSource {
            rows: Some(384),
            columns: Some(384),
            csa: None,
            private_tiles: Some(tiles as u16),
        };
        Mosaic {
            slice_normal: normal,
            ..Mosaic::from_source(&source).unwrap()
        }
    }

    #[test]
    fn grid_is_the_ceiling_of_the_square_root() {
        let grids: Vec<Option<u32>> = [0, 1, 2, 4, 5, 9, 10, 36, 37, 64, 65]
            .into_iter()
            .map(grid_of)
            .collect();
        let want = [0, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9].map(|g| (g > 0).then_some(g));
        assert_eq!(grids, want);
        assert_eq!(grid_of(u32::MAX), Some(65536));
    }

    #[test]
    fn layout_needs_a_grid_that_divides_the_frame() {
        let m = mosaic(36, None);
        assert_eq!((m.grid, m.tile_rows, m.tile_columns), (6, 64, 64));
        assert_eq!(m.tile_origin(0), (0, 0));
        assert_eq!(m.tile_origin(7), (64, 64));
        assert_eq!(m.tile_origin(35), (320, 320));
        let source = |tiles: u16| MosaicSource {
            rows: Some(384),
            columns: Some(384),
            csa: None,
            private_tiles: Some(tiles),
        };
        // 384 is not a multiple of 7 (37..49 tiles) nor of 5; 0 tiles is no mosaic.
        assert_eq!(Mosaic::from_source(&source(40)), None);
        assert_eq!(Mosaic::from_source(&source(25)), None);
        assert_eq!(Mosaic::from_source(&source(0)), None);
        let no_size = MosaicSource {
            rows: None,
            ..source(36)
        };
        assert_eq!(Mosaic::from_source(&no_size), None);
    }

    #[test]
    fn tiles_start_at_the_grid_centre_offset_and_step_along_the_normal() {
        // Axial, 3 mm pixels... 2 mm row spacing, 3 mm column spacing: 6x6 grid of 64x64.
        let orientation = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let spacing = [2.0, 3.0];
        let m = mosaic(36, Some([0.0, 0.0, 1.0]));
        let positions = m.tile_positions([-100.0, -50.0, 10.0], orientation, spacing, 4.0);
        assert_eq!(positions.len(), 36);
        // (384 - 64) / 2 = 160 pixels: 160 * 3 mm along the row, 160 * 2 mm down the column.
        assert_eq!(positions[0], [380.0, 270.0, 10.0]);
        assert_eq!(positions[1], [380.0, 270.0, 14.0]);
        assert_eq!(positions[35], [380.0, 270.0, 10.0 + 35.0 * 4.0]);

        // A CSA normal against row x column stacks the tiles the other way.
        let m = mosaic(36, Some([0.0, 0.0, -1.0]));
        let positions = m.tile_positions([-100.0, -50.0, 10.0], orientation, spacing, 4.0);
        assert_eq!(positions[2], [380.0, 270.0, 2.0]);
    }

    #[test]
    fn oblique_tiles_follow_the_row_and_column_directions() {
        // Coronal: rows along +x, columns along -z; normal = x × -z = +y.
        let orientation = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0];
        let m = mosaic(4, None); // 2x2 grid of 192x192
        let positions = m.tile_positions([0.0, 0.0, 0.0], orientation, [1.0, 1.0], 2.5);
        assert_eq!(positions[0], [96.0, 0.0, -96.0]);
        assert_eq!(positions[3], [96.0, 7.5, -96.0]);
    }
}
