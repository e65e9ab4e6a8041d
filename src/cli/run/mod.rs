//! The glue of each command, as in ripgrep's core: open the source and destination the flags
//! name, run the library, show progress, print failures and the summary. `main` only parses the
//! flags, sizes the thread pool and turns the outcome into an exit code.

pub mod convert;
mod index;
mod payload;
mod register;
pub mod scan;
mod shard;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::common::{ScanCommon, StoreArgs};
use super::progress::{TerminalProgress, human_bytes};
use super::register::RegisterTarget;
use super::{Cli, Command};
use crate::contract::FileIssue;
use crate::contract::manifest::Manifest;
use crate::error::Error;
use crate::scan::ScanReport;
use crate::scan::dicomweb::Dicomweb;
use crate::scan::source::{Source, list_local};
use crate::store::{Bucket, ListedObject, Location, Scheme};

/// Runs the command; `Ok(false)` when some inputs failed.
pub fn run(cli: &Cli) -> Result<bool, Error> {
    match &cli.command {
        Command::Scan(args) => scan::scan(args),
        Command::Order(args) => scan::order(args),
        Command::Convert(args) => match (&args.plan, args.shard) {
            (Some(plan), Some(shard)) => shard::convert_shard(args, plan, shard),
            _ => convert::convert(args),
        },
        Command::Plan(args) => shard::plan(args),
        Command::Merge(args) => shard::merge(args),
        Command::Index(args) => index::index(args),
        Command::Query(args) => index::query(args),
        Command::Payload(args) => payload::payload(args),
        Command::Register(args) => match &args.target {
            RegisterTarget::Darwin(darwin) => register::register_darwin(darwin),
            RegisterTarget::Bisque(bisque) => register::register_bisque(bisque),
        },
    }
}

/// The source at `location`: a local folder or file, a bucket prefix, or a DICOMweb service
/// (`concurrency` requests in flight).
fn open_source(
    store: &StoreArgs,
    concurrency: usize,
    location: &Location,
) -> Result<Source, Error> {
    if location.scheme == Scheme::Dicomweb {
        let options = store.connect_options();
        let service =
            Dicomweb::open(location, &options, concurrency).map_err(|reason| Error::Store {
                location: location.to_string(),
                reason,
            })?;
        return Ok(Source::Dicomweb(Arc::new(service)));
    }
    Ok(match location.local_path() {
        Some(path) => Source::local(&path),
        None => Source::Bucket(open_bucket(store, location, false)?),
    })
}

fn open_bucket(store: &StoreArgs, location: &Location, create: bool) -> Result<Bucket, Error> {
    Bucket::open(location, &store.connect_options(), create).map_err(|e| Error::Store {
        location: e.location,
        reason: e.reason,
    })
}

/// Every object under `bucket`'s prefix, with a spinner while it is listed.
fn list_bucket(
    bucket: &Bucket,
    concurrency: usize,
    visible: bool,
) -> Result<Vec<ListedObject>, Error> {
    let spinner = TerminalProgress::spinner("list", visible);
    let objects = bucket.list(concurrency).map_err(|reason| Error::Store {
        location: bucket.location().to_string(),
        reason,
    })?;
    spinner.finish();
    Ok(objects)
}

/// Scans `source` with progress; also returns the listing of a bucket source (each object's
/// version, for a plan to record), empty for the others.
fn scan_with_progress(
    common: &ScanCommon,
    source: &Source,
) -> Result<(ScanReport, Vec<ListedObject>), Error> {
    let visible = !common.quiet.quiet;
    let report = match source {
        Source::Local { root, .. } => {
            let listing = list_local(root)?;
            let progress = TerminalProgress::new("scan", listing.files.len() as u64, visible);
            let io_threads = common.io_threads.unwrap_or_else(|| {
                crate::scan::default_io_threads(listing.files.len(), |i| &listing.files[i].path)
            });
            let mut report = crate::scan::scan_files(&listing.files, io_threads, &progress);
            progress.finish();
            report.failed.extend(listing.unreadable);
            report
        }
        Source::Bucket(bucket) => {
            let objects = list_bucket(bucket, common.concurrency, visible)?;
            let progress = TerminalProgress::new("scan", objects.len() as u64, visible);
            let ranges = crate::scan::FirstRanges::default();
            let report =
                crate::scan::scan_objects(bucket, &objects, common.concurrency, &ranges, &progress);
            progress.finish();
            return Ok((report, objects));
        }
        Source::Dicomweb(service) => scan_dicomweb(service, visible)?,
    };
    Ok((report, Vec::new()))
}

/// Finds the series of a DICOMweb source and reads their metadata, with progress.
pub(super) fn scan_dicomweb(service: &Dicomweb, visible: bool) -> Result<ScanReport, Error> {
    let listing = TerminalProgress::spinner("search", visible);
    let series = service.list_series().map_err(|reason| Error::Store {
        location: service.location().to_string(),
        reason,
    })?;
    listing.finish();
    let progress = TerminalProgress::new("metadata", series.len() as u64, visible);
    let report = service.scan(&series, &progress);
    progress.finish();
    Ok(report)
}

/// `10001 requests (1.00 per file), 1.6 kB read per file` for a bucket whose `files` objects
/// were read.
fn bucket_reads(bucket: &Bucket, files: usize) -> String {
    let stats = bucket.stats();
    let requests = stats.requests.load(Ordering::Relaxed);
    if files == 0 {
        return format!("{requests} requests, no file read");
    }
    let files = files as u64;
    format!(
        "{requests} requests ({:.2} per file), {} read per file",
        requests as f64 / files as f64,
        human_bytes(stats.bytes_read.load(Ordering::Relaxed) / files)
    )
}

/// `12 requests (1.2 MiB read)` for a DICOMweb service.
fn dicomweb_reads(service: &Dicomweb) -> String {
    let stats = service.stats();
    format!(
        "{} requests ({} read)",
        stats.requests.load(Ordering::Relaxed),
        human_bytes(stats.bytes_read.load(Ordering::Relaxed))
    )
}

/// Failures always go to stderr, one line each; skipped files only with `--verbose`.
fn print_issues(verbose: bool, skipped: &[FileIssue], failed: &[FileIssue]) {
    let print =
        |label: &str, issue: &FileIssue| eprintln!("{label}: {}: {}", issue.path, issue.reason);
    if verbose {
        skipped.iter().for_each(|issue| print("skipped", issue));
    }
    failed.iter().for_each(|issue| print("failed", issue));
}

fn read_manifest(path: &Path) -> Result<Manifest, Error> {
    crate::register::read_json(path)?.ok_or_else(|| Error::Input {
        path: path.to_path_buf(),
        reason: "no such file; pass the manifest.json written by `dicomprep convert`".into(),
    })
}

fn parent_folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A location given as the value of `flag`.
fn parse_location(url: &str, flag: &str) -> Result<Location, Error> {
    Location::parse(url).map_err(|err| Error::Input {
        path: flag.into(),
        reason: err.to_string(),
    })
}
