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

/// The manifest over `parts` (appended to `head`, whose settings and locations are kept), and
/// every skipped and failed input with its stage. `scan`'s skipped and failed inputs come
/// first; an item naming a key that is missing or of another size is left out and its inputs
/// are failed. With `unique_names`, colliding item and series names are numbered (a shard
/// leaves them as made, since only the merge sees every item).
pub(crate) fn assemble(
    mut head: Manifest,
    scan: &ScanReport,
    parts: impl IntoIterator<Item = Part>,
    present: &Present<'_>,
    unique_names: bool,
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
    if unique_names {
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
        false
    });
    head.failed.extend(
        failed_paths
            .into_iter()
            .map(|(path, reason)| FileIssue { path, reason }),
    );
    (head, issues)
}
