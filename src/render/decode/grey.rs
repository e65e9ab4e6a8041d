//! Grey stored values of a frame: kept as stored (8/16 bits) or widened, with their range
//! and the loops that map them to levels.

use super::*;

/// Grey stored values of one frame, with their range (computed when first asked for, once).
#[derive(Debug, Clone, PartialEq)]
pub struct GreyValues {
    storage: GreyStorage,
    range: std::sync::OnceLock<Option<(i64, i64)>>,
}

#[derive(Debug, Clone, PartialEq)]
enum GreyStorage {
    /// 8- or 16-bit samples as stored (little-endian), masked to BitsStored and sign-extended
    /// as they are read: no widened copy of the frame is made.
    Packed { bytes: Bytes, layout: PackedLayout },
    /// 1- and 32-bit samples, unpacked, masked and sign-extended.
    Unpacked(Vec<i64>),
}

/// How 8- or 16-bit samples are stored: the significant bits of each little-endian word and
/// whether they are two's complement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedLayout {
    wide: bool,
    bits: u32,
    signed: bool,
}

impl PackedLayout {
    /// Number of distinct words (2^8 or 2^16).
    pub fn words(self) -> usize {
        if self.wide { 1 << 16 } else { 1 << 8 }
    }

    /// The value of stored word `word`: its low `bits` bits, sign-extended when signed.
    pub fn value(self, word: u16) -> i32 {
        Self::extend(word, self.mask(), self.sign_bit())
    }

    /// Smallest and largest value the layout can hold.
    pub fn domain(self) -> (i64, i64) {
        let half = 1i64 << (self.bits - 1);
        if self.signed {
            (-half, half - 1)
        } else {
            (0, 2 * half - 1)
        }
    }

    fn mask(self) -> u16 {
        ((1u32 << self.bits) - 1) as u16
    }

    /// The sign bit of signed layouts, 0 for unsigned ones.
    fn sign_bit(self) -> i32 {
        if self.signed { 1 << (self.bits - 1) } else { 0 }
    }

    /// `word` masked, then sign-extended from the sign bit `sign` (a power of two) without a
    /// variable shift, which keeps loops from vectorising: subtract twice the sign bit. A
    /// constant `sign` of 0 (unsigned) folds away.
    #[inline]
    fn extend(word: u16, mask: u16, sign: i32) -> i32 {
        let v = i32::from(word & mask);
        v - ((v & sign) << 1)
    }
}

/// How [`GreyValues::map_levels`] turns values into 8-bit levels.
#[derive(Debug, Clone, Copy)]
pub enum Levels<'a> {
    /// The level of value `v` is `entries[v - first]`.
    Table { entries: &'a [u8], first: i64 },
    /// Computed per value (vectorises, unlike a table lookup).
    Affine(AffineLevels),
}

/// Consumes the values of a frame, handed over as one concrete iterator per sample layout
/// (see [`GreyValues::visit`]).
trait SampleVisitor {
    type Output;
    fn visit<T: Sample>(self, samples: impl Iterator<Item = T>) -> Self::Output;
}

/// A sample as the visitor gets it: i32 for 8/16-bit data (so that min/max vectorise), i64
/// for the rest.
trait Sample: Copy + Ord + Into<i64> {
    const MIN: Self;
    const MAX: Self;
    /// The value as f64 (exact for i32; i64 values beyond 2^53 round).
    fn to_f64(self) -> f64;
}

impl Sample for i32 {
    const MIN: Self = i32::MIN;
    const MAX: Self = i32::MAX;
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Sample for i64 {
    const MIN: Self = i64::MIN;
    const MAX: Self = i64::MAX;
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl GreyValues {
    /// 8-bit (`wide` false) or 16-bit little-endian samples with `bits_stored` significant bits.
    pub fn packed(bytes: impl Into<Bytes>, wide: bool, bits_stored: u16, signed: bool) -> Self {
        let bits = u32::from(bits_stored).clamp(1, if wide { 16 } else { 8 });
        Self::new(GreyStorage::Packed {
            bytes: bytes.into(),
            layout: PackedLayout { wide, bits, signed },
        })
    }

    /// Values already widened.
    pub fn unpacked(values: Vec<i64>) -> Self {
        Self::new(GreyStorage::Unpacked(values))
    }

    fn new(storage: GreyStorage) -> Self {
        GreyValues {
            storage,
            range: std::sync::OnceLock::new(),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match &self.storage {
            GreyStorage::Packed { bytes, layout } => bytes.len() / if layout.wide { 2 } else { 1 },
            GreyStorage::Unpacked(values) => values.len(),
        }
    }

    /// The `width` x `height` rectangle at column `x`, row `y` of a frame `frame_width` values
    /// wide, as values of its own (copied); `None` when it does not lie within the values.
    pub(super) fn crop(
        &self,
        frame_width: usize,
        (x, y): (usize, usize),
        (width, height): (usize, usize),
    ) -> Option<GreyValues> {
        let rows_needed = y.checked_add(height)?;
        if x.checked_add(width)? > frame_width || rows_needed.checked_mul(frame_width)? > self.len()
        {
            return None;
        }
        let rows = (y..y + height).map(|row| row * frame_width + x);
        let storage = match &self.storage {
            GreyStorage::Packed { bytes, layout } => {
                let size = if layout.wide { 2 } else { 1 };
                let mut out = Vec::with_capacity(width * height * size);
                for start in rows {
                    out.extend_from_slice(&bytes[start * size..(start + width) * size]);
                }
                GreyStorage::Packed {
                    bytes: out.into(),
                    layout: *layout,
                }
            }
            GreyStorage::Unpacked(values) => {
                let mut out = Vec::with_capacity(width * height);
                for start in rows {
                    out.extend_from_slice(&values[start..start + width]);
                }
                GreyStorage::Unpacked(out)
            }
        };
        Some(Self::new(storage))
    }

    /// Whether the frame has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Smallest and largest value, or `None` for an empty frame.
    pub fn min_max(&self) -> Option<(i64, i64)> {
        *self.range.get_or_init(|| self.fold_range())
    }

    /// The stored bytes of values `range` when they are the values themselves (8 or 16 bits
    /// stored in as many allocated, little-endian): what a writer of the same sample type can
    /// copy as they are. `None` for other layouts or a range out of bounds.
    pub fn stored_bytes(&self, range: std::ops::Range<usize>) -> Option<&[u8]> {
        let GreyStorage::Packed { bytes, layout } = &self.storage else {
            return None;
        };
        let width = if layout.wide { 2 } else { 1 };
        (layout.bits == 8 * width as u32).then_some(())?;
        bytes.get(range.start * width..range.end * width)
    }

    /// Writes values `range` into `out` as 16-bit little-endian words (the low 16 bits of each
    /// value: its bytes as uint16 or int16), for 16-bit layouts; `false` (nothing written) for
    /// others or when `out` is not two bytes per value. One tight loop per row, which
    /// vectorises: the fast path of writers of 16-bit voxels.
    pub fn write_words(&self, range: std::ops::Range<usize>, out: &mut [u8]) -> bool {
        let GreyStorage::Packed { bytes, layout } = &self.storage else {
            return false;
        };
        let Some(source) = bytes.get(range.start * 2..range.end * 2) else {
            return false;
        };
        if !layout.wide || out.len() != source.len() {
            return false;
        }
        let (mask, sign) = (layout.mask(), layout.sign_bit());
        for (to, from) in out.chunks_exact_mut(2).zip(source.chunks_exact(2)) {
            let word = u16::from_le_bytes([from[0], from[1]]);
            let value = PackedLayout::extend(word, mask, sign) as u16;
            to.copy_from_slice(&value.to_le_bytes());
        }
        true
    }

    /// Writes values `range` into `out` as little-endian float32 `value × slope + intercept`
    /// (computed in f64, then rounded to f32), for 8- and 16-bit layouts; `false` (nothing
    /// written) for others or when `out` is not four bytes per value. One tight loop per row,
    /// which vectorises: the fast path of rescaled arrays.
    pub fn write_scaled_f32(
        &self,
        range: std::ops::Range<usize>,
        out: &mut [u8],
        slope: f64,
        intercept: f64,
    ) -> bool {
        let GreyStorage::Packed { bytes, layout } = &self.storage else {
            return false;
        };
        let width = if layout.wide { 2 } else { 1 };
        let Some(source) = bytes.get(range.start * width..range.end * width) else {
            return false;
        };
        if out.len() != source.len() / width * 4 {
            return false;
        }
        let (mask, sign) = (layout.mask(), layout.sign_bit());
        let scaled = |word: u16| {
            let value = PackedLayout::extend(word, mask, sign);
            ((f64::from(value) * slope + intercept) as f32).to_le_bytes()
        };
        if layout.wide {
            for (to, from) in out.chunks_exact_mut(4).zip(source.chunks_exact(2)) {
                to.copy_from_slice(&scaled(u16::from_le_bytes([from[0], from[1]])));
            }
        } else {
            for (to, &from) in out.chunks_exact_mut(4).zip(source) {
                to.copy_from_slice(&scaled(u16::from(from)));
            }
        }
        true
    }

    /// Calls `f` with values `range` in order (a row of a frame, or part of one); values out
    /// of bounds are not visited.
    pub fn for_each_in(&self, range: std::ops::Range<usize>, f: impl FnMut(i64)) {
        let range = range.start.min(self.len())..range.end.min(self.len());
        match &self.storage {
            GreyStorage::Unpacked(values) => values[range].iter().copied().for_each(f),
            GreyStorage::Packed { bytes, layout } => {
                let width = if layout.wide { 2 } else { 1 };
                let part = GreyValues::new(GreyStorage::Packed {
                    bytes: bytes.slice(range.start * width..range.end * width),
                    layout: *layout,
                });
                part.for_each(f);
            }
        }
    }

    /// How the samples are stored, for 8- and 16-bit samples; `None` for the others.
    pub fn layout(&self) -> Option<PackedLayout> {
        match self.storage {
            GreyStorage::Packed { layout, .. } => Some(layout),
            GreyStorage::Unpacked(_) => None,
        }
    }

    /// The level of every value, looked up by the word as stored: `levels[word]` for each
    /// 8- or 16-bit sample, where `levels` has an entry for every word of the layout
    /// ([`PackedLayout::words`]) with masking and sign extension folded in, so that the loop
    /// is a load and a store per value. `None` for other layouts or a table of another size.
    pub fn map_words(&self, levels: &[u8]) -> Option<Vec<u8>> {
        let GreyStorage::Packed { bytes, layout } = &self.storage else {
            return None;
        };
        // Arrays of exactly 2^8 or 2^16 entries: every index is in bounds, no check is made.
        if layout.wide {
            let levels: &[u8; 1 << 16] = levels.try_into().ok()?;
            let level = |word: u64| levels[(word & 0xFFFF) as usize];
            let mut out = vec![0; bytes.len() / 2];
            // Four samples per 8-byte load (byte-wise loads cost twice the instructions).
            let (quads, rest) = bytes.as_chunks::<8>();
            let (out_quads, out_rest) = out.as_chunks_mut::<4>();
            for (o, quad) in out_quads.iter_mut().zip(quads) {
                let x = u64::from_le_bytes(*quad);
                *o = [level(x), level(x >> 16), level(x >> 32), level(x >> 48)];
            }
            for (o, pair) in out_rest.iter_mut().zip(rest.as_chunks::<2>().0) {
                *o = level(u64::from(u16::from_le_bytes(*pair)));
            }
            Some(out)
        } else {
            let levels: &[u8; 1 << 8] = levels.try_into().ok()?;
            Some(bytes.iter().map(|&b| levels[usize::from(b)]).collect())
        }
    }

    /// Calls `f` with every value in pixel order.
    #[inline]
    pub fn for_each(&self, f: impl FnMut(i64)) {
        struct ForEach<F>(F);
        impl<F: FnMut(i64)> SampleVisitor for ForEach<F> {
            type Output = ();
            fn visit<T: Sample>(self, samples: impl Iterator<Item = T>) {
                let mut f = self.0;
                samples.for_each(|v| f(v.into()));
            }
        }
        self.visit(ForEach(f));
    }

    /// Hands `visitor` an iterator over the values, of a concrete type per sample layout
    /// (8/16 bits, signed or not), so that each layout's loop is compiled on its own and
    /// vectorises: the layout is matched once per frame, not once per value.
    #[inline]
    fn visit<V: SampleVisitor>(&self, visitor: V) -> V::Output {
        let (bytes, layout) = match &self.storage {
            GreyStorage::Unpacked(values) => return visitor.visit(values.iter().copied()),
            GreyStorage::Packed { bytes, layout } => (bytes, *layout),
        };
        let (mask, sign) = (layout.mask(), layout.sign_bit());
        let unsigned = move |word: u16| PackedLayout::extend(word, mask, 0);
        let signed = move |word: u16| PackedLayout::extend(word, mask, sign);
        let word = |c: &[u8]| u16::from_le_bytes([c[0], c[1]]);
        match (layout.wide, layout.signed) {
            (false, false) => visitor.visit(bytes.iter().map(move |&b| unsigned(u16::from(b)))),
            (false, true) => visitor.visit(bytes.iter().map(move |&b| signed(u16::from(b)))),
            (true, false) => visitor.visit(bytes.chunks_exact(2).map(move |c| unsigned(word(c)))),
            (true, true) => visitor.visit(bytes.chunks_exact(2).map(move |c| signed(word(c)))),
        }
    }

    fn fold_range(&self) -> Option<(i64, i64)> {
        struct Range;
        impl SampleVisitor for Range {
            type Output = Option<(i64, i64)>;
            fn visit<T: Sample>(self, samples: impl Iterator<Item = T>) -> Self::Output {
                let (lo, hi) = samples.fold((T::MAX, T::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
                (lo <= hi).then(|| (lo.into(), hi.into()))
            }
        }
        self.visit(Range)
    }

    /// Maps every value to its 8-bit level with `levels`, into `out`, one byte per value.
    pub fn map_levels(&self, levels: Levels<'_>, out: &mut Vec<u8>) {
        struct Mapper<'a> {
            levels: Levels<'a>,
            out: &'a mut Vec<u8>,
        }
        impl SampleVisitor for Mapper<'_> {
            type Output = ();
            fn visit<T: Sample>(self, samples: impl Iterator<Item = T>) {
                // Everything the loops read is copied into locals first: a store through
                // `out` could alias it, which would reload it on every value.
                match self.levels {
                    Levels::Table { entries, first } => {
                        let Some(last) = entries.len().checked_sub(1) else {
                            return;
                        };
                        // `min(last)` makes the index provably in bounds: one conditional
                        // move per value instead of two branches. A value outside the table
                        // (never for a table built over the frame's range) takes the last
                        // entry.
                        for (slot, v) in self.out.iter_mut().zip(samples) {
                            *slot = entries[((v.into() - first) as usize).min(last)];
                        }
                    }
                    Levels::Affine(affine) => {
                        for (slot, v) in self.out.iter_mut().zip(samples) {
                            *slot = affine.level(v.to_f64());
                        }
                    }
                }
            }
        }
        out.clear();
        out.resize(self.len(), 0);
        self.visit(Mapper { levels, out });
    }

    /// Every value, widened.
    pub fn to_vec(&self) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|v| out.push(v));
        out
    }
}

/// Grey values of `pixels` samples starting at sample `first` (bit-addressed for 1-bit data);
/// 8- and 16-bit samples stay in (a shared slice of) `data`.
pub fn grey_values(
    data: Bytes,
    first: usize,
    pixels: usize,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
) -> Result<GreyValues, DecodeError> {
    if matches!(bits_allocated, 8 | 16) {
        let width = usize::from(bits_allocated / 8);
        let range = first * width..(first + pixels) * width;
        if range.end > data.len() {
            return Err(too_short(pixels, bits_allocated));
        }
        return Ok(GreyValues::packed(
            data.slice(range),
            width == 2,
            bits_stored,
            signed,
        ));
    }
    grey_samples(&data, first, pixels, bits_allocated, bits_stored, signed)
        .map(GreyValues::unpacked)
}

/// The error for pixel data that ends before `pixels` samples of `bits` bits.
pub(super) fn too_short(pixels: usize, bits: u16) -> DecodeError {
    DecodeError(format!(
        "pixel data too short for {pixels} samples of {bits} bits"
    ))
}

/// Extracts `pixels` grey samples starting at sample `first`, masked and sign-extended.
pub fn grey_samples(
    data: &[u8],
    first: usize,
    pixels: usize,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
) -> Result<Vec<i64>, DecodeError> {
    let short = || too_short(pixels, bits_allocated);
    let bits_stored = u32::from(bits_stored.clamp(1, bits_allocated.max(1)));
    let mask: u64 = if bits_stored >= 64 {
        u64::MAX
    } else {
        (1u64 << bits_stored) - 1
    };
    let extend = |raw: u64| -> i64 {
        let v = raw & mask;
        if signed && bits_stored < 64 && v & (1 << (bits_stored - 1)) != 0 {
            v as i64 - (1i64 << bits_stored)
        } else {
            v as i64
        }
    };
    match bits_allocated {
        1 => {
            let end_bit = first + pixels;
            if data.len() * 8 < end_bit {
                return Err(short());
            }
            Ok((first..end_bit)
                .map(|i| i64::from((data[i / 8] >> (i % 8)) & 1))
                .collect())
        }
        8 | 16 | 32 => {
            let width = usize::from(bits_allocated / 8);
            let slice = data
                .get(first * width..(first + pixels) * width)
                .ok_or_else(short)?;
            Ok(slice
                .chunks_exact(width)
                .map(|c| {
                    let raw = match width {
                        1 => u64::from(c[0]),
                        2 => u64::from(u16::from_le_bytes([c[0], c[1]])),
                        _ => u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    };
                    extend(raw)
                })
                .collect())
        }
        other => Err(DecodeError(format!(
            "BitsAllocated {other} is not supported"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_samples_mask_and_sign_extend() {
        // 12 bits stored in 16, signed: 0x0FFF is -1, 0xF001 masks to 0x001.
        let data = [0xFF, 0x0F, 0x01, 0xF0];
        assert_eq!(
            grey_samples(&data, 0, 2, 16, 12, true).unwrap(),
            vec![-1, 1]
        );
        assert_eq!(
            grey_samples(&data, 0, 2, 16, 12, false).unwrap(),
            vec![4095, 1]
        );
        assert_eq!(grey_samples(&[0x80], 0, 1, 8, 8, true).unwrap(), vec![-128]);
        assert_eq!(grey_samples(&[0x7F], 0, 1, 8, 7, true).unwrap(), vec![-1]);
        let full = [0x00, 0x80, 0xFF, 0x7F];
        assert_eq!(
            grey_samples(&full, 0, 2, 16, 16, true).unwrap(),
            vec![-32768, 32767]
        );
        assert!(grey_samples(&data, 0, 3, 16, 16, false).is_err());
    }

    #[test]
    fn scaled_float32_rows_equal_the_values_one_by_one() {
        // 12 of 16 bits, signed and unsigned, and 8 bits: the fast loop gives what visiting
        // each value and scaling it in f64 gives.
        let words = [0xFF, 0x0F, 0x01, 0xF0, 0x00, 0x08, 0x34, 0x02];
        for (data, bits, signed) in [
            (&words[..], 12, true),
            (&words[..], 12, false),
            (&words[..4], 8, true),
        ] {
            let wide = data.len() == words.len();
            let count = if wide { data.len() / 2 } else { data.len() };
            let values = GreyValues::packed(Bytes::copy_from_slice(data), wide, bits, signed);
            let mut expected = Vec::new();
            values.for_each_in(1..count, |v| {
                expected.extend_from_slice(&((v as f64 * 2.5 - 1024.0) as f32).to_le_bytes())
            });
            let mut out = vec![0; (count - 1) * 4];
            assert!(values.write_scaled_f32(1..count, &mut out, 2.5, -1024.0));
            assert_eq!(out, expected, "{bits} bits, signed {signed}");
            assert!(!values.write_scaled_f32(1..count, &mut out[4..], 2.5, -1024.0));
        }
    }

    #[test]
    fn one_bit_samples_are_lsb_first_and_frame_addressed() {
        let data = [0b0000_0101, 0b1000_0000];
        assert_eq!(
            grey_samples(&data, 0, 4, 1, 1, false).unwrap(),
            vec![1, 0, 1, 0]
        );
        assert_eq!(
            grey_samples(&data, 12, 4, 1, 1, false).unwrap(),
            vec![0, 0, 0, 1]
        );
    }
}
