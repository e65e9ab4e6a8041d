//! Where labels go: the image frame a SEG frame or a contour belongs to, through its image
//! references (SOP Instance UID and frame number), else through its Frame of Reference and
//! plane. Pure code over the scanned headers: placement needs no rendered item, so it runs
//! while the items are being made, and each item then takes the labels of its frames.

use std::collections::HashMap;

use super::plane::Plane;
use crate::scan::vector::dot;
use crate::scan::{InstanceHeader, LabelClass};

/// One frame of one scanned image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// Index of the image in the scanned instances.
    pub instance: usize,
    /// 0-based frame of the image (a mosaic's tile).
    pub frame: u32,
}

/// An image frame with the facts placement needs.
#[derive(Debug, Clone)]
struct Slot {
    target: Target,
    plane: Option<Plane>,
    /// Half the slice spacing of the image's series (mm): how far a label may lie off the
    /// plane.
    tolerance: f64,
}

/// Every image frame of a scan, found by its SOP Instance UID and frame, or by its plane.
pub struct Frames<'a> {
    instances: &'a [InstanceHeader],
    /// In instance, then frame order.
    slots: Vec<Slot>,
    /// (SOP Instance UID, 0-based frame) → slot indices (several when files repeat an image).
    by_uid: HashMap<(&'a str, u32), Vec<usize>>,
}

/// Why a reference found no frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Miss {
    /// The referenced image is not among the scanned images.
    NotInSource(String),
    /// No referenced image, and no frame of the same Frame of Reference lies on the plane.
    NoPlane,
    /// No referenced image, and the Frame of Reference matches no image.
    FrameOfReference,
}

impl<'a> Frames<'a> {
    /// The frames of the images of `instances` (label objects left out).
    pub fn new(instances: &'a [InstanceHeader]) -> Frames<'a> {
        let mut slots = Vec::new();
        let mut by_uid: HashMap<(&'a str, u32), Vec<usize>> = HashMap::new();
        let mut series: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, header) in instances.iter().enumerate() {
            if LabelClass::of(header.sop_class_uid.as_deref()).is_some() {
                continue;
            }
            for frame in 0..header.number_of_frames.max(1) {
                if let Some(uid) = header.sop_instance_uid.as_deref() {
                    by_uid.entry((uid, frame)).or_default().push(slots.len());
                }
                let key = header.series_instance_uid.as_deref().unwrap_or("");
                series.entry(key).or_default().push(slots.len());
                slots.push(Slot {
                    target: Target { instance: i, frame },
                    plane: Plane::of(header, frame),
                    tolerance: 0.0,
                });
            }
        }
        for members in series.values() {
            let tolerance = half_spacing(&slots, members, instances);
            for &s in members {
                slots[s].tolerance = tolerance;
            }
        }
        Frames {
            instances,
            slots,
            by_uid,
        }
    }

    /// The image frames of image `uid`, frame `number` (1-based; the first when absent).
    pub fn by_reference(&self, uid: &str, number: Option<u32>) -> Result<Vec<Target>, Miss> {
        let frame = number.map_or(0, |n| n.saturating_sub(1));
        self.by_uid
            .get(&(uid, frame))
            .map(|slots| slots.iter().map(|&s| self.slots[s].target).collect())
            .ok_or_else(|| Miss::NotInSource(uid.to_string()))
    }

    /// The scanned instances the frames are of.
    pub fn instances(&self) -> &'a [InstanceHeader] {
        self.instances
    }

    /// The header of the image of `target`.
    pub fn header(&self, target: Target) -> Option<&'a InstanceHeader> {
        self.instances.get(target.instance)
    }

    /// The plane of `target`.
    pub fn plane(&self, target: Target) -> Option<Plane> {
        self.slot(target).and_then(|s| s.plane)
    }

    /// Half the slice spacing of `target`'s series (mm).
    pub fn tolerance(&self, target: Target) -> f64 {
        self.slot(target).map_or(0.0, |s| s.tolerance)
    }

    fn slot(&self, target: Target) -> Option<&Slot> {
        let index = self
            .slots
            .binary_search_by(|s| s.target.cmp(&target))
            .ok()?;
        Some(&self.slots[index])
    }

    /// The frames in Frame of Reference `frame_of_reference` whose plane is parallel to
    /// `orientation`'s and holds every one of `points` within half a slice spacing (per
    /// series, the nearest when several do).
    pub fn by_plane(
        &self,
        frame_of_reference: Option<&str>,
        points: &[[f64; 3]],
        orientation: Option<&Plane>,
    ) -> Result<Vec<Target>, Miss> {
        let for_uid = frame_of_reference.ok_or(Miss::FrameOfReference)?;
        let header = |s: &Slot| &self.instances[s.target.instance];
        let mut same_frame = self
            .slots
            .iter()
            .filter(|s| header(s).frame_of_reference_uid.as_deref() == Some(for_uid))
            .peekable();
        if same_frame.peek().is_none() {
            return Err(Miss::FrameOfReference);
        }
        let mut best: std::collections::BTreeMap<&str, (f64, Target)> = Default::default();
        for slot in same_frame {
            let Some(plane) = &slot.plane else { continue };
            if orientation.is_some_and(|o| !o.parallel(plane)) {
                continue;
            }
            let worst = points
                .iter()
                .map(|&p| plane.distance(p).abs())
                .fold(0.0, f64::max);
            let series = header(slot).series_instance_uid.as_deref().unwrap_or("");
            if worst <= slot.tolerance && best.get(series).is_none_or(|(d, _)| worst < *d) {
                best.insert(series, (worst, slot.target));
            }
        }
        if best.is_empty() {
            return Err(Miss::NoPlane);
        }
        Ok(best.into_values().map(|(_, t)| t).collect())
    }
}

/// Half the smallest spacing between distinct frame positions of one series (along the first
/// frame's normal); half the slice thickness (else 0.5 mm) for a single position.
fn half_spacing(slots: &[Slot], members: &[usize], instances: &[InstanceHeader]) -> f64 {
    let planes: Vec<Plane> = members.iter().filter_map(|&s| slots[s].plane).collect();
    let spacing = planes.first().and_then(|first| {
        let mut at: Vec<f64> = planes.iter().map(|p| dot(p.origin, first.normal)).collect();
        at.sort_by(f64::total_cmp);
        at.windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 1e-3)
            .min_by(f64::total_cmp)
    });
    match spacing {
        Some(spacing) => spacing / 2.0,
        None => members
            .first()
            .and_then(|&s| instances[slots[s].target.instance].slice_thickness)
            .filter(|t| *t > 0.0)
            .map_or(0.5, |t| t / 2.0),
    }
}
