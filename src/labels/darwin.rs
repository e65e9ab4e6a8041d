//! Darwin JSON 2.0 of one item's labels, as darwin-py's importer reads it: segments as masks on
//! the item's `__raster_layer__` (`dense_rle`), the parts of overlapping segments that do not fit
//! that one layer as polygons traced along pixel edges, ROIs as polygons, open contours as
//! lines, points as keypoints. Every labelled frame is a keyframe. Pure code.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

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

/// One annotation being built: its class, id and geometry by frame.
struct Annotation {
    id: String,
    name: String,
    frames: BTreeMap<usize, Value>,
}

/// The Darwin JSON 2.0 file of `item` with `layers`.
pub fn darwin_file(item: &DarwinItem<'_>, layers: &[Layer]) -> Value {
    let id = |what: &str| stable_uuid(&format!("{}\u{0}{what}", item.seed));
    let (masks, raster, mut others) = masks_and_raster(item, layers, &id);
    for (l, layer) in layers.iter().enumerate() {
        let name = |kind| class_name(layer, kind);
        let mut polygons = Annotation {
            id: id(&format!("{l}/polygon")),
            name: name("polygon"),
            frames: BTreeMap::new(),
        };
        let mut lines: Vec<Annotation> = Vec::new();
        let mut points: Vec<Annotation> = Vec::new();
        for (&frame, shapes) in &layer.frames {
            let (mut line_n, mut point_n) = (0, 0);
            for shape in shapes {
                match shape {
                    Shape::Mask(_) => {}
                    Shape::Polygons(rings) => {
                        let paths: Vec<Value> = rings.iter().map(|r| path(r, 0.5)).collect();
                        polygons
                            .frames
                            .insert(frame, json!({"polygon": {"paths": paths}}));
                    }
                    Shape::Line(line) => {
                        nth(
                            &mut lines,
                            line_n,
                            || id(&format!("{l}/line/{line_n}")),
                            &name("line"),
                        )
                        .frames
                        .insert(frame, json!({"line": {"path": path(line, 0.5)}}));
                        line_n += 1;
                    }
                    Shape::Points(list) => {
                        for p in list {
                            nth(
                                &mut points,
                                point_n,
                                || id(&format!("{l}/point/{point_n}")),
                                &name("keypoint"),
                            )
                            .frames
                            .insert(frame, json!({"keypoint": point(*p, 0.5)}));
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
    let mut annotations: Vec<Value> = Vec::new();
    for annotation in masks.into_iter().chain(raster).chain(others) {
        if !annotation.frames.is_empty() {
            annotations.push(render(item, annotation));
        }
    }
    json!({
        "version": "2.0",
        "schema_ref": SCHEMA_REF,
        "item": {
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
        },
        "annotations": annotations,
    })
}

/// The mask annotations, the raster layer, and the polygons of masks that overlap an earlier
/// layer's on a frame (or exceed the layer's 255 values).
fn masks_and_raster(
    item: &DarwinItem<'_>,
    layers: &[Layer],
    id: &dyn Fn(&str) -> String,
) -> (Vec<Annotation>, Option<Annotation>, Vec<Annotation>) {
    let mut masks: Vec<Annotation> = Vec::new();
    let mut overflow: Vec<Annotation> = Vec::new();
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
            masks.push(Annotation {
                id: id(&format!("{l}/mask")),
                name: class_name(layer, "mask"),
                frames: BTreeMap::new(),
            });
            overflow.push(Annotation {
                id: id(&format!("{l}/overlap")),
                name: class_name(layer, "polygon"),
                frames: BTreeMap::new(),
            });
        }
    }
    let frames: std::collections::BTreeSet<usize> = layers
        .iter()
        .flat_map(|l| l.frames.keys().copied())
        .collect();
    let total = item.width as usize * item.height as usize;
    let mut raster = Annotation {
        id: id("raster"),
        name: RASTER_LAYER.into(),
        frames: BTreeMap::new(),
    };
    for frame in frames {
        let mut values = vec![0u8; total];
        let mut mapping = Map::new();
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
                mask.for_each_run(|a, b| fits &= values[a..b].iter().all(|&v| v == 0));
                if fits {
                    mask.for_each_run(|a, b| values[a..b].fill(value));
                    mapping.insert(masks[m].id.clone(), json!(value));
                    masks[m].frames.insert(frame, json!({"mask": {}}));
                } else {
                    let paths: Vec<Value> = trace(mask)
                        .iter()
                        .map(|ring| {
                            Value::Array(
                                ring.iter().map(|c| json!({"x": c[0], "y": c[1]})).collect(),
                            )
                        })
                        .collect();
                    overflow[m]
                        .frames
                        .insert(frame, json!({"polygon": {"paths": paths}}));
                }
            }
        }
        if !mapping.is_empty() {
            raster.frames.insert(
                frame,
                json!({"raster_layer": {
                    "dense_rle": dense_rle(&values),
                    "mask_annotation_ids_mapping": mapping,
                    "total_pixels": total,
                }}),
            );
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

/// `[value, run, value, run, …]` of `values`, row-major, equal neighbours merged.
pub fn dense_rle(values: &[u8]) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for &v in values {
        match out.len() {
            n if n >= 2 && out[n - 2] == u64::from(v) => out[n - 1] += 1,
            _ => out.extend([u64::from(v), 1]),
        }
    }
    out
}

fn nth<'a>(
    list: &'a mut Vec<Annotation>,
    n: usize,
    id: impl Fn() -> String,
    name: &str,
) -> &'a mut Annotation {
    if list.len() <= n {
        list.push(Annotation {
            id: id(),
            name: name.to_string(),
            frames: BTreeMap::new(),
        });
    }
    &mut list[n]
}

/// A point in Darwin's coordinates (pixel corners at whole numbers) from `p` shifted by
/// `shift` (0.5 for pixel-centre coordinates).
fn point(p: [f64; 2], shift: f64) -> Value {
    json!({"x": round(p[0] + shift), "y": round(p[1] + shift)})
}

fn path(points: &[[f64; 2]], shift: f64) -> Value {
    Value::Array(points.iter().map(|&p| point(p, shift)).collect())
}

/// Coordinates to 1/10000 of a pixel: short files, no float noise.
fn round(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

fn render(item: &DarwinItem<'_>, annotation: Annotation) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(annotation.id));
    out.insert("name".into(), json!(annotation.name));
    out.insert("slot_names".into(), json!([item.slot_name]));
    if item.framed {
        let keys: Vec<usize> = annotation.frames.keys().copied().collect();
        let frames: Map<String, Value> = annotation
            .frames
            .into_iter()
            .map(|(f, mut geometry)| {
                geometry["keyframe"] = json!(true);
                (f.to_string(), geometry)
            })
            .collect();
        out.insert("frames".into(), Value::Object(frames));
        out.insert("ranges".into(), json!(ranges(keys)));
        out.insert("interpolated".into(), json!(false));
        out.insert("hidden_areas".into(), json!([]));
    } else if let Some((_, Value::Object(geometry))) = annotation.frames.into_iter().next() {
        for (key, mut value) in geometry {
            if key == "mask" {
                value = json!({"sparse_rle": null});
            }
            out.insert(key, value);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_rle_merges_runs() {
        assert_eq!(
            dense_rle(&[1, 1, 0, 0, 1, 2, 2, 0]),
            [1, 2, 0, 2, 1, 1, 2, 2, 0, 1]
        );
        assert_eq!(dense_rle(&[0; 5]), [0, 5]);
    }
}
