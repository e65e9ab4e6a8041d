//! `--outputs nifti`: each stack of a series (see [`crate::nifti::stack`]) becomes one NIfTI
//! file with its sidecar, written under the stack's volume folder. Items rendered from the
//! same volumes name the file; without rendering, each file is an item of its own.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use rayon::prelude::*;

use super::burned_in::{cropped_headers, item_note, volume_crop};
use super::context::{Context, VolumeOutcome};
use super::items::NIFTI_EXTENSION;
use super::opened::OpenedFile;
use super::slices::decode_slice;
use super::stack_files::{StackFiles, multi_frame_counts};
use crate::contract::FileIssue;
use crate::contract::keys;
use crate::contract::manifest::{Crop, FrameEntry, Item, ItemKind, NiftiEntry};
use crate::naming::{NameFields, Target};
use crate::nifti::Vendor;
use crate::nifti::acquisition::{acquisition, frame_item};
use crate::nifti::build::{Built, build};
use crate::nifti::diffusion::{
    Gradient, GradientFrame, bval_bvec_text, bvals_to_write, bvecs_in_voxel_frame, frame_gradient,
    gradient, gradient_for_frame,
};
use crate::nifti::file::nifti_bytes;
use crate::nifti::sidecar::{SidecarInput, echo_in_file, sidecar};
use crate::nifti::stack::{Stack, plan_stacks};
use crate::order::SliceRef;
use crate::order::plan::PlannedSeries;
use crate::render::decode::decode_cost;
use crate::scan::InstanceHeader;
use crate::scan::reader::Dataset;
use crate::scan::source::Source;

/// One stack's outcome: its entry (when written or kept) and what failed.
struct StackOutcome<'p> {
    planned: &'p PlannedSeries,
    stack: Stack,
    /// The part of each frame the volume holds (`--burned-in crop`).
    crop: Option<Crop>,
    result: Result<NiftiEntry, String>,
    written: usize,
    reused: usize,
}

impl Context<'_> {
    /// Writes the NIfTI files of every planned series; attaches them to the items in
    /// `outcomes` made from the same volumes, or adds items of their own when nothing was
    /// rendered.
    pub(super) fn nifti(&self, planned: &[PlannedSeries], outcomes: &mut Vec<VolumeOutcome>) {
        // Each stack with its place in plan order, the costliest first (a JPEG 2000 volume can
        // take longer than the rest of a run); results go back in plan order for the manifest.
        let mut jobs: Vec<(usize, &PlannedSeries, Stack)> = planned
            .iter()
            .flat_map(|p| {
                plan_stacks(self.instances, &p.volumes)
                    .into_iter()
                    .map(move |s| (p, s))
            })
            .enumerate()
            .map(|(j, (planned, stack))| (j, planned, stack))
            .collect();
        jobs.sort_by_cached_key(|(_, _, stack)| std::cmp::Reverse(self.stack_cost(stack)));
        let workers = (rayon::current_num_threads() * 2).min(jobs.len());
        let convert = || -> Vec<(usize, StackOutcome)> {
            jobs.into_par_iter()
                // One stack per piece of work: a worker done with the cheaper stacks takes the
                // next one instead of waiting for the one holding the costliest to finish.
                .with_max_len(1)
                .map(|(j, planned, stack)| (j, self.nifti_stack(planned, stack)))
                .collect()
        };
        // Local files: the run's own threads (a worker reading from a cold local disk measured
        // no slower, and each thread started costs its stack and the first pages of its
        // allocator heap). Buckets and DICOMweb: twice as many, so that a worker waiting for a
        // download leaves its core to another; no more than volumes. Memory: a volume per worker.
        let mut results = if matches!(self.source, Source::Local { .. }) {
            convert()
        } else {
            crate::scan::in_pool(workers, convert)
        };
        results.sort_unstable_by_key(|(j, _)| *j);
        let results: Vec<StackOutcome> = results.into_iter().map(|(_, outcome)| outcome).collect();
        // (study, series, volume id) → entry, for rendered items.
        let mut by_volume: HashMap<(&str, &str, &str), &NiftiEntry> = HashMap::new();
        let mut extra = VolumeOutcome::default();
        for outcome in &results {
            extra.written += outcome.written;
            extra.reused += outcome.reused;
            let group = &outcome.planned.group;
            match &outcome.result {
                Ok(entry) => {
                    for volume in &entry.volumes {
                        by_volume.insert(
                            (
                                &group.study_instance_uid,
                                &group.series_instance_uid,
                                volume,
                            ),
                            entry,
                        );
                    }
                    if !self.options.outputs.render {
                        extra.items.push(self.volume_item(outcome, entry));
                    }
                }
                Err(reason) => {
                    extra
                        .failed
                        .extend(
                            outcome
                                .stack
                                .time_points
                                .iter()
                                .flatten()
                                .map(|s| FileIssue {
                                    path: self.instances[s.instance].path.clone(),
                                    reason: format!("NIfTI: {reason}"),
                                }),
                        );
                }
            }
        }
        for item in outcomes.iter_mut().flat_map(|o| o.items.iter_mut()) {
            let key = (
                item.study_instance_uid.as_str(),
                item.series_instance_uid.as_str(),
                item.volume.as_str(),
            );
            item.nifti = by_volume.get(&key).map(|e| (*e).clone());
        }
        outcomes.push(extra);
    }

    /// The relative CPU time of decoding `stack`: its samples, weighted by their files'
    /// transfer syntax ([`decode_cost`]).
    fn stack_cost(&self, stack: &Stack) -> u64 {
        let files: BTreeSet<usize> = stack
            .time_points
            .iter()
            .flatten()
            .map(|s| s.instance)
            .collect();
        files
            .into_iter()
            .map(|i| {
                let h = &self.instances[i];
                let samples = u64::from(h.rows.unwrap_or(0))
                    * u64::from(h.columns.unwrap_or(0))
                    * u64::from(h.number_of_frames.max(1));
                samples * decode_cost(&h.transfer_syntax)
            })
            .sum()
    }

    /// The item of a NIfTI file when nothing is rendered.
    fn volume_item(&self, outcome: &StackOutcome, entry: &NiftiEntry) -> Item {
        let group = &outcome.planned.group;
        let first = &self.instances[group.members[0]];
        let fields = NameFields {
            modality: first.modality.as_deref(),
            series_number: first.series_number,
            series_description: first.series_description.as_deref(),
            volume: &outcome.stack.id,
            study_uid: &group.study_instance_uid,
            series_uid: &group.series_instance_uid,
            study_description: first.study_description.as_deref(),
            protocol: first.protocol_name.as_deref(),
            body_part: first.body_part_examined.as_deref(),
        };
        let template = &self.options.name;
        let extension = if self.options.nifti_gzip {
            NIFTI_EXTENSION
        } else {
            ".nii"
        };
        let crop = outcome.crop;
        let slices: Vec<SliceRef> = outcome
            .stack
            .time_points
            .iter()
            .flatten()
            .copied()
            .collect();
        let frames = slices
            .iter()
            .map(|s| {
                let h = &self.instances[s.instance];
                FrameEntry {
                    path: h.path.clone(),
                    frame: s.frame,
                    hq_key: String::new(),
                    lq_key: None,
                    width: crop.map_or(u32::from(h.columns.unwrap_or(0)), |c| c.width),
                    height: crop.map_or(u32::from(h.rows.unwrap_or(0)), |c| c.height),
                    hq_bytes: 0,
                    lq_bytes: None,
                    sop_instance_uid: h.sop_instance_uid.clone(),
                }
            })
            .collect();
        Item {
            name: template.render(&fields, Target::Video, extension),
            series_name: Some(template.render(&fields, Target::Series, "")),
            kind: ItemKind::Volume,
            study_instance_uid: group.study_instance_uid.clone(),
            series_instance_uid: group.series_instance_uid.clone(),
            volume: outcome.stack.id.clone(),
            series_number: first.series_number,
            series_description: first.series_description.clone(),
            modality: first.modality.clone(),
            width: entry.dims[0] as u32,
            height: entry.dims[1] as u32,
            storage_key: entry.image.clone(),
            thumbnail_key: String::new(),
            thumbnail_bytes: None,
            frames,
            video: None,
            window: None,
            hls: None,
            contact_sheet: None,
            nifti: Some(entry.clone()),
            labels: Vec::new(),
            label_sheet: None,
            crop,
            burned_in: item_note(self.instances, &slices, crop, self.options.burned_in),
            slide: None,
        }
    }

    fn nifti_stack<'p>(&self, planned: &'p PlannedSeries, stack: Stack) -> StackOutcome<'p> {
        let group = &planned.group;
        let prefix = keys::volume_prefix(
            &group.study_instance_uid,
            &group.series_instance_uid,
            &stack.id,
        );
        let image = keys::nifti_key(&prefix, self.options.nifti_gzip);
        let slices = stack.time_points.iter().map(Vec::len).sum::<usize>() as u64;
        let all: Vec<SliceRef> = stack.time_points.iter().flatten().copied().collect();
        // A mosaic's tiles have no regions of their own to cut to.
        let crop =
            volume_crop(self.instances, &all, self.options.burned_in).filter(|_| !stack.mosaic);
        let mut outcome = StackOutcome {
            planned,
            stack,
            crop,
            result: Err(String::new()),
            written: 0,
            reused: 0,
        };
        if let Some(entry) = self.kept_nifti(&image) {
            outcome.reused = 1 + usize::from(entry.sidecar.is_some());
            outcome.result = Ok(entry);
            self.nifti_progress(slices);
            return outcome;
        }
        outcome.result = self.write_stack(planned, &outcome.stack, crop, &prefix, image);
        if let Ok(entry) = &outcome.result {
            outcome.written = 1 + [&entry.sidecar, &entry.bval, &entry.bvec]
                .iter()
                .filter(|k| k.is_some())
                .count();
        }
        outcome
    }

    /// The entry of an earlier run whose files are all there with their sizes.
    fn kept_nifti(&self, image: &str) -> Option<NiftiEntry> {
        let entry = self.previous.nifti.get(image)?;
        let companions = [&entry.sidecar, &entry.bval, &entry.bvec];
        // `kept` records each file it finds, so the manifest may name it.
        let all_there = self.kept(image) && companions.into_iter().flatten().all(|k| self.kept(k));
        all_there.then(|| entry.clone())
    }

    fn nifti_progress(&self, slices: u64) {
        // With pictures, the bar counts rendered frames only.
        if !self.options.outputs.render {
            self.progress.advance(slices);
        }
    }

    /// Whether the stored slices of the first time point run against the order of their
    /// InstanceNumbers (the files' acquisition order): the stack's order, reversed when
    /// `flipped` by the builder.
    fn against_instance_order(&self, stack: &Stack, flipped: bool) -> bool {
        let number =
            |s: Option<&SliceRef>| s.and_then(|s| self.instances[s.instance].instance_number);
        let slices = &stack.time_points[0];
        let descending = number(slices.first()) > number(slices.last());
        descending != flipped
    }

    /// The gradient of slice `s` of an enhanced multi-frame file as the scan read it from the
    /// frame's MR Diffusion Sequence (`None` when it did not: then the header says).
    fn scanned_gradient(&self, s: SliceRef) -> Option<Gradient> {
        let frame = self.instances[s.instance].frames.get(s.frame as usize)?;
        let diffusion = frame
            .diffusion
            .filter(|_| self.is_multi_frame(s.instance))?;
        Some(frame_gradient(&diffusion))
    }

    /// Reads the file of `header` for its header and frames.
    fn open_file(&self, header: &InstanceHeader) -> Result<OpenedFile, String> {
        OpenedFile::open(self.read_file(header)?, header)
    }

    /// Whether an instance is an enhanced (or classic) multi-frame file, whose frames have
    /// their own functional groups; a mosaic's tiles do not.
    fn is_multi_frame(&self, instance: usize) -> bool {
        super::stack_reader::is_multi_frame(&self.instances[instance])
    }

    /// Decodes the stack, builds its volume and writes the files.
    fn write_stack(
        &self,
        planned: &PlannedSeries,
        stack: &Stack,
        crop: Option<Crop>,
        prefix: &str,
        image: String,
    ) -> Result<NiftiEntry, String> {
        let first = stack.time_points[0][0];
        // The files of the first two time points give the sidecar its per-slice values once
        // the volume is built: kept. Multi-frame files are read once for all their frames, and
        // let go after the last (see [`StackFiles`]). The others are read for their slice alone.
        let first_two: BTreeSet<usize> = stack
            .time_points
            .iter()
            .take(2)
            .flatten()
            .map(|s| s.instance)
            .collect();
        let frames = multi_frame_counts(stack, self.instances);
        let open_file = move |instance: usize| {
            let header = &self.instances[instance];
            self.open_file(header)
                .map_err(|e| format!("{}: {e}", header.path))
        };
        let files = StackFiles::new(first_two, frames, Box::new(open_file));
        let dataset_of = |instance: usize| {
            let path = &self.instances[instance].path;
            files
                .kept(instance)
                .ok_or_else(|| format!("{path}: not kept"))??
                .dataset()
                .map_err(|e| format!("{path}: {e}"))
        };
        let first_ds = dataset_of(first.instance)?;
        let first_frame = if self.is_multi_frame(first.instance) {
            first.frame
        } else {
            0
        };
        let acquisition = acquisition(
            &first_ds,
            first_frame,
            self.instances[first.instance].mosaic.as_ref(),
        );
        // The gradient of each time point, from its first slice as it is decoded.
        let leads: HashMap<SliceRef, usize> = stack
            .time_points
            .iter()
            .enumerate()
            .map(|(t, slices)| (slices[0], t))
            .collect();
        let gradients: Mutex<Vec<Option<Gradient>>> =
            Mutex::new(vec![None; stack.time_points.len()]);
        let decode = |s: SliceRef| {
            let header = &self.instances[s.instance];
            if !files.contains(s.instance) && !leads.contains_key(&s) {
                // Most slices: nothing of their header is needed beyond what the scan kept.
                let frame = decode_slice(self.read_file(header)?, header, s.frame, stack.mosaic)
                    .map_err(|e| format!("{}: {e}", header.path))?;
                self.nifti_progress(u64::from(!stack.mosaic));
                return Ok(frame);
            }
            let (held, fetched);
            let file: &OpenedFile = match files.get(s.instance) {
                Some(file) => {
                    held = file?;
                    &held
                }
                None => {
                    fetched = files.read(s.instance)?;
                    &fetched
                }
            };
            if let Some(&t) = leads.get(&s) {
                let gradient = match self.scanned_gradient(s) {
                    Some(scanned) => Some(scanned),
                    None => {
                        let ds = file
                            .dataset()
                            .map_err(|e| format!("{}: {e}", header.path))?;
                        match frame_item(&ds, s.frame) {
                            Some(item) if self.is_multi_frame(s.instance) => {
                                gradient_for_frame(&ds, &item)
                            }
                            _ => gradient(&ds),
                        }
                    }
                };
                gradients.lock().unwrap_or_else(|e| e.into_inner())[t] = gradient;
            }
            // A mosaic's stored frame (the whole grid): the stack builder cuts the tiles.
            let frame = file
                .frame(header, s.frame, stack.mosaic)
                .map_err(|e| format!("{}: {e}", header.path))?;
            files.decoded(s.instance);
            self.nifti_progress(u64::from(!stack.mosaic));
            Ok(frame)
        };
        let mut built = match crop {
            None => build(stack, self.instances, &acquisition, &decode)?,
            Some(c) => {
                let slices: Vec<SliceRef> = stack.time_points.iter().flatten().copied().collect();
                let cropped = cropped_headers(self.instances, &slices, c);
                let decode = |s: SliceRef| {
                    decode(s)?
                        .cropped(c.x, c.y, c.width, c.height)
                        .ok_or_else(|| {
                            let path = &self.instances[s.instance].path;
                            format!("{path}: the frame does not hold its volume's crop")
                        })
                };
                build(stack, &cropped, &acquisition, &decode)?
            }
        };
        if stack.mosaic {
            self.nifti_progress(stack.time_points.len() as u64);
        }

        // The first two time points' files are open.
        let headers_of = |t: usize| -> Result<Vec<Dataset<'_>>, String> {
            let mut headers = Vec::new();
            for s in stack.time_points.get(t).into_iter().flatten() {
                let ds = dataset_of(s.instance)?;
                if !self.is_multi_frame(s.instance) {
                    headers.push(ds);
                } else if let Some(item) = frame_item(&ds, s.frame) {
                    headers.push(item);
                }
            }
            Ok(headers)
        };
        let multi_frame = self.is_multi_frame(first.instance);
        let echoes: BTreeSet<Option<i64>> = planned
            .group
            .members
            .iter()
            .map(|&i| self.instances[i].echo_number)
            .collect();
        // Echo times of the series' frames (enhanced files carry one per frame).
        let frame_echo_times: BTreeSet<u64> = planned
            .group
            .members
            .iter()
            .flat_map(|&i| self.instances[i].frames.iter())
            .filter_map(|f| f.echo_time.map(f64::to_bits))
            .collect();
        let input = SidecarInput {
            first: Some(first_ds),
            first_frame: multi_frame
                .then(|| frame_item(&first_ds, first.frame))
                .flatten(),
            slice_headers: headers_of(0)?,
            second_slice_headers: headers_of(1)?,
            mosaic_slices: acquisition.mosaic_tiles.filter(|_| stack.mosaic),
            dims: built.header.dims,
            slices_reversed: self.against_instance_order(stack, built.slices_reversed),
            multi_echo: echoes.len() > 1 || frame_echo_times.len() > 1,
            file_echo: multi_frame
                .then(|| {
                    let frames = &self.instances[first.instance].frames;
                    let times: Vec<Option<f64>> = frames.iter().map(|f| f.echo_time).collect();
                    echo_in_file(&times, first.frame as usize)
                })
                .flatten(),
        };
        let json = sidecar(&input).to_json_string();

        let data = std::mem::take(&mut built.data);
        let bytes = nifti_bytes(&built.header, data, self.options.nifti_gzip);
        let image_bytes = bytes.len() as u64;
        self.put(&image, bytes)?;
        let sidecar_key = keys::nifti_companion_key(prefix, "json");
        self.put(&sidecar_key, json.into_bytes())?;
        let gradients = gradients.into_inner().unwrap_or_else(|e| e.into_inner());
        let (bval, bvec) =
            match diffusion_texts(&gradients, &built, first, &first_ds, self.instances) {
                Some((bval, bvec)) => {
                    let (bval_key, bvec_key) = (
                        keys::nifti_companion_key(prefix, "bval"),
                        keys::nifti_companion_key(prefix, "bvec"),
                    );
                    self.put(&bval_key, bval.into_bytes())?;
                    self.put(&bvec_key, bvec.into_bytes())?;
                    (Some(bval_key), Some(bvec_key))
                }
                None => (None, None),
            };
        Ok(NiftiEntry {
            image,
            sidecar: Some(sidecar_key),
            bval,
            bvec,
            image_bytes,
            dims: built.header.dims,
            volumes: stack.volumes.clone(),
            notes: built.notes,
            affine: Some(built.header.affine.rows()),
        })
    }
}

/// The .bval and .bvec texts of a diffusion series, when dcm2niix writes them.
fn diffusion_texts(
    gradients: &[Option<Gradient>],
    built: &Built,
    first: SliceRef,
    first_ds: &Dataset<'_>,
    instances: &[InstanceHeader],
) -> Option<(String, String)> {
    let none = Gradient {
        b_value: 0.0,
        direction: None,
        frame: GradientFrame::Patient,
    };
    if gradients.iter().all(Option::is_none) {
        return None;
    }
    let mut gradients: Vec<Gradient> = gradients.iter().map(|g| g.unwrap_or(none)).collect();
    let bvals = bvals_to_write(&gradients, Vendor::of(first_ds))?;
    for (g, b) in gradients.iter_mut().zip(bvals) {
        g.b_value = b;
    }
    let orientation = instances[first.instance].frame_orientation(first.frame)?;
    let bvecs = bvecs_in_voxel_frame(&gradients, orientation, built.slices_reversed);
    Some(bval_bvec_text(&gradients, &bvecs))
}
