//! NIfTI label maps (`--outputs nifti`): per label object on an item with a NIfTI volume, one
//! file on the volume's grid whose value is the segment number, or, where its segments
//! overlap, one binary file per segment. Written beside the volume, gzip-compressed like it.

use super::sink::Sink;
use crate::contract::keys;
use crate::contract::manifest::{NiftiEntry, SegmentFile};
use crate::labels::label_map::{FramePlanes, Grid, LabelVolume, label_volume};
use crate::labels::layers::Layer;
use crate::nifti::affine::Affine;
use crate::nifti::file::nifti_bytes;
use crate::nifti::header::{DataType, Header, VOX_OFFSET};
use crate::scan::vector::norm;

/// What was written for one label object: the label map, or the files of its segments.
pub(super) struct LabelMaps {
    pub map: Option<String>,
    pub segments: Vec<SegmentFile>,
    pub bytes: u64,
    pub files: usize,
}

/// Writes the label maps of object number `object` (1-based on its item) with `layers` on the
/// grid of `nifti`; `None` when the volume has no recorded grid or nothing was written.
pub(super) fn write_label_maps(
    nifti: &NiftiEntry,
    object: usize,
    layers: &[&Layer],
    planes: FramePlanes<'_>,
    sink: &dyn Sink,
) -> Option<LabelMaps> {
    let affine = nifti.affine?;
    let grid = Grid {
        dims: [nifti.dims[0], nifti.dims[1], nifti.dims[2]],
        affine,
    };
    let gzip = nifti.image.ends_with(".gz");
    let extension = if gzip { "nii.gz" } else { "nii" };
    let mut out = LabelMaps {
        map: None,
        segments: Vec::new(),
        bytes: 0,
        files: 0,
    };
    let mut put = |suffix: String, volume: &LabelVolume| -> Option<String> {
        let key = keys::label_key(&nifti.image, &format!("{suffix}.{extension}"));
        let bytes = nifti_bytes(&header(&grid, volume), voxels(volume), gzip);
        out.bytes += bytes.len() as u64;
        sink.put(&key, bytes).ok()?;
        out.files += 1;
        Some(key)
    };
    let map = label_volume(&grid, layers, &|l| l.number, planes);
    if map.overlaps == 0 {
        out.map = Some(put(format!("labels{object}"), &map)?);
    } else {
        for layer in layers {
            let binary = label_volume(&grid, &[layer], &|_| 1, planes);
            let key = put(format!("labels{object}-segment{}", layer.number), &binary)?;
            out.segments.push(SegmentFile {
                number: layer.number,
                key,
            });
        }
    }
    Some(out)
}

/// 8-bit voxels when every value fits, else 16-bit.
fn wide(volume: &LabelVolume) -> bool {
    volume.values.iter().any(|&v| v > 255)
}

fn header(grid: &Grid, volume: &LabelVolume) -> Header {
    let affine = Affine::from_rows(grid.affine);
    let size = |c: usize| norm(affine.column(c));
    let [x, y, z] = grid.dims;
    Header {
        dims: [x, y, z, 1],
        datatype: if wide(volume) {
            DataType::Uint16
        } else {
            DataType::Uint8
        },
        pixdim: [size(0), size(1), size(2), 0.0],
        scl_slope: 1.0,
        scl_inter: 0.0,
        affine,
        scanner_anat: true,
        dim_info: 0,
        slice_code: 0,
        descrip: "dicomprep label map".into(),
    }
}

/// [`VOX_OFFSET`] bytes of room for the header, then the voxels (little-endian).
fn voxels(volume: &LabelVolume) -> Vec<u8> {
    let mut data = vec![0u8; VOX_OFFSET];
    if wide(volume) {
        data.extend(volume.values.iter().flat_map(|v| v.to_le_bytes()));
    } else {
        data.extend(volume.values.iter().map(|&v| v as u8));
    }
    data
}
