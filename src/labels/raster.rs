//! Polygons to pixels and back. Pure code.
//!
//! - [`fill`]: the pixels whose centres lie inside a set of closed polygons by the even-odd rule
//!   (holes are contours inside contours), in pixel coordinates with centres at whole numbers.
//! - [`trace`]: the outlines of a mask along pixel edges, as closed paths whose even-odd fill is
//!   exactly the mask (corners at half-pixel coordinates in that system, so at whole numbers
//!   when pixel corners are whole, as Darwin and Encord count).

use super::mask::Mask;

/// The pixels of a `width` x `height` frame whose centres lie inside `polygons` (even-odd).
pub fn fill(width: u32, height: u32, polygons: &[Vec<[f64; 2]>]) -> Mask {
    let mut inside = vec![false; width as usize * height as usize];
    let mut crossings: Vec<f64> = Vec::new();
    for y in 0..height as usize {
        let yc = y as f64;
        crossings.clear();
        for polygon in polygons {
            let n = polygon.len();
            for i in 0..n {
                let ([x0, y0], [x1, y1]) = (polygon[i], polygon[(i + 1) % n]);
                // Half-open in y: a vertex on the scan line is counted once.
                if (y0 <= yc && yc < y1) || (y1 <= yc && yc < y0) {
                    crossings.push(x0 + (yc - y0) * (x1 - x0) / (y1 - y0));
                }
            }
        }
        crossings.sort_by(f64::total_cmp);
        for pair in crossings.chunks_exact(2) {
            // Centres x with pair[0] <= x < pair[1].
            let start = pair[0].ceil().max(0.0);
            let end = pair[1].ceil().min(width as f64);
            if start < end {
                let row = y * width as usize;
                inside[row + start as usize..row + end as usize].fill(true);
            }
        }
    }
    Mask::from_pixels(width, height, inside)
}

/// Whether `point` lies inside the closed polygon `ring` (even-odd, half-open like [`fill`]).
pub fn inside(point: [f64; 2], ring: &[[f64; 2]]) -> bool {
    let [px, py] = point;
    let n = ring.len();
    let mut odd = false;
    for i in 0..n {
        let ([x0, y0], [x1, y1]) = (ring[i], ring[(i + 1) % n]);
        if ((y0 <= py && py < y1) || (y1 <= py && py < y0))
            && px < x0 + (py - y0) * (x1 - x0) / (y1 - y0)
        {
            odd = !odd;
        }
    }
    odd
}

/// The outlines of `mask` along pixel edges: closed paths of corner points `(x, y)` where pixel
/// `(i, j)` spans `i..i+1`, `j..j+1`. Outer boundaries run one way and holes the other; their
/// even-odd fill is the mask, pixel for pixel. Straight runs are merged into one edge.
pub fn trace(mask: &Mask) -> Vec<Vec<[u32; 2]>> {
    let (w, h) = (mask.width as i64, mask.height as i64);
    let pixels = mask.pixels();
    let at = |x: i64, y: i64| x >= 0 && y >= 0 && x < w && y < h && pixels[(y * w + x) as usize];
    // Directed edges with the inside on the right (y down): from each corner, where they go.
    let stride = (w + 1) as usize;
    let corner = |x: i64, y: i64| y as usize * stride + x as usize;
    let mut next: std::collections::HashMap<usize, Vec<usize>> = std::collections::HashMap::new();
    for y in 0..h {
        for x in 0..w {
            if !at(x, y) {
                continue;
            }
            if !at(x, y - 1) {
                next.entry(corner(x, y)).or_default().push(corner(x + 1, y));
            }
            if !at(x + 1, y) {
                next.entry(corner(x + 1, y))
                    .or_default()
                    .push(corner(x + 1, y + 1));
            }
            if !at(x, y + 1) {
                next.entry(corner(x + 1, y + 1))
                    .or_default()
                    .push(corner(x, y + 1));
            }
            if !at(x - 1, y) {
                next.entry(corner(x, y + 1)).or_default().push(corner(x, y));
            }
        }
    }
    let point = |c: usize| [(c % stride) as u32, (c / stride) as u32];
    let mut starts: Vec<usize> = next.keys().copied().collect();
    starts.sort_unstable();
    let mut paths = Vec::new();
    for start in starts {
        while let Some(first) = next.get_mut(&start).and_then(Vec::pop) {
            let mut path = vec![point(start)];
            let mut current = first;
            while current != start {
                path.push(point(current));
                let Some(following) = next.get_mut(&current).and_then(Vec::pop) else {
                    break;
                };
                current = following;
            }
            paths.push(merge_straight(path));
        }
    }
    paths
}

/// Drops corners that lie on a straight line between their neighbours.
fn merge_straight(path: Vec<[u32; 2]>) -> Vec<[u32; 2]> {
    let n = path.len();
    (0..n)
        .filter(|&i| {
            let (a, b, c) = (path[(i + n - 1) % n], path[i], path[(i + 1) % n]);
            !((a[0] == b[0] && b[0] == c[0]) || (a[1] == b[1] && b[1] == c[1]))
        })
        .map(|i| path[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_float(paths: &[Vec<[u32; 2]>]) -> Vec<Vec<[f64; 2]>> {
        // Corners (whole numbers) to the centre-at-whole-number system of `fill`.
        paths
            .iter()
            .map(|p| {
                p.iter()
                    .map(|c| [c[0] as f64 - 0.5, c[1] as f64 - 0.5])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn square_with_a_hole_fills_by_even_odd() {
        let square = vec![[1.0, 1.0], [6.0, 1.0], [6.0, 6.0], [1.0, 6.0]];
        let hole = vec![[2.5, 2.5], [4.5, 2.5], [4.5, 4.5], [2.5, 4.5]];
        let mask = fill(8, 8, &[square.clone(), hole]);
        // 5 x 5 centres (1..=5) minus the 2 x 2 of the hole (3..=4).
        assert_eq!(mask.area(), 25 - 4);
        assert_eq!(fill(8, 8, &[square]).area(), 25);
    }

    #[test]
    fn traced_outlines_fill_back_to_the_same_mask() {
        // A ring, a diagonal touch (checkerboard corner) and a lone pixel at the border.
        let rows = [
            "#####..#", "#...#.#.", "#.#.#...", "#...#..#", "#####...", "........",
        ];
        let pixels: Vec<bool> = rows
            .iter()
            .flat_map(|r| r.chars().map(|c| c == '#'))
            .collect();
        let mask = Mask::from_pixels(8, 6, pixels);
        let paths = trace(&mask);
        assert_eq!(fill(8, 6, &as_float(&paths)), mask);
        // The ring's outer square is four corners.
        assert!(
            paths
                .iter()
                .any(|p| p.len() == 4 && p.contains(&[0, 0]) && p.contains(&[5, 5]))
        );
    }
}
