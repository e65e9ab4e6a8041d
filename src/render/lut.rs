//! The LUT maths of grey rendering, as in DICOM PS3.3 C.11: stored value → modality LUT
//! (rescale or table) → VOI (window with its function, or table) → 8-bit, MONOCHROME1 inverted.
//! Pure code.

use super::decode::{GreyValues, Levels, PackedLayout};

/// How stored values become modality values (Hounsfield units for CT).
#[derive(Debug, Clone, PartialEq)]
pub enum ModalityLut {
    /// `value * slope + intercept` (Rescale Slope/Intercept; identity when absent).
    Rescale { slope: f64, intercept: f64 },
    /// Modality LUT Sequence: values below `first` map to the first entry, above the last to the last.
    Table(LutTable),
}

impl ModalityLut {
    /// The identity transform.
    pub const IDENTITY: ModalityLut = ModalityLut::Rescale {
        slope: 1.0,
        intercept: 0.0,
    };

    /// Applies the transform to one stored value.
    pub fn apply(&self, stored: f64) -> f64 {
        match self {
            ModalityLut::Rescale { slope, intercept } => stored * slope + intercept,
            ModalityLut::Table(table) => table.lookup(stored),
        }
    }
}

/// A LUT from a LUT Descriptor (number of entries, first mapped value, bits per entry) and data.
#[derive(Debug, Clone, PartialEq)]
pub struct LutTable {
    pub first: f64,
    pub values: Vec<f64>,
    /// Bits per entry: the output range is `0 ..= 2^bits - 1`.
    pub bits: u32,
}

impl LutTable {
    /// Looks up `input`, clamping to the first and last entries.
    pub fn lookup(&self, input: f64) -> f64 {
        let Some(last) = self.values.len().checked_sub(1) else {
            return 0.0;
        };
        let index = (input - self.first).round();
        let index = if index <= 0.0 {
            0
        } else {
            (index as usize).min(last)
        };
        self.values[index]
    }

    /// Largest output value the table can hold.
    pub fn max_output(&self) -> f64 {
        (2f64.powi(self.bits.clamp(1, 32) as i32) - 1.0).max(1.0)
    }
}

/// VOI LUT Function (0028,1056).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VoiFunction {
    #[default]
    Linear,
    LinearExact,
    Sigmoid,
}

impl VoiFunction {
    /// Parses the defined terms; anything else is LINEAR, the standard's default.
    pub fn from_code(code: &str) -> VoiFunction {
        match code.trim() {
            "LINEAR_EXACT" => VoiFunction::LinearExact,
            "SIGMOID" => VoiFunction::Sigmoid,
            _ => VoiFunction::Linear,
        }
    }
}

/// A window: center, width and the function that maps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub center: f64,
    pub width: f64,
    pub function: VoiFunction,
}

impl Window {
    /// A LINEAR window.
    pub fn linear(center: f64, width: f64) -> Self {
        Window {
            center,
            width,
            function: VoiFunction::Linear,
        }
    }

    /// The window that maps `min` to black and `max` to white, as DCMTK's `+Wm` does
    /// (center = (min + max + 1) / 2, width = max - min + 1).
    pub fn min_max(min: f64, max: f64) -> Self {
        Window::linear((min + max + 1.0) / 2.0, (max - min).max(0.0) + 1.0)
    }

    /// Maps a modality value to `0.0 ..= 255.0` (PS3.3 C.11.2.1.2).
    pub fn apply(&self, x: f64) -> f64 {
        const Y_MAX: f64 = 255.0;
        let (c, w) = (self.center, self.width);
        match self.function {
            VoiFunction::Linear => {
                let w = w.max(1.0);
                if x <= c - 0.5 - (w - 1.0) / 2.0 {
                    0.0
                } else if x > c - 0.5 + (w - 1.0) / 2.0 {
                    Y_MAX
                } else {
                    ((x - (c - 0.5)) / (w - 1.0).max(f64::MIN_POSITIVE) + 0.5) * Y_MAX
                }
            }
            VoiFunction::LinearExact => {
                let w = w.max(f64::MIN_POSITIVE);
                if x <= c - w / 2.0 {
                    0.0
                } else if x > c + w / 2.0 {
                    Y_MAX
                } else {
                    ((x - c) / w + 0.5) * Y_MAX
                }
            }
            VoiFunction::Sigmoid => {
                Y_MAX / (1.0 + (-4.0 * (x - c) / w.max(f64::MIN_POSITIVE)).exp())
            }
        }
        .clamp(0.0, Y_MAX)
    }
}

/// The VOI stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Voi {
    Window(Window),
    /// VOI LUT Sequence item; output scaled from the table's bit depth to 8 bits.
    Table(LutTable),
}

impl Voi {
    /// Maps a modality value to `0.0 ..= 255.0`.
    pub fn apply(&self, x: f64) -> f64 {
        match self {
            Voi::Window(window) => window.apply(x),
            Voi::Table(table) => (table.lookup(x) / table.max_output() * 255.0).clamp(0.0, 255.0),
        }
    }
}

/// The whole grey pipeline for one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct GreyMapping {
    pub modality: ModalityLut,
    pub voi: Voi,
    /// MONOCHROME1: low values are white.
    pub invert: bool,
}

impl GreyMapping {
    /// Maps one stored value to its 8-bit grey level.
    pub fn map(&self, stored: f64) -> u8 {
        let y = self.voi.apply(self.modality.apply(stored)).round() as u8;
        if self.invert { 255 - y } else { y }
    }

    /// The mapping as one multiply-add per value, when it is one: a rescale followed by a
    /// LINEAR or LINEAR_EXACT window wider than one value. The rounding of the standard's
    /// formula can differ from it by one level where a value lands within a rounding error
    /// of a half level, so [`Table::build`] keeps it only when it reproduces every entry.
    fn affine(&self) -> Option<AffineLevels> {
        let ModalityLut::Rescale { slope, intercept } = self.modality else {
            return None;
        };
        let Voi::Window(window) = &self.voi else {
            return None;
        };
        let (c, w) = (window.center, window.width);
        // y = (x * a + b) * 255 with x = stored * slope + intercept.
        let (a, b) = match window.function {
            VoiFunction::Linear if w > 1.0 => (1.0 / (w - 1.0), (0.5 - c) / (w - 1.0) + 0.5),
            VoiFunction::LinearExact if w > 0.0 => (1.0 / w, 0.5 - c / w),
            _ => return None,
        };
        let scale = slope * a * 255.0;
        let offset = (intercept * a + b) * 255.0;
        (scale.is_finite() && offset.is_finite()).then_some(AffineLevels {
            scale,
            offset,
            flip: if self.invert { 0xFF } else { 0 },
        })
    }

    /// Maps a frame's grey values through a table over their `min..=max` (or per value when
    /// the range is wide), reading packed samples directly; when the table is an exact
    /// multiply-add ([`GreyMapping::affine`]), that is computed instead of looked up: the
    /// loop then vectorises.
    ///
    /// The table is kept per thread. The frames of a volume share one mapping: from its second
    /// frame on a thread, the table covers every value 8- and 16-bit samples can hold and is
    /// also kept by stored word ([`GreyValues::map_words`]), so the next frames need neither a
    /// table of their own (which cost as much as mapping the pixels) nor their min/max pass,
    /// and each of their values is one lookup.
    pub fn map_grey(&self, values: &GreyValues) -> Vec<u8> {
        TABLES.with_borrow_mut(|cached| {
            // A table of this mapping by stored word of this layout: no min/max pass.
            if let Some(table) = cached.as_ref()
                && table.mapping == *self
                && let Some(levels) = table.map_words(values)
            {
                return levels;
            }
            let Some((min, max)) = values.min_max() else {
                return Vec::new();
            };
            if ((max - min) as u64) > TABLE_SPAN {
                let mut out = Vec::with_capacity(values.len());
                values.for_each(|v| out.push(self.map(v as f64)));
                return out;
            }
            let table = match cached.take() {
                // The mapping is in use for a second frame: likely a whole volume's, so the
                // table now covers every value the samples can hold (at most 2^16), or else
                // at least both frames.
                Some(table) if table.mapping == *self => match values.layout() {
                    Some(layout) => Table::over_layout(self.clone(), layout),
                    None if table.covers(min, max) => table,
                    None => {
                        let (first, last) = (min.min(table.first), max.max(table.last()));
                        if ((last - first) as u64) <= TABLE_SPAN {
                            Table::build(self.clone(), first, last)
                        } else {
                            Table::build(self.clone(), min, max)
                        }
                    }
                },
                _ => Table::build(self.clone(), min, max),
            };
            let out = table.map(values);
            *cached = Some(table);
            out
        })
    }
}

/// Levels as `clamp(stored * scale + offset, 0, 255)` rounded to the nearest integer (ties to
/// even), then XOR `flip` (`0xFF` is `255 - level`: MONOCHROME1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AffineLevels {
    scale: f64,
    offset: f64,
    flip: u8,
}

impl AffineLevels {
    /// The level of one stored value.
    #[inline]
    pub fn level(self, stored: f64) -> u8 {
        // Adding 2^52 leaves the value rounded to an integer in the low mantissa bits: plain
        // float and bit operations, which vectorise (a float-to-int cast does not, as it must
        // saturate). Ties go to even where the standard's rounding goes up: a table whose
        // values hit an exact half is not affine for [`Table::build`], which checks.
        const ROUND: f64 = 4_503_599_627_370_496.0;
        let y = (stored * self.scale + self.offset).clamp(0.0, 255.0);
        (y + ROUND).to_bits() as u8 ^ self.flip
    }
}

/// Widest value range mapped through a table (2^20 + 1 entries at most).
const TABLE_SPAN: u64 = 1 << 20;

thread_local! {
    /// The last table built on this thread (see [`GreyMapping::map_grey`]).
    static TABLES: std::cell::RefCell<Option<Table>> = const { std::cell::RefCell::new(None) };
}

/// The 8-bit level of every stored value in `first..=first + entries.len() - 1`.
struct Table {
    mapping: GreyMapping,
    first: i64,
    entries: Vec<u8>,
    /// Arithmetic that gives every entry exactly, when the mapping has one (see
    /// [`GreyMapping::affine`]).
    affine: Option<AffineLevels>,
    /// The entries again, indexed by the stored word of samples of this layout (tables over
    /// a layout's whole domain only, see [`Table::over_layout`]).
    words: Option<(PackedLayout, Vec<u8>)>,
}

impl Table {
    fn build(mapping: GreyMapping, first: i64, last: i64) -> Table {
        let entries: Vec<u8> = (first..=last).map(|v| mapping.map(v as f64)).collect();
        let affine = mapping.affine().filter(|affine| {
            (first..=last)
                .zip(&entries)
                .all(|(v, &level)| affine.level(v as f64) == level)
        });
        Table {
            mapping,
            first,
            entries,
            affine,
            words: None,
        }
    }

    /// The table of every value samples of `layout` can hold (at most 2^16), also kept by
    /// stored word for [`GreyValues::map_words`].
    fn over_layout(mapping: GreyMapping, layout: PackedLayout) -> Table {
        let (lo, hi) = layout.domain();
        let mut table = Table::build(mapping, lo, hi);
        let words = (0..layout.words())
            .map(|word| {
                let value = i64::from(layout.value(word as u16));
                table.entries[(value - lo) as usize]
            })
            .collect();
        table.words = Some((layout, words));
        table
    }

    fn last(&self) -> i64 {
        self.first + self.entries.len() as i64 - 1
    }

    fn covers(&self, min: i64, max: i64) -> bool {
        self.first <= min && max <= self.last()
    }

    /// The levels of `values` by stored word, when the table has them for their layout.
    fn map_words(&self, values: &GreyValues) -> Option<Vec<u8>> {
        let (layout, words) = self.words.as_ref()?;
        (values.layout() == Some(*layout))
            .then(|| values.map_words(words))
            .flatten()
    }

    /// The levels of `values`, which must lie in the table.
    fn map(&self, values: &GreyValues) -> Vec<u8> {
        if let Some(levels) = self.map_words(values) {
            return levels;
        }
        let levels = match self.affine {
            Some(affine) => Levels::Affine(affine),
            None => Levels::Table {
                entries: &self.entries,
                first: self.first,
            },
        };
        let mut out = Vec::new();
        values.map_levels(levels, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored values windowed as they are (no rescale).
    fn identity_then(window: Window, invert: bool) -> GreyMapping {
        GreyMapping {
            modality: ModalityLut::IDENTITY,
            voi: Voi::Window(window),
            invert,
        }
    }

    /// CT: rescale to Hounsfield units (intercept -1024), soft-tissue window 40/400.
    fn ct_soft_tissue() -> GreyMapping {
        GreyMapping {
            modality: ModalityLut::Rescale {
                slope: 1.0,
                intercept: -1024.0,
            },
            voi: Voi::Window(Window::linear(40.0, 400.0)),
            invert: false,
        }
    }

    #[test]
    fn linear_window_follows_the_standard() {
        // C.11.2.1.2.1: c=2048, w=4096 maps 0 -> 0 and 4095 -> 255.
        let w = Window::linear(2048.0, 4096.0);
        assert_eq!(w.apply(0.0), 0.0);
        assert_eq!(w.apply(4095.0), 255.0);
        assert!((w.apply(2047.5) - 127.5).abs() < 1e-9);
        // Width 1 is a threshold at the center.
        let t = Window::linear(100.0, 1.0);
        assert_eq!((t.apply(99.0), t.apply(99.6)), (0.0, 255.0));
    }

    #[test]
    fn linear_exact_and_sigmoid() {
        let exact = Window {
            center: 0.0,
            width: 100.0,
            function: VoiFunction::LinearExact,
        };
        assert_eq!(
            (exact.apply(-50.0), exact.apply(50.1), exact.apply(0.0)),
            (0.0, 255.0, 127.5)
        );
        let sigmoid = Window {
            center: 40.0,
            width: 400.0,
            function: VoiFunction::Sigmoid,
        };
        assert!((sigmoid.apply(40.0) - 127.5).abs() < 1e-9);
        assert!(sigmoid.apply(-1000.0) < 1.0 && sigmoid.apply(2000.0) > 254.0);
        assert_eq!(VoiFunction::from_code("SIGMOID "), VoiFunction::Sigmoid);
        assert_eq!(VoiFunction::from_code("unknown"), VoiFunction::Linear);
    }

    #[test]
    fn ct_rescale_then_soft_tissue_window() {
        let mapping = ct_soft_tissue();
        assert_eq!(mapping.map(0.0), 0); // -1024 HU: air
        assert_eq!(mapping.map(1064.0), 128); // 40 HU: middle grey
        assert_eq!(mapping.map(3000.0), 255); // bone
    }

    #[test]
    fn monochrome1_is_inverted() {
        let mapping = identity_then(Window::min_max(0.0, 255.0), true);
        assert_eq!(
            mapping.map_grey(&GreyValues::unpacked(vec![0, 255])),
            vec![255, 0]
        );
    }

    #[test]
    fn min_max_window_spans_the_full_range() {
        let mapping = identity_then(Window::min_max(-100.0, 300.0), false);
        assert_eq!(
            mapping.map_grey(&GreyValues::unpacked(vec![-100, 300, 100])),
            vec![0, 255, 128]
        );
    }

    #[test]
    fn lut_tables_clamp_and_scale() {
        let table = LutTable {
            first: 10.0,
            values: vec![0.0, 2048.0, 4095.0],
            bits: 12,
        };
        assert_eq!(
            (table.lookup(0.0), table.lookup(11.0), table.lookup(99.0)),
            (0.0, 2048.0, 4095.0)
        );
        let voi = Voi::Table(table);
        assert_eq!(voi.apply(12.0), 255.0);
        let modality = ModalityLut::Table(LutTable {
            first: 0.0,
            values: vec![-5.0, 5.0],
            bits: 16,
        });
        assert_eq!(modality.apply(1.0), 5.0);
    }

    #[test]
    fn tables_reused_across_frames_give_each_values_own_level() {
        let soft_tissue = ct_soft_tissue();
        let inverted_lung = GreyMapping {
            voi: Voi::Window(Window::linear(-600.0, 1500.0)),
            invert: true,
            ..soft_tissue.clone()
        };
        // Frames inside, wider than and beside the table built before them, with another
        // mapping in between.
        let frames = [
            vec![1000, 1100],
            vec![0, 3000, 1064],
            vec![-50, 5000],
            vec![1064],
        ];
        for mapping in [&soft_tissue, &inverted_lung, &soft_tissue] {
            for frame in &frames {
                let expected: Vec<u8> = frame.iter().map(|&v| mapping.map(v as f64)).collect();
                assert_eq!(
                    mapping.map_grey(&GreyValues::unpacked(frame.clone())),
                    expected
                );
            }
        }
    }

    #[test]
    fn affine_levels_are_used_only_where_they_equal_the_standard() {
        let ct = ct_soft_tissue();
        let exact_inverted = GreyMapping {
            modality: ModalityLut::Rescale {
                slope: 0.5,
                intercept: 3.0,
            },
            voi: Voi::Window(Window {
                center: 100.25,
                width: 300.0,
                function: VoiFunction::LinearExact,
            }),
            invert: true,
        };
        // y = x / 2 + 127.5: every even x lands on an exact half, which the standard rounds
        // up and the affine form to even, so this table must stay a lookup.
        let halves = identity_then(Window::linear(0.5, 511.0), false);
        let sigmoid = GreyMapping {
            voi: Voi::Window(Window {
                function: VoiFunction::Sigmoid,
                ..Window::linear(40.0, 400.0)
            }),
            ..ct.clone()
        };
        let cases = [
            (&ct, true),
            (&exact_inverted, true),
            (&halves, false),
            (&sigmoid, false),
        ];
        for (mapping, affine) in cases {
            let table = Table::build(mapping.clone(), -3000, 3000);
            assert_eq!(table.affine.is_some(), affine, "{mapping:?}");
            let values: Vec<i64> = (-3000..=3000).collect();
            let expected: Vec<u8> = values.iter().map(|&v| mapping.map(v as f64)).collect();
            assert_eq!(mapping.map_grey(&GreyValues::unpacked(values)), expected);
        }
    }

    #[test]
    fn repeated_mappings_of_packed_samples_cover_their_whole_domain() {
        // 12 bits stored in 16, signed: -2048..=2047, little-endian, with the unused high
        // bits set on every other sample (they must be ignored).
        let packed = |values: &[i16]| {
            let bytes = values.iter().enumerate().flat_map(|(i, v)| {
                let garbage = if i % 2 == 1 { 0xA000 } else { 0 };
                (*v as u16 & 0x0FFF | garbage).to_le_bytes()
            });
            GreyValues::packed(bytes.collect::<Vec<u8>>(), true, 12, true)
        };
        let ct = GreyMapping {
            invert: true,
            ..ct_soft_tissue()
        };
        let sigmoid = GreyMapping {
            voi: Voi::Window(Window {
                function: VoiFunction::Sigmoid,
                ..Window::linear(40.0, 400.0)
            }),
            ..ct.clone()
        };
        // From the second frame on, values are looked up by stored word, four at a time
        // (nine values: two groups of four and one more).
        let nine = [-2048, -1, 0, 1, 2047, 1064, -1000, 7, 3];
        let frames: [&[i16]; 5] = [&[0, 1000], &[-2048, 2047, 1064], &nine, &[5, 6], &[-1, 1]];
        for mapping in [&ct, &sigmoid] {
            for frame in frames {
                let expected: Vec<u8> = frame.iter().map(|&v| mapping.map(v.into())).collect();
                assert_eq!(mapping.map_grey(&packed(frame)), expected, "{frame:?}");
            }
            let domain = TABLES.with_borrow(|t| t.as_ref().map(|t| (t.first, t.last())));
            assert_eq!(domain, Some((-2048, 2047)));
        }
    }

    #[test]
    fn repeated_mappings_of_8_bit_samples_look_up_every_word() {
        // 7 bits stored in 8, unsigned: the top bit is not part of the value.
        let mapping = identity_then(Window::linear(64.0, 128.0), false);
        let words: Vec<u8> = (0..=255).collect();
        let expected: Vec<u8> = words
            .iter()
            .map(|&w| mapping.map(f64::from(w & 0x7F)))
            .collect();
        for _ in 0..3 {
            let values = GreyValues::packed(words.clone(), false, 7, false);
            assert_eq!(mapping.map_grey(&values), expected);
        }
        let table = TABLES.with_borrow(|t| t.as_ref().map(|t| t.words.is_some()));
        assert_eq!(table, Some(true));
    }

    #[test]
    fn wide_ranges_skip_the_table() {
        let mapping = identity_then(Window::min_max(0.0, 4e9), false);
        assert_eq!(
            mapping.map_grey(&GreyValues::unpacked(vec![0, 4_000_000_000])),
            vec![0, 255]
        );
        assert!(mapping.map_grey(&GreyValues::unpacked(vec![])).is_empty());
    }
}
