//! The plane of one image frame in patient space: from millimetres to pixel coordinates and
//! back to the distance off the plane. Pure code.

use crate::scan::InstanceHeader;
use crate::scan::vector::{cross, dot, unit};

/// Where a frame's pixels are in patient space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plane {
    /// Centre of the first pixel (ImagePositionPatient).
    pub origin: [f64; 3],
    /// Direction of increasing column index (first half of ImageOrientationPatient).
    pub row: [f64; 3],
    /// Direction of increasing row index (second half).
    pub column: [f64; 3],
    pub normal: [f64; 3],
    /// PixelSpacing: between rows, between columns (mm).
    pub spacing: [f64; 2],
    pub width: u32,
    pub height: u32,
}

impl Plane {
    /// The plane of frame `frame` (0-based) of `header`, when its geometry is complete.
    pub fn of(header: &InstanceHeader, frame: u32) -> Option<Plane> {
        let origin = header.frame_position(frame)?;
        let o = header.frame_orientation(frame)?;
        let spacing = header.pixel_spacing.filter(|s| s[0] > 0.0 && s[1] > 0.0)?;
        let (rows, columns) = header.size()?;
        let (row, column) = (unit([o[0], o[1], o[2]]), unit([o[3], o[4], o[5]]));
        let normal = unit(cross(row, column));
        (normal != [0.0; 3]).then_some(Plane {
            origin,
            row,
            column,
            normal,
            spacing,
            width: u32::from(columns),
            height: u32::from(rows),
        })
    }

    /// `point` (mm) as (column, row) pixel coordinates, pixel centres at whole numbers, and its
    /// signed distance off the plane (mm).
    pub fn to_pixel(&self, point: [f64; 3]) -> ([f64; 2], f64) {
        let d = [
            point[0] - self.origin[0],
            point[1] - self.origin[1],
            point[2] - self.origin[2],
        ];
        (
            [
                dot(d, self.row) / self.spacing[1],
                dot(d, self.column) / self.spacing[0],
            ],
            dot(d, self.normal),
        )
    }

    /// Signed distance of `point` off the plane (mm).
    pub fn distance(&self, point: [f64; 3]) -> f64 {
        self.to_pixel(point).1
    }

    /// Whether `other` is parallel to this plane (normals within about 0.5 degrees).
    pub fn parallel(&self, other: &Plane) -> bool {
        dot(self.normal, other.normal).abs() > 0.999_96
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axial_plane_maps_millimetres_to_pixel_centres() {
        let header = InstanceHeader {
            image_position_patient: Some([-100.0, -50.0, 30.0]),
            image_orientation_patient: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            pixel_spacing: Some([0.5, 2.0]),
            rows: Some(64),
            columns: Some(32),
            ..Default::default()
        };
        let plane = Plane::of(&header, 0).unwrap();
        let ([x, y], off) = plane.to_pixel([-90.0, -45.0, 31.5]);
        assert_eq!((x, y, off), (5.0, 10.0, 1.5));
        assert!(plane.parallel(&plane));
        assert_eq!((plane.width, plane.height), (32, 64));
    }
}
