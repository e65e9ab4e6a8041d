//! Incremental refresh: SRC is listed once; only inputs that are new or whose size, mtime or
//! ETag changed are read; rows of inputs that are gone are deleted. Each batch of reads is
//! written in one transaction, so a run killed mid-way leaves a valid index holding every
//! batch it finished, and the next run reads only the rest.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc;

use super::{Catalog, CatalogError, Replaced, Rows, Version};
use crate::contract::FileIssue;
use crate::scan::ScanReport;

/// Inputs read and written per transaction by default.
pub const DEFAULT_BATCH: u64 = 1000;

/// One input as listed: its name relative to SRC and its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub path: String,
    pub version: Version,
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshSummary {
    /// Inputs not in the index before.
    pub new: usize,
    /// Inputs whose size, mtime or ETag changed.
    pub changed: usize,
    /// Rows deleted because their input is gone.
    pub removed: usize,
    /// Inputs left as they were (not read).
    pub unchanged: usize,
    /// Headers read (new + changed).
    pub reads: usize,
}

impl std::fmt::Display for RefreshSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} new, {} changed, {} removed, {} unchanged ({} reads)",
            self.new, self.changed, self.removed, self.unchanged, self.reads
        )
    }
}

/// What a refresh will do, worked out from the listing and the index before anything is read.
#[derive(Debug, Clone, Default)]
pub struct RefreshPlan {
    /// The counts (`reads` is 0 until the plan is run).
    pub summary: RefreshSummary,
    /// Indexes into the listing of the inputs to read.
    pub to_read: Vec<usize>,
    /// Those of `to_read` that the index holds (changed inputs): only their rows are deleted
    /// before the new ones are inserted.
    pub changed: HashSet<usize>,
    /// Indexed inputs that are gone.
    pub gone: Vec<String>,
}

/// Compares `listed` (the whole listing of SRC) and `unreadable` (entries the listing could
/// not read) with what `catalog` holds.
pub fn plan(
    catalog: &Catalog,
    listed: &[Listed],
    unreadable: &[FileIssue],
) -> Result<RefreshPlan, CatalogError> {
    let known = catalog.versions()?;
    let mut plan = RefreshPlan::default();
    for (i, item) in listed.iter().enumerate() {
        match known.get(&item.path) {
            None => {
                plan.summary.new += 1;
                plan.to_read.push(i);
            }
            Some(version) if *version != item.version => {
                plan.summary.changed += 1;
                plan.to_read.push(i);
                plan.changed.insert(i);
            }
            Some(_) => plan.summary.unchanged += 1,
        }
    }
    let present: HashSet<&str> = listed
        .iter()
        .map(|l| l.path.as_str())
        .chain(unreadable.iter().map(|i| i.path.as_str()))
        .collect();
    plan.gone = known
        .into_keys()
        .filter(|path| !present.contains(path.as_str()))
        .collect();
    plan.gone.sort();
    plan.summary.removed = plan.gone.len();
    Ok(plan)
}

impl RefreshPlan {
    /// Brings `catalog` up to date: deletes the rows of inputs that are gone, records
    /// `unreadable` as failed, then reads the new and changed inputs. `read` scans the listed
    /// inputs at the given indexes (reporting progress itself); it is called once per batch of
    /// at most `batch` inputs, and each batch is written in one transaction.
    pub fn run(
        self,
        catalog: &mut Catalog,
        listed: &[Listed],
        unreadable: &[FileIssue],
        batch: usize,
        read: &mut dyn FnMut(&[usize]) -> ScanReport,
    ) -> Result<RefreshSummary, CatalogError> {
        let mut summary = self.summary;
        catalog.remove(&self.gone)?;
        if !unreadable.is_empty() {
            let report = ScanReport {
                failed: unreadable.to_vec(),
                ..ScanReport::default()
            };
            catalog.write(&report, &HashMap::new())?;
        }
        // Batch n is written (on its own thread) while batch n + 1 is read and made into rows:
        // the headers of a warm folder are read about as fast as SQLite writes them.
        let (batches, written) = mpsc::sync_channel::<(Rows, Vec<String>)>(1);
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> Result<(), CatalogError> {
                for (rows, replaced) in written {
                    catalog.insert(&rows, Replaced::These(&replaced))?;
                }
                Ok(())
            });
            for chunk in self.to_read.chunks(batch.max(1)) {
                let report = read(chunk);
                let versions: HashMap<String, Version> = chunk
                    .iter()
                    .map(|&i| (listed[i].path.clone(), listed[i].version.clone()))
                    .collect();
                let replaced = chunk
                    .iter()
                    .filter(|i| self.changed.contains(i))
                    .map(|&i| listed[i].path.clone())
                    .collect();
                if batches
                    .send((Rows::new(&report, &versions), replaced))
                    .is_err()
                {
                    break; // the writer failed: its error is returned below
                }
                summary.reads += chunk.len();
            }
            drop(batches);
            writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;
        Ok(summary)
    }
}

/// [`plan`] then [`RefreshPlan::run`].
pub fn refresh(
    catalog: &mut Catalog,
    listed: &[Listed],
    unreadable: &[FileIssue],
    batch: usize,
    read: &mut dyn FnMut(&[usize]) -> ScanReport,
) -> Result<RefreshSummary, CatalogError> {
    plan(catalog, listed, unreadable)?.run(catalog, listed, unreadable, batch, read)
}

/// The identity of each listed local file: its size and modification time (nanoseconds since
/// the Unix epoch). A file that cannot be stat'ed gets no time, so it is read (and fails with
/// the reason) on every run.
pub fn stat_local(files: &[crate::scan::source::SourceFile]) -> Vec<Listed> {
    use rayon::prelude::*;
    files
        .par_iter()
        .map(|file| {
            let metadata = std::fs::metadata(&file.path).ok();
            let mtime_ns = metadata
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_nanos()).ok());
            Listed {
                path: file.relative.clone(),
                version: Version {
                    size: metadata.map_or(u64::MAX >> 1, |m| m.len()),
                    mtime_ns,
                    etag: None,
                },
            }
        })
        .collect()
}

/// The identity of each listed object: its size and ETag (or last-modified time).
pub fn listed_objects(objects: &[crate::store::ListedObject]) -> Vec<Listed> {
    objects
        .iter()
        .map(|object| Listed {
            path: object.key.clone(),
            version: Version {
                size: object.size,
                mtime_ns: None,
                etag: object.version.clone(),
            },
        })
        .collect()
}
