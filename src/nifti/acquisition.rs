//! What the first file of a volume says about its acquisition, beyond the scan record: the
//! facts the voxel layout and geometry depend on. Pure code over a data set.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::values::{float, items, text};
use crate::scan::csa;

/// Siemens NumberOfImagesInMosaic, private group 0019 (creator "SIEMENS MR HEADER").
const SIEMENS_MOSAIC_TILES: Tag = Tag(0x0019, 0x100A);

/// What the headers of the stack's first file tell beyond the scan record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acquisition {
    /// Tiles of a Siemens mosaic (CSA NumberOfImagesInMosaic, else (0019,100A)).
    pub mosaic_tiles: Option<u32>,
    /// CSA SliceNormalVector of a mosaic: the direction its tiles are stored in.
    pub mosaic_normal: Option<[f64; 3]>,
    /// The mosaic's first tile is not protocol slice 0 (CSA ProtocolSliceNumber > 1: image
    /// numbering reversed on the scanner): dcm2niix stores its tiles in reverse.
    pub mosaic_reversed: bool,
    /// SpacingBetweenSlices (0018,0088), mm.
    pub spacing_between_slices: Option<f64>,
    /// MRAcquisitionType 3D and not echo-planar: dcm2niix reorients these to the closest
    /// canonical orientation.
    pub reorient_3d: bool,
    /// RepetitionTime, seconds (pixdim[4] of 4D files).
    pub repetition_time: Option<f64>,
}

/// The acquisition facts of `ds`, the first file of a volume (`mosaic`: a Siemens mosaic).
pub fn acquisition(ds: &InMemDicomObject, mosaic: bool) -> Acquisition {
    let three_d = text(ds, tags::MR_ACQUISITION_TYPE).is_some_and(|t| t == "3D");
    let epi = text(ds, tags::SCANNING_SEQUENCE).is_some_and(|t| t.contains("EP"))
        || text(ds, tags::ECHO_PLANAR_PULSE_SEQUENCE).is_some_and(|t| t.starts_with('Y'));
    let csa = mosaic
        .then(|| csa::from_dataset(ds, csa::Which::Image))
        .flatten();
    let mosaic_tiles = mosaic
        .then(|| {
            csa.as_ref()
                .and_then(|c| c.number_of_images_in_mosaic())
                .or_else(|| {
                    let bytes = ds.element(SIEMENS_MOSAIC_TILES).ok()?.to_bytes().ok()?;
                    (bytes.len() >= 2).then(|| u32::from(u16::from_le_bytes([bytes[0], bytes[1]])))
                })
        })
        .flatten();
    Acquisition {
        mosaic_tiles,
        mosaic_normal: csa.as_ref().and_then(|c| c.slice_normal_vector()),
        mosaic_reversed: csa
            .as_ref()
            .and_then(|c| c.number("ProtocolSliceNumber"))
            .is_some_and(|n| n > 1.0),
        spacing_between_slices: float(ds, tags::SPACING_BETWEEN_SLICES).filter(|v| *v > 0.0),
        reorient_3d: three_d && !epi,
        repetition_time: float(ds, tags::REPETITION_TIME).map(|ms| ms / 1000.0),
    }
}

/// The Per-frame Functional Groups item of frame `frame` (0-based) of an enhanced object.
pub fn frame_item(ds: &InMemDicomObject, frame: u32) -> Option<&InMemDicomObject> {
    items(ds, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE).get(frame as usize)
}
