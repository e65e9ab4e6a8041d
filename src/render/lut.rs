//! The LUT maths of grey rendering, as in DICOM PS3.3 C.11: stored value → modality LUT
//! (rescale or table) → VOI (window with its function, or table) → 8-bit, MONOCHROME1 inverted.
//! Pure code.

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
    pub(super) fn affine(&self) -> Option<AffineLevels> {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// CT: rescale to Hounsfield units (intercept -1024), soft-tissue window 40/400.
    pub(crate) fn ct_soft_tissue() -> GreyMapping {
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
}
