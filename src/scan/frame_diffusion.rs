//! A frame's diffusion weighting, decoded from what the scan kept of its functional groups
//! (see [`super::reader::diffusion`]): the b-value and gradient orientation of the first item
//! of the MR Diffusion Sequence, the frame's own before the shared one's. Equal to what the
//! NIfTI stage reads from the whole header for such a frame, so that an enhanced DWI file's
//! header is not parsed again for each volume's gradient; absent whenever the scan did not
//! read the values exactly as the header tree would (then the header is read).

use dicom_dictionary_std::tags;
use serde::{Deserialize, Serialize};

use super::reader::diffusion::UNREAD;
use super::reader::{Endian, RawElement};

/// DiffusionBValue and DiffusionGradientOrientation of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameDiffusion {
    /// DiffusionBValue (0018,9087), s/mm².
    pub b_value: f64,
    /// DiffusionGradientOrientation (0018,9089) in patient axes; absent for b=0 (and
    /// isotropic) frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orientation: Option<[f64; 3]>,
}

/// The diffusion weighting of a frame from the kept elements of its `group` and the `shared`
/// group: the first that holds a b-value. `None` when neither does, or when either holds
/// values the scan could not read exactly (or the dataset is big-endian).
pub(super) fn decode(
    group: &[RawElement<'_>],
    shared: &[RawElement<'_>],
    endian: Endian,
) -> Option<FrameDiffusion> {
    if endian != Endian::Little {
        return None;
    }
    match in_group(group)? {
        Some(diffusion) => Some(diffusion),
        None => in_group(shared)?,
    }
}

/// The weighting of one group: `None` when the scan could not read it, `Some(None)` when the
/// group has no b-value (the header tree then looks further, as do we).
fn in_group(group: &[RawElement<'_>]) -> Option<Option<FrameDiffusion>> {
    if group.contains(&UNREAD) {
        return None;
    }
    let values = |tag| {
        group
            .iter()
            .filter(move |(t, _)| *t == tag)
            .map(|(_, value)| doubles(value))
    };
    let Some(b_value) = values(tags::DIFFUSION_B_VALUE)
        .next()
        .and_then(|b| b.first().copied())
    else {
        return Some(None);
    };
    // The direction sequence's orientation comes first among the kept values, then the
    // item's own: the first with three numbers, as the header tree takes them.
    let orientation = values(tags::DIFFUSION_GRADIENT_ORIENTATION).find_map(|v| match v[..] {
        [x, y, z, ..] => Some([x, y, z]),
        _ => None,
    });
    Some(Some(FrameDiffusion {
        b_value,
        orientation,
    }))
}

/// The finite little-endian float64 numbers of a value.
fn doubles(value: &[u8]) -> Vec<f64> {
    value
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap_or_default()))
        .filter(|x| x.is_finite())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const B1000: [u8; 8] = 1000f64.to_le_bytes();
    const B0: [u8; 8] = 0f64.to_le_bytes();

    fn vector(v: [f64; 3]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn the_frame_s_weighting_comes_before_the_shared_one_with_its_own_orientation() {
        let nested = vector([1.0, 0.0, 0.0]);
        let own = vector([0.0, 1.0, 0.0]);
        let frame = [
            (tags::DIFFUSION_GRADIENT_ORIENTATION, nested.as_slice()),
            (tags::DIFFUSION_B_VALUE, B1000.as_slice()),
            (tags::DIFFUSION_GRADIENT_ORIENTATION, own.as_slice()),
        ];
        let shared = [(tags::DIFFUSION_B_VALUE, B0.as_slice())];
        assert_eq!(
            decode(&frame, &shared, Endian::Little),
            Some(FrameDiffusion {
                b_value: 1000.0,
                orientation: Some([1.0, 0.0, 0.0]),
            })
        );
        // A direction sequence's orientation that is not three numbers: the item's own.
        let short = vector([1.0, 0.0, 0.0])[..16].to_vec();
        let frame = [
            (tags::DIFFUSION_GRADIENT_ORIENTATION, short.as_slice()),
            (tags::DIFFUSION_B_VALUE, B1000.as_slice()),
            (tags::DIFFUSION_GRADIENT_ORIENTATION, own.as_slice()),
        ];
        let found = decode(&frame, &[], Endian::Little).unwrap();
        assert_eq!(found.orientation, Some([0.0, 1.0, 0.0]));
        // No b-value in the frame's groups: the shared one's, without the frame's orientation.
        let frame = [(tags::DIFFUSION_GRADIENT_ORIENTATION, own.as_slice())];
        assert_eq!(
            decode(&frame, &shared, Endian::Little),
            Some(FrameDiffusion {
                b_value: 0.0,
                orientation: None,
            })
        );
        assert_eq!(decode(&[], &[], Endian::Little), None);
    }

    #[test]
    fn values_the_scan_did_not_read_exactly_leave_it_to_the_header() {
        let frame = [(tags::DIFFUSION_B_VALUE, B1000.as_slice())];
        assert_eq!(decode(&[UNREAD], &frame, Endian::Little), None);
        assert_eq!(decode(&[], &[UNREAD], Endian::Little), None);
        assert_eq!(decode(&frame, &[], Endian::Big), None);
        // A b-value that is not a finite number: as the tree, none at this level.
        let nan = f64::NAN.to_le_bytes();
        let frame = [(tags::DIFFUSION_B_VALUE, nan.as_slice())];
        assert_eq!(decode(&frame, &[], Endian::Little), None);
    }
}
