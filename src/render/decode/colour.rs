//! Colour samples to interleaved 8-bit RGB: deep samples, planar layout, YCbCr.

use super::*;

/// Interleaved RGB of 8, 16 or 32-bit samples to 8-bit (deeper samples keep their top 8 stored bits).
pub(super) fn rgb_from_interleaved(
    data: &[u8],
    pixels: usize,
    bytes: usize,
    bits_stored: u16,
) -> Result<Samples, DecodeError> {
    let needed = pixels * 3 * bytes;
    let data = data.get(..needed).ok_or_else(|| {
        DecodeError(format!(
            "colour pixel data holds {} bytes, needs {needed}",
            data.len()
        ))
    })?;
    if bytes == 1 {
        return Ok(Samples::Rgb(data.to_vec()));
    }
    // BitsStored comes from the header: clamped to the sample size so the shift stays in range.
    let shift = u32::from(bits_stored).clamp(8, 8 * bytes as u32) - 8;
    Ok(Samples::Rgb(
        data.chunks_exact(bytes)
            .map(|c| {
                let v = match bytes {
                    2 => u64::from(u16::from_le_bytes([c[0], c[1]])),
                    _ => u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                };
                (v >> shift).min(255) as u8
            })
            .collect(),
    ))
}

/// Planar configuration 1 (RRR…GGG…BBB…) to interleaved.
pub(super) fn interleave_planes(data: &[u8], pixels: usize, bytes: usize) -> Vec<u8> {
    let plane = pixels * bytes;
    let mut out = Vec::with_capacity(plane * 3);
    for p in 0..pixels {
        for c in 0..3 {
            let at = c * plane + p * bytes;
            out.extend_from_slice(&data[at..at + bytes]);
        }
    }
    out
}

/// Full-range YCbCr (YBR_FULL) to RGB, as in JPEG/JFIF.
pub(super) fn ybr_to_rgb(ybr: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ybr.len());
    for px in ybr.chunks_exact(3) {
        out.extend_from_slice(&ycbcr_pixel(px[0], px[1], px[2]));
    }
    out
}

/// Native YBR_FULL_422: each pair of pixels is stored as Y1 Y2 Cb Cr.
pub(super) fn ybr_422_to_rgb(data: &[u8], pixels: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(pixels * 3);
    for pair in data.chunks_exact(4) {
        let [y1, y2, cb, cr] = [pair[0], pair[1], pair[2], pair[3]];
        out.extend_from_slice(&ycbcr_pixel(y1, cb, cr));
        out.extend_from_slice(&ycbcr_pixel(y2, cb, cr));
    }
    out.truncate(pixels * 3);
    out
}

pub(super) fn ycbcr_pixel(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (f64::from(y), f64::from(cb) - 128.0, f64::from(cr) - 128.0);
    let clamp = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    [
        clamp(y + 1.402 * cr),
        clamp(y - 0.344136 * cb - 0.714136 * cr),
        clamp(y + 1.772 * cb),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_conversions() {
        assert_eq!(ycbcr_pixel(128, 128, 128), [128, 128, 128]);
        assert_eq!(ycbcr_pixel(255, 128, 128), [255, 255, 255]);
        let red = ycbcr_pixel(76, 85, 255);
        assert!(red[0] > 250 && red[1] < 5 && red[2] < 5, "{red:?}");
        assert_eq!(
            ybr_422_to_rgb(&[10, 20, 128, 128], 2),
            vec![10, 10, 10, 20, 20, 20]
        );
        assert_eq!(
            interleave_planes(&[1, 2, 3, 4, 5, 6], 2, 1),
            vec![1, 3, 5, 2, 4, 6]
        );
    }

    #[test]
    fn deep_rgb_keeps_the_top_stored_bits() {
        let data = 0xFFFFu16.to_le_bytes().repeat(3);
        assert_eq!(
            rgb_from_interleaved(&data, 1, 2, 16).unwrap(),
            Samples::Rgb(vec![255, 255, 255])
        );
        // Found by the render fuzzer: BitsStored 65535 overflowed the shift.
        assert_eq!(
            rgb_from_interleaved(&data, 1, 2, u16::MAX).unwrap(),
            Samples::Rgb(vec![255, 255, 255])
        );
    }
}
