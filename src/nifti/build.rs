//! One NIfTI volume from the decoded slices of a [`Stack`]: dimensions, storage, geometry
//! and voxels, with dcm2niix's conventions. Pure code: the caller hands in a decoder.

use rayon::prelude::*;

use super::acquisition::Acquisition;
use super::affine::{Affine, SliceGeometry, cross, dot, scale, unit};
use super::header::{Header, VOX_OFFSET};
use super::stack::Stack;
use super::voxels::{Cut, PixelFormat, Rows, Storage, choose_storage, place_slice, reorient};
use crate::order::SliceRef;
use crate::render::decode::Frame;
use crate::scan::InstanceHeader;

/// Orientation cosines closer than this are the same plane.
const ORIENTATION_TOLERANCE: f64 = 1e-3;
/// Slice spacings closer than this fraction of the spacing are even (dcm2niix's `_Eq` check).
const SPACING_TOLERANCE: f64 = 0.1;

/// A NIfTI volume ready to be written, with what the report says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub header: Header,
    /// [`VOX_OFFSET`] bytes of room for the header, then the voxels: the file is written
    /// from this buffer without copying the volume again.
    pub data: Vec<u8>,
    /// Notes for the report (uneven spacing, gantry tilt), in words.
    pub notes: Vec<String>,
    /// Whether the stored slices run against the row × column normal (for bvecs).
    pub slices_reversed: bool,
}

/// A stack's voxel grid and storage, before any pixel is decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Voxels along a row, rows, slices per volume, volumes.
    pub width: usize,
    pub height: usize,
    pub depth: usize,
    pub volumes: usize,
    /// Where the slices are, in their stored order (rows as in DICOM).
    pub geometry: SliceGeometry,
    /// How the NIfTI file stores the voxels.
    pub storage: Storage,
    /// Notes for the report (uneven spacing, gantry tilt), in words.
    pub notes: Vec<String>,
}

/// The rescale (slope, intercept) of a slice: its frame's, else its file's, else (1, 0).
pub fn rescale_of(instances: &[InstanceHeader], s: SliceRef) -> (f64, f64) {
    let h = &instances[s.instance];
    let frame = h.frames.get(s.frame as usize);
    (
        frame
            .and_then(|f| f.rescale_slope)
            .or(h.rescale_slope)
            .unwrap_or(1.0),
        frame
            .and_then(|f| f.rescale_intercept)
            .or(h.rescale_intercept)
            .unwrap_or(0.0),
    )
}

/// Lays out the volume of `stack`: its size, geometry and storage, from the headers.
pub fn layout(
    stack: &Stack,
    instances: &[InstanceHeader],
    acquisition: &Acquisition,
) -> Result<Layout, String> {
    let first_ref = *stack
        .time_points
        .first()
        .and_then(|t| t.first())
        .ok_or("no slices")?;
    let first = &instances[first_ref.instance];
    let all: Vec<SliceRef> = stack.time_points.iter().flatten().copied().collect();
    check_consistent(&all, instances)?;
    let (columns, rows) = (
        usize::from(first.columns.ok_or("no Columns")?),
        usize::from(first.rows.ok_or("no Rows")?),
    );
    let orientation = first
        .frame_orientation(first_ref.frame)
        .ok_or("no ImageOrientationPatient")?;
    let pixel_spacing = first.pixel_spacing.unwrap_or([1.0, 1.0]);
    let normal = unit(cross(
        [orientation[0], orientation[1], orientation[2]],
        [orientation[3], orientation[4], orientation[5]],
    ));
    let format = PixelFormat {
        bits_allocated: first.bits_allocated.unwrap_or(16),
        signed: first.pixel_representation == Some(1),
        samples_per_pixel: first.samples_per_pixel.unwrap_or(1),
    };
    let rescales: Vec<(f64, f64)> = all.iter().map(|&s| rescale_of(instances, s)).collect();
    let mut storage = choose_storage(&format, &rescales)?;
    if let Some(ss) = acquisition.philips_scale.filter(|_| !storage.scaled) {
        (storage.slope, storage.intercept) = philips_precise(storage.slope, storage.intercept, ss);
    }
    let mut notes = Vec::new();

    let (width, height, depth, geometry) = if stack.mosaic {
        let tiles = acquisition
            .mosaic_tiles
            .filter(|&t| t > 0)
            .ok_or("a mosaic without NumberOfImagesInMosaic")?;
        // The scan gives a mosaic's tile size as its Rows/Columns, the grid's in `mosaic`.
        let (tw, th) = (columns, rows);
        let mosaic = first.mosaic.ok_or("a mosaic without its layout")?;
        let (columns, rows) = (usize::from(mosaic.columns), usize::from(mosaic.rows));
        let position = first
            .image_position_patient
            .ok_or("no ImagePositionPatient")?;
        let x = scale(
            [orientation[0], orientation[1], orientation[2]],
            pixel_spacing[1],
        );
        let y = scale(
            [orientation[3], orientation[4], orientation[5]],
            pixel_spacing[0],
        );
        let (fx, fy) = ((columns - tw) as f64 / 2.0, (rows - th) as f64 / 2.0);
        let first_position = [0, 1, 2].map(|k| position[k] + x[k] * fx + y[k] * fy);
        let dz = acquisition
            .spacing_between_slices
            .or(first.slice_thickness)
            .unwrap_or(1.0);
        let along = match acquisition.mosaic_normal {
            Some(n) if dot(n, normal) < 0.0 => -1.0,
            _ => 1.0,
        };
        let mut step = scale(normal, dz * along);
        let mut first_position = first_position;
        if acquisition.mosaic_reversed {
            first_position = [0, 1, 2].map(|k| first_position[k] + step[k] * (tiles - 1) as f64);
            step = scale(step, -1.0);
        }
        let geometry = SliceGeometry {
            orientation,
            pixel_spacing,
            first_position,
            slice_step: step,
            rows: th,
        };
        (tw, th, tiles as usize, geometry)
    } else {
        let depth = stack.time_points[0].len();
        let positions: Vec<[f64; 3]> = stack.time_points[0]
            .iter()
            .map(|s| instances[s.instance].frame_position(s.frame))
            .collect::<Option<_>>()
            .ok_or("a slice without ImagePositionPatient")?;
        let step = if depth > 1 {
            let d = [0, 1, 2].map(|k| positions[1][k] - positions[0][k]);
            let length = dot(d, d).sqrt();
            if length == 0.0 {
                return Err("two slices at the same position in one volume".into());
            }
            let projections: Vec<f64> = positions.iter().map(|p| dot(*p, normal)).collect();
            let gaps: Vec<f64> = projections.windows(2).map(|w| w[1] - w[0]).collect();
            let first_gap = gaps[0];
            if gaps
                .iter()
                .any(|g| (g - first_gap).abs() > SPACING_TOLERANCE * first_gap.abs())
            {
                notes.push(format!(
                    "uneven slice spacing ({:.3} to {:.3} mm; dcm2niix also writes an _Eq file)",
                    gaps.iter().copied().fold(f64::INFINITY, f64::min),
                    gaps.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                ));
            }
            let along = dot(unit(d), normal);
            if along.abs() < 1.0 - 1e-4 {
                notes.push(format!(
                    "gantry tilt {:.2}° (dcm2niix also writes a _Tilt file)",
                    along.abs().acos().to_degrees()
                ));
            }
            // Across a gantry tilt, dcm2niix takes the spacing along the table times the
            // tilt's cosine: GantryDetectorTilt's, else the angle between the step and the
            // normal (the step's projection onto the normal).
            let spacing = match acquisition.gantry_tilt {
                Some(tilt) => length * tilt.to_radians().cos(),
                None => dot(d, normal).abs(),
            };
            // The writer's slices run along the normal; an array's may run against it.
            let along_normal = if dot(d, normal) < 0.0 { -1.0 } else { 1.0 };
            scale(normal, spacing * along_normal)
        } else {
            scale(
                normal,
                acquisition
                    .spacing_between_slices
                    .or(first.slice_thickness)
                    .unwrap_or(1.0),
            )
        };
        let geometry = SliceGeometry {
            orientation,
            pixel_spacing,
            first_position: positions[0],
            slice_step: step,
            rows,
        };
        (columns, rows, depth, geometry)
    };
    Ok(Layout {
        width,
        height,
        depth,
        volumes: stack.time_points.len(),
        geometry,
        storage,
        notes,
    })
}

/// Builds the volume of `stack`; `decode` gives the decoded frame of a slice.
pub fn build(
    stack: &Stack,
    instances: &[InstanceHeader],
    acquisition: &Acquisition,
    decode: &(dyn Fn(SliceRef) -> Result<Frame, String> + Sync),
) -> Result<Built, String> {
    let Layout {
        width,
        height,
        depth,
        volumes,
        geometry,
        storage,
        notes,
    } = layout(stack, instances, acquisition)?;
    let pixel_spacing = geometry.pixel_spacing;
    let normal = unit(cross(
        [
            geometry.orientation[0],
            geometry.orientation[1],
            geometry.orientation[2],
        ],
        [
            geometry.orientation[3],
            geometry.orientation[4],
            geometry.orientation[5],
        ],
    ));
    let slice_bytes = width * height * storage.datatype.bytes();
    let mut data = vec![0u8; VOX_OFFSET + slice_bytes * depth * volumes];
    place_all(
        &mut data[VOX_OFFSET..],
        stack,
        slice_bytes,
        &storage,
        &|s| rescale_of(instances, s),
        decode,
        acquisition,
        Rows::BottomUp,
    )?;

    let mut affine = Affine::from_dicom_flipped(&geometry);
    let mut pixdim = [
        pixel_spacing[1],
        pixel_spacing[0],
        dot(geometry.slice_step, geometry.slice_step).sqrt(),
        0.0,
    ];
    let mut dims = [width, height, depth, volumes];
    if acquisition.reorient_3d && volumes == 1 && depth > 1 && notes.is_empty() {
        let turn = affine.closest_canonical([width, height, depth]);
        if !turn.is_identity() {
            data = reorient(
                &data,
                VOX_OFFSET,
                [width, height, depth],
                storage.datatype.bytes(),
                turn.source,
                turn.flipped,
            );
            let (d, p) = (dims, pixdim);
            for j in 0..3 {
                dims[j] = d[turn.source[j]];
                pixdim[j] = p[turn.source[j]];
            }
            affine = turn.affine;
        }
    }
    if volumes > 1 {
        pixdim[3] = acquisition.repetition_time.unwrap_or(0.0);
    }
    let header = Header {
        dims,
        datatype: storage.datatype,
        pixdim,
        scl_slope: storage.slope,
        scl_inter: storage.intercept,
        affine,
        scanner_anat: true,
        dim_info: 0,
        slice_code: 0,
        descrip: String::new(),
    };
    Ok(Built {
        header,
        data,
        notes,
        slices_reversed: dot(geometry.slice_step, normal) < 0.0,
    })
}

/// Philips' floating-point scaling of stored values (dcm2niix's default): the value of a
/// stored p is (p·RS + RI) / (RS·SS), as slope and intercept (computed in 32-bit floats, as
/// dcm2niix does, so the header holds the same numbers).
fn philips_precise(slope: f64, intercept: f64, scale_slope: f64) -> (f64, f64) {
    let (rs, ri, ss) = (slope as f32, intercept as f32, scale_slope as f32);
    if rs * ss == 0.0 {
        return (slope, intercept);
    }
    let at = |p: f32| (p * rs + ri) / (rs * ss);
    let (l0, l1) = (at(0.0), at(1.0));
    if l0 == l1 {
        return (slope, intercept);
    }
    (f64::from(l1 - l0), f64::from(l0))
}

/// Every slice the same size, orientation and pixel format.
fn check_consistent(slices: &[SliceRef], instances: &[InstanceHeader]) -> Result<(), String> {
    let first = &instances[slices[0].instance];
    let orientation = first.frame_orientation(slices[0].frame);
    for s in slices {
        let h = &instances[s.instance];
        if h.size() != first.size() {
            return Err(format!(
                "mixed image sizes ({} has {:?}, {} has {:?})",
                first.path,
                first.size(),
                h.path,
                h.size()
            ));
        }
        let o = h.frame_orientation(s.frame);
        let same = match (o, orientation) {
            (Some(a), Some(b)) => a
                .iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= ORIENTATION_TOLERANCE),
            (None, None) => true,
            _ => false,
        };
        if !same {
            return Err(format!(
                "mixed orientations ({} and {})",
                first.path, h.path
            ));
        }
        if (
            h.bits_allocated,
            h.pixel_representation,
            h.samples_per_pixel,
        ) != (
            first.bits_allocated,
            first.pixel_representation,
            first.samples_per_pixel,
        ) {
            return Err(format!(
                "mixed pixel formats ({} and {})",
                first.path, h.path
            ));
        }
    }
    Ok(())
}

/// Decodes every slice (in parallel) into its place in `voxels`, its rows in `rows` order.
#[allow(clippy::too_many_arguments)]
pub fn place_all(
    voxels: &mut [u8],
    stack: &Stack,
    slice_bytes: usize,
    storage: &Storage,
    rescale_of: &(dyn Fn(SliceRef) -> (f64, f64) + Sync),
    decode: &(dyn Fn(SliceRef) -> Result<Frame, String> + Sync),
    acquisition: &Acquisition,
    rows: Rows,
) -> Result<(), String> {
    if stack.mosaic {
        let tiles = acquisition.mosaic_tiles.unwrap_or(1);
        let volume_bytes = slice_bytes * tiles as usize;
        return voxels
            .par_chunks_mut(volume_bytes)
            .zip(&stack.time_points)
            .try_for_each(|(out, time_point)| {
                let file = time_point[0];
                let frame = decode(file)?;
                for (z, slice) in out.chunks_mut(slice_bytes).enumerate() {
                    let z = z as u32;
                    let tile = if acquisition.mosaic_reversed {
                        tiles - 1 - z
                    } else {
                        z
                    };
                    let cut = Cut::tile(&frame, tiles, tile)?;
                    place_slice(slice, &frame, cut, storage, rescale_of(file), rows)?;
                }
                Ok(())
            });
    }
    let slices: Vec<SliceRef> = stack.time_points.iter().flatten().copied().collect();
    voxels
        .par_chunks_mut(slice_bytes)
        .zip(slices)
        .try_for_each(|(out, slice)| {
            let frame = decode(slice)?;
            let cut = Cut::whole(&frame);
            place_slice(out, &frame, cut, storage, rescale_of(slice), rows)
        })
}
