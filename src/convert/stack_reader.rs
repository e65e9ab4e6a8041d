//! One stack of a scanned source read for its voxels rather than written as files: the Python
//! package's `read_volume` (an array in slice order, [`crate::nifti::array`]) and
//! `Volume.to_nifti` (the NIfTI writer's bytes). Slices are decoded in parallel straight into
//! the caller's buffer.

use std::collections::{BTreeSet, HashMap};

use super::opened::OpenedFile;
use super::slices::decode_slice;
use super::stack_files::{StackFiles, multi_frame_counts};
use crate::Progress;
use crate::nifti::acquisition::{Acquisition, acquisition};
use crate::nifti::array::{ArrayLayout, Values, array_layout};
use crate::nifti::build::{Layout, build, layout, place_all, rescale_of};
use crate::nifti::file::nifti_bytes;
use crate::nifti::stack::{Stack, plan_stacks};
use crate::nifti::voxels::Rows;
use crate::order::plan::plan_volumes;
use crate::order::split::Volume;
use crate::order::{Rule, SliceRef};
use crate::render::decode::Frame;
use crate::scan::InstanceHeader;
use crate::scan::source::Source;

/// The order of the slices within each time point of a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceOrder {
    /// The NIfTI writer's (dcm2niix's: by acquisition, then along the slice normal).
    Writer,
    /// The order report's (the rule's), for arrays.
    Report,
}

/// The stack of series `series_uid` (SeriesInstanceUID) ordered by `rule`: the series' one
/// NIfTI stack (3D, or 4D for a time series), or with `volume` the stack of that volume (its
/// id in the order report) alone; its slices in `order` (a mosaic's tiles keep theirs).
pub fn find_stack(
    instances: &[InstanceHeader],
    rule: Rule,
    series_uid: &str,
    volume: Option<&str>,
    order: SliceOrder,
) -> Result<Stack, String> {
    let planned = plan_volumes(instances, rule);
    let series = planned
        .iter()
        .find(|p| p.group.series_instance_uid == series_uid)
        .ok_or_else(|| format!("no series {series_uid} in the source"))?;
    let volumes = match volume {
        Some(id) => {
            let chosen = series.volumes.iter().find(|v| v.id == id).ok_or_else(|| {
                format!("series {series_uid} has no volume {id:?} ({})", ids(series))
            })?;
            std::slice::from_ref(chosen)
        }
        None => &series.volumes[..],
    };
    let mut stacks = plan_stacks(instances, volumes);
    match stacks.len() {
        1 if order == SliceOrder::Report => Ok(in_report_order(stacks.remove(0), volumes)),
        1 => Ok(stacks.remove(0)),
        0 => Err(format!("series {series_uid} has no volume")),
        n => Err(format!(
            "series {series_uid} makes {n} volumes that are not one time series: pick one \
             with volume= ({})",
            ids(series)
        )),
    }
}

/// `stack` with each time point's slices in the order of `volumes`.
fn in_report_order(mut stack: Stack, volumes: &[Volume]) -> Stack {
    let rank: HashMap<SliceRef, (usize, usize)> = volumes
        .iter()
        .enumerate()
        .flat_map(|(v, volume)| {
            volume
                .slices
                .iter()
                .enumerate()
                .map(move |(i, s)| (*s, (v, i)))
        })
        .collect();
    if !stack.mosaic {
        for slices in &mut stack.time_points {
            slices.sort_by_key(|s| rank.get(s).copied().unwrap_or((usize::MAX, 0)));
        }
    }
    stack
}

fn ids(series: &crate::order::plan::PlannedSeries) -> String {
    let ids: Vec<&str> = series.volumes.iter().map(|v| v.id.as_str()).collect();
    format!("its volumes: {}", ids.join(", "))
}

/// A stack ready to decode: its first file read for the acquisition; each multi-frame file
/// read once for all its frames, when first needed, and let go after its last
/// ([`StackFiles`]).
pub struct StackReader<'a> {
    source: &'a Source,
    instances: &'a [InstanceHeader],
    stack: Stack,
    acquisition: Acquisition,
    layout: Layout,
    files: StackFiles<'a>,
}

impl<'a> StackReader<'a> {
    pub fn new(
        source: &'a Source,
        instances: &'a [InstanceHeader],
        stack: Stack,
    ) -> Result<Self, String> {
        let first = *stack
            .time_points
            .first()
            .and_then(|t| t.first())
            .ok_or("an empty stack")?;
        let frames = multi_frame_counts(&stack, instances);
        let open = move |i: usize| open_file(source, &instances[i]);
        let files = StackFiles::new(BTreeSet::from([first.instance]), frames, Box::new(open));
        let frame = if is_multi_frame(&instances[first.instance]) {
            first.frame
        } else {
            0
        };
        let first_header = &instances[first.instance];
        let acquisition = {
            let first_ds = files
                .kept(first.instance)
                .ok_or("the first file is not kept")??
                .dataset()
                .map_err(|e| format!("{}: {e}", first_header.path))?;
            acquisition(&first_ds, frame, first_header.mosaic.as_ref())
        };
        let layout = layout(&stack, instances, &acquisition)?;
        Ok(StackReader {
            source,
            instances,
            stack,
            acquisition,
            layout,
            files,
        })
    }

    /// Where each slice of the array comes from, in the array's order (time point by time
    /// point): the instance and its frame, or for a mosaic its tile.
    pub fn slice_sources(&self) -> Vec<SliceRef> {
        if !self.stack.mosaic {
            return self.stack.time_points.iter().flatten().copied().collect();
        }
        let tiles = self.layout.depth as u32;
        let tile = |z: u32| {
            if self.acquisition.mosaic_reversed {
                tiles - 1 - z
            } else {
                z
            }
        };
        self.stack
            .time_points
            .iter()
            .flat_map(|files| {
                (0..tiles).map(move |z| SliceRef {
                    instance: files[0].instance,
                    frame: tile(z),
                })
            })
            .collect()
    }

    /// The layout of the array of `values`.
    pub fn array_layout(&self, values: Values) -> ArrayLayout {
        array_layout(&self.layout, values)
    }

    /// How many frames [`Self::read_into`] decodes (a mosaic's file once per time point): the
    /// total of its progress.
    pub fn frames_to_decode(&self) -> u64 {
        self.stack.time_points.iter().map(|t| t.len() as u64).sum()
    }

    /// Decodes every slice into `out`, laid out as `array` (from [`Self::array_layout`]),
    /// advancing `progress` by one per frame decoded.
    pub fn read_into(
        &self,
        array: &ArrayLayout,
        out: &mut [u8],
        progress: &dyn Progress,
    ) -> Result<(), String> {
        if out.len() != array.bytes() {
            return Err(format!(
                "the array holds {} bytes, the volume {}",
                out.len(),
                array.bytes()
            ));
        }
        place_all(
            out,
            &self.stack,
            array.slice_bytes(),
            &array.storage,
            &|s| rescale_of(self.instances, s),
            &|s| {
                let frame = self.decode(s);
                progress.advance(1);
                frame
            },
            &self.acquisition,
            Rows::TopDown,
        )
    }

    /// The NIfTI file the writer makes of this stack (`.nii.gz` bytes when `gzip`).
    pub fn nifti(&self, gzip: bool) -> Result<Vec<u8>, String> {
        let built = build(&self.stack, self.instances, &self.acquisition, &|s| {
            self.decode(s)
        })?;
        Ok(nifti_bytes(&built.header, built.data, gzip))
    }

    /// The frame of slice `s`: a mosaic's whole grid (the tiles are cut when placed).
    fn decode(&self, s: SliceRef) -> Result<Frame, String> {
        let header = &self.instances[s.instance];
        let frame = match self.files.get(s.instance) {
            Some(file) => file.and_then(|file| {
                let frame = file.frame(header, s.frame, self.stack.mosaic);
                self.files.decoded(s.instance);
                frame
            }),
            None => {
                let bytes = self
                    .source
                    .read(&header.path)
                    .map_err(|e| format!("{}: {e}", header.path))?;
                decode_slice(bytes, header, s.frame, self.stack.mosaic)
            }
        };
        frame.map_err(|e| format!("{}: {e}", header.path))
    }
}

/// A multi-frame file whose frames are slices (not a mosaic, whose tiles are).
pub(super) fn is_multi_frame(header: &InstanceHeader) -> bool {
    header.number_of_frames > 1 && header.mosaic.is_none()
}

fn open_file(source: &Source, header: &InstanceHeader) -> Result<OpenedFile, String> {
    let bytes = source
        .read(&header.path)
        .map_err(|e| format!("{}: {e}", header.path))?;
    OpenedFile::open(bytes, header).map_err(|e| format!("{}: {e}", header.path))
}
