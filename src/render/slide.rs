//! Pixel work for whole-slide images: pasting decoded tiles into a region, and area-average
//! resampling (each output pixel the mean of the source area it covers, fractions weighed),
//! which makes Deep Zoom levels and pictures of the whole slide from the nearest finer level.

use super::image::{Channels, Image8};

/// Copies `src` into `dst` with its top-left corner at (`x`, `y`) of `dst` (parts outside
/// `dst` are left out).
pub fn paste(dst: &mut Image8, src: &Image8, x: i64, y: i64) {
    paste_part(dst, src, (src.width, src.height), x, y);
}

/// Copies the top-left `part` (width, height) of `src` into `dst` with its top-left corner at
/// (`x`, `y`) of `dst` (parts outside `dst`, or past `src`, are left out).
pub fn paste_part(dst: &mut Image8, src: &Image8, part: (u32, u32), x: i64, y: i64) {
    debug_assert_eq!(dst.channels, src.channels);
    let n = dst.channels.count();
    let (dw, dh) = (i64::from(dst.width), i64::from(dst.height));
    let (pw, ph) = (part.0.min(src.width), part.1.min(src.height));
    let (x0, x1) = (x.max(0), (x + i64::from(pw)).min(dw));
    let (y0, y1) = (y.max(0), (y + i64::from(ph)).min(dh));
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let row = (x1 - x0) as usize * n;
    for dy in y0..y1 {
        let sy = (dy - y) as usize;
        let sx = (x0 - x) as usize;
        let from = (sy * src.width as usize + sx) * n;
        let to = (dy as usize * dst.width as usize + x0 as usize) * n;
        dst.data[to..to + row].copy_from_slice(&src.data[from..from + row]);
    }
}

/// The weights of each output pixel along one axis: output `i` covers source coordinates
/// `[origin + i * scale, origin + (i + 1) * scale)`, clipped to `[0, len)`.
fn weights(origin: f64, scale: f64, out: u32, len: u32) -> Vec<Vec<(usize, f32)>> {
    (0..out)
        .map(|i| {
            let start = (origin + f64::from(i) * scale).clamp(0.0, f64::from(len));
            let end = (origin + f64::from(i + 1) * scale).clamp(0.0, f64::from(len));
            let mut taps = Vec::new();
            if end <= start {
                // Past the source's edge: the nearest source pixel.
                let k = (start.floor() as usize).min(len.saturating_sub(1) as usize);
                taps.push((k, 1.0));
                return taps;
            }
            let total = end - start;
            let mut k = start.floor() as usize;
            while (k as f64) < end && k < len as usize {
                let covered = (end.min(k as f64 + 1.0) - start.max(k as f64)) / total;
                if covered > 0.0 {
                    taps.push((k, covered as f32));
                }
                k += 1;
            }
            taps
        })
        .collect()
}

/// `src` resampled to `out` (width, height): output pixel (i, j) is the mean of the source
/// area `[origin.0 + i * scale.0, …) x [origin.1 + j * scale.1, …)`.
pub fn resample_area(
    src: &Image8,
    origin: (f64, f64),
    scale: (f64, f64),
    out: (u32, u32),
) -> Image8 {
    let whole = |v: f64| v.fract() == 0.0 && v >= 0.0;
    if scale == (1.0, 1.0) && whole(origin.0) && whole(origin.1) {
        // The same scale: a copy of the rectangle (Deep Zoom levels that are slide levels).
        let (x, y) = (origin.0 as u32, origin.1 as u32);
        if let Some(copy) = src.cropped(x, y, out.0, out.1) {
            return copy;
        }
    }
    let n = src.channels.count();
    let across = weights(origin.0, scale.0, out.0, src.width);
    let down = weights(origin.1, scale.1, out.1, src.height);
    // Rows the output needs, resampled across first (all channels of a pixel together).
    let first_row = down.iter().flatten().map(|t| t.0).min().unwrap_or(0);
    let last_row = down.iter().flatten().map(|t| t.0).max().unwrap_or(0);
    let stride = out.0 as usize * n;
    let mut rows = vec![0f32; (last_row + 1 - first_row) * stride];
    for (r, y) in (first_row..=last_row).enumerate() {
        let source = &src.data[y * src.width as usize * n..(y + 1) * src.width as usize * n];
        let target = &mut rows[r * stride..(r + 1) * stride];
        for (pixel, taps) in target.chunks_exact_mut(n).zip(&across) {
            for &(k, w) in taps {
                for (value, &sample) in pixel.iter_mut().zip(&source[k * n..k * n + n]) {
                    *value += f32::from(sample) * w;
                }
            }
        }
    }
    // Then down: each output row the weighed sum of whole rows (loops the compiler vectorises).
    let mut data = vec![0u8; out.1 as usize * stride];
    let mut sum = vec![0f32; stride];
    for (target, taps) in data.chunks_exact_mut(stride).zip(&down) {
        sum.fill(0.0);
        for &(k, w) in taps {
            let row = &rows[(k - first_row) * stride..(k - first_row + 1) * stride];
            for (acc, &v) in sum.iter_mut().zip(row) {
                *acc += v * w;
            }
        }
        for (value, &v) in target.iter_mut().zip(&sum) {
            // Weights add up to 1: v lies in [0, 255]; adding 0.5 rounds it.
            *value = (v + 0.5).min(255.0) as u8;
        }
    }
    Image8 {
        width: out.0,
        height: out.1,
        channels: src.channels,
        data,
    }
}

/// An RGB image of one colour.
pub fn filled_rgb(width: u32, height: u32, colour: [u8; 3]) -> Image8 {
    let mut image = Image8::filled(width, height, Channels::Rgb, 0);
    for pixel in image.data.chunks_exact_mut(3) {
        pixel.copy_from_slice(&colour);
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasting_clips_to_the_target() {
        let mut dst = filled_rgb(4, 3, [0, 0, 0]);
        let src = filled_rgb(3, 3, [9, 8, 7]);
        paste(&mut dst, &src, 2, -1);
        let at = |x: usize, y: usize| dst.data[(y * 4 + x) * 3];
        assert_eq!((at(1, 0), at(2, 0), at(3, 1), at(3, 2)), (0, 9, 9, 0));
        paste(&mut dst, &src, 9, 9);
    }

    #[test]
    fn area_resampling_averages_what_each_pixel_covers() {
        // A 4 x 1 grey ramp halved: pairs averaged; at 1.5x, fractions weighed.
        let src = Image8 {
            width: 4,
            height: 1,
            channels: Channels::Gray,
            data: vec![0, 100, 200, 40],
        };
        let half = resample_area(&src, (0.0, 0.0), (2.0, 1.0), (2, 1));
        assert_eq!(half.data, [50, 120]);
        let odd = resample_area(&src, (0.0, 0.0), (1.5, 1.0), (3, 1));
        // [0, 1.5): (0 + 0.5 * 100) / 1.5; [1.5, 3): (0.5 * 100 + 200) / 1.5; past the end.
        assert_eq!(odd.data, [33, 167, 40]);
        let same = resample_area(&src, (1.0, 0.0), (1.0, 1.0), (2, 1));
        assert_eq!(same.data, [100, 200]);
    }
}
