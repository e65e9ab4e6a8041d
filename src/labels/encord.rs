//! Encord label row of one item's labels, as the Encord SDK reads it (`LabelRowV2
//! .from_labels_dict`): per frame, a bitmask object per segment (`rleString` over the row-major
//! mask) and polygon, polyline and point objects normalised to 0..1. The ontology those objects
//! name is carried beside them under `ontology`. Pure code.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::colour::hex;
use super::layers::{Layer, stable_uuid};
use super::mask::Mask;
use super::placing::Shape;
use super::raster::inside;

/// Fixed timestamps: a label row is the same file on every run.
const TIMESTAMP: &str = "Thu, 01 Jan 1970 00:00:00 UTC";

/// The data unit the label row annotates.
#[derive(Debug, Clone)]
pub struct EncordItem<'a> {
    pub title: &'a str,
    /// `dicom` (series) or `image`.
    pub data_type: &'a str,
    pub width: u32,
    pub height: u32,
    /// SOP Instance UID and source path of each frame's image, by frame index.
    pub frame_images: Vec<(Option<&'a str>, &'a str)>,
    pub seed: &'a str,
}

/// The label row of `item` with `layers`.
pub fn encord_file(item: &EncordItem<'_>, layers: &[Layer]) -> Value {
    let key = |what: &str| stable_uuid(&format!("{}\u{0}{what}", item.seed));
    let short = |what: &str| key(what).replace('-', "")[..8].to_string();
    let data_hash = key("data");
    let (w, h) = (f64::from(item.width), f64::from(item.height));
    let mut frames: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    let mut ontology: Vec<Value> = Vec::new();
    let mut answers = Map::new();
    for (l, layer) in layers.iter().enumerate() {
        let colour = hex(layer.color);
        // One ontology object (and one object instance) per shape kind of the layer.
        let mut feature = |shape: &str| {
            let feature_hash = short(&format!("{l}/{shape}/feature"));
            let object_hash = short(&format!("{l}/{shape}/object"));
            if !ontology
                .iter()
                .any(|o| o["featureNodeHash"] == json!(feature_hash))
            {
                ontology.push(json!({
                    "id": (ontology.len() + 1).to_string(),
                    "name": layer.name,
                    "color": colour,
                    "shape": shape,
                    "featureNodeHash": feature_hash,
                    "required": false,
                    "archived": false,
                }));
                answers.insert(
                    object_hash.clone(),
                    json!({"objectHash": object_hash, "classifications": []}),
                );
            }
            (feature_hash, object_hash)
        };
        for (&frame, shapes) in &layer.frames {
            for shape in shapes {
                let (kind, geometry) = match shape {
                    Shape::Mask(mask) => ("bitmask", json!({"bitmask": bitmask(mask)})),
                    Shape::Polygons(rings) => ("polygon", polygons(rings, w, h)),
                    Shape::Line(line) => (
                        "polyline",
                        json!({"polyline": indexed(line.iter().map(|&p| normalised(p, w, h)))}),
                    ),
                    Shape::Points(points) => {
                        for &p in points {
                            let (feature_hash, object_hash) = feature("point");
                            let geometry = json!({"point": indexed([normalised(p, w, h)])});
                            frames.entry(frame).or_default().push(object(
                                layer,
                                &colour,
                                "point",
                                &feature_hash,
                                &object_hash,
                                geometry,
                            ));
                        }
                        continue;
                    }
                };
                let (feature_hash, object_hash) = feature(kind);
                frames.entry(frame).or_default().push(object(
                    layer,
                    &colour,
                    kind,
                    &feature_hash,
                    &object_hash,
                    geometry,
                ));
            }
        }
    }
    let labels: Map<String, Value> = frames
        .into_iter()
        .map(|(frame, objects)| {
            let mut entry = json!({"objects": objects, "classifications": []});
            if let Some((Some(uid), path)) = item.frame_images.get(frame) {
                entry["metadata"] = json!({
                    "dicom_instance_uid": uid,
                    "multiframe_frame_number": null,
                    "file_uri": path,
                    "width": item.width,
                    "height": item.height,
                });
            }
            (frame.to_string(), entry)
        })
        .collect();
    let mime = if item.data_type == "dicom" {
        "application/dicom"
    } else {
        "image/png"
    };
    json!({
        "label_hash": key("label"),
        "branch_name": "main",
        "created_at": null,
        "last_edited_at": null,
        "dataset_hash": key("dataset"),
        "dataset_title": "dicomprep",
        "data_title": item.title,
        "data_hash": data_hash,
        "data_type": item.data_type,
        "label_status": "LABELLED",
        "data_units": {
            data_hash.clone(): {
                "data_hash": data_hash,
                "data_title": item.title,
                "data_type": mime,
                "data_sequence": 0,
                "width": item.width,
                "height": item.height,
                "labels": labels,
            }
        },
        "object_answers": answers,
        "classification_answers": {},
        "object_actions": {},
        "ontology": {"objects": ontology, "classifications": []},
    })
}

fn object(
    layer: &Layer,
    colour: &str,
    shape: &str,
    feature_hash: &str,
    object_hash: &str,
    geometry: Value,
) -> Value {
    let mut object = json!({
        "objectHash": object_hash,
        "featureHash": feature_hash,
        "name": layer.name,
        "value": layer.name.to_lowercase().replace(' ', "_"),
        "color": colour,
        "shape": shape,
        "createdAt": TIMESTAMP,
        "lastEditedAt": TIMESTAMP,
        "confidence": 1.0,
        "manualAnnotation": false,
    });
    if let (Value::Object(o), Value::Object(g)) = (&mut object, geometry) {
        o.extend(g);
    }
    object
}

fn bitmask(mask: &Mask) -> Value {
    json!({
        "top": 0,
        "left": 0,
        "width": mask.width,
        "height": mask.height,
        "rleString": rle_string(mask.runs()),
    })
}

/// Encord's `rleString`: the run lengths (out first, row-major) in COCO's compressed-counts
/// text: from the fourth count on, each is written as its difference from the count two
/// before, in little-endian groups of 5 bits (a 6th bit says more follow), each + 48 as ASCII.
pub fn rle_string(runs: &[u32]) -> String {
    let mut out = String::new();
    for (i, &run) in runs.iter().enumerate() {
        let mut x = i64::from(run);
        if i > 2 {
            x -= i64::from(runs[i - 2]);
        }
        loop {
            let mut c = x & 0x1f;
            x >>= 5;
            let more = if c & 0x10 != 0 { x != -1 } else { x != 0 };
            if more {
                c |= 0x20;
            }
            out.push(char::from(b'0' + c as u8));
            if !more {
                break;
            }
        }
    }
    out
}

/// A point normalised to 0..1 (pixel corners at whole pixels) from pixel-centre coordinates.
fn normalised(p: [f64; 2], w: f64, h: f64) -> [f64; 2] {
    [(p[0] + 0.5) / w, (p[1] + 0.5) / h]
}

/// `{"0": {x, y}, "1": …}`.
fn indexed(points: impl IntoIterator<Item = [f64; 2]>) -> Value {
    let map: Map<String, Value> = points
        .into_iter()
        .enumerate()
        .map(|(i, [x, y])| (i.to_string(), json!({"x": x, "y": y})))
        .collect();
    Value::Object(map)
}

/// `polygons` (polygon → rings → flat x, y), outer rings first with the holes they hold, as
/// the even-odd rule makes them: a ring inside an odd number of others is a hole of the
/// innermost ring holding it. A single ring also as `polygon`.
fn polygons(rings: &[Vec<[f64; 2]>], w: f64, h: f64) -> Value {
    let depth = |r: usize| {
        (0..rings.len())
            .filter(|&o| o != r && inside(rings[r][0], &rings[o]))
            .count()
    };
    let depths: Vec<usize> = (0..rings.len()).map(depth).collect();
    let flat = |ring: &[[f64; 2]]| -> Value {
        Value::Array(
            ring.iter()
                .flat_map(|&p| normalised(p, w, h))
                .map(|v| json!(v))
                .collect(),
        )
    };
    let mut out: Vec<Vec<Value>> = Vec::new();
    let mut outer_of: Vec<Option<usize>> = vec![None; rings.len()];
    for r in (0..rings.len()).filter(|&r| depths[r].is_multiple_of(2)) {
        outer_of[r] = Some(out.len());
        out.push(vec![flat(&rings[r])]);
    }
    for r in (0..rings.len()).filter(|&r| depths[r] % 2 == 1) {
        let holder = (0..rings.len())
            .filter(|&o| depths[o] + 1 == depths[r] && inside(rings[r][0], &rings[o]))
            .find_map(|o| outer_of[o]);
        if let Some(p) = holder {
            out[p].push(flat(&rings[r]));
        }
    }
    let mut geometry = json!({"polygons": out});
    if let [ring] = rings {
        geometry["polygon"] = indexed(ring.iter().map(|&p| normalised(p, w, h)));
    }
    geometry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rle_strings_match_the_sdk() {
        // Computed by the Encord SDK (BitmaskCoordinates(...).to_dict()).
        let mask = |rows: &[&str]| {
            let pixels: Vec<bool> = rows
                .iter()
                .flat_map(|r| r.chars().map(|c| c == '1'))
                .collect();
            Mask::from_pixels(rows[0].len() as u32, rows.len() as u32, pixels)
        };
        assert_eq!(rle_string(mask(&["0110", "0111", "1000"]).runs()), "12221");
        assert_eq!(rle_string(mask(&["0000", "0111", "1101"]).runs()), "551L");
        assert_eq!(rle_string(&[0, 2, 6, 1, 38, 1]), "026OP10");
        assert_eq!(rle_string(&[9, 4, 4, 4, 4, 4, 19]), "944000?");
        assert_eq!(rle_string(&[17]), "a0");
        assert_eq!(rle_string(&[4096]), "PP4");
    }
}
