//! Diffusion gradients: the b-value and direction of each volume from any vendor's tags, turned
//! into the .bval/.bvec text dcm2niix writes.
//!
//! Where the values are found, in the order tried:
//! 1. standard tags: DiffusionBValue (0018,9087) and DiffusionGradientOrientation (0018,9089),
//!    at the top level, in the MR Diffusion Sequence (0018,9117) and its Diffusion Gradient
//!    Direction Sequence (0018,9076), or in an enhanced object's functional groups;
//! 2. Siemens: the CSA image header's B_value / DiffusionGradientDirection, then the public
//!    (0019,100C) / (0019,100E);
//! 3. GE: (0043,1039) (first value, modulo 10⁹: GE adds a 10⁹ bias on some releases) and
//!    (0019,10BB/BC/BD), a direction in GE's own image frame;
//! 4. Philips: (2001,1003) and (2005,10B0/B1/B2) (RL, AP, FH: patient coordinates).
//!
//! The voxel frame. dcm2niix stores rows flipped (the first stored row is the last DICOM row),
//! columns as in DICOM, and slices along +(row × column) of ImageOrientationPatient for
//! ordinary images: when the sorted slices run the other way it reverses them
//! (`verify_slice_dir` then `nii_flipZ`). Siemens mosaics are the exception: their tiles are
//! stored in the order of the CSA SliceNormalVector, which can be −(row × column) (sagittal
//! acquisitions); dcm2niix then calls the slice direction a "negative determinant" and keeps it.
//! With r, c the IOP row and column directions and n = r × c, a patient-frame gradient g becomes
//! `normalize(g·r, −g·c, g·n)`: the y sign follows the row flip. This is FSL's convention (bvecs
//! in voxel axes, x negated when the voxel-to-world determinant is positive); when the slices
//! run along −n dcm2niix negates y instead, which is the same vector up to its overall sign.
//! b≈0 volumes and zero vectors are written as given, not normalised or rotated.

use crate::scan::reader::Dataset;
use dicom_core::Tag;
use dicom_dictionary_std::tags;

use super::values::{self, Vendor, format_g};
use crate::scan::csa;
use crate::scan::frame_diffusion::FrameDiffusion;
use crate::scan::vector::{cross, dot, norm, unit};

/// b-values (s/mm²) and vector lengths at or below this count as zero, as dcm2niix's
/// `FLT_EPSILON` test.
const EPSILON: f64 = f32::EPSILON as f64;

/// The diffusion weighting of one volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gradient {
    /// b-value in s/mm².
    pub b_value: f64,
    /// Unit gradient direction, absent for b=0 (and isotropic/trace) images.
    pub direction: Option<[f64; 3]>,
    /// The frame `direction` is expressed in.
    pub frame: GradientFrame,
}

/// The coordinate frame of a gradient direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradientFrame {
    /// Patient coordinates (DICOM LPS): standard tags, Siemens CSA, Philips.
    Patient,
    /// GE's (0019,10BB/BC/BD) frame, relative to the acquisition; turning it into voxel axes
    /// needs the in-plane phase-encoding axis (0018,1312): `Some(true)` for COL, `Some(false)`
    /// for ROW, `None` when unknown (dcm2niix then writes the vectors unchanged).
    GeImage { phase_is_column: Option<bool> },
}

/// The gradient of a single-frame image (or, for an enhanced object, of its shared functional
/// groups, else its first frame); `None` when it carries no diffusion information.
pub fn gradient(ds: &Dataset<'_>) -> Option<Gradient> {
    let vendor = Vendor::of(ds);
    if let Some(g) = standard(ds) {
        // A standard b-value without a direction: a GE or Philips private direction may
        // still be there (GE 27 writes 0018,9087 only).
        if g.direction.is_some() || !matches!(vendor, Vendor::Ge | Vendor::Philips) {
            return Some(g);
        }
    }
    for group in [
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
    ] {
        if let Some(g) = values::first_item(ds, group).and_then(|d| standard(&d)) {
            return Some(g);
        }
    }
    match vendor {
        Vendor::Siemens => siemens(ds),
        Vendor::Ge => ge(ds),
        Vendor::Philips => philips(ds),
        _ => None,
    }
    .or_else(|| standard(ds))
}

/// The gradient of one frame of an enhanced object: `frame_item` is its item of the
/// Per-Frame Functional Groups Sequence (5200,9230); the Shared Functional Groups (5200,9229)
/// and the top level of `ds` fill in what the frame lacks.
pub fn gradient_for_frame(ds: &Dataset<'_>, frame_item: &Dataset<'_>) -> Option<Gradient> {
    standard(frame_item)
        .or_else(|| {
            values::first_item(ds, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)
                .and_then(|d| standard(&d))
        })
        .or_else(|| gradient(ds))
}

/// The gradient of an enhanced object's frame from the diffusion weighting the scan read in its
/// functional groups: what [`gradient_for_frame`] finds there.
pub fn frame_gradient(diffusion: &FrameDiffusion) -> Gradient {
    patient(diffusion.b_value, diffusion.orientation)
}

/// Standard tags at this level or inside the MR Diffusion Sequence.
fn standard(ds: &Dataset<'_>) -> Option<Gradient> {
    let from = |item: &Dataset<'_>| {
        let b = values::float(item, tags::DIFFUSION_B_VALUE)?;
        let direction = values::first_item(item, tags::DIFFUSION_GRADIENT_DIRECTION_SEQUENCE)
            .and_then(|d| three(&values::floats(&d, tags::DIFFUSION_GRADIENT_ORIENTATION)))
            .or_else(|| three(&values::floats(item, tags::DIFFUSION_GRADIENT_ORIENTATION)));
        Some(patient(b, direction))
    };
    from(ds).or_else(|| values::first_item(ds, tags::MR_DIFFUSION_SEQUENCE).and_then(|d| from(&d)))
}

fn siemens(ds: &Dataset<'_>) -> Option<Gradient> {
    const GRADIENT: [&str; 2] = ["B_value", "DiffusionGradientDirection"];
    if let Some(header) = csa::wanted_from_dataset(ds, csa::Which::Image, &GRADIENT)
        && let Some(b) = header.b_value()
    {
        return Some(patient(b, header.diffusion_gradient_direction()));
    }
    let b = values::float(ds, Tag(0x0019, 0x100C))?;
    Some(patient(b, three(&values::floats(ds, Tag(0x0019, 0x100E)))))
}

fn ge(ds: &Dataset<'_>) -> Option<Gradient> {
    let b = values::float(ds, Tag(0x0043, 0x1039))
        .map(|b| (b as i64 % 1_000_000_000) as f64)
        .or_else(|| values::float(ds, tags::DIFFUSION_B_VALUE))?;
    let direction = [0x10BB, 0x10BC, 0x10BD]
        .map(|e| values::float(ds, Tag(0x0019, e)))
        .into_iter()
        .collect::<Option<Vec<f64>>>()
        .and_then(|v| three(&v));
    let phase_is_column = values::text(ds, tags::IN_PLANE_PHASE_ENCODING_DIRECTION).and_then(|s| {
        match s.chars().next() {
            Some('C' | 'c') => Some(true),
            Some('R' | 'r') => Some(false),
            _ => None,
        }
    });
    let (b_value, direction) = ge_rescale(b.max(0.0), direction);
    Some(Gradient {
        b_value,
        direction,
        frame: GradientFrame::GeImage { phase_is_column },
    })
}

/// GE scales a vector's length instead of its b-value on some sequences (|v| between 0.03
/// and 0.97): dcm2niix takes b·|v|² rounded to a multiple of 5 (at least 5) and rescales
/// the vector to unit length by sqrt(b / new b).
fn ge_rescale(b: f64, direction: Option<[f64; 3]>) -> (f64, Option<[f64; 3]>) {
    let Some(v) = direction else {
        return (b, None);
    };
    let len = norm(v);
    if b <= EPSILON || len <= EPSILON || len <= 0.03 || len >= 0.97 {
        return (b, Some(v));
    }
    let scaled = b * len * len;
    let new_b = if scaled > 0.0 && scaled < 5.0 {
        5.0
    } else {
        ((scaled + 2.5) / 5.0).floor() * 5.0
    };
    if new_b == 0.0 {
        return (0.0, Some([0.0; 3]));
    }
    let k = (b / new_b).sqrt();
    (new_b, Some(v.map(|x| x * k)))
}

fn philips(ds: &Dataset<'_>) -> Option<Gradient> {
    let b = values::float(ds, Tag(0x2001, 0x1003))
        .or_else(|| values::float(ds, tags::DIFFUSION_B_VALUE))?;
    let direction = [0x10B0, 0x10B1, 0x10B2]
        .map(|e| values::float(ds, Tag(0x2005, e)))
        .into_iter()
        .collect::<Option<Vec<f64>>>()
        .and_then(|v| three(&v));
    Some(patient(b, direction))
}

fn patient(b: f64, direction: Option<[f64; 3]>) -> Gradient {
    Gradient {
        // A negative b-value is corrupt; dcm2niix reads it as 0.
        b_value: b.max(0.0),
        direction,
        frame: GradientFrame::Patient,
    }
}

/// Each gradient's direction in the voxel axes of dcm2niix's NIfTI (see the module doc).
/// `orientation` is ImageOrientationPatient (row then column direction); `flip_slices` says
/// the stored slices run along −(row × column), which dcm2niix does only for Siemens mosaics
/// whose SliceNormalVector points that way.
pub fn bvecs_in_voxel_frame(
    gradients: &[Gradient],
    orientation: [f64; 6],
    flip_slices: bool,
) -> Vec<[f64; 3]> {
    let r = unit([orientation[0], orientation[1], orientation[2]]);
    let c = unit([orientation[3], orientation[4], orientation[5]]);
    let n = unit(cross(r, c));
    gradients
        .iter()
        .map(|g| {
            let v = g.direction.unwrap_or([0.0; 3]);
            let zero = g.b_value <= EPSILON || norm(v) <= EPSILON;
            let out = match g.frame {
                GradientFrame::Patient if zero => v,
                GradientFrame::Patient => {
                    let [x, y, z] = unit([dot(v, r), dot(v, c), dot(v, n)]);
                    if flip_slices { [x, y, z] } else { [x, -y, z] }
                }
                GradientFrame::GeImage { .. } if zero => [0.0; 3],
                GradientFrame::GeImage { phase_is_column } => {
                    ge_to_voxel(v, phase_is_column, slice_axis(n), flip_slices)
                }
            };
            // dcm2niix writes no negative zeros.
            out.map(|x| if x == 0.0 { 0.0 } else { x })
        })
        .collect()
}

/// GE's frame to voxel axes, following dcm2niix (which follows dicm2nii): swap for ROW phase
/// encoding, negate the axes the slice orientation flips, then the row flip, then an overall
/// sign kept for compatibility with older dcm2niix releases.
fn ge_to_voxel(v: [f64; 3], phase_is_column: Option<bool>, axis: usize, flip: bool) -> [f64; 3] {
    let Some(col) = phase_is_column else {
        return v;
    };
    let mut v = v;
    if !col {
        v = [v[1], -v[0], v[2]];
    }
    let mut negate = match axis {
        0 => [true, true, false],
        1 => [false, true, true],
        _ => [false, false, true],
    };
    if flip {
        negate[2] = !negate[2];
    }
    for (x, neg) in v.iter_mut().zip(negate) {
        if neg {
            *x = -*x;
        }
    }
    v[1] = -v[1];
    v.map(|x| -x)
}

/// The patient axis closest to the slice normal (0 = x sagittal, 1 = y coronal, 2 = z axial),
/// ties resolved towards z as dcm2niix does.
fn slice_axis(n: [f64; 3]) -> usize {
    let [x, y, z] = n.map(f64::abs);
    if z >= x && z >= y {
        2
    } else if y >= x && y >= z {
        1
    } else {
        0
    }
}

/// The b-values dcm2niix writes for a series of volumes, or `None` when it writes no
/// .bval/.bvec at all (`nii_saveDTI`): fewer than two volumes; or one b-value for all volumes
/// (none above the "b≈0" threshold: 50 s/mm² for Siemens, whose CMRR sequences store b=5,
/// 6 otherwise) with a zero first vector, unless the vectors vary and some are zero, in
/// which case those volumes become b=0. Trace/ADC volumes (GE, Philips) are not removed here.
pub fn bvals_to_write(gradients: &[Gradient], vendor: Vendor) -> Option<Vec<f64>> {
    if gradients.len() < 2 {
        return None;
    }
    let threshold = if vendor == Vendor::Siemens { 50.0 } else { 6.0 };
    let first = gradients[0];
    let zero = |g: &Gradient| {
        g.direction
            .is_none_or(|d| d.iter().all(|x| x.abs() <= EPSILON))
    };
    let b_varies = gradients.iter().any(|g| g.b_value != first.b_value)
        || gradients.iter().all(|g| g.b_value > threshold)
        || !zero(&first);
    let mut b: Vec<f64> = gradients.iter().map(|g| g.b_value).collect();
    if b_varies {
        return Some(b);
    }
    let vectors_vary = gradients
        .iter()
        .any(|g| g.direction.unwrap_or([0.0; 3]) != first.direction.unwrap_or([0.0; 3]));
    if !vectors_vary || !gradients.iter().any(zero) {
        return None;
    }
    for (b, g) in b.iter_mut().zip(gradients) {
        if zero(g) {
            *b = 0.0;
        }
    }
    Some(b)
}

/// The .bval and .bvec texts dcm2niix writes (BIDS mode): values as C's `%g` of a 32-bit
/// float, separated by one space, each line ended by a newline; the .bvec has three lines
/// (x, y, z), one column per volume.
pub fn bval_bvec_text(gradients: &[Gradient], bvecs: &[[f64; 3]]) -> (String, String) {
    let line = |values: &mut dyn Iterator<Item = f64>| {
        let mut s = values
            .map(|v| format_g((v as f32) as f64))
            .collect::<Vec<_>>()
            .join(" ");
        s.push('\n');
        s
    };
    let bval = line(&mut gradients.iter().map(|g| g.b_value));
    let bvec = (0..3)
        .map(|axis| line(&mut bvecs.iter().map(|v| v[axis])))
        .collect();
    (bval, bvec)
}

fn three(v: &[f64]) -> Option<[f64; 3]> {
    match v {
        [x, y, z, ..] => Some([*x, *y, *z]),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
