//! `dicomprep convert`: scan SRC, render into DEST, write the run report and payloads.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{open_bucket, open_source, print_issues};
use crate::cli::convert::ConvertArgs;
use crate::cli::progress::{TerminalProgress, human_bytes};
use crate::contract::run_report::{RunReport, Totals};
use crate::convert::layout::REPORT_KEY;
use crate::convert::sink::{BucketSink, LocalSink, Sink};
use crate::convert::{self, ConvertOptions};
use crate::encode::VideoSettings;
use crate::error::Error;
use crate::payload::{self, PayloadOptions};
use crate::source::Source;
use crate::store::ObjectCache;

/// The source with the object cache of `--cache`, when SRC is a bucket.
fn with_cache(source: Source, args: &ConvertArgs) -> Result<Source, Error> {
    let (Source::Bucket(bucket), Some(dir)) = (&source, &args.cache) else {
        if args.cache.is_some() && !args.common.quiet.quiet {
            eprintln!(
                "note: --cache is for bucket sources; {} is read directly",
                args.src
            );
        }
        return Ok(source);
    };
    let cache = ObjectCache::open(dir, args.cache_size).map_err(|source| Error::Output {
        path: dir.clone(),
        source,
    })?;
    Ok(Source::Bucket(bucket.clone().with_cache(Arc::new(cache))))
}

pub(super) fn convert(args: &ConvertArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let common = &args.common;
    let source = with_cache(open_source(common, &args.src)?, args)?;
    let scan = super::index::selected_scan(common, &args.select, &args.src, &source)?;
    let sink: Box<dyn Sink> = match args.dest.local_path() {
        Some(path) => Box::new(LocalSink::new(&path).map_err(|source| Error::Output {
            path: path.clone(),
            source,
        })?),
        None => {
            let bucket = open_bucket(&common.store, &args.dest, true)?;
            Box::new(
                BucketSink::new(bucket, common.concurrency).map_err(|reason| Error::Store {
                    location: args.dest.to_string(),
                    reason,
                })?,
            )
        }
    };
    let options = ConvertOptions {
        items: args.items.into(),
        window: args.window,
        rule: args.rule.into(),
        lq_quality: args.lq_quality,
        overwrite: args.overwrite,
        overlays: args.overlays,
        // Without the `video` feature (FFmpeg) no MP4 can be made.
        video: (cfg!(feature = "video") && !args.no_mp4).then_some(VideoSettings {
            fps: args.fps,
            crf: args.crf,
        }),
        hls: args.hls,
        name: args.name.clone(),
        copy_dicom: args.copy_dicom,
    };
    let progress = TerminalProgress::new(
        "render",
        scan.instances
            .iter()
            .map(|h| u64::from(h.number_of_frames))
            .sum(),
        !common.quiet.quiet,
    );
    let manifest_at = sink.describe("manifest.json");
    let report =
        convert::convert(&source, &scan, sink.as_ref(), &options, &progress).map_err(|source| {
            Error::Output {
                path: manifest_at.clone().into(),
                source,
            }
        })?;
    progress.finish();
    let manifest = &report.manifest;
    let totals = Totals {
        outputs_written: report.written,
        outputs_kept: report.reused,
        bytes_written: report.bytes_written,
        bytes_read: report.bytes_read,
        seconds: started.elapsed().as_secs_f64(),
        ..Totals::default()
    };
    let run_report = RunReport::new(manifest, &report.issues, totals);
    let report_at = sink.describe(REPORT_KEY);
    let json = serde_json::to_vec_pretty(&run_report).map_err(std::io::Error::other);
    json.and_then(|json| sink.put_durable(REPORT_KEY, json))
        .map_err(|source| Error::Output {
            path: report_at.clone().into(),
            source,
        })?;
    // The page comes after the manifest (so it links only keys the manifest names) and the
    // run report, each page written whole.
    let mut page_at = None;
    if !args.no_html {
        let keys = convert::write_pages(sink.as_ref(), manifest, &scan, &source, options.rule)
            .map_err(|(key, source)| Error::Output {
                path: sink.describe(&key).into(),
                source,
            })?;
        page_at = keys.first().map(|key| sink.describe(key));
    }
    let mut written_payloads = Vec::new();
    for &kind in &args.payload {
        let options = PayloadOptions {
            destination: args.payload_destination.clone(),
            ..PayloadOptions::default()
        };
        let files = payload::build(kind, manifest, &options).map_err(|source| Error::Payload {
            path: manifest_at.clone().into(),
            source,
        })?;
        for (name, bytes) in files {
            let at = sink.describe(&name);
            sink.put_durable(&name, bytes)
                .map_err(|source| Error::Output {
                    path: at.clone().into(),
                    source,
                })?;
            written_payloads.push(at);
        }
    }
    print_issues(common, &manifest.skipped, &manifest.failed);
    if !common.quiet.quiet {
        if report.settings_changed {
            eprintln!(
                "note: settings differ from the previous run in {}; outputs were rewritten",
                args.dest
            );
        }
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
        if let Some(page_at) = &page_at {
            eprintln!(
                "open {page_at} to look at every volume (thumbnail, contact sheet, video, order diagnostics) and every skipped or failed input"
            );
        }
        if let (Source::Bucket(bucket), Some(dir)) = (&source, &args.cache)
            && let Some(cache) = bucket.cache()
        {
            let stats = cache.stats();
            eprintln!(
                "object cache: {} reads served from {}, {} objects fetched and kept",
                stats.hits.load(Ordering::Relaxed),
                dir.display(),
                stats.stored.load(Ordering::Relaxed)
            );
        }
        eprintln!("see {manifest_at} (items) and {report_at} (every input)");
        for at in written_payloads {
            eprintln!("payload: {at}");
        }
    }
    Ok(manifest.failed.is_empty())
}
