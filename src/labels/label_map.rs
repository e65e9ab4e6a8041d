//! Labels on a NIfTI volume's grid: each voxel takes the segment number of the label whose
//! frame holds it. The grid is the volume's own (dims and sform), so the map lines up with it
//! voxel for voxel whatever order and orientation the volume was written in:
//!
//! - the slice axis is the grid axis along the frames' normal; a frame's index along it is the
//!   rank of its position among the item's distinct frame positions (as the volume stacks its
//!   slices, so unevenly spaced slices still land on the voxels that show them);
//! - within the slice, each voxel takes the frame pixel at its centre (the affine's in-plane
//!   axes projected onto the frame's plane).
//!
//! Pure code.

use super::layers::Layer;
use super::mask::Mask;
use super::placing::Shape;
use super::plane::Plane;
use super::raster::fill;
use crate::scan::vector::{dot, unit};

/// A NIfTI volume's grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// Voxels along i, j, k.
    pub dims: [usize; 3],
    /// Voxel (i, j, k) to RAS+ millimetres.
    pub affine: [[f64; 4]; 3],
}

impl Grid {
    /// The centre of voxel (i, j, k) in patient (LPS) millimetres.
    fn lps(&self, [i, j, k]: [f64; 3]) -> [f64; 3] {
        let ras = self.affine.map(|r| r[0] * i + r[1] * j + r[2] * k + r[3]);
        [-ras[0], -ras[1], ras[2]]
    }
}

/// A label volume: voxel values in NIfTI order (i fastest).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelVolume {
    pub values: Vec<u16>,
    /// Voxels two labels claimed (then the values hold the later one).
    pub overlaps: u64,
    /// Labelled frames that lie on no voxel slice of the grid.
    pub off_grid: usize,
}

/// The planes of the item's frames, by frame index (`None` without complete geometry).
pub type FramePlanes<'a> = &'a [Option<Plane>];

/// Distinct positions closer than this (mm) are one slice position (time points, echoes).
const SAME_POSITION: f64 = 0.01;

/// `layers` on `grid`, each as `value(layer)` (its segment number, or 1 for a binary map).
pub fn label_volume(
    grid: &Grid,
    layers: &[&Layer],
    value: &dyn Fn(&Layer) -> u16,
    planes: FramePlanes<'_>,
) -> LabelVolume {
    let [nx, ny, nz] = grid.dims;
    let mut volume = LabelVolume {
        values: vec![0; nx * ny * nz],
        overlaps: 0,
        off_grid: 0,
    };
    let slices = SliceAxis::of(grid, planes);
    for layer in layers {
        let v = value(layer);
        for (&frame, shapes) in &layer.frames {
            let (Some(Some(plane)), Some(slices)) = (planes.get(frame), &slices) else {
                volume.off_grid += 1;
                continue;
            };
            let Some(index) = slices.index(plane) else {
                volume.off_grid += 1;
                continue;
            };
            let Some(mask) = area(shapes, plane) else {
                continue;
            };
            let pixels = mask.pixels();
            let (b, c) = slices.others();
            for vc in 0..grid.dims[c] {
                for vb in 0..grid.dims[b] {
                    let mut ijk = [0usize; 3];
                    ijk[slices.axis] = index;
                    ijk[b] = vb;
                    ijk[c] = vc;
                    let ([x, y], _) = plane.to_pixel(grid.lps(ijk.map(|n| n as f64)));
                    let (x, y) = (x.round(), y.round());
                    if x < 0.0
                        || y < 0.0
                        || x >= f64::from(mask.width)
                        || y >= f64::from(mask.height)
                    {
                        continue;
                    }
                    if pixels[y as usize * mask.width as usize + x as usize] {
                        let at = ijk[0] + nx * (ijk[1] + ny * ijk[2]);
                        if volume.values[at] != 0 && volume.values[at] != v {
                            volume.overlaps += 1;
                        }
                        volume.values[at] = v;
                    }
                }
            }
        }
    }
    volume
}

/// The grid axis the frames are stacked along, and the frame positions along it.
struct SliceAxis {
    axis: usize,
    /// The axis' direction (LPS, unit).
    direction: [f64; 3],
    /// Distinct frame positions along `direction`, ascending: index = voxel index.
    positions: Vec<f64>,
}

impl SliceAxis {
    /// The axis most parallel to the frames' normal, when the item's distinct positions are as
    /// many as the grid's voxels along it.
    fn of(grid: &Grid, planes: FramePlanes<'_>) -> Option<SliceAxis> {
        let first = planes.iter().flatten().next()?;
        let column = |a: usize| {
            let c = grid.affine.map(|r| r[a]);
            unit([-c[0], -c[1], c[2]])
        };
        let axis = (0..3).max_by(|&a, &b| {
            dot(column(a), first.normal)
                .abs()
                .total_cmp(&dot(column(b), first.normal).abs())
        })?;
        let direction = column(axis);
        let mut positions: Vec<f64> = planes
            .iter()
            .flatten()
            .map(|p| dot(p.origin, direction))
            .collect();
        positions.sort_by(f64::total_cmp);
        positions.dedup_by(|a, b| (*a - *b).abs() < SAME_POSITION);
        (positions.len() == grid.dims[axis]).then_some(SliceAxis {
            axis,
            direction,
            positions,
        })
    }

    /// The voxel index along the axis of the frame on `plane`.
    fn index(&self, plane: &Plane) -> Option<usize> {
        let at = dot(plane.origin, self.direction);
        self.positions
            .iter()
            .position(|p| (p - at).abs() < SAME_POSITION)
    }

    /// The two in-plane axes.
    fn others(&self) -> (usize, usize) {
        match self.axis {
            0 => (1, 2),
            1 => (0, 2),
            _ => (0, 1),
        }
    }
}

/// The pixels a frame's shapes cover: masks and filled contours (lines and points cover none).
fn area(shapes: &[Shape], plane: &Plane) -> Option<Mask> {
    let mut covered: Option<Mask> = None;
    for shape in shapes {
        let mask = match shape {
            Shape::Mask(mask) => mask.clone(),
            Shape::Polygons(rings) => fill(plane.width, plane.height, rings),
            Shape::Line(_) | Shape::Points(_) => continue,
        };
        covered = Some(match covered {
            Some(earlier) => earlier.union(&mask),
            None => mask,
        });
    }
    covered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{InstanceHeader, LabelClass};
    use std::collections::BTreeMap;

    #[test]
    fn a_frame_lands_on_its_slice_rows_flipped_as_the_affine_says() {
        // Two axial 4 x 3 frames 2 mm apart; the grid stores rows bottom-up (dcm2niix's flip):
        // RAS affine with j running -y (anterior → posterior is +y in LPS).
        let header = |z: f64| InstanceHeader {
            image_position_patient: Some([0.0, 0.0, z]),
            image_orientation_patient: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            pixel_spacing: Some([1.0, 1.0]),
            rows: Some(3),
            columns: Some(4),
            ..Default::default()
        };
        let planes = [
            Plane::of(&header(0.0), 0).unwrap(),
            Plane::of(&header(2.0), 0).unwrap(),
        ];
        // i → LPS x = i (RAS x = -i); j → LPS y = 2 - j (RAS y = j - 2); k → z = 2k.
        let grid = Grid {
            dims: [4, 3, 2],
            affine: [
                [-1.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 0.0, -2.0],
                [0.0, 0.0, 2.0, 0.0],
            ],
        };
        // Pixel (x 1, y 0) of the second frame.
        let mask = Mask::from_pixels(4, 3, (0..12).map(|p| p == 1));
        let layer = Layer {
            object: 0,
            class: LabelClass::Segmentation,
            number: 5,
            name: "A".into(),
            color: [0, 0, 0],
            frames: BTreeMap::from([(1, vec![Shape::Mask(mask)])]),
        };
        let volume = label_volume(&grid, &[&layer], &|l| l.number, &planes.map(Some));
        // Voxel (i 1, j 2, k 1).
        let (i, j, k) = (1, 2, 1);
        let at = i + 4 * (j + 3 * k);
        assert_eq!(volume.values[at], 5);
        assert_eq!(volume.values.iter().filter(|&&v| v != 0).count(), 1);
        assert_eq!((volume.overlaps, volume.off_grid), (0, 0));
    }
}
