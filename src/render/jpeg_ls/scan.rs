//! One JPEG-LS scan decoded (ISO/IEC 14495-1, Annex A, as a decoder runs it: F.1): context
//! modelling, prediction, Golomb-coded errors and run mode, line by line, for each
//! interleave mode.

use super::bits::Bits;

/// Run lengths by run index (A.2.1, step 3: J).
const J: [u32; 32] = [
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13,
    14, 15,
];

/// Bias correction bounds (MIN_C, MAX_C).
const MIN_C: i32 = -128;
const MAX_C: i32 = 127;
/// A or B beyond this means corrupt data (valid data keeps them far below).
const COUNTER_LIMIT: i32 = 1 << 24;
/// The largest Golomb parameter valid 16-bit data needs is 16; past this the data is corrupt.
const MAX_K: i32 = 24;

/// The coding parameters of a scan, defaults resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Coding {
    pub maxval: i32,
    pub near: i32,
    pub t1: i32,
    pub t2: i32,
    pub t3: i32,
    pub reset: i32,
}

/// Where a scan's samples go: `out` holds the frame's pixels, `components` samples each;
/// the scan's components are `placed[c]` of them.
pub(super) struct Target<'o> {
    pub out: &'o mut [u16],
    pub width: usize,
    pub height: usize,
    pub components: usize,
    pub placed: &'o [usize],
}

/// A scan's layout: interleave mode (0 none, 1 line, 2 sample) and restart interval in lines
/// (0: none).
pub(super) struct Layout {
    pub interleave: u8,
    pub restart_interval: usize,
}

/// Decodes the scan whose bits start at `data[0]` into `target`; returns where the marker
/// after it starts.
pub(super) fn decode_scan(
    data: &[u8],
    coding: Coding,
    layout: &Layout,
    target: &mut Target<'_>,
) -> Result<usize, String> {
    let mut scan = Scan::new(data, coding);
    let height = target.height;
    let interval = match layout.restart_interval {
        0 => height,
        n => n,
    };
    let ns = target.placed.len();
    let sample_interleaved = layout.interleave == 2 && ns > 1;
    let mut line = 0;
    let mut restarts = 0u8;
    while line < height {
        if line > 0 {
            scan.bits.restart(restarts)?;
            restarts = (restarts + 1) % 8;
            scan.reset();
        }
        let lines = interval.min(height - line);
        if sample_interleaved {
            match ns {
                2 => scan.pixel_lines::<2>(target, line, lines)?,
                3 => scan.pixel_lines::<3>(target, line, lines)?,
                _ => scan.pixel_lines::<4>(target, line, lines)?,
            }
        } else {
            scan.component_lines(target, line, lines)?;
        }
        line += lines;
    }
    scan.bits.check()?;
    scan.bits
        .marker()
        .ok_or_else(|| "no marker after the scan's data".to_string())
}

/// Regular-mode context variables (A[Q], B[Q], C[Q], N[Q]).
#[derive(Debug, Clone, Copy)]
struct Context {
    a: i32,
    b: i32,
    c: i32,
    n: i32,
}

/// Run-interruption context variables (A, N, Nn for RItype 0 and 1).
#[derive(Debug, Clone, Copy)]
struct RunContext {
    kind: i32,
    a: i32,
    n: i32,
    nn: i32,
}

struct Scan<'a> {
    bits: Bits<'a>,
    coding: Coding,
    range: i32,
    qbpp: i32,
    limit: i32,
    /// Gradient quantization for differences from -T3 to T3 (clamped).
    quantized: Vec<i8>,
    contexts: [Context; 365],
    runs: [RunContext; 2],
    run_index: usize,
    /// Set when the data cannot be valid; checked after each line.
    corrupt: bool,
}

fn ceil_log2(n: i32) -> i32 {
    32 - (n.max(1) - 1).leading_zeros() as i32
}

impl<'a> Scan<'a> {
    fn new(data: &'a [u8], coding: Coding) -> Self {
        let Coding { maxval, near, .. } = coding;
        let range = (maxval + 2 * near) / (2 * near + 1) + 1;
        let bpp = ceil_log2(maxval + 1).max(2);
        let quantized = (-coding.t3..=coding.t3)
            .map(|d| quantize(d, &coding))
            .collect();
        let mut scan = Scan {
            bits: Bits::new(data),
            coding,
            range,
            qbpp: ceil_log2(range),
            limit: 2 * (bpp + bpp.max(8)),
            quantized,
            contexts: [Context {
                a: 0,
                b: 0,
                c: 0,
                n: 1,
            }; 365],
            runs: [RunContext {
                kind: 0,
                a: 0,
                n: 1,
                nn: 0,
            }; 2],
            run_index: 0,
            corrupt: false,
        };
        scan.reset();
        scan
    }

    /// Context variables and run index as at the start of a scan (A.2.1) or after a restart.
    fn reset(&mut self) {
        let a = ((self.range + 32) / 64).max(2);
        self.contexts = [Context {
            a,
            b: 0,
            c: 0,
            n: 1,
        }; 365];
        self.runs = [0, 1].map(|kind| RunContext {
            kind,
            a,
            n: 1,
            nn: 0,
        });
        self.run_index = 0;
    }

    #[inline(always)]
    fn q(&self, d: i32) -> i32 {
        let t3 = self.coding.t3;
        i32::from(self.quantized[(d.clamp(-t3, t3) + t3) as usize])
    }

    #[inline(always)]
    fn context_id(&self, rd: i32, rb: i32, rc: i32, ra: i32) -> i32 {
        (self.q(rd - rb) * 9 + self.q(rb - rc)) * 9 + self.q(rc - ra)
    }

    /// Clamps a prediction into [0, MAXVAL].
    #[inline(always)]
    fn clamped(&self, p: i32) -> i32 {
        p.clamp(0, self.coding.maxval)
    }

    /// The sample reconstructed from a prediction and a (quantized) error (A.4.5, modulo
    /// RANGE).
    #[inline(always)]
    fn reconstruct(&self, predicted: i32, error: i32) -> i32 {
        let Coding { near, maxval, .. } = self.coding;
        let step = 2 * near + 1;
        let mut value = predicted + error * step;
        if value < -near {
            value += self.range * step;
        } else if value > maxval + near {
            value -= self.range * step;
        }
        self.clamped(value)
    }

    /// The Golomb parameter k: the least with `n << k >= a` (A.5.1), from the two numbers'
    /// leading zeros rather than a loop over k.
    #[inline(always)]
    fn golomb_parameter(&mut self, n: i32, a: i32) -> i32 {
        let (n, a) = (n.max(1) as u32, a.max(0) as u32);
        let mut k = (n.leading_zeros() as i32 - a.leading_zeros() as i32).max(0);
        if u64::from(n) << k < u64::from(a) {
            k += 1;
        }
        if k > MAX_K {
            self.corrupt = true;
            return MAX_K;
        }
        k
    }

    /// A mapped error value coded with Golomb parameter `k` and length limit `limit`.
    #[inline(always)]
    fn mapped_error(&mut self, k: i32, limit: i32) -> i32 {
        let Some(zeros) = self.bits.unary(limit as u32) else {
            self.corrupt = true;
            return 0;
        };
        let zeros = zeros as i32;
        let mapped = if zeros < limit - self.qbpp - 1 {
            if k == 0 {
                zeros
            } else {
                (zeros << k) + self.bits.read(k) as i32
            }
        } else {
            self.bits.read(self.qbpp) as i32 + 1
        };
        // A valid mapped error is below 2 x RANGE; a larger one (corrupt data) would overflow
        // the reconstruction.
        if mapped > 2 * self.range {
            self.corrupt = true;
            return 0;
        }
        mapped
    }

    /// One sample in regular mode: `qs` is its signed context, `predicted` the edge
    /// detector's prediction (A.4-A.6).
    #[inline(always)]
    fn regular(&mut self, qs: i32, predicted: i32) -> i32 {
        let sign = qs >> 31;
        let index = ((qs ^ sign) - sign) as usize;
        let Context { a, b, c, n } = self.contexts[index];
        let predicted = self.clamped(predicted + ((c ^ sign) - sign));
        let k = self.golomb_parameter(n, a);
        let mapped = self.mapped_error(k, self.limit);
        // Inverse of the error mapping: even values are errors >= 0.
        let mut error = (mapped >> 1) ^ -(mapped & 1);
        if k == 0 && self.coding.near == 0 && 2 * b + n - 1 < 0 {
            error = !error;
        }
        self.update(index, error);
        self.reconstruct(predicted, (error ^ sign) - sign)
    }

    /// A.6: the context's counters after an error, bias correction included.
    #[inline(always)]
    fn update(&mut self, index: usize, error: i32) {
        let near = self.coding.near;
        let reset = self.coding.reset;
        let context = &mut self.contexts[index];
        context.a += error.abs();
        context.b += error * (2 * near + 1);
        if context.a >= COUNTER_LIMIT || context.b.abs() >= COUNTER_LIMIT {
            self.corrupt = true;
            context.a = context.a.min(COUNTER_LIMIT);
            context.b = context.b.clamp(-COUNTER_LIMIT, COUNTER_LIMIT);
        }
        if context.n == reset {
            context.a >>= 1;
            context.b >>= 1;
            context.n >>= 1;
        }
        context.n += 1;
        if context.b + context.n <= 0 {
            context.b += context.n;
            if context.b <= -context.n {
                context.b = -context.n + 1;
            }
            if context.c > MIN_C {
                context.c -= 1;
            }
        } else if context.b > 0 {
            context.b -= context.n;
            if context.b > 0 {
                context.b = 0;
            }
            if context.c < MAX_C {
                context.c += 1;
            }
        }
    }

    /// The length of a run of `remaining` samples at most (A.7.1).
    fn run_length(&mut self, remaining: usize) -> usize {
        let mut length = 0;
        while self.bits.bit() {
            let size = 1usize << J[self.run_index];
            let count = size.min(remaining - length);
            length += count;
            if count == size {
                self.run_index = (self.run_index + 1).min(31);
            }
            if length == remaining {
                return length;
            }
        }
        let j = J[self.run_index];
        if j > 0 {
            length += self.bits.read(j as i32) as usize;
        }
        if length > remaining {
            self.corrupt = true;
            return remaining;
        }
        length
    }

    /// The error of a run interruption sample in context `which` (A.7.2).
    fn interruption_error(&mut self, which: usize) -> i32 {
        let RunContext { kind, a, n, nn } = self.runs[which];
        let k = self.golomb_parameter(n, a + (n >> 1) * kind);
        let limit = self.limit - J[self.run_index] as i32 - 1;
        let mapped = self.mapped_error(k, limit);
        let t = mapped + kind;
        let map = t & 1;
        let magnitude = (t + map) / 2;
        let error = if i32::from(k != 0 || 2 * nn >= n) == map {
            -magnitude
        } else {
            magnitude
        };
        let reset = self.coding.reset;
        let run = &mut self.runs[which];
        if error < 0 {
            run.nn += 1;
        }
        run.a = (run.a + ((mapped + 1 - kind) >> 1)).min(COUNTER_LIMIT);
        if run.n == reset {
            run.a >>= 1;
            run.n >>= 1;
            run.nn >>= 1;
        }
        run.n += 1;
        error
    }

    /// One line of one component: `prev` and `cur` hold the samples at 1..=width with room
    /// for the edges.
    fn line(&mut self, prev: &[i32], cur: &mut [i32], width: usize) {
        let mut i = 1;
        let mut rb = prev[0];
        let mut rd = prev[1];
        while i <= width {
            let ra = cur[i - 1];
            let rc = rb;
            rb = rd;
            rd = prev[i + 1];
            let qs = self.context_id(rd, rb, rc, ra);
            if qs != 0 {
                cur[i] = self.regular(qs, predict(ra, rb, rc));
                i += 1;
            } else {
                i += self.run(i, prev, cur, width);
                rb = prev[i - 1];
                rd = prev[i];
            }
        }
    }

    /// Run mode from sample `start` of a line of one component; returns the samples decoded.
    fn run(&mut self, start: usize, prev: &[i32], cur: &mut [i32], width: usize) -> usize {
        let ra = cur[start - 1];
        let length = self.run_length(width + 1 - start);
        cur[start..start + length].fill(ra);
        let end = start + length;
        if end > width {
            return length;
        }
        let rb = prev[end];
        cur[end] = if (ra - rb).abs() <= self.coding.near {
            let error = self.interruption_error(1);
            self.reconstruct(ra, error)
        } else {
            let error = self.interruption_error(0);
            self.reconstruct(rb, error * sign(rb - ra))
        };
        self.run_index = self.run_index.saturating_sub(1);
        length + 1
    }

    /// Lines `first..first + count` of each component of the scan in turn (interleave modes
    /// none and line), each component with its own run index.
    fn component_lines(
        &mut self,
        target: &mut Target<'_>,
        first: usize,
        count: usize,
    ) -> Result<(), String> {
        let width = target.width;
        let ns = target.placed.len();
        let stride = width + 2;
        // Two lines per component; zeros above the first line of an interval.
        let mut buffers = vec![0i32; 2 * ns * stride];
        let mut run_indexes = vec![0usize; ns];
        for y in first..first + count {
            let (even, odd) = buffers.split_at_mut(ns * stride);
            let (prev_all, cur_all) = if (y - first).is_multiple_of(2) {
                (odd, even)
            } else {
                (even, odd)
            };
            for (c, &place) in target.placed.iter().enumerate() {
                let prev = &mut prev_all[c * stride..(c + 1) * stride];
                let cur = &mut cur_all[c * stride..(c + 1) * stride];
                // Rd of the line's last sample repeats the one above it; Ra of its first is
                // the sample above it.
                prev[width + 1] = prev[width];
                cur[0] = prev[1];
                self.run_index = run_indexes[c];
                self.line(prev, cur, width);
                run_indexes[c] = self.run_index;
                let row = &mut target.out[y * width * target.components..];
                for (x, &v) in cur[1..=width].iter().enumerate() {
                    row[x * target.components + place] = v as u16;
                }
            }
            self.check()?;
        }
        Ok(())
    }

    /// Lines of a sample-interleaved scan of `N` components.
    fn pixel_lines<const N: usize>(
        &mut self,
        target: &mut Target<'_>,
        first: usize,
        count: usize,
    ) -> Result<(), String> {
        let width = target.width;
        let stride = width + 2;
        let mut prev = vec![[0i32; N]; stride];
        let mut cur = vec![[0i32; N]; stride];
        for y in first..first + count {
            prev[width + 1] = prev[width];
            cur[0] = prev[1];
            let mut i = 1;
            while i <= width {
                let (ra, rb, rc, rd) = (cur[i - 1], prev[i], prev[i - 1], prev[i + 1]);
                let qs: [i32; N] =
                    std::array::from_fn(|c| self.context_id(rd[c], rb[c], rc[c], ra[c]));
                if qs.iter().all(|&q| q == 0) {
                    let length = self.run_length(width + 1 - i);
                    cur[i..i + length].fill(ra);
                    let end = i + length;
                    i = end;
                    if end <= width {
                        let rb = prev[end];
                        cur[end] = std::array::from_fn(|c| {
                            let error = self.interruption_error(0);
                            self.reconstruct(rb[c], error * sign(rb[c] - ra[c]))
                        });
                        self.run_index = self.run_index.saturating_sub(1);
                        i += 1;
                    }
                } else {
                    cur[i] =
                        std::array::from_fn(|c| self.regular(qs[c], predict(ra[c], rb[c], rc[c])));
                    i += 1;
                }
            }
            let row = &mut target.out[y * width * target.components..];
            for (x, pixel) in cur[1..=width].iter().enumerate() {
                for (c, &place) in target.placed.iter().enumerate() {
                    row[x * target.components + place] = pixel[c] as u16;
                }
            }
            std::mem::swap(&mut prev, &mut cur);
            self.check()?;
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        if self.corrupt {
            return Err("corrupt data: a coded value out of its range".into());
        }
        self.bits.check()
    }
}

/// The median edge detector (A.4.1).
#[inline(always)]
fn predict(ra: i32, rb: i32, rc: i32) -> i32 {
    if rc >= ra.max(rb) {
        ra.min(rb)
    } else if rc <= ra.min(rb) {
        ra.max(rb)
    } else {
        ra + rb - rc
    }
}

/// -1 for negative numbers, else 1.
#[inline(always)]
fn sign(n: i32) -> i32 {
    (n >> 31) | 1
}

/// The region of a gradient (A.3.3): -4 to 4.
fn quantize(d: i32, coding: &Coding) -> i8 {
    let Coding {
        t1, t2, t3, near, ..
    } = *coding;
    match d {
        d if d <= -t3 => -4,
        d if d <= -t2 => -3,
        d if d <= -t1 => -2,
        d if d < -near => -1,
        d if d <= near => 0,
        d if d < t1 => 1,
        d if d < t2 => 2,
        d if d < t3 => 3,
        _ => 4,
    }
}
