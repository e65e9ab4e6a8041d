//! The shard plan of `dicomprep plan`, read by `convert --plan` and `merge` (field names are a
//! public contract, like the manifest's). Everything lives under DEST:
//!
//! ```text
//! shards/plan.json              the plan: settings, source, shard count, scan issues
//! shards/00003.jsonl            shard 3: a ShardHeader line, then one ShardInput per input
//! shards/00003/manifest.json    written by the shard's conversion (its items only, those
//!                               whose outputs did not all arrive included: merge leaves
//!                               them out after numbering names)
//! shards/00003/report.json      the shard's run report
//! shards/00003/done.json        written last: the shard finished with this plan
//! ```
//! Study folders are UIDs or `x<hash>`, so `shards/` never collides with an output key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::contract::FileIssue;
use crate::contract::manifest::Settings;
use crate::scan::InstanceHeader;
use crate::store::Location;

/// Current plan format version.
pub const PLAN_VERSION: u32 = 1;

/// The folder of the plan and the shards' own records.
pub const PLAN_FOLDER: &str = "shards";

/// Key of the plan.
pub fn plan_key() -> String {
    format!("{PLAN_FOLDER}/plan.json")
}

/// Key of shard `shard`'s inputs.
pub fn inputs_key(shard: usize) -> String {
    format!("{PLAN_FOLDER}/{shard:05}.jsonl")
}

/// Key of shard `shard`'s manifest.
pub fn shard_manifest_key(shard: usize) -> String {
    format!("{PLAN_FOLDER}/{shard:05}/manifest.json")
}

/// Key of shard `shard`'s run report.
pub fn shard_report_key(shard: usize) -> String {
    format!("{PLAN_FOLDER}/{shard:05}/report.json")
}

/// Key of shard `shard`'s completion record.
pub fn shard_done_key(shard: usize) -> String {
    format!("{PLAN_FOLDER}/{shard:05}/done.json")
}

/// What every shard converts with, and what `merge` writes at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    /// Identifies this plan: a hash of its series assignment and settings. Shards record it in
    /// `done.json`, so a shard finished under an earlier plan is not merged.
    pub plan_id: String,
    /// SRC as given to `plan` (frame paths are relative to it).
    pub source: Location,
    pub shards: usize,
    /// The settings every shard converts with (as in the manifest).
    pub settings: Settings,
    /// Payloads `merge` writes beside the manifest (`--payload`), by name.
    #[serde(default)]
    pub payloads: Vec<String>,
    /// `--payload-destination`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_destination: Option<Location>,
    /// Whether `merge` writes `index.html`.
    pub html: bool,
    /// Series and slices (frames) planned.
    pub series: usize,
    pub slices: u64,
    /// Inputs the scan skipped and failed (they belong to no shard).
    pub skipped: Vec<FileIssue>,
    pub failed: Vec<FileIssue>,
}

/// One series of a shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSeries {
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub instances: usize,
    pub slices: u64,
}

/// First line of a shard's inputs file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHeader {
    pub plan_id: String,
    pub shard: usize,
    pub shards: usize,
    pub slices: u64,
    pub series: Vec<ShardSeries>,
}

/// One input of a shard: its header record (the fields of a scan record), and for an object of
/// a bucket source its version when the plan was made, so that `convert --plan --cache`
/// serves it from the object cache without listing SRC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInput {
    #[serde(flatten)]
    pub header: InstanceHeader,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<ListedVersion>,
}

/// An object's version as listed: its ETag (else its last-modified time) and size, what the
/// object cache keys its entries by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedVersion {
    pub etag: String,
    pub size: u64,
}

/// Written last by a shard's conversion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardDone {
    pub plan_id: String,
    pub shard: usize,
    pub settings: Settings,
    /// Inputs that failed in this shard (0 when all converted).
    pub failed: usize,
    /// Writes of this shard that failed (key → last error): `merge` names them as the reason
    /// of the items it leaves out, as one run does.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_writes: BTreeMap<String, String>,
}

/// The inputs file of a shard: its header line, then one record per instance.
pub fn encode_inputs(header: &ShardHeader, instances: &[ShardInput]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line = |value: serde_json::Result<Vec<u8>>| {
        // Serialising these plain structs cannot fail.
        out.extend(value.unwrap_or_default());
        out.push(b'\n');
    };
    line(serde_json::to_vec(header));
    for instance in instances {
        line(serde_json::to_vec(instance));
    }
    out
}

/// Reads an inputs file written by [`encode_inputs`].
pub fn decode_inputs(bytes: &[u8]) -> Result<(ShardHeader, Vec<ShardInput>), String> {
    let mut lines = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty());
    let (_, first) = lines.next().ok_or("empty file")?;
    let header: ShardHeader = serde_json::from_slice(first).map_err(|e| format!("line 1: {e}"))?;
    let instances = lines
        .map(|(n, line)| serde_json::from_slice(line).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect::<Result<Vec<ShardInput>, String>>()?;
    Ok((header, instances))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_round_trip() {
        let header = ShardHeader {
            plan_id: "p".into(),
            shard: 2,
            shards: 4,
            slices: 3,
            series: vec![ShardSeries {
                study_instance_uid: "1.2".into(),
                series_instance_uid: "1.2.3".into(),
                instances: 2,
                slices: 3,
            }],
        };
        let instances = vec![
            ShardInput {
                header: InstanceHeader {
                    path: "a.dcm".into(),
                    number_of_frames: 1,
                    image_position_patient: Some([1.5, -2.0, 3.25]),
                    rows: Some(512),
                    ..Default::default()
                },
                listed: Some(ListedVersion {
                    etag: "\"9b2cf535f27731c974343645a3985328\"".into(),
                    size: 1234,
                }),
            },
            ShardInput {
                header: InstanceHeader {
                    path: "b.dcm".into(),
                    number_of_frames: 2,
                    ..Default::default()
                },
                listed: None,
            },
        ];
        let bytes = encode_inputs(&header, &instances);
        assert_eq!(decode_inputs(&bytes), Ok((header, instances.clone())));
        // A line is a scan record with `listed` beside its fields: readers of version 1
        // plans (no `listed`) read it, and an older reader ignores it.
        let second_line = bytes.split(|&b| b == b'\n').nth(1).unwrap();
        let line: serde_json::Value = serde_json::from_slice(second_line).unwrap();
        assert_eq!(line["path"], "a.dcm");
        assert_eq!(line["listed"]["size"], 1234);
        let record: InstanceHeader = serde_json::from_slice(second_line).unwrap();
        assert_eq!(record, instances[0].header);
        assert_eq!(
            decode_inputs(b"{}\n").unwrap_err().split(':').next(),
            Some("line 1")
        );
    }

    #[test]
    fn keys_stay_under_the_plan_folder() {
        assert_eq!(inputs_key(3), "shards/00003.jsonl");
        assert_eq!(shard_manifest_key(3), "shards/00003/manifest.json");
        assert_eq!(shard_done_key(12), "shards/00012/done.json");
    }
}
