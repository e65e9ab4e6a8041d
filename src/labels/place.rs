//! Where labels go: the item frame a SEG frame or a contour belongs to, through its image
//! references (SOP Instance UID and frame number), else through its Frame of Reference and
//! plane. Pure code over the manifest's items and the scanned headers.

use std::collections::HashMap;

use super::plane::Plane;
use crate::contract::manifest::Item;
use crate::scan::InstanceHeader;

/// One frame of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub item: usize,
    pub frame: usize,
}

/// A frame of an item with the facts placement needs.
#[derive(Debug, Clone)]
struct Slot<'a> {
    target: Target,
    header: &'a InstanceHeader,
    plane: Option<Plane>,
    /// Half the item's slice spacing (mm): how far a label may lie off the plane.
    tolerance: f64,
}

/// Every item frame, found by its image's SOP Instance UID and frame, or by its plane.
pub struct Frames<'a> {
    slots: Vec<Slot<'a>>,
    /// (SOP Instance UID, 0-based frame) → slot indices (an image is a frame of a rendered
    /// item and of a NIfTI-only volume item when their volumes differ).
    by_uid: HashMap<(&'a str, u32), Vec<usize>>,
}

/// Why a reference found no frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Miss {
    /// The referenced image is not among the converted items.
    NotInSource(String),
    /// No referenced image, and no frame of the same Frame of Reference lies on the plane.
    NoPlane,
    /// No referenced image, and the Frame of Reference matches no item.
    FrameOfReference,
}

impl<'a> Frames<'a> {
    /// The frames of `items`, with the headers of their source files (by path).
    pub fn new(items: &[Item], headers: &HashMap<&str, &'a InstanceHeader>) -> Frames<'a> {
        let mut slots = Vec::new();
        let mut by_uid = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let first = slots.len();
            for (f, frame) in item.frames.iter().enumerate() {
                let Some(header) = headers.get(frame.path.as_str()).copied() else {
                    continue;
                };
                if let Some(uid) = header.sop_instance_uid.as_deref() {
                    by_uid
                        .entry((uid, frame.frame))
                        .or_insert_with(Vec::new)
                        .push(slots.len());
                }
                slots.push(Slot {
                    target: Target { item: i, frame: f },
                    header,
                    plane: Plane::of(header, frame.frame),
                    tolerance: 0.0,
                });
            }
            let tolerance = half_spacing(&slots[first..]);
            for slot in &mut slots[first..] {
                slot.tolerance = tolerance;
            }
        }
        Frames { slots, by_uid }
    }

    /// The item frames showing image `uid`, frame `number` (1-based; the first when absent).
    pub fn by_reference(&self, uid: &str, number: Option<u32>) -> Result<Vec<Target>, Miss> {
        let frame = number.map_or(0, |n| n.saturating_sub(1));
        self.by_uid
            .get(&(uid, frame))
            .map(|slots| slots.iter().map(|&s| self.slots[s].target).collect())
            .ok_or_else(|| Miss::NotInSource(uid.to_string()))
    }

    /// The header of the image shown at `target`.
    pub fn header(&self, target: Target) -> Option<&'a InstanceHeader> {
        self.slot(target).map(|s| s.header)
    }

    /// The plane of the image shown at `target`.
    pub fn plane(&self, target: Target) -> Option<Plane> {
        self.slot(target).and_then(|s| s.plane)
    }

    /// Half the slice spacing of `target`'s item (mm).
    pub fn tolerance(&self, target: Target) -> f64 {
        self.slot(target).map_or(0.0, |s| s.tolerance)
    }

    /// Slots are pushed in item, then frame order: sorted by target.
    fn slot(&self, target: Target) -> Option<&Slot<'a>> {
        let index = self
            .slots
            .binary_search_by(|s| s.target.cmp(&target))
            .ok()?;
        Some(&self.slots[index])
    }

    /// The frames in Frame of Reference `frame_of_reference` whose plane is parallel to
    /// `orientation`'s and holds every one of `points` within half a slice spacing (per item,
    /// the nearest when several do).
    pub fn by_plane(
        &self,
        frame_of_reference: Option<&str>,
        points: &[[f64; 3]],
        orientation: Option<&Plane>,
    ) -> Result<Vec<Target>, Miss> {
        let for_uid = frame_of_reference.ok_or(Miss::FrameOfReference)?;
        let mut same_frame = self
            .slots
            .iter()
            .filter(|s| s.header.frame_of_reference_uid.as_deref() == Some(for_uid))
            .peekable();
        if same_frame.peek().is_none() {
            return Err(Miss::FrameOfReference);
        }
        let mut best: std::collections::BTreeMap<usize, (f64, Target)> = Default::default();
        for slot in same_frame {
            let Some(plane) = &slot.plane else { continue };
            if orientation.is_some_and(|o| !o.parallel(plane)) {
                continue;
            }
            let worst = points
                .iter()
                .map(|&p| plane.distance(p).abs())
                .fold(0.0, f64::max);
            let item = slot.target.item;
            if worst <= slot.tolerance && best.get(&item).is_none_or(|(d, _)| worst < *d) {
                best.insert(item, (worst, slot.target));
            }
        }
        if best.is_empty() {
            return Err(Miss::NoPlane);
        }
        Ok(best.into_values().map(|(_, t)| t).collect())
    }
}

/// Half the spacing between adjacent frames of one item (along their normal); half the slice
/// thickness (else 0.5 mm) for a single frame.
fn half_spacing(slots: &[Slot<'_>]) -> f64 {
    let spacing = slots
        .windows(2)
        .filter_map(|pair| {
            let (a, b) = (pair[0].plane?, pair[1].plane?);
            let d = a.distance(b.origin).abs();
            (d > 1e-3).then_some(d)
        })
        .fold(f64::INFINITY, f64::min);
    if spacing.is_finite() {
        spacing / 2.0
    } else {
        slots
            .first()
            .and_then(|s| s.header.slice_thickness)
            .filter(|t| *t > 0.0)
            .map_or(0.5, |t| t / 2.0)
    }
}
