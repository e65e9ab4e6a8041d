//! The last step every conversion shares, a single run and a merge of shards alike: put the
//! rendered items together into the manifest, keep only items whose keys are all there, and
//! account every input that failed.

use std::collections::{BTreeMap, HashMap};

use crate::contract::FileIssue;
use crate::contract::manifest::{Item, Manifest};
use crate::contract::run_report::{Stage, StageIssues};
use crate::scan::ScanReport;

use super::integrity::{Violation, violation};

/// The items of some volumes, in manifest order, and the inputs that failed making them.
#[derive(Debug, Default)]
pub(crate) struct Part {
    pub(crate) items: Vec<Item>,
    pub(crate) failed: Vec<(Stage, FileIssue)>,
}

/// What the destination holds once the writes are done: sizes of the keys present, and the
/// writes that failed (key → error).
pub(crate) struct Present<'a> {
    pub(crate) sizes: &'a HashMap<String, u64>,
    pub(crate) failed_writes: &'a BTreeMap<String, String>,
    /// A key as a location, for messages.
    pub(crate) describe: &'a dyn Fn(&str) -> String,
}

/// What a manifest is assembled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Assembly {
    /// The whole result (`manifest.json`): colliding names numbered, items whose keys are not
    /// all there left out.
    Whole,
    /// A shard's own manifest: names as the template made them, and every item kept, those
    /// whose keys are not all there too (their inputs failed all the same). Only `merge` sees
    /// every item: it numbers the names over all of them, as one run does, then leaves those
    /// items out, so names do not depend on the sharding nor on which outputs failed.
    Shard,
}

/// The manifest over `parts` (appended to `head`, whose settings and locations are kept), and
/// every skipped and failed input with its stage. `scan`'s skipped and failed inputs come
/// first; an item naming a key that is missing or of another size fails its inputs, and is
/// left out of a [`Assembly::Whole`] manifest.
pub(crate) fn assemble(
    mut head: Manifest,
    scan: &ScanReport,
    parts: impl IntoIterator<Item = Part>,
    present: &Present<'_>,
    assembly: Assembly,
) -> (Manifest, StageIssues) {
    head.items.clear();
    head.skipped = scan.skipped.clone();
    head.failed = scan.failed.clone();
    let mut issues = StageIssues {
        skipped: scan.skipped.clone(),
        failed: scan
            .failed
            .iter()
            .map(|i| (Stage::Scan, i.clone()))
            .collect(),
        labels: Vec::new(),
    };
    let mut failed_paths: BTreeMap<String, String> = BTreeMap::new();
    for part in parts {
        head.items.extend(part.items);
        for (stage, issue) in part.failed {
            failed_paths
                .entry(issue.path.clone())
                .or_insert(issue.reason.clone());
            issues.failed.push((stage, issue));
        }
    }
    // Names are made unique over every item, before failed items are left out, so that a
    // name does not depend on which outputs failed in this run (nor on how it was sharded).
    if assembly == Assembly::Whole {
        super::items::make_names_unique(&mut head.items);
    }
    // The manifest names no key that is not there: items whose outputs did not all arrive
    // with their recorded sizes are left out (a re-run makes them again).
    head.items.retain(|item| {
        let Some(Violation {
            reason,
            write_failed,
        }) = violation(item, present.sizes, present.failed_writes, present.describe)
        else {
            return true;
        };
        let stage = if write_failed {
            Stage::Upload
        } else {
            Stage::Render
        };
        for frame in &item.frames {
            failed_paths
                .entry(frame.path.clone())
                .or_insert_with(|| reason.clone());
            let issue = FileIssue {
                path: frame.path.clone(),
                reason: reason.clone(),
            };
            issues.failed.push((stage, issue));
        }
        assembly == Assembly::Shard
    });
    head.failed.extend(
        failed_paths
            .into_iter()
            .map(|(path, reason)| FileIssue { path, reason }),
    );
    (head, issues)
}
