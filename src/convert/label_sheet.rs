//! The label sheet of an item: up to 16 of its labelled frames (evenly spaced), read back from
//! their HQ PNGs, with each label's outline drawn in its colour, on one JPEG beside the contact
//! sheet, so that a person sees at a glance that the labels sit on the anatomy.

use super::sheet::sheet_jpeg;
use super::sink::Sink;
use crate::contract::keys;
use crate::contract::manifest::{ContactSheetEntry, Item};
use crate::encode::png::decode_png;
use crate::labels::layers::Layer;
use crate::labels::outline::{draw, to_rgb};
use crate::render::contact_sheet::{MAX_FRAMES, TILE_MAX, sheet_frames};

/// Writes the label sheet of `item` with `layers`; `None` when no labelled frame could be read
/// back or the sheet could not be written.
pub(super) fn label_sheet(
    item: &Item,
    layers: &[Layer],
    sink: &dyn Sink,
) -> Option<ContactSheetEntry> {
    let mut labelled: Vec<usize> = layers
        .iter()
        .flat_map(|l| l.frames.keys().copied())
        .collect();
    labelled.sort_unstable();
    labelled.dedup();
    let picks: Vec<usize> = sheet_frames(labelled.len(), MAX_FRAMES)
        .into_iter()
        .map(|k| labelled[k])
        .collect();
    let mut images = Vec::with_capacity(picks.len());
    let mut shown = Vec::with_capacity(picks.len());
    for &f in &picks {
        let frame = item.frames.get(f)?;
        let Some(image) = sink
            .get(&frame.hq_key)
            .and_then(|png| decode_png(&png).ok())
        else {
            continue;
        };
        let mut image = to_rgb(image);
        let thickness = image.width.max(image.height).div_ceil(TILE_MAX);
        let shapes: Vec<_> = layers
            .iter()
            .flat_map(|l| {
                l.frames
                    .get(&f)
                    .into_iter()
                    .flatten()
                    .map(move |s| (l.color, s))
            })
            .collect();
        draw(&mut image, &shapes, thickness);
        images.push(image);
        shown.push(f as u32);
    }
    let key = keys::label_key(&item.storage_key, "labels.jpg");
    let (entry, jpeg) = sheet_jpeg(&images, shown, key.clone()).ok()?;
    sink.put(&key, jpeg).ok()?;
    Some(entry)
}
