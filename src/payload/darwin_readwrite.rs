//! V7 Darwin `register_existing` body for read-write storage: the source DICOM files as `dicom`
//! slots (darwin-external-storage-registration, "Registering DICOM Files").
//!
//! One item per series: every slice file in slot `"0"`, in dicomprep's slice order, so Darwin
//! concatenates them into one volume. A file holding more than one volume (its frames are in
//! several items) gets a slot of its own, as the document says Darwin does itself. With
//! `slots`, one item per study, each volume in its own slot. `ignore_dicom_layout` adds
//! `options: {"ignore_dicom_layout": true}` (keep the payload's order), `extract_views` adds
//! `extract_views: "true"` (a string, as documented) to slot `"0"` for multi-planar views.

use serde::{Deserialize, Serialize};

use super::darwin::{DarwinOptions, DarwinPayload, item_path, study_path};
use super::keys::darwin_storage_key;
use super::{
    PayloadError, PayloadOptions, file_name, group_items, series_name, source, source_files,
};
use crate::contract::manifest::{Item, Manifest};
use crate::store::Location;

/// A read-write item: its slots, several of which may share a `slot_name` (slices).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadwriteItem {
    pub path: String,
    pub slots: Vec<DicomSlot>,
    pub name: String,
}

/// One DICOM file in a slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DicomSlot {
    pub slot_name: String,
    /// Always `dicom`.
    #[serde(rename = "type")]
    pub kind: String,
    pub storage_key: String,
    pub file_name: String,
    /// `"true"` on slot `"0"` for multi-planar views.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract_views: Option<String>,
}

/// Builds the read-write registration body.
pub fn build_darwin_readwrite(
    manifest: &Manifest,
    options: &PayloadOptions,
) -> Result<DarwinPayload<ReadwriteItem>, PayloadError> {
    let src = source(manifest, options)?;
    let units = if options.slots {
        group_items(&manifest.items, |item| &item.study_instance_uid)
    } else {
        group_items(&manifest.items, |item| &item.series_instance_uid)
    };
    let items = units
        .iter()
        .map(|unit| {
            let first = unit[0];
            let (path, name) = if options.slots {
                (
                    study_path(first, options.path_from),
                    first.study_instance_uid.clone(),
                )
            } else {
                (item_path(first, options.path_from), series_name(first))
            };
            ReadwriteItem {
                path,
                slots: unit_slots(unit, options.slots, src, options.extract_views),
                name,
            }
        })
        .collect();
    Ok(DarwinPayload {
        items,
        dataset_slug: options.dataset_slug.clone(),
        storage_slug: options.storage_slug.clone(),
        options: options.ignore_dicom_layout.then_some(DarwinOptions {
            ignore_dicom_layout: true,
        }),
    })
}

/// The slots of one item: per slot group (the whole unit, or each volume with `per_volume`),
/// its single-volume files together, then each multi-volume file alone.
fn unit_slots(
    unit: &[&Item],
    per_volume: bool,
    src: &Location,
    extract_views: bool,
) -> Vec<DicomSlot> {
    let groups: Vec<Vec<&Item>> = if per_volume {
        unit.iter().map(|item| vec![*item]).collect()
    } else {
        vec![unit.to_vec()]
    };
    let in_volumes = |path: &str| {
        unit.iter()
            .filter(|item| item.frames.iter().any(|f| f.path == path))
            .count()
    };
    let mut placed: Vec<&str> = Vec::new();
    let mut slots: Vec<Vec<&str>> = Vec::new();
    for group in &groups {
        let files: Vec<&str> = source_files(group)
            .into_iter()
            .filter(|path| !placed.contains(path))
            .collect();
        let (multi, single): (Vec<&str>, Vec<&str>) =
            files.iter().partition(|path| in_volumes(path) > 1);
        placed.extend(&files);
        if !single.is_empty() {
            slots.push(single);
        }
        slots.extend(multi.into_iter().map(|path| vec![path]));
    }
    slots
        .into_iter()
        .enumerate()
        .flat_map(|(index, files)| {
            files.into_iter().map(move |path| DicomSlot {
                slot_name: index.to_string(),
                kind: "dicom".into(),
                storage_key: darwin_storage_key(src, path),
                file_name: file_name(path).to_string(),
                extract_views: (extract_views && index == 0).then(|| "true".to_string()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::payload::testing::{manifest, video};

    fn body(m: &Manifest, options: &PayloadOptions) -> Value {
        serde_json::to_value(build_darwin_readwrite(m, options).unwrap()).unwrap()
    }

    fn names_and_slots(item: &Value) -> Vec<(String, String)> {
        item["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["slot_name"].as_str().unwrap().to_string(),
                    s["file_name"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn one_item_per_series_with_every_slice_in_slot_0_in_order() {
        let items = vec![video("st", "se", "v1", 2), video("st", "se", "v2", 2)];
        let m = manifest(items, "s3://bucket/dicom", "s3://bucket/out");
        let b = body(&m, &PayloadOptions::default());
        assert!(b.get("options").is_none());
        let items = b["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["name"], "se");
        assert_eq!(items[0]["path"], "/");
        assert_eq!(
            items[0]["slots"][0],
            json!({
                "slot_name": "0",
                "type": "dicom",
                "storage_key": "dicom/in/se/v1_0.dcm",
                "file_name": "v1_0.dcm"
            })
        );
        let slots: Vec<_> = names_and_slots(&items[0]);
        let expected: Vec<(String, String)> = ["v1_0.dcm", "v1_1.dcm", "v2_0.dcm", "v2_1.dcm"]
            .iter()
            .map(|f| ("0".to_string(), f.to_string()))
            .collect();
        assert_eq!(slots, expected);
        // A manifest with series names (convert --name) names the item by them.
        let mut named = m.clone();
        for item in &mut named.items {
            item.series_name = Some("CT_2_Chest".into());
        }
        assert_eq!(
            body(&named, &PayloadOptions::default())["items"][0]["name"],
            "CT_2_Chest"
        );
    }

    #[test]
    fn multi_volume_files_get_their_own_slot_and_options_are_emitted() {
        let mut v1 = video("st", "se", "v1", 2);
        let mut v2 = video("st", "se", "v2", 1);
        v1.frames[1].path = "in/se/multi.dcm".into();
        v2.frames[0].path = "in/se/multi.dcm".into();
        let m = manifest(vec![v1, v2], "az://cont", "az://cont/out");
        let options = PayloadOptions {
            ignore_dicom_layout: true,
            extract_views: true,
            ..PayloadOptions::default()
        };
        let b = body(&m, &options);
        assert_eq!(b["options"], json!({"ignore_dicom_layout": true}));
        let item = &b["items"][0];
        assert_eq!(
            names_and_slots(item),
            [
                ("0".to_string(), "v1_0.dcm".to_string()),
                ("1".to_string(), "multi.dcm".to_string())
            ]
        );
        assert_eq!(item["slots"][0]["storage_key"], "cont/in/se/v1_0.dcm");
        assert_eq!(item["slots"][0]["extract_views"], "true");
        assert!(item["slots"][1].get("extract_views").is_none());
    }

    #[test]
    fn slots_make_one_item_per_study_with_a_slot_per_volume() {
        let items = vec![
            video("st", "a", "v1", 1),
            video("st", "b", "v1", 2),
            video("other", "c", "v1", 1),
        ];
        let m = manifest(items, "gs://b", "gs://b/out");
        let options = PayloadOptions {
            slots: true,
            ..PayloadOptions::default()
        };
        let b = body(&m, &options);
        assert_eq!(b["items"].as_array().unwrap().len(), 2);
        assert_eq!(b["items"][0]["name"], "st");
        assert_eq!(
            names_and_slots(&b["items"][0]),
            [
                ("0".to_string(), "v1_0.dcm".to_string()),
                ("1".to_string(), "v1_0.dcm".to_string()),
                ("1".to_string(), "v1_1.dcm".to_string())
            ]
        );
        assert_eq!(b["items"][0]["slots"][1]["storage_key"], "in/b/v1_0.dcm");
    }
}
