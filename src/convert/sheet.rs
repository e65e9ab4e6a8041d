//! The contact sheet of a video item: up to 16 evenly spaced HQ frames on one JPEG (the layout
//! is [`crate::render::contact_sheet`]).

use std::collections::HashMap;

use super::context::{Context, SliceOutput, VolumePlan};
use crate::contract::FileIssue;
use crate::contract::keys;
use crate::contract::manifest::ContactSheetEntry;
use crate::encode::jpeg::{Huffman, encode_jpeg};
use crate::render::Image8;
use crate::render::contact_sheet::{MAX_FRAMES, make_contact_sheet, sheet_frames, sheet_geometry};

/// JPEG quality of contact sheets (they are looked at, not measured).
pub const SHEET_QUALITY: u8 = 85;

/// The slice indices the sheet of a volume of `count` slices is planned to show (its frames
/// are kept aside while the slices stream past).
pub(super) fn planned_sheet_frames(count: usize) -> Vec<usize> {
    sheet_frames(count, MAX_FRAMES)
}

impl Context<'_> {
    /// Writes (or keeps) the contact sheet of a video item from the slices that rendered
    /// (`outputs`, in slice order). `stash` holds rendered images by slice index; a frame
    /// missing there is rendered again. `None` when no slice rendered.
    pub(super) fn contact_sheet(
        &self,
        plan: &VolumePlan,
        outputs: &[SliceOutput],
        mut stash: HashMap<usize, Image8>,
    ) -> Result<Option<ContactSheetEntry>, FileIssue> {
        let picks: Vec<usize> = sheet_frames(outputs.len(), MAX_FRAMES)
            .into_iter()
            .map(|k| outputs[k].index)
            .collect();
        let Some(first) = outputs.first() else {
            return Ok(None);
        };
        let key = keys::contact_sheet_key(&plan.prefix);
        let frames: Vec<u32> = picks.iter().map(|&i| i as u32).collect();
        if let Some(previous) = self.previous.sheets.get(&key)
            && previous.frames == frames
            && self.kept(&key)
        {
            return Ok(Some(previous.clone()));
        }
        let mut images = Vec::with_capacity(picks.len());
        for &index in &picks {
            let slice = plan.volume.slices[index];
            let header = &self.instances[slice.instance];
            let fail = |reason: String| FileIssue {
                path: header.path.clone(),
                reason: format!("contact sheet {}: {reason}", self.sink.describe(&key)),
            };
            let image = match stash.remove(&index) {
                Some(image) => image,
                None => self
                    .open_image(header)
                    .and_then(|image| self.render_slice(&image, header, slice.frame, plan))
                    .map_err(fail)?,
            };
            images.push(image);
        }
        let fail = |reason: String| FileIssue {
            path: self.instances[plan.volume.slices[first.index].instance]
                .path
                .clone(),
            reason: format!("contact sheet {}: {reason}", self.sink.describe(&key)),
        };
        let (entry, jpeg) = sheet_jpeg(&images, frames, key.clone()).map_err(fail)?;
        self.put(&key, jpeg).map_err(fail)?;
        Ok(Some(entry))
    }
}

/// `images` (rendered frames `frames`) on one sheet, as the JPEG to write under `key` and
/// the manifest's entry for it.
pub(super) fn sheet_jpeg(
    images: &[Image8],
    frames: Vec<u32>,
    key: String,
) -> Result<(ContactSheetEntry, Vec<u8>), String> {
    let first = images.first().ok_or("no frame to show")?;
    let geometry =
        sheet_geometry(images.len(), first.width, first.height).ok_or("no frame to show")?;
    let sheet = make_contact_sheet(images).ok_or("no frame to show")?;
    let jpeg = encode_jpeg(&sheet, SHEET_QUALITY, Huffman::Optimized).map_err(|e| e.to_string())?;
    let entry = ContactSheetEntry {
        key,
        bytes: jpeg.len() as u64,
        width: sheet.width,
        height: sheet.height,
        columns: geometry.columns,
        rows: geometry.rows,
        frames,
    };
    Ok((entry, jpeg))
}
