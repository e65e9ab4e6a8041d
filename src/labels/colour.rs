//! Display colours of segments and ROIs: DICOM's scaled CIELab (PS3.3 C.10.7.1.1) to sRGB.

/// An sRGB colour as `#rrggbb`.
pub fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// sRGB of a RecommendedDisplayCIELabValue: L* scaled 0..65535 for 0..100, a* and b* scaled
/// 0..65535 for -128..127; D65 white, as DICOM defines it.
pub fn from_dicom_lab([l, a, b]: [u16; 3]) -> [u8; 3] {
    let l = f64::from(l) * 100.0 / 65535.0;
    let a = f64::from(a) * 255.0 / 65535.0 - 128.0;
    let b = f64::from(b) * 255.0 / 65535.0 - 128.0;
    let fy = (l + 16.0) / 116.0;
    let (fx, fz) = (fy + a / 500.0, fy - b / 200.0);
    let inverse = |t: f64| {
        if t > 6.0 / 29.0 {
            t * t * t
        } else {
            3.0 * (6.0f64 / 29.0).powi(2) * (t - 4.0 / 29.0)
        }
    };
    let (x, y, z) = (0.950_47 * inverse(fx), inverse(fy), 1.088_83 * inverse(fz));
    let linear = [
        3.240_625_5 * x - 1.537_208 * y - 0.498_628_6 * z,
        -0.968_930_7 * x + 1.875_756_1 * y + 0.041_517_5 * z,
        0.055_710_1 * x - 0.204_021_1 * y + 1.056_995_9 * z,
    ];
    linear.map(|c| {
        let c = c.clamp(0.0, 1.0);
        let encoded = if c <= 0.003_130_8 {
            12.92 * c
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        };
        (encoded * 255.0).round() as u8
    })
}

/// A colour for label `index` when the object gives none: well-separated hues.
pub fn default_colour(index: usize) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 8] = [
        [230, 25, 75],
        [60, 180, 75],
        [255, 225, 25],
        [0, 130, 200],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
    ];
    PALETTE[index % PALETTE.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_white_black_and_a_red() {
        assert_eq!(from_dicom_lab([65535, 32896, 32896]), [255, 255, 255]);
        assert_eq!(from_dicom_lab([0, 32896, 32896]), [0, 0, 0]);
        // CIELab (53.24, 80.09, 67.20) is sRGB red.
        let scale = |v: f64, lo: f64, span: f64| ((v - lo) / span * 65535.0).round() as u16;
        let red = [
            scale(53.24, 0.0, 100.0),
            scale(80.09, -128.0, 255.0),
            scale(67.20, -128.0, 255.0),
        ];
        let [r, g, b] = from_dicom_lab(red);
        assert!(r >= 253 && g <= 3 && b <= 3, "{r} {g} {b}");
        assert_eq!(hex([255, 0, 16]), "#ff0010");
    }
}
