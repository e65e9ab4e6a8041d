//! `dicomprep merge`: put the shards' manifests together into what one `convert` of the whole
//! source writes. Nothing is written here: the caller writes the manifest, report, page and
//! payloads once every shard is accounted for.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use rayon::prelude::*;

use crate::contract::manifest::{Item, Manifest};
use crate::contract::run_report::{RunReport, Stage, Status, Totals};
use crate::contract::{FileIssue, run_report::StageIssues};
use crate::convert::sink::Sink;
use crate::convert::{Assembly, Part, Present, assemble};
use crate::order::group::group_series;
use crate::order::slide::plan_slides;
use crate::scan::ScanReport;
use crate::shard::plan::{
    Plan, ShardDone, decode_inputs, inputs_key, shard_done_key, shard_manifest_key,
    shard_report_key,
};

/// The merged result, ready to be written.
#[derive(Debug)]
pub struct Merged {
    pub manifest: Manifest,
    pub issues: StageIssues,
    /// The shards' totals added up (timings: the slowest shard), without their manifests.
    pub totals: Totals,
    /// Every planned instance, as one scan of the source would have found them.
    pub scan: ScanReport,
}

/// A shard that cannot be merged, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardProblem {
    pub shard: usize,
    pub reason: String,
}

impl fmt::Display for ShardProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {}: {}", self.shard, self.reason)
    }
}

/// Reads `key` as JSON from `sink`: `Ok(None)` when absent.
fn read<T: serde::de::DeserializeOwned>(sink: &dyn Sink, key: &str) -> Result<Option<T>, String> {
    let Some(bytes) = sink.get(key) else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| format!("{} is unreadable: {e}", sink.describe(key)))
}

/// What one finished shard left.
struct Finished {
    done: ShardDone,
    manifest: Manifest,
    manifest_bytes: u64,
    report: RunReport,
    scan: ScanReport,
}

/// Reads shard `shard`'s records, checking it finished under `plan` with its settings.
fn finished(sink: &dyn Sink, plan: &Plan, shard: usize) -> Result<Finished, String> {
    let done: ShardDone = read(sink, &shard_done_key(shard))?
        .ok_or("not finished (no done.json): it has not run, is still running, or failed")?;
    if done.plan_id != plan.plan_id {
        return Err(format!(
            "finished under another plan ({}, this plan is {})",
            done.plan_id, plan.plan_id
        ));
    }
    if done.settings != plan.settings {
        return Err("finished with other settings than the plan's".into());
    }
    let missing = |key: &str| format!("{} is missing", sink.describe(key));
    let manifest: Manifest = read(sink, &shard_manifest_key(shard))?
        .ok_or_else(|| missing(&shard_manifest_key(shard)))?;
    if manifest.settings != plan.settings {
        return Err("its manifest has other settings than the plan's".into());
    }
    let report: RunReport =
        read(sink, &shard_report_key(shard))?.ok_or_else(|| missing(&shard_report_key(shard)))?;
    let inputs = sink
        .get(&inputs_key(shard))
        .ok_or_else(|| missing(&inputs_key(shard)))?;
    let (_, instances) = decode_inputs(&inputs)
        .map_err(|e| format!("{}: {e}", sink.describe(&inputs_key(shard))))?;
    Ok(Finished {
        done,
        manifest,
        manifest_bytes: sink.size(&shard_manifest_key(shard)).unwrap_or(0),
        report,
        scan: ScanReport {
            instances: instances.into_iter().map(|input| input.header).collect(),
            ..ScanReport::default()
        },
    })
}

/// Merges every shard of `plan` from `sink`; every shard that is missing, failed to finish or
/// belongs to another plan is named in the error.
pub fn merge(sink: &dyn Sink, plan: &Plan) -> Result<Merged, Vec<ShardProblem>> {
    let mut problems = Vec::new();
    let mut shards = Vec::with_capacity(plan.shards);
    for shard in 0..plan.shards {
        match finished(sink, plan, shard) {
            Ok(done) => shards.push(done),
            Err(reason) => problems.push(ShardProblem { shard, reason }),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut scan = ScanReport {
        instances: Vec::new(),
        skipped: plan.skipped.clone(),
        failed: plan.failed.clone(),
    };
    let mut by_series: HashMap<(String, String), Vec<Item>> = HashMap::new();
    let mut failed: Vec<(Stage, FileIssue)> = Vec::new();
    let mut totals = Totals::default();
    let mut failed_writes: BTreeMap<String, String> = BTreeMap::new();
    let mut head = None;
    for shard in shards {
        failed_writes.extend(shard.done.failed_writes);
        scan.instances.extend(shard.scan.instances);
        // Inputs a shard left out itself (burned-in text) are skipped inputs of the run.
        let planned: BTreeSet<&str> = plan.skipped.iter().map(|i| i.path.as_str()).collect();
        let left_out: Vec<FileIssue> = shard
            .manifest
            .skipped
            .iter()
            .filter(|i| !planned.contains(i.path.as_str()))
            .cloned()
            .collect();
        scan.skipped.extend(left_out);
        for item in shard.manifest.items {
            let key = (
                item.study_instance_uid.clone(),
                item.series_instance_uid.clone(),
            );
            by_series.entry(key).or_default().push(item);
        }
        // The shard's manifest chose one reason per failed input; its report the stage.
        let stages: BTreeMap<&str, Stage> = shard
            .report
            .inputs
            .iter()
            .filter(|e| e.status == Status::Failed)
            .map(|e| (e.path.as_str(), e.stage.unwrap_or(Stage::Render)))
            .collect();
        for issue in &shard.manifest.failed {
            let stage = stages.get(issue.path.as_str()).copied();
            failed.push((stage.unwrap_or(Stage::Render), issue.clone()));
        }
        add_totals(&mut totals, &shard.report.totals);
        // The shard's own manifest is not among the outputs one run writes.
        totals.bytes_written = totals.bytes_written.saturating_sub(shard.manifest_bytes);
        head.get_or_insert(Manifest {
            items: Vec::new(),
            ..shard.manifest
        });
    }
    // One scan lists instances by path; series order and volumes follow from them. What a
    // shard left out is no instance of the run, as in one run.
    if scan.skipped.len() > plan.skipped.len() {
        let skipped: BTreeSet<String> = scan.skipped.iter().map(|i| i.path.clone()).collect();
        scan.instances.retain(|h| !skipped.contains(&h.path));
        scan.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    }
    scan.instances.sort_by(|a, b| a.path.cmp(&b.path));
    let mut parts: Vec<Part> = group_series(&scan.instances)
        .into_iter()
        .map(|group| Part {
            items: by_series
                .remove(&(group.study_instance_uid, group.series_instance_uid))
                .unwrap_or_default(),
            failed: Vec::new(),
        })
        .collect();
    // Slides follow the series, in the order one run gives them.
    for slide in plan_slides(&scan.instances, false).slides {
        let key = (slide.study_instance_uid, slide.series_instance_uid);
        parts.push(Part {
            items: by_series.remove(&key).unwrap_or_default(),
            failed: Vec::new(),
        });
    }
    parts.push(Part {
        items: Vec::new(),
        failed,
    });

    let head = head.unwrap_or_else(|| {
        Manifest::empty(
            plan.settings.clone(),
            Some(plan.source.clone()),
            Some(sink.location()),
        )
    });
    // Every key an item names must be there with its recorded size (looked up in parallel:
    // a `stat` each in a local folder). The shards kept the items whose outputs did not all
    // arrive: they are numbered with the rest, then left out with the shard's reason.
    let named: Vec<&str> = parts
        .iter()
        .flat_map(|part| &part.items)
        .flat_map(|item| item.named_keys())
        .map(|named| named.key)
        .collect();
    let sizes: HashMap<String, u64> = named
        .par_iter()
        .filter_map(|&key| sink.size(key).map(|size| (key.to_owned(), size)))
        .collect();
    let describe = |key: &str| sink.describe(key);
    let present = Present {
        sizes: &sizes,
        failed_writes: &failed_writes,
        describe: &describe,
    };
    let (manifest, issues) = assemble(head, &scan, parts, &present, Assembly::Whole);
    Ok(Merged {
        manifest,
        issues,
        totals,
        scan,
    })
}

fn add_totals(sum: &mut Totals, shard: &Totals) {
    sum.outputs_written += shard.outputs_written;
    sum.outputs_kept += shard.outputs_kept;
    sum.bytes_written += shard.bytes_written;
    sum.bytes_read += shard.bytes_read;
    sum.seconds = sum.seconds.max(shard.seconds);
}
