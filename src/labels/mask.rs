//! Binary masks of one frame, kept as runs: row-major run lengths, alternating between pixels
//! out and in, starting with out (a 512 x 512 organ outline is a few hundred numbers, not
//! 262,144 bytes), so that a whole study's labels fit in memory.

/// A `width` x `height` binary mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    pub width: u32,
    pub height: u32,
    /// Run lengths in row-major order, out first (0 when the first pixel is in); they add up
    /// to `width * height`.
    runs: Vec<u32>,
}

impl Mask {
    /// The mask of `pixels` (row-major, non-zero in), `width` x `height` of them.
    pub fn from_pixels(width: u32, height: u32, pixels: impl IntoIterator<Item = bool>) -> Mask {
        let mut runs = Vec::new();
        let (mut current, mut length) = (false, 0u32);
        let mut count = 0u64;
        for inside in pixels {
            count += 1;
            if inside != current {
                runs.push(length);
                current = inside;
                length = 0;
            }
            length += 1;
        }
        runs.push(length);
        debug_assert_eq!(count, u64::from(width) * u64::from(height));
        Mask {
            width,
            height,
            runs,
        }
    }

    /// The mask of `width * height` bits of `bytes` from bit `offset` of the first byte (least
    /// significant bit first, as DICOM packs 1-bit pixels), a 1 in. Bytes of all 0s or all 1s
    /// are taken whole.
    pub fn from_bits(width: u32, height: u32, bytes: &[u8], offset: usize) -> Mask {
        let total = width as usize * height as usize;
        let mut runs = Vec::new();
        let (mut current, mut length) = (false, 0u32);
        let mut bit = 0usize; // pixels done
        let mut push = |inside: bool, count: u32, current: &mut bool, length: &mut u32| {
            if inside != *current {
                runs.push(*length);
                *current = inside;
                *length = 0;
            }
            *length += count;
        };
        while bit < total {
            let at = offset + bit;
            // Eight bytes of 0s or of 1s at once (most of a mask is outside it).
            if at.is_multiple_of(8) && bit + 64 <= total {
                let word = bytes
                    .get(at / 8..at / 8 + 8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
                if let Some(word @ (0 | u64::MAX)) = word {
                    push(word == u64::MAX, 64, &mut current, &mut length);
                    bit += 64;
                    continue;
                }
            }
            let (byte, shift) = (bytes.get(at / 8).copied().unwrap_or(0), at % 8);
            if shift == 0 && bit + 8 <= total && (byte == 0 || byte == 0xFF) {
                push(byte == 0xFF, 8, &mut current, &mut length);
                bit += 8;
                continue;
            }
            push(byte >> shift & 1 == 1, 1, &mut current, &mut length);
            bit += 1;
        }
        runs.push(length);
        Mask {
            width,
            height,
            runs,
        }
    }

    /// The run lengths (out first).
    pub fn runs(&self) -> &[u32] {
        &self.runs
    }

    /// Whether no pixel is in.
    pub fn is_empty(&self) -> bool {
        self.runs.len() <= 1
    }

    /// Pixels in.
    pub fn area(&self) -> u64 {
        self.runs
            .iter()
            .skip(1)
            .step_by(2)
            .map(|&r| u64::from(r))
            .sum()
    }

    /// The pixels, row-major, `true` in.
    pub fn pixels(&self) -> Vec<bool> {
        let mut out = Vec::with_capacity(self.width as usize * self.height as usize);
        for (i, &run) in self.runs.iter().enumerate() {
            out.extend(std::iter::repeat_n(i % 2 == 1, run as usize));
        }
        out
    }

    /// Calls `f(start, end)` for each run of pixels in, as row-major pixel index ranges.
    pub fn for_each_run(&self, mut f: impl FnMut(usize, usize)) {
        let mut at = 0usize;
        for (i, &run) in self.runs.iter().enumerate() {
            let end = at + run as usize;
            if i % 2 == 1 {
                f(at, end);
            }
            at = end;
        }
    }

    /// The `width` x `height` rectangle at column `x`, row `y` (pixels past the mask are out).
    pub fn cropped(&self, x: u32, y: u32, width: u32, height: u32) -> Mask {
        let pixels = self.pixels();
        let (w, h) = (self.width, self.height);
        Mask::from_pixels(
            width,
            height,
            (y..y + height).flat_map(|row| {
                let pixels = &pixels;
                (x..x + width)
                    .map(move |column| column < w && row < h && pixels[(row * w + column) as usize])
            }),
        )
    }

    /// The union with `other` (same size).
    pub fn union(&self, other: &Mask) -> Mask {
        let (a, b) = (self.pixels(), other.pixels());
        Mask::from_pixels(
            self.width,
            self.height,
            a.iter().zip(&b).map(|(x, y)| *x || *y),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_round_trip_and_count() {
        let pixels = [true, true, false, false, false, true, false, true, true];
        let mask = Mask::from_pixels(3, 3, pixels);
        assert_eq!(mask.runs(), [0, 2, 3, 1, 1, 2]);
        assert_eq!(mask.pixels(), pixels);
        assert_eq!(mask.area(), 5);
        let mut ranges = Vec::new();
        mask.for_each_run(|a, b| ranges.push((a, b)));
        assert_eq!(ranges, [(0, 2), (5, 6), (7, 9)]);
        let empty = Mask::from_pixels(2, 2, [false; 4]);
        assert!(empty.is_empty());
        assert_eq!(empty.runs(), [4]);
        // The same pixels packed least significant bit first, from bit 3 of the first byte.
        let packed = [0b0001_1000, 0b0000_1101];
        let pixels9: Vec<bool> = (0..9)
            .map(|i| packed[(3 + i) / 8] >> ((3 + i) % 8) & 1 == 1)
            .collect();
        assert_eq!(pixels9, pixels);
        assert_eq!(Mask::from_bits(3, 3, &packed, 3), mask);
        let wide = [0xFF, 0xFF, 0x00, 0x0F];
        let bits: Vec<bool> = (0..32).map(|i| wide[i / 8] >> (i % 8) & 1 == 1).collect();
        assert_eq!(
            Mask::from_bits(8, 4, &wide, 0),
            Mask::from_pixels(8, 4, bits)
        );
        let other = Mask::from_pixels(
            3,
            3,
            [false, false, true, false, false, false, false, false, true],
        );
        assert_eq!(mask.union(&other).area(), 6);
    }
}
