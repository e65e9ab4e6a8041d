//! Where a sidecar value is looked for: the image's top level first (classic images), then
//! the first frame's Per-Frame Functional Groups item and the Shared Functional Groups
//! (enhanced images nest most MR parameters there, one or two sequences deep).

use crate::scan::reader::Dataset;
use dicom_core::Tag;
use dicom_dictionary_std::tags;

use crate::nifti::values;

/// How many sequence levels below a functional-group item are searched.
const MAX_DEPTH: usize = 3;

pub(super) struct Lookup<'a> {
    top: Dataset<'a>,
    nested: Vec<Dataset<'a>>,
}

impl<'a> Lookup<'a> {
    pub(super) fn new(top: Dataset<'a>, frame: Option<Dataset<'a>>) -> Self {
        let frame =
            frame.or_else(|| values::first_item(&top, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE));
        let shared = values::first_item(&top, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
        Lookup {
            top,
            nested: frame.into_iter().chain(shared).collect(),
        }
    }

    /// The dataset holding `tag`: the top level, else the first match inside the groups.
    fn holder(&self, tag: Tag) -> Option<Dataset<'a>> {
        if self.top.get(tag).is_some() {
            return Some(self.top);
        }
        self.nested
            .iter()
            .find_map(|item| find(*item, tag, MAX_DEPTH))
    }

    pub(super) fn text(&self, tag: Tag) -> Option<String> {
        values::text(&self.holder(tag)?, tag)
    }

    /// Text of the first `tag` inside the frame's or shared groups (not the top level).
    pub(super) fn nested_text(&self, tag: Tag) -> Option<String> {
        let holder = self
            .nested
            .iter()
            .find_map(|item| find(*item, tag, MAX_DEPTH))?;
        values::text(&holder, tag)
    }

    /// Text of a top-level element only (ImageType, sequence names).
    pub(super) fn top_text(&self, tag: Tag) -> Option<String> {
        values::text(&self.top, tag).or_else(|| self.text(tag))
    }

    pub(super) fn floats(&self, tag: Tag) -> Option<Vec<f64>> {
        let v = values::floats(&self.holder(tag)?, tag);
        (!v.is_empty()).then_some(v)
    }

    pub(super) fn float(&self, tag: Tag) -> Option<f64> {
        self.floats(tag)?.first().copied()
    }

    pub(super) fn int(&self, tag: Tag) -> Option<i64> {
        self.float(tag).map(|v| v as i64)
    }
}

/// The dataset at or below `item` (depth-first, `depth` sequence levels) that holds `tag`.
pub(super) fn find(item: Dataset<'_>, tag: Tag, depth: usize) -> Option<Dataset<'_>> {
    if item.get(tag).is_some() {
        return Some(item);
    }
    if depth == 0 {
        return None;
    }
    item.attributes()
        .flat_map(|a| a.items())
        .find_map(|child| find(child, tag, depth - 1))
}
