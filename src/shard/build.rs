//! `dicomprep plan`: assign whole series to shards and write the plan under DEST. Memory holds
//! one count per series, and the records of the shards being written (a batch of shards at a
//! time, bounded by [`BATCH_INSTANCES`]); the instances are visited once to count and once per
//! batch to write, so an index of any size streams through.

use std::collections::{HashMap, HashSet};

use super::balance::{SeriesLoad, balance};
use crate::catalog::Catalog;
use crate::contract::FileIssue;
use crate::contract::keys::fnv1a;
use crate::contract::manifest::Settings;
use crate::convert::sink::Sink;
use crate::error::Error;
use crate::scan::InstanceHeader;
use crate::shard::plan::{
    ListedVersion, PLAN_VERSION, Plan, ShardHeader, ShardInput, ShardSeries, encode_inputs,
    inputs_key, plan_key,
};
use crate::store::{ListedObject, Location};

/// Instance records held in memory at once while shard files are written.
pub const BATCH_INSTANCES: usize = 500_000;

/// Instances to plan over, visited in path order as often as the planner needs.
pub trait Instances {
    /// Calls `each` with every instance.
    fn visit(&self, each: &mut dyn FnMut(ShardInput)) -> Result<(), Error>;
}

impl Instances for Vec<ShardInput> {
    fn visit(&self, each: &mut dyn FnMut(ShardInput)) -> Result<(), Error> {
        self.iter().cloned().for_each(each);
        Ok(())
    }
}

/// The instances of a scan, each with its object's version from `listing` (a bucket scan's).
pub fn scanned_inputs(instances: Vec<InstanceHeader>, listing: &[ListedObject]) -> Vec<ShardInput> {
    let versions: HashMap<&str, &ListedObject> =
        listing.iter().map(|o| (o.key.as_str(), o)).collect();
    instances
        .into_iter()
        .map(|header| {
            let listed = versions.get(header.path.as_str()).and_then(|object| {
                let etag = object.version.clone()?;
                Some(ListedVersion {
                    etag,
                    size: object.size,
                })
            });
            ShardInput { header, listed }
        })
        .collect()
}

/// The instances of a header index, those of `selected` paths only when given, each with the
/// version the index stored (an ETag for objects; files have none).
pub struct Indexed<'a> {
    pub catalog: &'a Catalog,
    pub selected: Option<HashSet<String>>,
}

impl Instances for Indexed<'_> {
    fn visit(&self, each: &mut dyn FnMut(ShardInput)) -> Result<(), Error> {
        self.catalog.for_each_instance(|header, version| {
            if self
                .selected
                .as_ref()
                .is_none_or(|s| s.contains(&header.path))
            {
                let listed = version.etag.map(|etag| ListedVersion {
                    etag,
                    size: version.size,
                });
                each(ShardInput { header, listed });
            }
            Ok(())
        })?;
        Ok(())
    }
}

/// What the plan records besides the assignment.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub source: Location,
    pub shards: usize,
    pub settings: Settings,
    pub payloads: Vec<String>,
    pub payload_destination: Option<Location>,
    pub html: bool,
    /// Inputs the scan skipped and failed.
    pub skipped: Vec<FileIssue>,
    pub failed: Vec<FileIssue>,
}

/// A series as the plan keys it: study and series UID, empty when missing (as `order` groups).
type SeriesKey = (String, String);

fn series_key(input: &ShardInput) -> SeriesKey {
    let header = &input.header;
    (
        header.study_instance_uid.clone().unwrap_or_default(),
        header.series_instance_uid.clone().unwrap_or_default(),
    )
}

/// A written plan, and the slices of each shard.
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub shard_slices: Vec<u64>,
}

/// Plans `instances` into `request.shards` shards and writes the shard files, then the plan,
/// into `sink` (the plan last, so its presence means the shard files are complete).
pub fn write_plan(
    instances: &dyn Instances,
    request: PlanRequest,
    sink: &dyn Sink,
) -> Result<Planned, Error> {
    let shards = request.shards.max(1);
    let mut counts: HashMap<SeriesKey, (usize, u64)> = HashMap::new();
    instances.visit(&mut |input| {
        let count = counts.entry(series_key(&input)).or_default();
        count.0 += 1;
        count.1 += u64::from(input.header.number_of_frames.max(1));
    })?;
    let mut loads: Vec<(SeriesLoad<SeriesKey>, usize)> = counts
        .into_iter()
        .map(|(key, (instances, slices))| (SeriesLoad { key, slices }, instances))
        .collect();
    loads.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    let series: Vec<SeriesLoad<SeriesKey>> = loads.iter().map(|(l, _)| l.clone()).collect();
    let assignment = balance(&series, shards);

    let settings_json = serde_json::to_string(&request.settings).unwrap_or_default();
    let mut identity = format!("{shards}\n{settings_json}\n{}\n", request.source);
    let mut headers: Vec<ShardHeader> = (0..shards)
        .map(|shard| ShardHeader {
            plan_id: String::new(),
            shard,
            shards,
            slices: 0,
            series: Vec::new(),
        })
        .collect();
    let mut shard_of: HashMap<SeriesKey, usize> = HashMap::with_capacity(series.len());
    let mut instances_in = vec![0usize; shards];
    for ((load, count), &shard) in loads.into_iter().zip(&assignment) {
        identity.push_str(&format!("{}/{}={shard}\n", load.key.0, load.key.1));
        let header = &mut headers[shard];
        header.slices += load.slices;
        header.series.push(ShardSeries {
            study_instance_uid: load.key.0.clone(),
            series_instance_uid: load.key.1.clone(),
            instances: count,
            slices: load.slices,
        });
        instances_in[shard] += count;
        shard_of.insert(load.key, shard);
    }
    let plan_id = format!("{:016x}", fnv1a(identity.as_bytes()));
    for header in &mut headers {
        header.plan_id = plan_id.clone();
    }

    for batch in batches(&instances_in, BATCH_INSTANCES) {
        let mut records: HashMap<usize, Vec<ShardInput>> =
            batch.clone().map(|shard| (shard, Vec::new())).collect();
        instances.visit(&mut |input| {
            let shard = shard_of.get(&series_key(&input)).copied();
            if let Some(list) = shard.and_then(|shard| records.get_mut(&shard)) {
                list.push(input);
            }
        })?;
        for shard in batch {
            let bytes = encode_inputs(&headers[shard], &records[&shard]);
            put(sink, &inputs_key(shard), bytes)?;
        }
    }
    let plan = Plan {
        version: PLAN_VERSION,
        plan_id,
        source: request.source,
        shards,
        settings: request.settings,
        payloads: request.payloads,
        payload_destination: request.payload_destination,
        html: request.html,
        series: series.len(),
        slices: series.iter().map(|s| s.slices).sum(),
        skipped: request.skipped,
        failed: request.failed,
    };
    let json = serde_json::to_vec_pretty(&plan).map_err(std::io::Error::other);
    json.and_then(|json| sink.put_durable(&plan_key(), json))
        .map_err(|source| Error::Output {
            path: sink.describe(&plan_key()).into(),
            source,
        })?;
    Ok(Planned {
        plan,
        shard_slices: headers.iter().map(|h| h.slices).collect(),
    })
}

/// Writes `bytes` under `key` durably.
fn put(sink: &dyn Sink, key: &str, bytes: Vec<u8>) -> Result<(), Error> {
    sink.put_durable(key, bytes)
        .map_err(|source| Error::Output {
            path: sink.describe(key).into(),
            source,
        })
}

/// Consecutive runs of shards holding at most `budget` instances together (a shard larger than
/// the budget alone).
fn batches(instances_in: &[usize], budget: usize) -> Vec<std::ops::Range<usize>> {
    let mut batches = Vec::new();
    let (mut start, mut held) = (0, 0);
    for (shard, &count) in instances_in.iter().enumerate() {
        if shard > start && held + count > budget {
            batches.push(start..shard);
            (start, held) = (shard, 0);
        }
        held += count;
    }
    if start < instances_in.len() {
        batches.push(start..instances_in.len());
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_within_the_budget() {
        assert_eq!(batches(&[3, 3, 3, 9, 1], 6), vec![0..2, 2..3, 3..4, 4..5]);
        assert_eq!(batches(&[1, 1, 1], 10), vec![0..3]);
        assert_eq!(batches(&[], 10), Vec::<std::ops::Range<usize>>::new());
    }
}
