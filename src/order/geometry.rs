//! Slice geometry: the normal of an image plane and a position's distance along it.

/// Unit normal of the plane spanned by the row and column cosines of ImageOrientationPatient
/// (their cross product), or `None` when the cosines are degenerate.
pub fn slice_normal(orientation: &[f64; 6]) -> Option<[f64; 3]> {
    let [rx, ry, rz, cx, cy, cz] = *orientation;
    let normal = [ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx];
    let norm = normal.iter().map(|v| v * v).sum::<f64>().sqrt();
    (norm > 1e-6 && norm.is_finite()).then(|| normal.map(|v| v / norm))
}

/// Signed distance of `position` along `normal`.
pub fn distance_along(position: &[f64; 3], normal: &[f64; 3]) -> f64 {
    position.iter().zip(normal).map(|(p, n)| p * n).sum()
}

/// Whether two orientations describe the same plane direction within `tolerance` per cosine.
pub fn same_orientation(a: &[f64; 6], b: &[f64; 6], tolerance: f64) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

    #[test]
    fn axial_normal_points_to_head() {
        assert_eq!(slice_normal(&AXIAL), Some([0.0, 0.0, 1.0]));
        assert_eq!(
            distance_along(&[10.0, 20.0, -12.5], &[0.0, 0.0, 1.0]),
            -12.5
        );
    }

    #[test]
    fn sagittal_normal_and_degenerate_orientation() {
        let sagittal = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0];
        assert_eq!(slice_normal(&sagittal), Some([-1.0, 0.0, 0.0]));
        assert_eq!(slice_normal(&[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]), None);
        assert_eq!(slice_normal(&[0.0; 6]), None);
    }

    #[test]
    fn orientation_tolerance() {
        let tilted = [1.0, 0.0, 0.0, 0.0, 0.9999, 0.0001];
        assert!(same_orientation(&AXIAL, &tilted, 1e-3));
        assert!(!same_orientation(&AXIAL, &tilted, 1e-5));
    }
}
