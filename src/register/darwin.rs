//! V7 Darwin registration: POST `/api/v2/teams/{team}/items/register_existing_readonly` (or
//! `register_existing`) with `Authorization: ApiKey <key>`, at most 10 items per request
//! (darwin-py's limit), `blocked_items` reported per item with its reason, and a result file
//! recording registered items so that a re-run sends only the rest.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::http::send;
use super::{RegisterError, excerpt, write_json};
use crate::store::RequestObserver;
use crate::store::retry::RetryPolicy;

/// Public Darwin host (darwin-external-storage-registration).
pub const DEFAULT_API_URL: &str = "https://darwin.v7labs.com";
/// Environment variable holding the API key.
pub const API_KEY_VAR: &str = "DARWIN_API_KEY";
/// Most items Darwin takes per request.
pub const MAX_BATCH: usize = 10;

/// Which registration endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `register_existing_readonly`: items with thumbnails and pre-rendered frames.
    Readonly,
    /// `register_existing`: Darwin reads and processes the files itself.
    Readwrite,
}

impl Endpoint {
    /// Read-only when any item or slot names a `storage_thumbnail_key` (read-write payloads
    /// never do: Darwin makes the thumbnails).
    pub fn detect(payload: &Value) -> Endpoint {
        let has_thumbnail = |v: &Value| v.get("storage_thumbnail_key").is_some();
        let items = payload["items"].as_array().into_iter().flatten();
        let readonly = items.into_iter().any(|item| {
            has_thumbnail(item)
                || item["slots"]
                    .as_array()
                    .is_some_and(|slots| slots.iter().any(has_thumbnail))
        });
        if readonly {
            Endpoint::Readonly
        } else {
            Endpoint::Readwrite
        }
    }

    fn path(self) -> &'static str {
        match self {
            Endpoint::Readonly => "register_existing_readonly",
            Endpoint::Readwrite => "register_existing",
        }
    }
}

/// Where and how to register.
#[derive(Debug, Clone)]
pub struct DarwinTarget {
    /// Base URL (`https://darwin.v7labs.com`).
    pub api_url: String,
    pub team: String,
    pub endpoint: Endpoint,
    /// Items per request, 1 to 10.
    pub batch_size: usize,
    pub retry: RetryPolicy,
    /// Hears every request (`--debug-requests`).
    pub log: Option<Arc<dyn RequestObserver>>,
}

impl DarwinTarget {
    /// The endpoint URL.
    pub fn url(&self) -> String {
        format!(
            "{}/api/v2/teams/{}/items/{}",
            self.api_url.trim_end_matches('/'),
            self.team,
            self.endpoint.path()
        )
    }
}

/// What the result file records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DarwinResult {
    /// Items Darwin registered (never sent again).
    pub registered: Vec<ItemRecord>,
    /// Items Darwin blocked in the last run, with the reason (sent again on a re-run).
    pub blocked: Vec<ItemRecord>,
    /// Items whose labels were imported (`--annotations`; never sent again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotated: Vec<ItemRecord>,
}

/// An item by dataset folder and name, with Darwin's id or block reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    pub path: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DarwinOutcome {
    /// Items registered in this run.
    pub registered: usize,
    /// Items left out because the result file lists them as registered.
    pub already: usize,
    /// Items blocked in this run.
    pub blocked: Vec<ItemRecord>,
    /// Requests that were answered 200.
    pub batches: usize,
}

/// Checks the envelope and returns the items: `items` must be a list of objects with string
/// `name` and `path`, `dataset_slug` and `storage_slug` non-empty strings.
pub fn payload_items(payload: &Value) -> Result<&Vec<Value>, RegisterError> {
    let fail = |reason: String| RegisterError::Payload(reason);
    for slug in ["dataset_slug", "storage_slug"] {
        match payload[slug].as_str() {
            Some(text) if !text.is_empty() => {}
            _ => {
                return Err(fail(format!(
                    "{slug} is missing or empty; pass --{}",
                    slug.replace('_', "-")
                )));
            }
        }
    }
    let items = payload["items"]
        .as_array()
        .ok_or_else(|| fail("no `items` list".into()))?;
    for (index, item) in items.iter().enumerate() {
        if item["name"].as_str().is_none() || item["path"].as_str().is_none() {
            return Err(fail(format!(
                "items[{index}] lacks a string `name` or `path`"
            )));
        }
    }
    Ok(items)
}

/// Sets `dataset_slug`/`storage_slug` when given.
pub fn set_slugs(payload: &mut Value, dataset: Option<&str>, storage: Option<&str>) {
    if let Value::Object(map) = payload {
        for (key, value) in [("dataset_slug", dataset), ("storage_slug", storage)] {
            if let Some(value) = value {
                map.insert(key.into(), Value::String(value.into()));
            }
        }
    }
}

/// Registers the items of `payload` not yet in `result`, batch by batch; `result` is updated
/// and written to `result_path` after every batch. `notify` hears retries and blocked items.
pub fn register_darwin(
    payload: &Value,
    target: &DarwinTarget,
    api_key: &str,
    result: &mut DarwinResult,
    result_path: Option<&Path>,
    notify: &mut dyn FnMut(&str),
) -> Result<DarwinOutcome, RegisterError> {
    let items = payload_items(payload)?;
    let key_of = |item: &Value| {
        (
            item["path"].as_str().unwrap_or_default().to_string(),
            item["name"].as_str().unwrap_or_default().to_string(),
        )
    };
    let done = |item: &Value| {
        let (path, name) = key_of(item);
        result
            .registered
            .iter()
            .any(|r| r.path == path && r.name == name)
    };
    let pending: Vec<&Value> = items.iter().filter(|item| !done(item)).collect();
    let mut outcome = DarwinOutcome {
        already: items.len() - pending.len(),
        ..DarwinOutcome::default()
    };
    result.blocked.clear();
    let url = target.url();
    let client = super::http::client(&target.retry)?;
    // The envelope (slugs, options) without the items, copied once.
    let envelope: Map<String, Value> = payload
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(field, _)| *field != "items")
        .map(|(field, value)| (field.clone(), value.clone()))
        .collect();
    for batch in pending.chunks(target.batch_size.clamp(1, MAX_BATCH)) {
        let mut body = envelope.clone();
        body.insert(
            "items".into(),
            Value::Array(batch.iter().map(|item| (*item).clone()).collect()),
        );
        // Serialising a `Value` cannot fail.
        let body = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
        let make = || {
            client
                .post(&url)
                .header("Authorization", format!("ApiKey {api_key}"))
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .body(body.clone())
        };
        let reply = send(&url, &make, &target.retry, target.log.as_deref(), notify)?;
        if reply.status != 200 && reply.status != 201 {
            return Err(RegisterError::Status {
                url,
                status: reply.status,
                body: excerpt(&reply.body),
            });
        }
        let answer: Value =
            serde_json::from_str(&reply.body).map_err(|err| RegisterError::Http {
                url: url.clone(),
                reason: format!("answer is not JSON ({err}): {}", excerpt(&reply.body)),
            })?;
        outcome.batches += 1;
        let blocked = blocked_items(&answer);
        for item in batch {
            let (path, name) = key_of(item);
            let blocked_reason = blocked.iter().find(|(b_name, b_path, _)| {
                *b_name == name && b_path.as_ref().is_none_or(|p| *p == path)
            });
            match blocked_reason {
                Some((_, _, reason)) => {
                    notify(&format!("Item {name} was blocked: {reason}"));
                    let record = ItemRecord {
                        path,
                        name,
                        id: None,
                        reason: Some(reason.clone()),
                    };
                    outcome.blocked.push(record.clone());
                    result.blocked.push(record);
                }
                None => {
                    outcome.registered += 1;
                    result.registered.push(ItemRecord {
                        id: registered_id(&answer, &name),
                        path,
                        name,
                        reason: None,
                    });
                }
            }
        }
        if let Some(path) = result_path {
            write_json(path, result)?;
        }
    }
    Ok(outcome)
}

/// `(name, path, reason)` of each `blocked_items` entry; the reason is `slots[].reason`
/// joined, or a top-level `reason`.
fn blocked_items(answer: &Value) -> Vec<(String, Option<String>, String)> {
    let entries = answer["blocked_items"].as_array().into_iter().flatten();
    entries
        .map(|entry| {
            let slot_reasons: Vec<&str> = entry["slots"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|slot| slot["reason"].as_str())
                .collect();
            let reason = if slot_reasons.is_empty() {
                entry["reason"]
                    .as_str()
                    .unwrap_or("no reason given")
                    .to_string()
            } else {
                slot_reasons.join("; ")
            };
            (
                entry["name"].as_str().unwrap_or_default().to_string(),
                entry["path"].as_str().map(str::to_string),
                reason,
            )
        })
        .collect()
}

/// Darwin's id of the registered item `name`, when the answer lists it.
fn registered_id(answer: &Value, name: &str) -> Option<String> {
    let item = answer["items"]
        .as_array()?
        .iter()
        .find(|item| item["name"] == name)?;
    match &item["id"] {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// Every storage key a payload references (`storage_*_key` fields, and the segment keys in
/// `hls_segments` playlists), in order of appearance, without duplicates. Key prefixes
/// (`storage_*_prefix`) are not keys and are left out.
pub fn referenced_keys(payload: &Value) -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => walk_object(map, out),
            Value::Array(list) => list.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    fn walk_object(map: &Map<String, Value>, out: &mut Vec<String>) {
        for (field, value) in map {
            match (field.as_str(), value) {
                (field, Value::String(key))
                    if field.starts_with("storage_") && field.ends_with("key") =>
                {
                    push(out, key)
                }
                ("index", Value::String(playlist)) => playlist
                    .lines()
                    .filter(|line| !line.is_empty() && !line.starts_with('#'))
                    .for_each(|key| push(out, key)),
                _ => walk(value, out),
            }
        }
    }
    fn push(out: &mut Vec<String>, key: &str) {
        if !out.iter().any(|k| k == key) {
            out.push(key.to_string());
        }
    }
    let mut out = Vec::new();
    walk(&payload["items"], &mut out);
    out
}

/// Dry run: checks that every referenced key exists with `exists` (e.g. a HEAD request, or a
/// file test for a local copy). Returns the number of keys checked; fails listing the first
/// missing key. Nothing is sent to Darwin.
pub fn check_keys(
    payload: &Value,
    exists: &dyn Fn(&str) -> Result<bool, String>,
    notify: &mut dyn FnMut(&str),
) -> Result<usize, RegisterError> {
    payload_items(payload)?;
    let keys = referenced_keys(payload);
    let mut missing = Vec::new();
    for key in &keys {
        match exists(key) {
            Ok(true) => {}
            Ok(false) => {
                notify(&format!("missing: {key}"));
                missing.push(key.clone());
            }
            Err(reason) => {
                notify(&format!("cannot check {key}: {reason}"));
                missing.push(key.clone());
            }
        }
    }
    match missing.first() {
        None => Ok(keys.len()),
        Some(first) => Err(RegisterError::MissingKeys {
            missing: missing.len(),
            checked: keys.len(),
            first: first.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn endpoint_is_detected_from_thumbnails() {
        let readonly = json!({"items": [{"path": "/", "name": "a", "slots": [
            {"slot_name": "0", "storage_thumbnail_key": "t.jpg"}]}]});
        assert_eq!(Endpoint::detect(&readonly), Endpoint::Readonly);
        let readwrite = json!({"items": [{"path": "/", "name": "a", "slots": [
            {"slot_name": "0", "type": "dicom", "storage_key": "a.dcm"}]}]});
        assert_eq!(Endpoint::detect(&readwrite), Endpoint::Readwrite);
    }

    #[test]
    fn urls_and_slugs() {
        let target = DarwinTarget {
            api_url: "https://darwin.v7labs.com/".into(),
            team: "my-team".into(),
            endpoint: Endpoint::Readonly,
            batch_size: 10,
            retry: RetryPolicy::default(),
            log: None,
        };
        assert_eq!(
            target.url(),
            "https://darwin.v7labs.com/api/v2/teams/my-team/items/register_existing_readonly"
        );
        let mut payload = json!({"items": [], "dataset_slug": "", "storage_slug": "s"});
        let err = payload_items(&payload).unwrap_err();
        assert!(err.to_string().contains("--dataset-slug"), "{err}");
        set_slugs(&mut payload, Some("d"), None);
        assert_eq!(payload["dataset_slug"], "d");
        assert_eq!(payload["storage_slug"], "s");
        assert!(payload_items(&payload).is_ok());
        let bad = json!({"items": [{"path": "/"}], "dataset_slug": "d", "storage_slug": "s"});
        assert!(
            payload_items(&bad)
                .unwrap_err()
                .to_string()
                .contains("items[0]")
        );
    }

    #[test]
    fn blocked_reasons_and_ids_are_read_from_the_answer() {
        let answer = json!({
            "items": [{"name": "a", "id": "uuid-a"}, {"name": "n", "id": 7}],
            "blocked_items": [
                {"name": "b", "slots": [{"reason": "ALREADY_EXISTS"}, {"reason": "X"}]},
                {"name": "c", "path": "/p", "reason": "bad"}
            ]
        });
        assert_eq!(
            blocked_items(&answer),
            [
                ("b".to_string(), None, "ALREADY_EXISTS; X".to_string()),
                ("c".to_string(), Some("/p".to_string()), "bad".to_string())
            ]
        );
        assert_eq!(registered_id(&answer, "a").as_deref(), Some("uuid-a"));
        assert_eq!(registered_id(&answer, "n").as_deref(), Some("7"));
        assert_eq!(registered_id(&answer, "zz"), None);
    }

    #[test]
    fn referenced_keys_cover_every_key_field_and_playlist_segments() {
        let payload = json!({"items": [
            {"path": "/", "name": "v", "storage_key": "v.mp4", "storage_thumbnail_key": "t.jpg",
             "sections": [{"storage_hq_key": "h1.png", "storage_lq_key": "l1.jpg"}]},
            {"path": "/", "name": "w", "slots": [{"storage_key": "v.mp4",
             "storage_sections_key_prefix": "sections/high",
             "storage_frames_manifest_key": "fm.txt",
             "hls_segments": {"high_quality": {"index": "#EXTM3U\n#EXTINF:2.0,\nseg/0.ts\n#EXT-X-ENDLIST\n", "bitrate": 1}}}]}
        ], "dataset_slug": "d", "storage_slug": "s"});
        let mut keys = referenced_keys(&payload);
        keys.sort();
        assert_eq!(
            keys,
            ["fm.txt", "h1.png", "l1.jpg", "seg/0.ts", "t.jpg", "v.mp4"]
        );
        let exists = |key: &str| -> Result<bool, String> {
            match key {
                "t.jpg" => Ok(false),
                "fm.txt" => Err("denied".into()),
                _ => Ok(true),
            }
        };
        let mut messages = Vec::new();
        let err = check_keys(&payload, &exists, &mut |m| messages.push(m.to_string())).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("2 of 6 referenced keys are missing"),
            "{err}"
        );
        assert_eq!(messages, ["missing: t.jpg", "cannot check fm.txt: denied"]);
        let all = |_: &str| -> Result<bool, String> { Ok(true) };
        assert_eq!(check_keys(&payload, &all, &mut |_| {}).unwrap(), 6);
    }
}
