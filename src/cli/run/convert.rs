//! `dicomprep convert`: scan SRC, render into DEST, write the run report and payloads (one
//! shard of a plan, `--plan DEST --shard K`, is the `shard` glue's).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{open_source, print_issues};
use crate::cli::common::{ScanCommon, StoreArgs};
use crate::cli::convert::ConvertArgs;
use crate::cli::progress::{TerminalProgress, human_bytes};
use crate::contract::manifest::Manifest;
use crate::contract::run_report::{RunReport, Totals};
use crate::convert::burned_in::screen;
use crate::convert::publish::{Publication, Published, publish};
use crate::convert::sink::{BucketSink, Listing, LocalSink, Sink};
use crate::convert::{self, ConvertOptions, ConvertReport};
use crate::error::Error;
use crate::scan::source::Source;
use crate::store::{Location, ObjectCache};

/// `source` with the object cache of `--cache DIR`, when it is a bucket.
pub(super) fn with_cache(
    source: Source,
    cache: Option<&Path>,
    cache_size: u64,
    quiet: bool,
) -> Result<Source, Error> {
    let (Source::Bucket(bucket), Some(dir)) = (&source, cache) else {
        if let Some(dir) = cache
            && !quiet
        {
            eprintln!(
                "note: --cache is for bucket sources; {} is not used",
                dir.display()
            );
        }
        return Ok(source);
    };
    let cache = ObjectCache::open(dir, cache_size).map_err(|source| Error::Output {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(Source::Bucket(bucket.clone().with_cache(Arc::new(cache))))
}

/// How much the object cache served, when there is one.
pub(super) fn print_cache(source: &Source) {
    if let Source::Bucket(bucket) = source
        && let Some(cache) = bucket.cache()
    {
        let stats = cache.stats();
        eprintln!(
            "object cache: {} reads served, {} objects fetched and kept",
            stats.hits.load(Ordering::Relaxed),
            stats.stored.load(Ordering::Relaxed)
        );
    }
}

pub(super) fn convert(args: &ConvertArgs) -> Result<bool, Error> {
    convert_manifest(args).map(|manifest| manifest.failed.is_empty())
}

/// Converts SRC into DEST as `convert` does (progress and summary unless quiet) and returns
/// the manifest written.
pub fn convert_manifest(args: &ConvertArgs) -> Result<Manifest, Error> {
    let (Some(src), Some(dest)) = (&args.src, &args.dest) else {
        return Err(Error::Input {
            path: "convert".into(),
            reason: "SRC and --dest are required (or --plan DEST --shard K)".into(),
        });
    };
    let started = Instant::now();
    let common = &args.common;
    let source = with_cache(
        open_source(&common.store, common.concurrency, src)?,
        args.cache.as_deref(),
        args.cache_size,
        common.quiet.quiet,
    )?;
    let (scan, _) = super::index::selected_scan(common, &args.select, src, &source)?;
    let sink = open_sink(&common.store, common.concurrency, dest, Listing::Everything)?;
    let mut options = args.render.options(args.overwrite);
    videos_here(&mut options);
    // What the conversion leaves out for burned-in text, the page leaves out too.
    let scan = &*screen(&scan, options.burned_in, options.slide_labels);
    let progress = render_progress(common, &scan.instances);
    let report = convert::convert(&source, scan, sink.as_ref(), &options, &progress).map_err(
        manifest_error(sink.as_ref(), crate::contract::keys::MANIFEST_KEY),
    )?;
    progress.finish();
    let run_report = run_report(&report, started);
    let published = publish(
        sink.as_ref(),
        &Publication {
            manifest: &report.manifest,
            report: &run_report,
            page: (!args.outputs.no_html).then_some((scan, &source, options.rule)),
            payloads: &args.outputs.payload,
            payload_destination: args.outputs.payload_destination.clone(),
        },
    )?;
    print_issues(
        common.verbose,
        &report.manifest.skipped,
        &report.manifest.failed,
    );
    if !common.quiet.quiet {
        if report.settings_changed {
            eprintln!(
                "note: settings differ from the previous run in {dest}; outputs were rewritten"
            );
        }
        print_summary(&report, started);
        print_cache(&source);
        print_published(sink.as_ref(), &published);
    }
    Ok(report.manifest)
}

/// Leaves videos as asked unless FFmpeg's libraries cannot be loaded on this machine: then a
/// warning says what to install, and video items get their frames and thumbnail only. (A
/// shard of a plan does not do this: its outputs must be the plan's, so its videos fail with
/// the same reason instead.)
fn videos_here(options: &mut ConvertOptions) {
    #[cfg(feature = "video")]
    if options.video.is_some()
        && options.outputs.render
        && let Err(reason) = crate::encode::video::available()
    {
        eprintln!("warning: no MP4 videos: {reason}");
        options.video = None;
    }
    #[cfg(not(feature = "video"))]
    let _ = options;
}

/// The sink writing under `dest`: a local folder, or a bucket prefix (what `listing` names
/// listed once).
pub(super) fn open_sink(
    store: &StoreArgs,
    concurrency: usize,
    dest: &Location,
    listing: Listing,
) -> Result<Box<dyn Sink>, Error> {
    Ok(match dest.local_path() {
        Some(path) => Box::new(LocalSink::new(&path).map_err(|source| Error::Output {
            path: path.clone(),
            source,
        })?),
        None => {
            let bucket = super::open_bucket(store, dest, true)?;
            Box::new(
                BucketSink::listing(bucket, concurrency, listing).map_err(|reason| {
                    Error::Store {
                        location: dest.to_string(),
                        reason,
                    }
                })?,
            )
        }
    })
}

/// Progress over the frames of `instances`.
pub(super) fn render_progress(
    common: &ScanCommon,
    instances: &[crate::scan::InstanceHeader],
) -> TerminalProgress {
    let frames = instances
        .iter()
        .map(|h| u64::from(h.number_of_frames))
        .sum();
    TerminalProgress::new("convert", frames, !common.quiet.quiet)
}

/// The error of a manifest that cannot be written under `key`.
pub(super) fn manifest_error(sink: &dyn Sink, key: &str) -> impl FnOnce(std::io::Error) -> Error {
    let at = sink.describe(key);
    move |source| Error::Output {
        path: at.into(),
        source,
    }
}

/// The run report of a conversion started at `started`.
pub(super) fn run_report(report: &ConvertReport, started: Instant) -> RunReport {
    let totals = Totals {
        outputs_written: report.written,
        outputs_kept: report.reused,
        bytes_written: report.bytes_written,
        bytes_read: report.bytes_read,
        seconds: started.elapsed().as_secs_f64(),
        ..Totals::default()
    };
    RunReport::new(&report.manifest, &report.issues, totals)
}

/// The summary line of a conversion.
pub(super) fn print_summary(report: &ConvertReport, started: Instant) {
    let manifest = &report.manifest;
    let frames: usize = manifest.items.iter().map(|i| i.frames.len()).sum();
    let seconds = started.elapsed().as_secs_f64();
    let hint = if manifest.skipped.is_empty() {
        ""
    } else {
        " (-v lists them)"
    };
    eprintln!(
        "{} items ({frames} frames) in {seconds:.2} s ({:.0} frames/s): {} files written ({}), {} kept from an earlier run; {} of DICOM read; {} skipped{hint}, {} failed",
        manifest.items.len(),
        frames as f64 / seconds.max(1e-9),
        report.written,
        human_bytes(report.bytes_written),
        report.reused,
        human_bytes(report.bytes_read),
        manifest.skipped.len(),
        manifest.failed.len()
    );
    if report.burned_in_kept > 0 {
        eprintln!(
            "{} images that declare burned-in annotation (the patient's name may be in their pixels) were kept whole (--burned-in keep)",
            report.burned_in_kept
        );
    }
    let nifti: std::collections::BTreeMap<&str, &crate::contract::manifest::NiftiEntry> = manifest
        .items
        .iter()
        .filter_map(|i| i.nifti.as_ref())
        .map(|n| (n.image.as_str(), n))
        .collect();
    if !nifti.is_empty() {
        let noted = nifti.values().filter(|n| !n.notes.is_empty()).count();
        let notes = if noted == 0 {
            String::new()
        } else {
            format!(", {noted} with notes (uneven spacing, gantry tilt: see manifest.json)")
        };
        eprintln!("{} NIfTI volumes{notes}", nifti.len());
    }
    let slides: Vec<&crate::contract::manifest::SlideEntry> = manifest
        .items
        .iter()
        .filter_map(|i| i.slide.as_ref())
        .collect();
    if !slides.is_empty() {
        let levels: usize = slides.iter().map(|s| s.levels.len()).sum();
        let tiles: u64 = slides.iter().map(|s| s.dzi_tiles).sum();
        let missing: usize = slides.iter().map(|s| s.missing_tiles).sum();
        let filled = if missing == 0 {
            String::new()
        } else {
            format!("; {missing} missing tiles filled with white")
        };
        eprintln!(
            "{} slides: pyramids of {levels} levels (slide.tif), {tiles} Deep Zoom tiles, pictures{filled}",
            slides.len()
        );
    }
}

/// Where to look once the manifest and what follows it are written.
pub(super) fn print_published(sink: &dyn Sink, published: &Published) {
    if let Some(page_at) = &published.page {
        eprintln!(
            "open {page_at} to look at every volume (thumbnail, contact sheet, video, order diagnostics) and every skipped or failed input"
        );
    }
    eprintln!(
        "see {} (items) and {} (every input)",
        sink.describe(crate::contract::keys::MANIFEST_KEY),
        published.report
    );
    for at in &published.payloads {
        eprintln!("payload: {at}");
    }
}
