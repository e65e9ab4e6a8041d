//! Which instances are labels (segmentations and structure sets) rather than images: they are
//! never rendered as items, they are placed on the items they reference.

/// Segmentation Storage.
pub const SEGMENTATION: &str = "1.2.840.10008.5.1.4.1.1.66.4";
/// Label Map Segmentation Storage.
pub const LABEL_MAP_SEGMENTATION: &str = "1.2.840.10008.5.1.4.1.1.66.7";
/// RT Structure Set Storage.
pub const RT_STRUCTURE_SET: &str = "1.2.840.10008.5.1.4.1.1.481.3";

/// The kind of a label object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelClass {
    /// A DICOM SEG (binary, fractional or label map): masks per frame.
    Segmentation,
    /// An RTSTRUCT: contours in patient coordinates.
    StructureSet,
}

impl LabelClass {
    /// The label class of SOP class `uid`, `None` for anything else.
    pub fn of(uid: Option<&str>) -> Option<LabelClass> {
        match uid? {
            SEGMENTATION | LABEL_MAP_SEGMENTATION => Some(LabelClass::Segmentation),
            RT_STRUCTURE_SET => Some(LabelClass::StructureSet),
            _ => None,
        }
    }

    /// `seg` or `rtstruct`, as the manifest names it.
    pub fn name(self) -> &'static str {
        match self {
            LabelClass::Segmentation => "seg",
            LabelClass::StructureSet => "rtstruct",
        }
    }
}
