//! A frame's grey values mapped to 8-bit levels through a [`GreyMapping`]: a table over their
//! range (kept per thread and reused by the next frames of a volume), or one multiply-add per
//! value when the mapping is one. Pure code.

use super::decode::{GreyValues, Levels, PackedLayout};
use super::lut::{AffineLevels, GreyMapping};

impl GreyMapping {
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
    use crate::render::lut::tests::ct_soft_tissue;
    use crate::render::lut::{ModalityLut, Voi, VoiFunction, Window};

    /// Stored values windowed as they are (no rescale).
    fn identity_then(window: Window, invert: bool) -> GreyMapping {
        GreyMapping {
            modality: ModalityLut::IDENTITY,
            voi: Voi::Window(window),
            invert,
        }
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
