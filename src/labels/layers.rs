//! The labels of one item as layers: one per segment or ROI of each label object placed on it,
//! with its shapes by item frame.

use std::collections::{BTreeMap, HashMap};

use super::place::Target;
use super::placing::{Placed, Shape};
use crate::contract::manifest::Crop;
use crate::scan::LabelClass;

/// One segment (or ROI) of one label object on one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Which of the item's label objects it comes from (index into the item's entries).
    pub object: usize,
    pub class: LabelClass,
    /// SegmentNumber or ROINumber.
    pub number: u16,
    /// SegmentLabel or ROIName: the annotation class.
    pub name: String,
    pub color: [u8; 3],
    /// Shapes by item frame index.
    pub frames: BTreeMap<usize, Vec<Shape>>,
}

impl Layer {
    /// The layer on pictures cut to `crop`: points move by the crop's corner, masks are cut.
    pub fn cropped(mut self, crop: Crop) -> Layer {
        let (dx, dy) = (f64::from(crop.x), f64::from(crop.y));
        let shift = |points: &mut Vec<[f64; 2]>| {
            for p in points {
                *p = [p[0] - dx, p[1] - dy];
            }
        };
        for shapes in self.frames.values_mut() {
            for shape in shapes {
                match shape {
                    Shape::Mask(mask) => {
                        *mask = mask.cropped(crop.x, crop.y, crop.width, crop.height);
                    }
                    Shape::Polygons(polygons) => polygons.iter_mut().for_each(shift),
                    Shape::Line(points) | Shape::Points(points) => shift(points),
                }
            }
        }
        self
    }
}

/// The layers of an item whose frames show the image frames `targets` (by item frame index),
/// from the label objects placed on it (`objects`, in the order of the item's entries).
pub fn item_layers(targets: &[Option<Target>], objects: &[&Placed]) -> Vec<Layer> {
    let mut frames_of: HashMap<Target, Vec<usize>> = HashMap::new();
    for (f, target) in targets.iter().enumerate() {
        if let Some(target) = target {
            frames_of.entry(*target).or_default().push(f);
        }
    }
    let mut layers: Vec<Layer> = Vec::new();
    for (o, placed) in objects.iter().enumerate() {
        for segment in &placed.segments {
            let mut frames: BTreeMap<usize, Vec<Shape>> = BTreeMap::new();
            for ((target, number), shapes) in &placed.shapes {
                if *number != segment.number {
                    continue;
                }
                for &f in frames_of.get(target).into_iter().flatten() {
                    frames.entry(f).or_default().extend(shapes.iter().cloned());
                }
            }
            if frames.is_empty() {
                continue;
            }
            layers.push(Layer {
                object: o,
                class: placed.class,
                number: segment.number,
                name: segment.name.clone(),
                color: segment.color,
                frames,
            });
        }
    }
    layers
}

/// Contiguous runs of `frames` as half-open ranges.
pub fn ranges(frames: impl IntoIterator<Item = usize>) -> Vec<[usize; 2]> {
    let mut out: Vec<[usize; 2]> = Vec::new();
    for f in frames {
        match out.last_mut() {
            Some(last) if last[1] == f => last[1] = f + 1,
            _ => out.push([f, f + 1]),
        }
    }
    out
}

/// A deterministic identifier in UUID form from `seed` (MD5 with the version-4 and variant bits
/// set): the same labels give the same ids on every run.
pub fn stable_uuid(seed: &str) -> String {
    use md5::Digest;
    let mut d: [u8; 16] = md5::Md5::digest(seed.as_bytes()).into();
    d[6] = (d[6] & 0x0f) | 0x40;
    d[8] = (d[8] & 0x3f) | 0x80;
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cropped_layer_moves_its_points_and_cuts_its_masks() {
        use crate::labels::mask::Mask;
        // A 4 x 3 mask with pixels (1,1) and (3,2) in.
        let mask = Mask::from_pixels(4, 3, (0..12).map(|i| i == 5 || i == 11));
        let layer = Layer {
            object: 0,
            class: LabelClass::Segmentation,
            number: 1,
            name: "a".into(),
            color: [0, 0, 0],
            frames: BTreeMap::from([(
                0,
                vec![
                    Shape::Mask(mask),
                    Shape::Polygons(vec![vec![[5.0, 7.0], [6.0, 9.0]]]),
                    Shape::Points(vec![[1.5, 2.0]]),
                ],
            )]),
        };
        let crop = Crop {
            x: 1,
            y: 1,
            width: 3,
            height: 3,
        };
        let cut = layer.cropped(crop);
        let shapes = &cut.frames[&0];
        let Shape::Mask(mask) = &shapes[0] else {
            panic!("a mask stays a mask")
        };
        assert_eq!((mask.width, mask.height), (3, 3));
        let inside: Vec<usize> = (0..9).filter(|&i| mask.pixels()[i]).collect();
        assert_eq!(inside, [0, 5]);
        assert_eq!(
            shapes[1],
            Shape::Polygons(vec![vec![[4.0, 6.0], [5.0, 8.0]]])
        );
        assert_eq!(shapes[2], Shape::Points(vec![[0.5, 1.0]]));
    }

    #[test]
    fn ranges_and_ids() {
        assert_eq!(ranges([0, 1, 2, 5, 7, 8]), [[0, 3], [5, 6], [7, 9]]);
        let id = stable_uuid("a");
        assert_eq!(id, stable_uuid("a"));
        assert_ne!(id, stable_uuid("b"));
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
