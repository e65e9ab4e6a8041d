//! The window of a volume's frames, and the modality and window of one frame.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::context::{Context, VolumeWindow};
use crate::contract::manifest::WindowUsed;
use crate::order::split::Volume;
use crate::render::decode::{DicomImage, Samples};
use crate::render::lut::{ModalityLut, Voi};
use crate::render::volume_window::shared_header_window;
use crate::render::window::{WindowChoice, modality_range};
use crate::scan::InstanceHeader;

impl Context<'_> {
    /// Chooses one VOI for a whole video: the user's fixed window; else the header's VOI LUT
    /// table, or the window chosen from every slice's header window
    /// ([`shared_header_window`]: the one most slices carry, else the medians), with the VOI
    /// LUT function of the slice nearest the middle that opens; else the volume's modality
    /// range (a first pass over every frame).
    pub(super) fn volume_window(&self, volume: &Volume, middle: usize) -> VolumeWindow {
        let shared = |voi, range, source, chosen_by| VolumeWindow::Shared {
            voi,
            range,
            source,
            chosen_by,
        };
        if let WindowChoice::Fixed { .. } = self.options.window {
            return shared(None, (0.0, 0.0), "fixed", None);
        }
        if self.options.window == WindowChoice::Header {
            let chosen = shared_header_window(
                volume
                    .slices
                    .iter()
                    .map(|s| frame_window(&self.instances[s.instance], s.frame)),
            );
            if let Some(image) = self.image_near(volume, middle) {
                let voi = image.header_voi(chosen.map(|c| c.center), chosen.map(|c| c.width));
                let chosen_by = match voi {
                    Some(Voi::Window(_)) => chosen.map(|c| c.explain()),
                    _ => None,
                };
                if voi.is_some() {
                    return shared(voi, (0.0, 0.0), "header", chosen_by);
                }
            }
        }
        let mut by_file: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for slice in &volume.slices {
            by_file.entry(slice.instance).or_default().push(slice.frame);
        }
        let range = by_file
            .into_par_iter()
            .filter_map(|(instance, frames)| {
                let header = &self.instances[instance];
                let image = self.open_image(header).ok()?;
                frames
                    .iter()
                    .filter_map(|&frame| {
                        let Samples::Grey(values) = image.frame(frame).ok()?.samples else {
                            return None;
                        };
                        let (lo, hi) = values.min_max()?;
                        Some(modality_range(
                            &frame_modality(&image, header, frame),
                            lo,
                            hi,
                        ))
                    })
                    .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
            })
            .reduce(
                || (f64::INFINITY, f64::NEG_INFINITY),
                |a, b| (a.0.min(b.0), a.1.max(b.1)),
            );
        shared(None, range, "minmax", None)
    }

    /// The image of the slice nearest `middle` that opens, trying at most a few.
    fn image_near(&self, volume: &Volume, middle: usize) -> Option<DicomImage> {
        const ATTEMPTS: usize = 4;
        let mut order: Vec<usize> = (0..volume.slices.len()).collect();
        order.sort_by_key(|&i| (i.abs_diff(middle), i));
        order.into_iter().take(ATTEMPTS).find_map(|i| {
            self.open_image(&self.instances[volume.slices[i].instance])
                .ok()
        })
    }
}

/// The window a video was rendered with, for the manifest.
pub(super) fn window_used(
    voi: Option<&Voi>,
    range: (f64, f64),
    source: &str,
    chosen_by: Option<&String>,
    choice: &WindowChoice,
) -> Option<WindowUsed> {
    let (center, width) = match (choice, voi) {
        (WindowChoice::Fixed { center, width }, _) => (*center, *width),
        (_, Some(Voi::Window(w))) => (w.center, w.width),
        (_, Some(Voi::Table(_))) => {
            return Some(WindowUsed {
                center: 0.0,
                width: 0.0,
                source: "lut".into(),
                chosen_by: None,
            });
        }
        (_, None) if range.0.is_finite() => {
            let w = crate::render::lut::Window::min_max(range.0, range.1);
            (w.center, w.width)
        }
        _ => return None,
    };
    Some(WindowUsed {
        center,
        width,
        source: source.into(),
        chosen_by: chosen_by.cloned(),
    })
}

/// Rescale of one frame: per-frame functional groups first, then the instance's, or the file's
/// Modality LUT Sequence.
pub(super) fn frame_modality(
    image: &DicomImage,
    header: &InstanceHeader,
    frame: u32,
) -> ModalityLut {
    let per_frame = header.frames.get(frame as usize);
    let slope = per_frame
        .and_then(|f| f.rescale_slope)
        .or(header.rescale_slope);
    let intercept = per_frame
        .and_then(|f| f.rescale_intercept)
        .or(header.rescale_intercept);
    image.modality_lut(slope, intercept)
}

/// First window center/width of one frame: per-frame first, then the instance's.
pub(super) fn frame_window(header: &InstanceHeader, frame: u32) -> (Option<f64>, Option<f64>) {
    let per_frame = header.frames.get(frame as usize);
    let center = per_frame
        .and_then(|f| f.window_center)
        .or(header.window_center.first().copied());
    let width = per_frame
        .and_then(|f| f.window_width)
        .or(header.window_width.first().copied());
    (center, width)
}
