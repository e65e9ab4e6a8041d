//! Label outlines drawn over a rendered frame, in each label's colour, so that a person sees at a
//! glance that the labels sit on the anatomy. Pure code.

use super::mask::Mask;
use super::placing::Shape;
use super::raster::fill;
use crate::render::image::{Channels, Image8};

/// `image` as RGB (grey copied into the three channels).
pub fn to_rgb(image: Image8) -> Image8 {
    if image.channels == Channels::Rgb {
        return image;
    }
    let data = image.data.iter().flat_map(|&v| [v, v, v]).collect();
    Image8 {
        channels: Channels::Rgb,
        data,
        ..image
    }
}

/// Draws the outline of each shape in its colour onto `image` (RGB, the frame's size), lines
/// `thickness` pixels wide: the edge pixels of masks and filled contours, the segments of open
/// contours, a cross at each point.
pub fn draw(image: &mut Image8, shapes: &[([u8; 3], &Shape)], thickness: u32) {
    let (w, h) = (image.width, image.height);
    let mut paint = |x: i64, y: i64, colour: [u8; 3]| {
        let t = i64::from(thickness.max(1));
        for dy in 0..t {
            for dx in 0..t {
                let (px, py) = (x + dx - t / 2, y + dy - t / 2);
                if px >= 0 && py >= 0 && px < i64::from(w) && py < i64::from(h) {
                    let at = (py as usize * w as usize + px as usize) * 3;
                    image.data[at..at + 3].copy_from_slice(&colour);
                }
            }
        }
    };
    for &(colour, shape) in shapes {
        match shape {
            Shape::Mask(mask) => edges(mask, |x, y| paint(x, y, colour)),
            Shape::Polygons(rings) => edges(&fill(w, h, rings), |x, y| paint(x, y, colour)),
            Shape::Line(points) => {
                for pair in points.windows(2) {
                    segment(pair[0], pair[1], |x, y| paint(x, y, colour));
                }
            }
            Shape::Points(points) => {
                for &[x, y] in points {
                    let (x, y) = (x.round() as i64, y.round() as i64);
                    for d in -3..=3 {
                        paint(x + d, y, colour);
                        paint(x, y + d, colour);
                    }
                }
            }
        }
    }
}

/// Calls `f` with each pixel of `mask` that has a 4-neighbour outside it (or the frame's edge).
fn edges(mask: &Mask, mut f: impl FnMut(i64, i64)) {
    let (w, h) = (i64::from(mask.width), i64::from(mask.height));
    let pixels = mask.pixels();
    let at = |x: i64, y: i64| x >= 0 && y >= 0 && x < w && y < h && pixels[(y * w + x) as usize];
    mask.for_each_run(|start, end| {
        for i in start..end {
            let (x, y) = (i as i64 % w, i as i64 / w);
            if !(at(x - 1, y) && at(x + 1, y) && at(x, y - 1) && at(x, y + 1)) {
                f(x, y);
            }
        }
    });
}

/// The pixels of the segment from `a` to `b` (pixel-centre coordinates), one per step.
fn segment(a: [f64; 2], b: [f64; 2], mut f: impl FnMut(i64, i64)) {
    let steps = (b[0] - a[0])
        .abs()
        .max((b[1] - a[1]).abs())
        .ceil()
        .clamp(1.0, 1e5) as i64;
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        f(
            (a[0] + t * (b[0] - a[0])).round() as i64,
            (a[1] + t * (b[1] - a[1])).round() as i64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_a_square_and_leaves_its_inside() {
        let mut image = to_rgb(Image8::filled(8, 8, Channels::Gray, 10));
        let pixels = (0..64).map(|i| (2..6).contains(&(i % 8)) && (2..6).contains(&(i / 8)));
        let mask = Mask::from_pixels(8, 8, pixels);
        draw(&mut image, &[([255, 0, 0], &Shape::Mask(mask))], 1);
        let red = |x: usize, y: usize| image.data[(y * 8 + x) * 3..][..3] == [255, 0, 0];
        assert!(red(2, 2) && red(5, 3) && red(3, 5));
        assert!(!red(3, 3) && !red(4, 4) && !red(0, 0) && !red(6, 6));
        assert_eq!(image.data[..3], [10, 10, 10]);
    }
}
