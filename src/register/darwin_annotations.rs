//! Importing a conversion's Darwin JSON 2.0 label files into registered items, the way
//! `darwin dataset import` does it (darwin-py 3): the dataset's id from `GET /api/datasets`;
//! the team's classes from `GET /api/teams/{team}/annotation_classes`, missing ones created
//! (`POST /api/annotation_classes`, in the label's colour) or added to the dataset
//! (`PUT /api/annotation_classes/{id}`); each item's id from
//! `GET /api/v2/teams/{team}/items?item_names[]=…`; then one
//! `POST /api/v2/teams/{team}/items/{id}/import` per item with every annotation of its file,
//! replacing what the item had (`"overwrite": "true"`). Items imported are recorded in the
//! result file and not sent again.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::darwin::{DarwinResult, DarwinTarget, ItemRecord};
use super::http::send;
use super::{RegisterError, excerpt, write_json};
use crate::contract::manifest::Manifest;
use crate::store::RequestObserver;
use crate::store::retry::RetryPolicy;

/// One item's annotations to import: where it is registered and its Darwin file.
#[derive(Debug, Clone)]
pub struct ItemAnnotations {
    /// Dataset folder and name, as registered.
    pub path: String,
    pub name: String,
    /// The slot the file's annotations go to.
    pub slot: String,
    /// The Darwin JSON 2.0 file.
    pub file: Value,
    /// Colours by class name (`#rrggbb`), for classes to create.
    pub colours: BTreeMap<String, String>,
}

/// The items of `manifest` with a Darwin label file, matched to the items of `payload` they
/// were registered as (an item named like it, or a slot whose `file_name` it is); `read`
/// gives a file of the conversion by key.
pub fn items_to_import(
    manifest: &Manifest,
    payload: &Value,
    read: &dyn Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<ItemAnnotations>, RegisterError> {
    let registered = payload["items"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for item in &manifest.items {
        let Some(key) = item.labels.iter().find_map(|l| l.darwin_key.as_deref()) else {
            continue;
        };
        let place = registered.iter().find_map(|r| {
            let (path, name) = (r["path"].as_str()?, r["name"].as_str()?);
            if name == item.name {
                return Some((path, name, "0".to_string()));
            }
            let slot = r["slots"]
                .as_array()?
                .iter()
                .find(|s| s["file_name"] == item.name.as_str())?;
            Some((path, name, slot["slot_name"].as_str()?.to_string()))
        });
        let Some((path, name, slot)) = place else {
            return Err(RegisterError::Payload(format!(
                "item {} has labels but is not in the payload: make the payload from the same manifest",
                item.name
            )));
        };
        let bytes =
            read(key).map_err(|reason| RegisterError::Payload(format!("{key}: {reason}")))?;
        let file: Value = serde_json::from_slice(&bytes)
            .map_err(|err| RegisterError::Payload(format!("{key}: not JSON: {err}")))?;
        let mut colours = BTreeMap::new();
        for annotation in file["annotations"].as_array().into_iter().flatten() {
            let class = annotation["name"].as_str().unwrap_or_default();
            let segment = item.labels.iter().flat_map(|l| &l.segments).find(|s| {
                class == s.name
                    || class
                        .strip_prefix(s.name.as_str())
                        .is_some_and(|rest| rest.starts_with(" ("))
            });
            if let Some(segment) = segment {
                colours.insert(class.to_string(), segment.color.clone());
            }
        }
        out.push(ItemAnnotations {
            path: path.to_string(),
            name: name.to_string(),
            slot,
            file,
            colours,
        });
    }
    Ok(out)
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOutcome {
    /// Registered items whose annotations were imported in this run.
    pub imported: usize,
    /// Items the result file lists as imported.
    pub already: usize,
    pub classes_created: usize,
}

/// A class as Darwin lists it: id, name, annotation types and datasets.
#[derive(Debug, Clone)]
struct Class {
    id: Value,
    name: String,
    types: Vec<String>,
    datasets: Vec<Value>,
}

/// Geometry keys of a Darwin annotation frame, which are also its class's annotation type.
const GEOMETRIES: [&str; 5] = ["raster_layer", "mask", "polygon", "line", "keypoint"];

/// The annotation type of a Darwin file annotation (its frames' geometry key).
fn annotation_type(annotation: &Value) -> Option<&'static str> {
    let geometry = match annotation.get("frames").and_then(Value::as_object) {
        Some(frames) => frames.values().next()?,
        None => annotation,
    };
    GEOMETRIES.into_iter().find(|g| geometry.get(*g).is_some())
}

/// A frame's geometry as the import endpoint takes it: a polygon's rings as `path` and
/// `additional_paths` (darwin-py's conversion), the rest as in the file.
fn import_geometry(frame: &Value) -> Value {
    let mut out = frame.clone();
    if let Some(paths) = frame["polygon"]["paths"].as_array() {
        let mut polygon = Map::new();
        polygon.insert("path".into(), paths.first().cloned().unwrap_or(json!([])));
        if paths.len() > 1 {
            polygon.insert("additional_paths".into(), json!(paths[1..]));
        }
        out["polygon"] = Value::Object(polygon);
    }
    out
}

/// The body of the import request of `item`; `class_id` gives a class's id by (name, type).
pub fn import_body(
    item: &ItemAnnotations,
    class_id: &dyn Fn(&str, &str) -> Option<Value>,
) -> Result<Value, String> {
    let annotations = item.file["annotations"]
        .as_array()
        .ok_or("the Darwin file has no `annotations` list")?;
    let mut out = Vec::with_capacity(annotations.len());
    for annotation in annotations {
        let name = annotation["name"].as_str().unwrap_or_default();
        let kind = annotation_type(annotation)
            .ok_or_else(|| format!("annotation {name:?} has no geometry"))?;
        let id = class_id(name, kind)
            .ok_or_else(|| format!("class {name:?} ({kind}) is not in the team"))?;
        let data = match annotation.get("frames").and_then(Value::as_object) {
            Some(frames) => json!({
                "frames": frames
                    .iter()
                    .map(|(f, frame)| (f.clone(), import_geometry(frame)))
                    .collect::<Map<String, Value>>(),
                "segments": annotation["ranges"],
                "interpolated": false,
                "hidden_areas": [],
            }),
            None => {
                let geometry = import_geometry(annotation);
                json!({ kind: geometry[kind] })
            }
        };
        out.push(json!({
            "annotation_class_id": id,
            "id": annotation["id"],
            "context_keys": {"slot_names": [item.slot]},
            "data": data,
        }));
    }
    Ok(json!({"annotations": out, "overwrite": "true"}))
}

/// A small JSON API client of one team.
struct Api<'a> {
    target: &'a DarwinTarget,
    api_key: &'a str,
    client: reqwest::blocking::Client,
    retry: &'a RetryPolicy,
    log: Option<&'a dyn RequestObserver>,
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.target.api_url.trim_end_matches('/'))
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        notify: &mut dyn FnMut(&str),
    ) -> Result<Value, RegisterError> {
        let url = self.url(path);
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let make = || {
            let request = self
                .client
                .request(method.clone(), &url)
                .header("Authorization", format!("ApiKey {}", self.api_key))
                .header("Accept", "application/json")
                .header("Content-Type", "application/json");
            match &bytes {
                Some(bytes) => request.body(bytes.clone()),
                None => request,
            }
        };
        let reply = send(&url, &make, self.retry, self.log, notify)?;
        if !(200..300).contains(&reply.status) {
            return Err(RegisterError::Status {
                url,
                status: reply.status,
                body: excerpt(&reply.body),
            });
        }
        if reply.body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&reply.body).map_err(|err| RegisterError::Http {
            url,
            reason: format!("answer is not JSON ({err}): {}", excerpt(&reply.body)),
        })
    }

    fn classes(&self, notify: &mut dyn FnMut(&str)) -> Result<Vec<Class>, RegisterError> {
        let path = format!(
            "/api/teams/{}/annotation_classes?include_tags=true",
            self.target.team
        );
        let answer = self.call(reqwest::Method::GET, &path, None, notify)?;
        let list = answer["annotation_classes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(list
            .into_iter()
            .map(|c| Class {
                id: c["id"].clone(),
                name: c["name"].as_str().unwrap_or_default().to_string(),
                types: c["annotation_types"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect(),
                datasets: c["datasets"].as_array().cloned().unwrap_or_default(),
            })
            .collect())
    }
}

/// Imports the annotations of `items` not yet imported (as `result` records), into the
/// dataset `dataset_slug`; `result` is updated and written to `result_path` after each item.
pub fn import_annotations(
    items: &[ItemAnnotations],
    dataset_slug: &str,
    target: &DarwinTarget,
    api_key: &str,
    result: &mut DarwinResult,
    result_path: Option<&std::path::Path>,
    notify: &mut dyn FnMut(&str),
) -> Result<ImportOutcome, RegisterError> {
    let done = |item: &ItemAnnotations, result: &DarwinResult| {
        result
            .annotated
            .iter()
            .any(|r| r.path == item.path && r.name == item.name)
    };
    let pending: Vec<&ItemAnnotations> = items.iter().filter(|i| !done(i, result)).collect();
    let mut outcome = ImportOutcome {
        already: items.len() - pending.len(),
        ..ImportOutcome::default()
    };
    if pending.is_empty() {
        return Ok(outcome);
    }
    let api = Api {
        target,
        api_key,
        client: super::http::client(&target.retry)?,
        retry: &target.retry,
        log: target.log.as_deref(),
    };
    let get = reqwest::Method::GET;
    let datasets = api.call(get.clone(), "/api/datasets", None, notify)?;
    let dataset = datasets
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["slug"] == dataset_slug)
        .map(|d| d["id"].clone())
        .ok_or_else(|| {
            RegisterError::Payload(format!("no dataset {dataset_slug:?} in the team"))
        })?;

    // Classes: every (name, type) the files use must be in the team and in the dataset.
    let mut wanted: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    for item in &pending {
        for annotation in item.file["annotations"].as_array().into_iter().flatten() {
            let name = annotation["name"].as_str().unwrap_or_default().to_string();
            if let Some(kind) = annotation_type(annotation)
                && kind != "raster_layer"
            {
                let colour = item.colours.get(&name).cloned();
                wanted.entry((name, kind.to_string())).or_insert(colour);
            }
        }
    }
    let mut classes = api.classes(notify)?;
    let mut changed = false;
    let mut type_ids: Option<Value> = None;
    for ((name, kind), colour) in &wanted {
        let found = classes
            .iter()
            .find(|c| &c.name == name && c.types.contains(kind));
        match found {
            Some(class) if class.datasets.iter().any(|d| d["id"] == dataset) => {}
            Some(class) => {
                let mut datasets = class.datasets.clone();
                datasets.push(json!({"id": dataset}));
                let body = json!({"datasets": datasets, "id": class.id});
                let path = format!("/api/annotation_classes/{}", id_text(&class.id));
                api.call(reqwest::Method::PUT, &path, Some(&body), notify)?;
                changed = true;
            }
            None => {
                if type_ids.is_none() {
                    type_ids =
                        Some(api.call(get.clone(), "/api/annotation_types", None, notify)?);
                }
                let type_id = type_ids
                    .as_ref()
                    .and_then(|t| t.as_array())
                    .into_iter()
                    .flatten()
                    .find(|t| t["name"] == kind.as_str())
                    .map(|t| t["id"].clone())
                    .ok_or_else(|| {
                        RegisterError::Payload(format!("Darwin has no annotation type {kind:?}"))
                    })?;
                let body = json!({
                    "dataset_id": dataset,
                    "name": name,
                    "metadata": {"_color": colour.as_deref().map_or("auto".to_string(), rgba)},
                    "annotation_type_ids": [type_id],
                    "datasets": [{"id": dataset}],
                });
                api.call(
                    reqwest::Method::POST,
                    "/api/annotation_classes",
                    Some(&body),
                    notify,
                )?;
                outcome.classes_created += 1;
                changed = true;
            }
        }
    }
    if changed {
        classes = api.classes(notify)?;
    }
    let class_id = |name: &str, kind: &str| {
        classes
            .iter()
            .find(|c| c.name == name && c.types.iter().any(|t| t == kind))
            .map(|c| c.id.clone())
    };

    // The slots of one registered item are imported together: an import replaces the item's
    // annotations.
    let mut groups: Vec<Vec<&ItemAnnotations>> = Vec::new();
    for item in pending {
        match groups
            .iter_mut()
            .find(|g| g[0].path == item.path && g[0].name == item.name)
        {
            Some(group) => group.push(item),
            None => groups.push(vec![item]),
        }
    }
    for group in groups {
        let item = group[0];
        let path = format!(
            "/api/v2/teams/{}/items?item_names[]={}&dataset_ids[]={}&page[size]=500",
            target.team,
            percent_encoding::utf8_percent_encode(&item.name, percent_encoding::NON_ALPHANUMERIC),
            id_text(&dataset)
        );
        let answer = api.call(get.clone(), &path, None, notify)?;
        let found = answer["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["name"] == item.name.as_str() && same_folder(&i["path"], &item.path))
            .map(|i| id_text(&i["id"]))
            .ok_or_else(|| {
                RegisterError::Payload(format!(
                    "item {}/{} is not in the dataset: register it first",
                    item.path.trim_end_matches('/'),
                    item.name
                ))
            })?;
        let mut annotations = Vec::new();
        for slot in &group {
            let body = import_body(slot, &class_id).map_err(RegisterError::Payload)?;
            annotations.extend(body["annotations"].as_array().cloned().unwrap_or_default());
        }
        let body = json!({"annotations": annotations, "overwrite": "true"});
        let path = format!("/api/v2/teams/{}/items/{found}/import", target.team);
        api.call(reqwest::Method::POST, &path, Some(&body), notify)?;
        outcome.imported += 1;
        result.annotated.push(ItemRecord {
            path: item.path.clone(),
            name: item.name.clone(),
            id: Some(found),
            reason: None,
        });
        if let Some(path) = result_path {
            write_json(path, result)?;
        }
    }
    Ok(outcome)
}

/// `rgba(r,g,b,1.0)` of `#rrggbb`, Darwin's colour format (`auto` when unreadable).
fn rgba(hex: &str) -> String {
    let channel = |i: usize| u8::from_str_radix(hex.get(1 + 2 * i..3 + 2 * i)?, 16).ok();
    match (channel(0), channel(1), channel(2)) {
        (Some(r), Some(g), Some(b)) => format!("rgba({r},{g},{b},1.0)"),
        _ => "auto".into(),
    }
}

fn id_text(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether Darwin's `path` is the folder `folder` (`/` and `` both the root).
fn same_folder(path: &Value, folder: &str) -> bool {
    let norm = |p: &str| p.trim_end_matches('/').to_string();
    path.as_str().map(norm) == Some(norm(folder))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_frames_segments_and_polygon_paths_as_darwin_py_sends_them() {
        let file = json!({"annotations": [
            {"id": "m1", "name": "Liver", "slot_names": ["0"],
             "frames": {"0": {"keyframe": true, "mask": {}}}, "ranges": [[0, 1]]},
            {"id": "r1", "name": "__raster_layer__", "slot_names": ["0"],
             "frames": {"0": {"keyframe": true, "raster_layer": {"dense_rle": [0, 4], "mask_annotation_ids_mapping": {"m1": 1}, "total_pixels": 4}}},
             "ranges": [[0, 1]]},
            {"id": "p1", "name": "GTV", "slot_names": ["0"],
             "frames": {"2": {"keyframe": true, "polygon": {"paths": [[{"x": 0, "y": 0}], [{"x": 1, "y": 1}]]}}},
             "ranges": [[2, 3]]},
        ]});
        let item = ItemAnnotations {
            path: "/".into(),
            name: "ct.mp4".into(),
            slot: "0".into(),
            file,
            colours: BTreeMap::new(),
        };
        let ids = |name: &str, kind: &str| Some(json!(format!("{name}/{kind}")));
        let body = import_body(&item, &ids).unwrap();
        assert_eq!(body["overwrite"], "true");
        let annotations = body["annotations"].as_array().unwrap();
        assert_eq!(annotations[0]["annotation_class_id"], "Liver/mask");
        assert_eq!(
            annotations[1]["annotation_class_id"],
            "__raster_layer__/raster_layer"
        );
        assert_eq!(annotations[0]["context_keys"]["slot_names"], json!(["0"]));
        assert_eq!(annotations[0]["data"]["segments"], json!([[0, 1]]));
        let polygon = &annotations[2]["data"]["frames"]["2"]["polygon"];
        assert_eq!(polygon["path"], json!([{"x": 0, "y": 0}]));
        assert_eq!(polygon["additional_paths"], json!([[{"x": 1, "y": 1}]]));
        assert_eq!(annotations[2]["data"]["frames"]["2"]["keyframe"], true);
        assert_eq!(rgba("#ff8000"), "rgba(255,128,0,1.0)");
    }
}
