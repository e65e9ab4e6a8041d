//! A stack as an array, for Python and machine-learning code rather than files: indexed
//! (volume, slice, row, column) in the stack's slice order, rows top-down as DICOM stores them
//! (as pydicom's `pixel_array` and SimpleITK give them), values rescaled into float32 or kept
//! as stored, with the affine of those indices. Pure code: [`super::build::place_all`] fills it.

use super::affine::{Affine, SliceGeometry, dot};
use super::build::Layout;
use super::header::DataType;
use super::voxels::Storage;

/// Which values the array holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Modality values: stored × RescaleSlope + RescaleIntercept, as float32.
    Rescaled,
    /// Stored values in the type of the NIfTI writer, with its slope and intercept (float32
    /// rescaled values where the rescale varies between slices, as the writer does).
    Stored,
}

/// The shape, type and geometry of a stack's array.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayLayout {
    /// (volumes, slices, rows, columns), and 3 samples last for colour.
    pub shape: Vec<usize>,
    pub storage: Storage,
    /// RAS+ millimetres of voxel (column, row, slice): the NIfTI writer's convention, for
    /// rows top-down and slices in the stack's order.
    pub affine: Affine,
    /// Between slices, rows and columns (mm).
    pub spacing: [f64; 3],
}

impl ArrayLayout {
    /// Bytes of the whole array.
    pub fn bytes(&self) -> usize {
        self.shape[0] * self.shape[1] * self.slice_bytes()
    }

    /// Bytes of one slice.
    pub fn slice_bytes(&self) -> usize {
        self.shape[2] * self.shape[3] * self.storage.datatype.bytes()
    }
}

/// The array of a stack laid out as `layout`, holding `values`.
pub fn array_layout(layout: &Layout, values: Values) -> ArrayLayout {
    let storage = match values {
        Values::Stored => layout.storage,
        Values::Rescaled if layout.storage.datatype == DataType::Rgb24 => layout.storage,
        Values::Rescaled => Storage {
            datatype: DataType::Float32,
            slope: 1.0,
            intercept: 0.0,
            scaled: true,
        },
    };
    let mut shape = vec![layout.volumes, layout.depth, layout.height, layout.width];
    if storage.datatype == DataType::Rgb24 {
        shape.push(3);
    }
    ArrayLayout {
        shape,
        storage,
        affine: Affine::from_dicom(&layout.geometry),
        spacing: spacing(&layout.geometry),
    }
}

fn spacing(g: &SliceGeometry) -> [f64; 3] {
    [
        dot(g.slice_step, g.slice_step).sqrt(),
        g.pixel_spacing[0],
        g.pixel_spacing[1],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(datatype: DataType) -> Layout {
        Layout {
            width: 4,
            height: 3,
            depth: 2,
            volumes: 1,
            geometry: SliceGeometry {
                orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                pixel_spacing: [0.5, 0.25],
                first_position: [10.0, 20.0, 30.0],
                slice_step: [0.0, 0.0, 2.0],
                rows: 3,
            },
            storage: Storage {
                datatype,
                slope: 2.0,
                intercept: -1024.0,
                scaled: false,
            },
            notes: Vec::new(),
        }
    }

    #[test]
    fn rescaled_arrays_are_float32_and_stored_ones_keep_the_writers_scaling() {
        let rescaled = array_layout(&layout(DataType::Int16), Values::Rescaled);
        assert_eq!(rescaled.shape, [1, 2, 3, 4]);
        assert_eq!(rescaled.storage.datatype, DataType::Float32);
        assert_eq!(
            (rescaled.storage.slope, rescaled.storage.intercept),
            (1.0, 0.0)
        );
        assert_eq!(rescaled.bytes(), 2 * 3 * 4 * 4);
        let stored = array_layout(&layout(DataType::Int16), Values::Stored);
        assert_eq!(stored.storage.datatype, DataType::Int16);
        assert_eq!(
            (stored.storage.slope, stored.storage.intercept),
            (2.0, -1024.0)
        );
        assert_eq!(stored.slice_bytes(), 3 * 4 * 2);
    }

    #[test]
    fn the_affine_maps_column_row_slice_to_ras_and_spacing_is_slice_row_column() {
        let array = array_layout(&layout(DataType::Uint16), Values::Rescaled);
        // Column 1, row 2, slice 1: LPS (10.25, 21, 32) is RAS (-10.25, -21, 32).
        assert_eq!(array.affine.apply([1.0, 2.0, 1.0]), [-10.25, -21.0, 32.0]);
        assert_eq!(array.spacing, [2.0, 0.5, 0.25]);
    }

    #[test]
    fn colour_arrays_keep_their_samples_last() {
        let array = array_layout(&layout(DataType::Rgb24), Values::Rescaled);
        assert_eq!(array.shape, [1, 2, 3, 4, 3]);
        assert_eq!(array.bytes(), 2 * 3 * 4 * 3);
        assert_eq!(array.slice_bytes(), 3 * 4 * 3);
    }
}
