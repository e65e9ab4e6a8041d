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
    let (w, h) = (mask.width as usize, mask.height as usize);
    // The runs of each row, as [start, end) columns.
    let mut rows: Vec<Vec<[u32; 2]>> = vec![Vec::new(); h];
    mask.for_each_run(|a, b| {
        let mut at = a;
        while at < b {
            let (row, column) = (at / w, at % w);
            let end = b.min((row + 1) * w);
            rows[row].push([column as u32, (end - row * w) as u32]);
            at = end;
        }
    });
    // Directed edges (from, to) between corners, the inside on the right (y down): one per
    // run side, and one per stretch of a run's top or bottom not covered by the row beside.
    let corner = |x: u32, y: usize| (y as u64) << 32 | u64::from(x);
    let mut edges: Vec<(u64, u64)> = Vec::new();
    let none: Vec<[u32; 2]> = Vec::new();
    for y in 0..h {
        let above = if y > 0 { &rows[y - 1] } else { &none };
        let below = rows.get(y + 1).unwrap_or(&none);
        for &[a, b] in &rows[y] {
            edges.push((corner(a, y + 1), corner(a, y)));
            edges.push((corner(b, y), corner(b, y + 1)));
        }
        for [c, d] in difference(&rows[y], above) {
            edges.push((corner(c, y), corner(d, y)));
        }
        for [c, d] in difference(&rows[y], below) {
            edges.push((corner(d, y + 1), corner(c, y + 1)));
        }
    }
    edges.sort_unstable();
    let mut used = vec![false; edges.len()];
    // An unused edge leaving `from` (two leave a corner where pixels touch diagonally).
    let take = |from: u64, used: &mut [bool]| {
        let first = edges.partition_point(|e| e.0 < from);
        (first..edges.len())
            .take_while(|&i| edges[i].0 == from)
            .find(|&i| !used[i])
            .map(|i| {
                used[i] = true;
                edges[i].1
            })
    };
    let point = |c: u64| [(c & 0xFFFF_FFFF) as u32, (c >> 32) as u32];
    let mut paths = Vec::new();
    for start in 0..edges.len() {
        if used[start] {
            continue;
        }
        let origin = edges[start].0;
        let Some(first) = take(origin, &mut used) else {
            continue;
        };
        let mut path = vec![point(origin)];
        let mut current = first;
        while current != origin {
            path.push(point(current));
            let Some(following) = take(current, &mut used) else {
                break;
            };
            current = following;
        }
        paths.push(merge_straight(path));
    }
    paths
}

/// The stretches of the runs `a` not covered by the runs `b` (both sorted, disjoint).
fn difference(a: &[[u32; 2]], b: &[[u32; 2]]) -> Vec<[u32; 2]> {
    let mut out = Vec::new();
    let mut j = 0;
    for &[start, end] in a {
        let mut at = start;
        while j < b.len() && b[j][1] <= at {
            j += 1;
        }
        let mut k = j;
        while at < end {
            match b.get(k) {
                Some(&[c, d]) if c < end => {
                    if c > at {
                        out.push([at, c]);
                    }
                    at = at.max(d);
                    k += 1;
                }
                _ => {
                    out.push([at, end]);
                    at = end;
                }
            }
        }
    }
    out
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
    use proptest::prelude::Just;
    use proptest::strategy::Strategy;

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

    proptest::proptest! {
        #[test]
        fn any_mask_traced_fills_back_to_itself(
            (w, h, pixels) in (1u32..12, 1u32..12).prop_flat_map(|(w, h)| {
                (Just(w), Just(h), proptest::collection::vec(proptest::bool::ANY, (w * h) as usize))
            })
        ) {
            let mask = Mask::from_pixels(w, h, pixels);
            proptest::prop_assert_eq!(fill(w, h, &as_float(&trace(&mask))), mask);
        }
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
