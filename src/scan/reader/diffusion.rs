//! The diffusion weighting of a functional-group item, kept as the NIfTI stage would read it
//! from the whole header (`nifti::diffusion::gradient_for_frame`): the b-value and gradient
//! orientation of the first item of its MR Diffusion Sequence. With them the header of an
//! enhanced DWI file need not be parsed again for each volume's gradient.

use dicom_core::Tag;
use dicom_dictionary_std::tags;

use super::cursor::{Cursor, ElementHeader};
use super::{RawElement, ReadError, UNDEFINED};

/// What stands among a group's kept elements for diffusion values the scan does not read as
/// the header tree would (outside an MR Diffusion Sequence, or not binary FD): an empty MR
/// Diffusion Sequence. Whoever needs them reads the header.
pub const UNREAD: RawElement<'static> = (tags::MR_DIFFUSION_SEQUENCE, &[]);

/// Whether an element met directly in a functional-group item holds diffusion values that
/// belong in its MR Diffusion Sequence.
pub(super) fn is_loose(tag: Tag) -> bool {
    matches!(
        tag,
        tags::DIFFUSION_B_VALUE
            | tags::DIFFUSION_GRADIENT_ORIENTATION
            | tags::DIFFUSION_GRADIENT_DIRECTION_SEQUENCE
    )
}

/// Reads the MR Diffusion Sequence `sequence` of a functional-group item (at `depth`): from
/// its first item the b-value and the gradient orientations, the one of the first item of its
/// Diffusion Gradient Direction Sequence before its own; each into `kept` (or [`UNREAD`]).
pub(super) fn read_mr_diffusion<'a>(
    cursor: &mut Cursor<'a>,
    sequence: &ElementHeader,
    depth: u8,
    kept: &mut Vec<RawElement<'a>>,
) -> Result<(), ReadError> {
    let mut first = true;
    cursor.for_each_item(sequence, depth + 1, &mut |cursor, end| {
        let wanted = std::mem::take(&mut first);
        cursor.for_each_element(end, depth + 2, &mut |cursor, element| match element.tag {
            _ if !wanted => cursor.skip_value(&element, depth + 3),
            tags::DIFFUSION_B_VALUE | tags::DIFFUSION_GRADIENT_ORIENTATION => {
                keep_double(cursor, &element, depth + 3, kept)
            }
            tags::DIFFUSION_GRADIENT_DIRECTION_SEQUENCE => {
                let mut first_direction = true;
                cursor.for_each_item(&element, depth + 3, &mut |cursor, end| {
                    let wanted = std::mem::take(&mut first_direction);
                    cursor.for_each_element(end, depth + 4, &mut |cursor, inner| {
                        if wanted && inner.tag == tags::DIFFUSION_GRADIENT_ORIENTATION {
                            keep_double(cursor, &inner, depth + 5, kept)
                        } else {
                            cursor.skip_value(&inner, depth + 5)
                        }
                    })
                })
            }
            _ => cursor.skip_value(&element, depth + 3),
        })
    })
}

/// Keeps the value of `element` when it is binary FD (as written, or as the dictionary gives
/// it in an implicit-VR dataset); else [`UNREAD`].
fn keep_double<'a>(
    cursor: &mut Cursor<'a>,
    element: &ElementHeader,
    depth: u8,
    kept: &mut Vec<RawElement<'a>>,
) -> Result<(), ReadError> {
    if matches!(element.vr, None | Some([b'F', b'D'])) && element.length != UNDEFINED {
        kept.push((element.tag, cursor.value(element)?));
        Ok(())
    } else {
        kept.push(UNREAD);
        cursor.skip_value(element, depth)
    }
}
