//! `dicomprep index` and `dicomprep query`, and the selection (`--where`, `--index`) of
//! `order` and `convert`.

use std::collections::HashSet;
use std::time::Instant;

use super::{
    bucket_reads, dicomweb_reads, list_bucket, open_source, print_issues, scan_dicomweb,
    scan_with_progress,
};
use crate::catalog::refresh::{listed_objects, plan, stat_local};
use crate::catalog::{Catalog, CatalogError, Listed, Selection, Version, select};
use crate::cli::common::{ScanCommon, SelectArgs};
use crate::cli::index::{IndexArgs, QueryArgs, QueryFormat};
use crate::cli::progress::TerminalProgress;
use crate::error::Error;
use crate::labels::references::referenced_series_of;
use crate::scan::source::{Source, list_local};
use crate::scan::{
    FirstRanges, LabelClass, ScanReport, default_io_threads, scan_files, scan_objects,
};
use crate::store::{ListedObject, Location};

/// How an index names its source: a local folder by its absolute path (so the index can be
/// used from anywhere), a bucket prefix by its URL.
fn source_name(location: &Location) -> String {
    match location.local_path() {
        Some(path) => std::fs::canonicalize(&path)
            .unwrap_or(path)
            .display()
            .to_string(),
        None => location.to_string(),
    }
}

pub(super) fn index(args: &IndexArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let common = &args.common;
    let visible = !common.quiet.quiet;
    let source = open_source(&common.store, common.concurrency, &args.src)?;
    let mut catalog = Catalog::open(&args.db, &source_name(&args.src))?;
    let batch = usize::try_from(args.batch).unwrap_or(usize::MAX);
    let summary = match &source {
        Source::Local { root, .. } => {
            let listing = list_local(root)?;
            let listed = stat_local(&listing.files);
            let plan = plan(&catalog, &listed, &listing.unreadable)?;
            let io_threads = common.io_threads.unwrap_or_else(|| {
                default_io_threads(plan.to_read.len(), |k| &listing.files[plan.to_read[k]].path)
            });
            let progress = TerminalProgress::new("index", plan.to_read.len() as u64, visible);
            let mut read = |chunk: &[usize]| {
                let files: Vec<_> = chunk.iter().map(|&i| listing.files[i].clone()).collect();
                scan_files(&files, io_threads, &progress)
            };
            let unreadable = &listing.unreadable;
            let summary = plan.run(&mut catalog, &listed, unreadable, batch, &mut read)?;
            progress.finish();
            summary
        }
        Source::Bucket(bucket) => {
            let objects = list_bucket(bucket, common.concurrency, visible)?;
            let listed = listed_objects(&objects);
            let plan = plan(&catalog, &listed, &[])?;
            let progress = TerminalProgress::new("index", plan.to_read.len() as u64, visible);
            let ranges = FirstRanges::default();
            let mut read = |chunk: &[usize]| {
                let objects: Vec<_> = chunk.iter().map(|&i| objects[i].clone()).collect();
                scan_objects(bucket, &objects, common.concurrency, &ranges, &progress)
            };
            let summary = plan.run(&mut catalog, &listed, &[], batch, &mut read)?;
            progress.finish();
            summary
        }
        // One metadata request per series reads every header anyway; what the index already
        // holds is kept (a SOP Instance UID names content that never changes).
        Source::Dicomweb(service) => {
            let outcomes = scan_dicomweb(service, visible)?.into_outcomes();
            let listed: Vec<Listed> = outcomes
                .iter()
                .map(|outcome| Listed {
                    path: outcome.path().to_string(),
                    version: Version {
                        size: 0,
                        mtime_ns: None,
                        etag: None,
                    },
                })
                .collect();
            let plan = plan(&catalog, &listed, &[])?;
            let mut read = |chunk: &[usize]| {
                crate::scan::collect(chunk.iter().map(|&i| outcomes[i].clone()).collect())
            };
            plan.run(&mut catalog, &listed, &[], batch, &mut read)?
        }
    };
    let (instances, stored) = catalog.summary()?;
    print_issues(common.verbose, &stored.skipped, &stored.failed);
    if visible {
        let reads = match &source {
            Source::Bucket(bucket) => format!("; {}", bucket_reads(bucket, summary.reads)),
            Source::Dicomweb(service) => format!("; {}", dicomweb_reads(service)),
            Source::Local { .. } => String::new(),
        };
        eprintln!(
            "{summary} in {:.2} s; {} holds {} instances, {} skipped, {} failed{reads}",
            started.elapsed().as_secs_f64(),
            args.db.display(),
            instances,
            stored.skipped.len(),
            stored.failed.len()
        );
    }
    Ok(stored.failed.is_empty())
}

pub(super) fn query(args: &QueryArgs) -> Result<bool, Error> {
    let catalog = Catalog::open_read_only(&args.db)?;
    let result = catalog.query(&args.sql)?;
    let text = match args.format {
        QueryFormat::Table => result.to_table(),
        QueryFormat::Csv => result.to_csv(),
        QueryFormat::Json => result.to_json(),
    };
    crate::cli::output::write_to(None, |out| out.write_all(text.as_bytes()))?;
    Ok(true)
}

/// The index at `path`, which must be the index of `src`.
pub(super) fn open_index(path: &std::path::Path, src: &Location) -> Result<Catalog, Error> {
    let catalog = Catalog::open_read_only(path)?;
    let indexed = catalog.meta("source")?.unwrap_or_default();
    let wanted = source_name(src);
    if indexed != wanted {
        return Err(CatalogError::OtherSource {
            path: path.display().to_string(),
            indexed,
            wanted,
        }
        .into());
    }
    Ok(catalog)
}

/// A `--where` condition, checked before any listing or header read (SQLite must accept it).
pub(super) fn checked_selection(select_args: &SelectArgs) -> Result<Option<Selection>, Error> {
    let selection = select_args.condition.as_deref().map(Selection::new);
    if let Some(selection) = &selection {
        Catalog::in_memory()?.select(selection)?;
    }
    Ok(selection)
}

/// The instances `order`, `convert` or `plan` work on: from the index (`--index`: no listing,
/// no header reads) or a fresh scan of `src`, filtered by `--where` through the same SQL; and
/// the listing of a bucket `src` when it was scanned (empty otherwise).
pub(super) fn selected_scan(
    common: &ScanCommon,
    select_args: &SelectArgs,
    src: &Location,
    source: &Source,
) -> Result<(ScanReport, Vec<ListedObject>), Error> {
    let selection = checked_selection(select_args)?;
    let Some(path) = &select_args.index else {
        let (report, listing) = scan_with_progress(common, source)?;
        let Some(selection) = selection else {
            return Ok((report, listing));
        };
        let mut scratch = Catalog::in_memory()?;
        scratch.write(&report, &Default::default())?;
        let selected = with_labels(&report, scratch.select(&selection)?, source);
        return Ok((select::apply(report, &selected), listing));
    };
    let catalog = open_index(path, src)?;
    if let Source::Bucket(bucket) = source
        && let Some(cache) = bucket.cache()
    {
        // No listing: the index tells the object cache which versions are current.
        for (path, version) in catalog.versions()? {
            if let Some(etag) = &version.etag {
                cache.remember(&path, etag, version.size);
            }
        }
    }
    let mut report = catalog.load()?;
    if let Some(selection) = selection {
        let selected = with_labels(&report, catalog.select(&selection)?, source);
        report = select::apply(report, &selected);
    }
    Ok((report, Vec::new()))
}

/// `selected` and the label objects (SEG, RTSTRUCT) that reference a selected series: a
/// selection keeps the labels of what it selects. Their references are read from the source
/// (the index keeps no sequences); an object that cannot be read stays out.
fn with_labels(
    report: &ScanReport,
    mut selected: HashSet<String>,
    source: &Source,
) -> HashSet<String> {
    let series: HashSet<&str> = report
        .instances
        .iter()
        .filter(|h| selected.contains(&h.path))
        .filter_map(|h| h.series_instance_uid.as_deref())
        .collect();
    for header in &report.instances {
        if LabelClass::of(header.sop_class_uid.as_deref()).is_none()
            || selected.contains(&header.path)
        {
            continue;
        }
        let references = source
            .read(&header.path)
            .and_then(|bytes| referenced_series_of(&bytes));
        if references.is_ok_and(|r| r.iter().any(|uid| series.contains(uid.as_str()))) {
            selected.insert(header.path.clone());
        }
    }
    selected
}
