//! Voxel-to-world transforms as dcm2niix writes them. Pure code.
//!
//! DICOM positions are in LPS+ millimetres; NIfTI's sform is RAS+, so x and y change sign.
//! Voxel x runs along the DICOM row direction, y along the column direction but from the last
//! row up (dcm2niix stores rows bottom-up, "flipY"), z along the stored slices.

pub(crate) use crate::scan::vector::{cross, dot, scale, unit};

/// The six orders of three axes.
pub(super) const AXIS_PERMUTATIONS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

/// A 3×4 affine: RAS+ millimetres of voxel (i, j, k) are `M · (i, j, k, 1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    rows: [[f64; 4]; 3],
}

/// The qform of an affine: a rotation quaternion, the offset and qfac (±1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quaternion {
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub offset: [f64; 3],
    pub qfac: f64,
}

/// What the affine of a stack of slices is made from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SliceGeometry {
    /// ImageOrientationPatient: row direction, then column direction.
    pub orientation: [f64; 6],
    /// PixelSpacing: between rows, then between columns (mm).
    pub pixel_spacing: [f64; 2],
    /// ImagePositionPatient of the first stored slice (LPS, mm).
    pub first_position: [f64; 3],
    /// From one stored slice to the next (LPS, mm).
    pub slice_step: [f64; 3],
    /// Rows of a slice.
    pub rows: usize,
}

impl Affine {
    pub fn from_rows(rows: [[f64; 4]; 3]) -> Affine {
        Affine { rows }
    }

    pub fn rows(&self) -> [[f64; 4]; 3] {
        self.rows
    }

    /// Column `c` (0..4) of the affine.
    pub fn column(&self, c: usize) -> [f64; 3] {
        [self.rows[0][c], self.rows[1][c], self.rows[2][c]]
    }

    fn set_column(&mut self, c: usize, v: [f64; 3]) {
        for (row, value) in self.rows.iter_mut().zip(v) {
            row[c] = value;
        }
    }

    /// World position of voxel `v`.
    pub fn apply(&self, v: [f64; 3]) -> [f64; 3] {
        let mut out = [0.0; 3];
        for (o, row) in out.iter_mut().zip(&self.rows) {
            *o = row[0] * v[0] + row[1] * v[1] + row[2] * v[2] + row[3];
        }
        out
    }

    /// The RAS+ affine of slices stored with their rows as in DICOM (not flipped).
    pub fn from_dicom(g: &SliceGeometry) -> Affine {
        let row = unit([g.orientation[0], g.orientation[1], g.orientation[2]]);
        let col = unit([g.orientation[3], g.orientation[4], g.orientation[5]]);
        let x = scale(row, g.pixel_spacing[1]);
        let y = scale(col, g.pixel_spacing[0]);
        let mut lps = Affine {
            rows: [[0.0; 4]; 3],
        };
        lps.set_column(0, x);
        lps.set_column(1, y);
        lps.set_column(2, g.slice_step);
        lps.set_column(3, g.first_position);
        for row in &mut lps.rows[..2] {
            for v in row.iter_mut() {
                *v = -*v;
            }
        }
        lps
    }

    /// As [`Affine::from_dicom`], with the rows stored bottom-up (dcm2niix's default).
    pub fn from_dicom_flipped(g: &SliceGeometry) -> Affine {
        let mut affine = Affine::from_dicom(g);
        let origin = affine.apply([0.0, (g.rows.max(1) - 1) as f64, 0.0]);
        let y = affine.column(1);
        affine.set_column(1, scale(y, -1.0));
        affine.set_column(3, origin);
        affine
    }

    /// The reorientation dcm2niix applies to 3D acquisitions: the signed permutation of the
    /// voxel axes that brings the affine closest to RAS+, with the origin at the corner voxel
    /// nearest the lowest world corner. `dims` are the voxel counts along i, j, k.
    pub fn closest_canonical(&self, dims: [usize; 3]) -> Reorientation {
        // Flips: the corner (of the 8) closest to the elementwise minimum of all corners.
        let corner_of = |flips: [bool; 3]| {
            let v: Vec<f64> = (0..3)
                .map(|k| {
                    if flips[k] {
                        (dims[k].max(1) - 1) as f64
                    } else {
                        0.0
                    }
                })
                .collect();
            self.apply([v[0], v[1], v[2]])
        };
        let all: Vec<([bool; 3], [f64; 3])> = (0..8)
            .map(|i| {
                let flips = [i & 1 != 0, i & 2 != 0, i & 4 != 0];
                (flips, corner_of(flips))
            })
            .collect();
        let mut low = all[0].1;
        for (_, c) in &all {
            for k in 0..3 {
                low[k] = low[k].min(c[k]);
            }
        }
        let distance = |c: &[f64; 3]| (0..3).map(|k| (c[k] - low[k]).powi(2)).sum::<f64>();
        let (mut flips, mut origin) = all[0];
        for (f, c) in &all[1..] {
            if distance(c) < distance(&origin) {
                (flips, origin) = (*f, *c);
            }
        }
        // Permutation: input axis k goes to world axis sigma[k], the one that scores best.
        let sign = |k: usize| if flips[k] { -1.0 } else { 1.0 };
        let mut best = (0.0, AXIS_PERMUTATIONS[0]);
        for sigma in AXIS_PERMUTATIONS {
            let score: f64 = (0..3).map(|k| self.rows[sigma[k]][k] * sign(k)).sum();
            if score > best.0 {
                best = (score, sigma);
            }
        }
        let sigma = best.1;
        let mut source = [0usize; 3];
        for k in 0..3 {
            source[sigma[k]] = k;
        }
        let mut affine = *self;
        for (j, &k) in source.iter().enumerate() {
            affine.set_column(j, scale(self.column(k), sign(k)));
        }
        affine.set_column(3, origin);
        Reorientation {
            affine,
            source,
            flipped: [flips[source[0]], flips[source[1]], flips[source[2]]],
        }
    }

    /// The qform quaternion of the affine (NIfTI-1's conversion: columns normalised, a
    /// negative determinant moved into qfac).
    pub fn quaternion(&self) -> Quaternion {
        let mut r = [[0.0f64; 3]; 3];
        for c in 0..3 {
            let col = unit(self.column(c));
            for (row, v) in r.iter_mut().zip(col) {
                row[c] = v;
            }
        }
        let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
            - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
            + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
        let qfac = if det < 0.0 { -1.0 } else { 1.0 };
        if qfac < 0.0 {
            for row in &mut r {
                row[2] = -row[2];
            }
        }
        let trace = r[0][0] + r[1][1] + r[2][2] + 1.0;
        let (a, b, c, d);
        if trace > 0.5 {
            a = 0.5 * trace.sqrt();
            b = 0.25 * (r[2][1] - r[1][2]) / a;
            c = 0.25 * (r[0][2] - r[2][0]) / a;
            d = 0.25 * (r[1][0] - r[0][1]) / a;
        } else {
            let xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
            let yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
            let zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
            let (aa, bb, cc, dd) = if xd > 1.0 {
                let b = 0.5 * xd.sqrt();
                (
                    0.25 * (r[2][1] - r[1][2]) / b,
                    b,
                    0.25 * (r[0][1] + r[1][0]) / b,
                    0.25 * (r[0][2] + r[2][0]) / b,
                )
            } else if yd > 1.0 {
                let c = 0.5 * yd.sqrt();
                (
                    0.25 * (r[0][2] - r[2][0]) / c,
                    0.25 * (r[0][1] + r[1][0]) / c,
                    c,
                    0.25 * (r[1][2] + r[2][1]) / c,
                )
            } else {
                let d = 0.5 * zd.max(0.0).sqrt();
                let d = if d == 0.0 { 1.0 } else { d };
                (
                    0.25 * (r[1][0] - r[0][1]) / d,
                    0.25 * (r[0][2] + r[2][0]) / d,
                    0.25 * (r[1][2] + r[2][1]) / d,
                    d,
                )
            };
            let s = if aa < 0.0 { -1.0 } else { 1.0 };
            (a, b, c, d) = (aa * s, bb * s, cc * s, dd * s);
        }
        let _ = a;
        Quaternion {
            b,
            c,
            d,
            offset: self.column(3),
            qfac,
        }
    }
}

/// A signed permutation of the voxel axes and the affine after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reorientation {
    pub affine: Affine,
    /// Output axis j is input axis `source[j]`.
    pub source: [usize; 3],
    /// Whether output axis j runs backwards along its input axis.
    pub flipped: [bool; 3],
}

impl Reorientation {
    /// Whether the reorientation changes nothing.
    pub fn is_identity(&self) -> bool {
        self.source == [0, 1, 2] && self.flipped == [false; 3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axial() -> SliceGeometry {
        SliceGeometry {
            orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            pixel_spacing: [2.0, 3.0],
            first_position: [-100.0, -120.0, 10.0],
            slice_step: [0.0, 0.0, 4.0],
            rows: 64,
        }
    }

    #[test]
    fn axial_slices_become_ras_with_rows_bottom_up() {
        let a = Affine::from_dicom_flipped(&axial());
        assert_eq!(
            a.rows(),
            [
                [-3.0, 0.0, 0.0, 100.0],
                [0.0, 2.0, 0.0, 120.0 - 2.0 * 63.0],
                [0.0, 0.0, 4.0, 10.0],
            ]
        );
        // The last stored row (j = 0) is DICOM row 63.
        let world = a.apply([0.0, 0.0, 0.0]);
        assert_eq!(world, [100.0, -6.0, 10.0]);
    }

    #[test]
    fn quaternion_of_a_flip_has_negative_qfac() {
        let q = Affine::from_dicom_flipped(&axial()).quaternion();
        assert_eq!(q.qfac, -1.0);
        // diag(-1, 1, -1) after moving the reflection into qfac: a 180° turn about y.
        assert!((q.c.abs() - 1.0).abs() < 1e-12, "{q:?}");
    }

    #[test]
    fn sagittal_volume_reorients_to_ras() {
        // Sagittal: rows along -y (A→P is +y in LPS), columns along -z, slices along +x.
        let g = SliceGeometry {
            orientation: [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
            pixel_spacing: [1.0, 1.0],
            first_position: [-80.0, -100.0, 120.0],
            slice_step: [1.0, 0.0, 0.0],
            rows: 256,
        };
        let a = Affine::from_dicom(&g);
        let r = a.closest_canonical([256, 256, 176]);
        let m = r.affine.rows();
        for (i, row) in m.iter().enumerate() {
            for (j, v) in row[..3].iter().enumerate() {
                if i == j {
                    assert!(*v > 0.0, "{m:?}");
                } else {
                    assert_eq!(*v, 0.0, "{m:?}");
                }
            }
        }
        // Same world position for the voxel at input (i, j, k) and its output index.
        let input = [10.0, 20.0, 30.0];
        let dims = [256.0, 256.0, 176.0];
        let mut output = [0.0; 3];
        for (j, out) in output.iter_mut().enumerate() {
            let k = r.source[j];
            *out = if r.flipped[j] {
                dims[k] - 1.0 - input[k]
            } else {
                input[k]
            };
        }
        let (p, q) = (a.apply(input), r.affine.apply(output));
        for k in 0..3 {
            assert!((p[k] - q[k]).abs() < 1e-9, "{p:?} {q:?}");
        }
    }
}
