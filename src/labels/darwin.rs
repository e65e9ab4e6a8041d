//! Darwin JSON 2.0 of one item's labels, as darwin-py's importer reads it: segments as masks on
//! the item's `__raster_layer__` (`dense_rle`), the parts of overlapping segments that do not fit
//! that one layer as polygons traced along pixel edges, ROIs as polygons, open contours as
//! lines, points as keypoints. Every labelled frame is a keyframe. Pure code.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Value, json};

use super::layers::{Layer, ranges, stable_uuid};
use super::placing::Shape;
use super::raster::trace;

/// Darwin's raster layer class: one per slot, always present on the platform.
pub const RASTER_LAYER: &str = "__raster_layer__";
/// A Darwin class has one annotation type: a segment or ROI drawn with several types is one
/// class per type, the first (mask, polygon, line, keypoint) under its own name, the others
/// with the type after it (`Liver (polygon)`: the parts of a segment that overlap another's).
const KINDS: [&str; 4] = ["mask", "polygon", "line", "keypoint"];
const SCHEMA_REF: &str =
    "https://darwin-public.s3.eu-west-1.amazonaws.com/darwin_json/2.0/schema.json";

/// The item the file annotates, as registered.
#[derive(Debug, Clone)]
pub struct DarwinItem<'a> {
    pub name: &'a str,
    /// Dataset folder (`/` by default).
    pub path: &'a str,
    pub slot_name: &'a str,
    /// `dicom` for series and videos, `image` for images.
    pub slot_type: &'a str,
    pub width: u32,
    pub height: u32,
    pub frame_count: usize,
    /// Frames are keyed by index (series, videos); an image's annotations are not.
    pub framed: bool,
    pub source_file: &'a str,
    /// Makes the annotation ids (stable across runs).
    pub seed: &'a str,
}

/// A point in Darwin's coordinates (pixel corners at whole numbers); whole coordinates are
/// written without a fraction (traced outlines are all corners: shorter files).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Serialize for Point {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut point = serializer.serialize_struct("Point", 2)?;
        for (name, v) in [("x", self.x), ("y", self.y)] {
            if v.fract() == 0.0 && v.abs() < 1e15 {
                point.serialize_field(name, &(v as i64))?;
            } else {
                point.serialize_field(name, &v)?;
            }
        }
        point.end()
    }
}

impl Point {
    /// From pixel-centre coordinates, to 1/10000 of a pixel (short files, no float noise).
    fn centre(p: [f64; 2]) -> Point {
        let round = |v: f64| ((v + 0.5) * 10_000.0).round() / 10_000.0;
        Point {
            x: round(p[0]),
            y: round(p[1]),
        }
    }

    fn corner(c: [u32; 2]) -> Point {
        Point {
            x: f64::from(c[0]),
            y: f64::from(c[1]),
        }
    }
}

/// The geometry of an annotation on one frame (its key names the annotation type).
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    /// `{}` on a frame; `{"sparse_rle": null}` on an image.
    Mask(Value),
    RasterLayer(Raster),
    Polygon(Paths),
    Line(Line),
    Keypoint(Point),
}

/// A frame of the raster layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Raster {
    pub dense_rle: Vec<u64>,
    pub mask_annotation_ids_mapping: BTreeMap<String, u8>,
    pub total_pixels: usize,
}

/// Closed rings, filled by the even-odd rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paths {
    pub paths: Vec<Vec<Point>>,
}

/// An open path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub path: Vec<Point>,
}

impl Geometry {
    /// Writes `"<type>": <geometry>` into `map`.
    fn entry<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        match self {
            Geometry::Mask(mask) => map.serialize_entry("mask", mask),
            Geometry::RasterLayer(raster) => map.serialize_entry("raster_layer", raster),
            Geometry::Polygon(paths) => map.serialize_entry("polygon", paths),
            Geometry::Line(line) => map.serialize_entry("line", line),
            Geometry::Keypoint(point) => map.serialize_entry("keypoint", point),
        }
    }
}

/// One keyframe: `{"<type>": …, "keyframe": true}` (written by hand: serde's flatten would
/// buffer every polygon).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub geometry: Geometry,
    pub keyframe: bool,
}

impl Serialize for Frame {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        self.geometry.entry(&mut map)?;
        map.serialize_entry("keyframe", &self.keyframe)?;
        map.end()
    }
}

/// An annotation of a series or video: geometry by frame index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FramedAnnotation {
    pub id: String,
    pub name: String,
    pub slot_names: Vec<String>,
    pub frames: BTreeMap<usize, Frame>,
    pub ranges: Vec<[usize; 2]>,
    pub interpolated: bool,
    pub hidden_areas: Vec<Value>,
}

/// An annotation of an image: its geometry beside its id, name and slot.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageAnnotation {
    pub id: String,
    pub name: String,
    pub slot_names: Vec<String>,
    pub geometry: Geometry,
}

impl Serialize for ImageAnnotation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("slot_names", &self.slot_names)?;
        self.geometry.entry(&mut map)?;
        map.end()
    }
}

/// An annotation of the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Annotation {
    Framed(FramedAnnotation),
    Image(ImageAnnotation),
}

/// A Darwin JSON 2.0 file, as darwin-py reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct DarwinFile {
    pub item: Value,
    pub annotations: Vec<Annotation>,
}

impl DarwinFile {
    /// The file's JSON; annotations are written in parallel (a segment's outlines on hundreds
    /// of frames are megabytes).
    pub fn to_json(&self) -> Vec<u8> {
        let head = json!({"version": "2.0", "schema_ref": SCHEMA_REF, "item": self.item});
        let parts: Vec<Vec<u8>> = self
            .annotations
            .par_iter()
            .map(|a| serde_json::to_vec(a).unwrap_or_default())
            .collect();
        let mut out = serde_json::to_vec(&head).unwrap_or_default();
        out.pop(); // the closing brace
        out.extend_from_slice(br#","annotations":["#);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(part);
        }
        out.extend_from_slice(b"]}");
        out
    }
}

/// One annotation being built: its class, id and geometry by frame.
struct Draft {
    id: String,
    name: String,
    frames: BTreeMap<usize, Geometry>,
}

impl Draft {
    fn new(id: String, name: String) -> Draft {
        Draft {
            id,
            name,
            frames: BTreeMap::new(),
        }
    }

    fn finish(self, item: &DarwinItem<'_>) -> Option<Annotation> {
        let slot_names = vec![item.slot_name.to_string()];
        if !item.framed {
            let (_, geometry) = self.frames.into_iter().next()?;
            let geometry = match geometry {
                Geometry::Mask(_) => Geometry::Mask(json!({"sparse_rle": null})),
                other => other,
            };
            return Some(Annotation::Image(ImageAnnotation {
                id: self.id,
                name: self.name,
                slot_names,
                geometry,
            }));
        }
        if self.frames.is_empty() {
            return None;
        }
        Some(Annotation::Framed(FramedAnnotation {
            id: self.id,
            name: self.name,
            slot_names,
            ranges: ranges(self.frames.keys().copied()),
            frames: self
                .frames
                .into_iter()
                .map(|(f, geometry)| {
                    let keyframe = true;
                    (f, Frame { geometry, keyframe })
                })
                .collect(),
            interpolated: false,
            hidden_areas: Vec::new(),
        }))
    }
}

/// The Darwin JSON 2.0 file of `item` with `layers`.
pub fn darwin_file(item: &DarwinItem<'_>, layers: &[Layer]) -> DarwinFile {
    let id = |what: &str| stable_uuid(&format!("{}\u{0}{what}", item.seed));
    let (masks, raster, overlaps) = masks_and_raster(item, layers, &id);
    let mut others: Vec<Draft> = overlaps;
    for (l, layer) in layers.iter().enumerate() {
        let name = |kind| class_name(layer, kind);
        let mut polygons = Draft::new(id(&format!("{l}/polygon")), name("polygon"));
        let mut lines: Vec<Draft> = Vec::new();
        let mut points: Vec<Draft> = Vec::new();
        for (&frame, shapes) in &layer.frames {
            let (mut line_n, mut point_n) = (0, 0);
            for shape in shapes {
                match shape {
                    Shape::Mask(_) => {}
                    Shape::Polygons(rings) => {
                        let paths = rings
                            .iter()
                            .map(|r| r.iter().map(|&p| Point::centre(p)).collect())
                            .collect();
                        polygons
                            .frames
                            .insert(frame, Geometry::Polygon(Paths { paths }));
                    }
                    Shape::Line(line) => {
                        let path = line.iter().map(|&p| Point::centre(p)).collect();
                        nth(&mut lines, line_n, || {
                            Draft::new(id(&format!("{l}/line/{line_n}")), name("line"))
                        })
                        .frames
                        .insert(frame, Geometry::Line(Line { path }));
                        line_n += 1;
                    }
                    Shape::Points(list) => {
                        for &p in list {
                            nth(&mut points, point_n, || {
                                Draft::new(id(&format!("{l}/point/{point_n}")), name("keypoint"))
                            })
                            .frames
                            .insert(frame, Geometry::Keypoint(Point::centre(p)));
                            point_n += 1;
                        }
                    }
                }
            }
        }
        others.push(polygons);
        others.extend(lines);
        others.extend(points);
    }
    let annotations = masks
        .into_iter()
        .chain(raster)
        .chain(others)
        .filter_map(|draft| draft.finish(item))
        .collect();
    DarwinFile {
        item: json!({
            "name": item.name,
            "path": item.path,
            "slots": [{
                "type": item.slot_type,
                "slot_name": item.slot_name,
                "width": item.width,
                "height": item.height,
                "frame_count": item.frame_count,
                "source_files": [{"file_name": item.source_file}],
            }],
        }),
        annotations,
    }
}

/// What one frame contributes: its raster layer, the masks that fit it, and the traced
/// polygons of those that overlap an earlier layer's mask.
struct FrameLayers {
    frame: usize,
    raster: Option<Geometry>,
    fitted: Vec<usize>,
    overlapping: Vec<(usize, Vec<Vec<Point>>)>,
}

/// The mask annotations, the raster layer, and the polygons of masks that overlap an earlier
/// layer's on a frame (or exceed the layer's 255 values). Frames are done in parallel.
fn masks_and_raster(
    item: &DarwinItem<'_>,
    layers: &[Layer],
    id: &(dyn Fn(&str) -> String + Sync),
) -> (Vec<Draft>, Option<Draft>, Vec<Draft>) {
    let mut masks: Vec<Draft> = Vec::new();
    let mut overflow: Vec<Draft> = Vec::new();
    let mut by_layer: Vec<Option<(usize, u8)>> = vec![None; layers.len()];
    for (l, layer) in layers.iter().enumerate() {
        let has_mask = layer
            .frames
            .values()
            .flatten()
            .any(|s| matches!(s, Shape::Mask(_)));
        if has_mask {
            let value = u8::try_from(masks.len() + 1).unwrap_or(0);
            by_layer[l] = Some((masks.len(), value));
            masks.push(Draft::new(
                id(&format!("{l}/mask")),
                class_name(layer, "mask"),
            ));
            overflow.push(Draft::new(
                id(&format!("{l}/overlap")),
                class_name(layer, "polygon"),
            ));
        }
    }
    let frames: std::collections::BTreeSet<usize> = layers
        .iter()
        .flat_map(|l| l.frames.keys().copied())
        .collect();
    let frames: Vec<usize> = frames.into_iter().collect();
    let total = item.width as usize * item.height as usize;
    let mask_ids: Vec<String> = masks.iter().map(|m| m.id.clone()).collect();
    let done: Vec<FrameLayers> = frames
        .par_iter()
        .map(|&frame| {
            // The frame's raster as runs: start → (end, value), disjoint.
            let mut claimed: BTreeMap<usize, (usize, u8)> = BTreeMap::new();
            let mut out = FrameLayers {
                frame,
                raster: None,
                fitted: Vec::new(),
                overlapping: Vec::new(),
            };
            let mut mapping = BTreeMap::new();
            for (l, layer) in layers.iter().enumerate() {
                let Some((m, value)) = by_layer[l] else {
                    continue;
                };
                let Some(shapes) = layer.frames.get(&frame) else {
                    continue;
                };
                for shape in shapes {
                    let Shape::Mask(mask) = shape else { continue };
                    if mask.width != item.width || mask.height != item.height {
                        continue;
                    }
                    let mut fits = value != 0;
                    mask.for_each_run(|a, b| {
                        let before = claimed.range(..b).next_back();
                        fits &= before.is_none_or(|(_, &(end, _))| end <= a);
                    });
                    if fits {
                        mask.for_each_run(|a, b| {
                            claimed.insert(a, (b, value));
                        });
                        mapping.insert(mask_ids[m].clone(), value);
                        out.fitted.push(m);
                    } else {
                        let paths = trace(mask)
                            .iter()
                            .map(|ring| ring.iter().map(|&c| Point::corner(c)).collect())
                            .collect();
                        out.overlapping.push((m, paths));
                    }
                }
            }
            if !mapping.is_empty() {
                out.raster = Some(Geometry::RasterLayer(Raster {
                    dense_rle: dense_rle(&claimed, total),
                    mask_annotation_ids_mapping: mapping,
                    total_pixels: total,
                }));
            }
            out
        })
        .collect();
    let mut raster = Draft::new(id("raster"), RASTER_LAYER.into());
    for frame in done {
        for m in frame.fitted {
            masks[m]
                .frames
                .insert(frame.frame, Geometry::Mask(json!({})));
        }
        for (m, paths) in frame.overlapping {
            overflow[m]
                .frames
                .insert(frame.frame, Geometry::Polygon(Paths { paths }));
        }
        if let Some(geometry) = frame.raster {
            raster.frames.insert(frame.frame, geometry);
        }
    }
    (masks, Some(raster), overflow)
}

/// The class of `layer`'s annotations of `kind`: its name for the first kind it has, else the
/// name and the kind.
pub fn class_name(layer: &Layer, kind: &str) -> String {
    let has = |k: &str| {
        layer.frames.values().flatten().any(|shape| match shape {
            Shape::Mask(_) => k == "mask" || k == "polygon",
            Shape::Polygons(_) => k == "polygon",
            Shape::Line(_) => k == "line",
            Shape::Points(_) => k == "keypoint",
        })
    };
    let first = KINDS.iter().find(|k| has(k)).copied().unwrap_or(kind);
    if first == kind {
        layer.name.clone()
    } else {
        format!(
            "{} ({})",
            layer.name,
            if kind == "keypoint" { "point" } else { kind }
        )
    }
}

/// `[value, run, value, run, …]` of `total` pixels, row-major, 0 but in the `runs` (start →
/// (end, value), disjoint); equal neighbours merged.
pub fn dense_rle(runs: &BTreeMap<usize, (usize, u8)>, total: usize) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    let mut push = |value: u8, length: usize| {
        if length == 0 {
            return;
        }
        match out.len() {
            n if n >= 2 && out[n - 2] == u64::from(value) => out[n - 1] += length as u64,
            _ => out.extend([u64::from(value), length as u64]),
        }
    };
    let mut at = 0;
    for (&start, &(end, value)) in runs {
        push(0, start - at);
        push(value, end - start);
        at = end;
    }
    push(0, total - at);
    out
}

fn nth(list: &mut Vec<Draft>, n: usize, make: impl FnOnce() -> Draft) -> &mut Draft {
    if list.len() <= n {
        list.push(make());
    }
    &mut list[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_rle_merges_runs() {
        // 1 1 0 0 1 2 2 0 (the two runs of 1 at 0..1 and 1..2 are one).
        let runs = BTreeMap::from([(0, (1, 1)), (1, (2, 1)), (4, (5, 1)), (5, (7, 2))]);
        assert_eq!(dense_rle(&runs, 8), [1, 2, 0, 2, 1, 1, 2, 2, 0, 1]);
        assert_eq!(dense_rle(&BTreeMap::new(), 5), [0, 5]);
    }
}
