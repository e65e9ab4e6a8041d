//! Rendering, encoding and writing the slices of a volume, a chunk at a time.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::context::{Context, OpenFiles, Picture, SliceOutput, VolumePlan, VolumeWindow};
use super::window::{frame_modality, frame_window};
use crate::contract::FileIssue;
use crate::contract::keys;
use crate::encode::jpeg::{Huffman, encode_jpeg};
use crate::encode::png::encode_png;
use crate::encode::thumbnail::encode_thumbnail;
use crate::render::decode::{DicomImage, Frame, Samples, native_grey_frame, native_grey_pixels};
use crate::render::lut::ModalityLut;
use crate::render::window::{WindowChoice, choose_mapping, modality_range};
use crate::render::{Image8, burn_overlays, render_frame};
use crate::scan::InstanceHeader;

impl Context<'_> {
    /// Renders and writes slices `chunk` of a volume in parallel, in slice order; returns each
    /// slice's outputs and, when it was rendered, its image (for the video).
    pub(super) fn render_chunk(
        &self,
        plan: &VolumePlan,
        chunk: &[usize],
        needs_pixels: &(dyn Fn(usize) -> bool + Sync),
        open: &mut OpenFiles,
    ) -> Vec<Result<(SliceOutput, Option<Image8>), FileIssue>> {
        let slices = &plan.volume.slices;
        let wanted: BTreeSet<usize> = chunk
            .iter()
            .filter(|&&i| needs_pixels(i))
            .map(|&i| slices[i].instance)
            .collect();
        open.retain(|instance, _| wanted.contains(instance));
        let opened: Vec<(usize, Result<Arc<DicomImage>, String>)> = wanted
            .iter()
            .filter(|instance| !open.contains_key(instance))
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|&instance| (instance, self.open_instance(instance)))
            .collect();
        open.extend(opened);
        let open = &*open;
        chunk
            .par_iter()
            .map(|&index| {
                let slice = slices[index];
                let header = &self.instances[slice.instance];
                let fail = |reason: String| FileIssue {
                    path: header.path.clone(),
                    reason: if header.number_of_frames > 1 {
                        format!("frame {}: {reason}", slice.frame)
                    } else {
                        reason
                    },
                };
                let result = if needs_pixels(index) {
                    let image = open
                        .get(&slice.instance)
                        .cloned()
                        .unwrap_or_else(|| Err("not opened".into()));
                    image
                        .and_then(|image| self.render_slice(&image, header, slice.frame, plan))
                        .and_then(|rendered| {
                            let output = self.write_slice(&rendered, index, plan)?;
                            Ok((output, Some(rendered)))
                        })
                        .map_err(fail)
                } else {
                    Ok((self.kept_slice(plan, index), None))
                };
                self.progress.advance(1);
                result
            })
            .collect()
    }

    /// Opens the file of `instance` for rendering; with `--copy-dicom`, also writes its bytes
    /// under [`keys::dicom_copy_key`].
    pub(super) fn open_instance(&self, instance: usize) -> Result<Arc<DicomImage>, String> {
        let header = &self.instances[instance];
        let bytes = self.read_file(header)?;
        if self.options.copy_dicom {
            let key = keys::dicom_copy_key(&header.path);
            let size = bytes.len() as u64;
            self.sink
                .put(&key, bytes.to_vec())
                .map_err(|e| format!("cannot copy it to {}: {e}", self.sink.describe(&key)))?;
            self.bytes_written.fetch_add(size, Ordering::Relaxed);
        }
        as_scanned(bytes, header).map(Arc::new)
    }

    /// Opens (downloads, for buckets and DICOMweb) the file of `header` for decoding; the
    /// frames of a Siemens mosaic are its tiles, as the scan lists them.
    pub(super) fn open_image(&self, header: &InstanceHeader) -> Result<DicomImage, String> {
        as_scanned(self.read_file(header)?, header)
    }

    pub(super) fn read_file(&self, header: &InstanceHeader) -> Result<bytes::Bytes, String> {
        let bytes = self.source.read(&header.path)?;
        self.bytes_read
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes)
    }

    /// The outputs of a slice whose every output is kept from an earlier run.
    pub(super) fn kept_slice(&self, plan: &VolumePlan, index: usize) -> SliceOutput {
        let header = &self.instances[plan.volume.slices[index].instance];
        let keys = plan.keys(index);
        let size = |key: &String| self.sink.size(key).unwrap_or(0);
        SliceOutput {
            index,
            width: plan
                .crop
                .map_or(u32::from(header.columns.unwrap_or(0)), |c| c.width),
            height: plan
                .crop
                .map_or(u32::from(header.rows.unwrap_or(0)), |c| c.height),
            hq_bytes: size(&keys[0]),
            lq_bytes: (plan.kind == Picture::Video).then(|| size(&keys[1])),
            thumbnail_bytes: (plan.kind == Picture::Image).then(|| size(&keys[1])),
            written: 0,
            reused: keys.len(),
        }
    }

    /// Renders frame `frame` of `image` (the file of `header`) as `plan` says: its window,
    /// overlays, and crop.
    pub(super) fn render_slice(
        &self,
        image: &DicomImage,
        header: &InstanceHeader,
        frame: u32,
        plan: &VolumePlan,
    ) -> Result<Image8, String> {
        let window = &plan.window;
        let decoded = image.frame(frame).map_err(|e| e.to_string())?;
        let modality = frame_modality(image, header, frame);
        let mapping = match (window, &decoded.samples) {
            (_, Samples::Rgb(_)) => choose_mapping(
                WindowChoice::MinMax,
                modality,
                None,
                |_| (0.0, 255.0),
                false,
            ),
            (VolumeWindow::Shared { voi, range, .. }, _) => choose_mapping(
                self.options.window,
                modality,
                voi.clone(),
                |_| *range,
                image.is_monochrome1(),
            ),
            (VolumeWindow::PerFrame | VolumeWindow::Kept(_), Samples::Grey(values)) => {
                let (center, width) = frame_window(header, frame);
                let voi = image.header_voi(center, width);
                // The frame's range is computed only for a min-max window.
                let range = |modality: &ModalityLut| {
                    let (lo, hi) = values.min_max().unwrap_or((0, 0));
                    modality_range(modality, lo, hi)
                };
                choose_mapping(
                    self.options.window,
                    modality,
                    voi,
                    range,
                    image.is_monochrome1(),
                )
            }
        };
        let mut rendered = render_frame(decoded, &mapping);
        if self.options.overlays {
            let planes = image.overlays().map_err(|e| e.to_string())?;
            burn_overlays(&mut rendered, &planes, frame);
        }
        match plan.crop {
            None => Ok(rendered),
            Some(c) => rendered
                .cropped(c.x, c.y, c.width, c.height)
                .ok_or_else(|| {
                    format!(
                        "the {}x{} frame does not hold its volume's crop ({}x{} at {},{})",
                        rendered.width, rendered.height, c.width, c.height, c.x, c.y
                    )
                }),
        }
    }

    /// Encodes and stores the outputs of one rendered slice (outputs kept from an earlier run
    /// are not written again).
    pub(super) fn write_slice(
        &self,
        rendered: &Image8,
        index: usize,
        plan: &VolumePlan,
    ) -> Result<SliceOutput, String> {
        let keys = plan.keys(index);
        let (mut written, mut reused) = (0, 0);
        let mut store = |key: &str, bytes: Vec<u8>| {
            if self.kept(key) {
                reused += 1;
                return Ok(());
            }
            written += 1;
            self.put(key, bytes)
        };
        let hq = encode_png(rendered).map_err(|e| e.to_string())?;
        let hq_bytes = hq.len() as u64;
        store(&keys[0], hq)?;
        let (lq_bytes, thumbnail_bytes) = match plan.kind {
            Picture::Image => {
                let thumbnail = encode_thumbnail(rendered).map_err(|e| e.to_string())?;
                let size = thumbnail.len() as u64;
                store(&keys[1], thumbnail)?;
                (None, Some(size))
            }
            Picture::Video => {
                let lq = encode_jpeg(rendered, self.options.lq_quality, Huffman::Standard)
                    .map_err(|e| e.to_string())?;
                let lq_bytes = lq.len() as u64;
                store(&keys[1], lq)?;
                (Some(lq_bytes), None)
            }
        };
        Ok(SliceOutput {
            index,
            width: rendered.width,
            height: rendered.height,
            hq_bytes,
            lq_bytes,
            thumbnail_bytes,
            written,
            reused,
        })
    }

    /// The thumbnail of a video item, made from the middle one of the slices that rendered
    /// (`outputs`, in slice order): `middle_image` when that is the planned middle slice and
    /// it was rendered, else rendered again. Returns its size; `None` when no slice rendered.
    pub(super) fn video_thumbnail(
        &self,
        plan: &VolumePlan,
        outputs: &[SliceOutput],
        middle_image: Option<Image8>,
    ) -> Result<Option<u64>, FileIssue> {
        let Some(from) = outputs.get(outputs.len() / 2) else {
            return Ok(None);
        };
        let key = keys::video_thumbnail_key(&plan.prefix);
        if self.kept(&key) {
            return Ok(self.sink.size(&key));
        }
        let slice = plan.volume.slices[from.index];
        let header = &self.instances[slice.instance];
        let fail = |reason: String| FileIssue {
            path: header.path.clone(),
            reason: format!("thumbnail {}: {reason}", self.sink.describe(&key)),
        };
        let image = match middle_image.filter(|_| from.index == plan.middle) {
            Some(image) => image,
            None => self
                .open_image(header)
                .and_then(|image| self.render_slice(&image, header, slice.frame, plan))
                .map_err(fail)?,
        };
        let thumbnail = encode_thumbnail(&image).map_err(|e| fail(e.to_string()))?;
        let size = thumbnail.len() as u64;
        self.put(&key, thumbnail).map_err(fail)?;
        Ok(Some(size))
    }
}

/// Frame `frame` of the file of `header`, from its `bytes`, for a volume writer that keeps no
/// image of it open (a mosaic's whole grid when `stored`): plain native grey files straight
/// from their bytes ([`native_grey_frame`]: no data set parsed), the others through it.
pub(super) fn decode_slice(
    bytes: bytes::Bytes,
    header: &InstanceHeader,
    frame: u32,
    stored: bool,
) -> Result<Frame, String> {
    if (header.mosaic.is_none() || stored)
        && let Some(pixels) = native_grey_pixels(&bytes, header)
    {
        return pixels
            .and_then(|pixels| native_grey_frame(&pixels, header, frame))
            .map_err(|e| e.to_string());
    }
    scanned_frame(&as_scanned(bytes, header)?, frame, stored)
}

/// Frame `frame` of an image opened [`as_scanned`]: a mosaic's whole grid when `stored`,
/// else the frame (a mosaic's tile).
pub(super) fn scanned_frame(image: &DicomImage, frame: u32, stored: bool) -> Result<Frame, String> {
    if stored {
        image.stored_frame(frame)
    } else {
        image.frame(frame)
    }
    .map_err(|e| e.to_string())
}

/// The image of a file whose frames are those of its scanned `header` (a mosaic's tiles).
pub(super) fn as_scanned(
    bytes: bytes::Bytes,
    header: &InstanceHeader,
) -> Result<DicomImage, String> {
    let image = DicomImage::from_shared(bytes).map_err(|e| e.to_string())?;
    match &header.mosaic {
        Some(mosaic) => image.with_mosaic(mosaic).map_err(|e| e.to_string()),
        None => Ok(image),
    }
}
