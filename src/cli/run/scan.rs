//! `dicomprep scan` and `dicomprep order`.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{open_source, print_issues, scan_with_progress};
use crate::cli::progress::human_bytes;
use crate::cli::scan::{Format, OrderArgs, ScanArgs};
use crate::error::Error;
use crate::output;
use crate::page;
use crate::plan::{OrderOptions, plan_order};
use crate::scan::ScanReport;
use crate::source::Source;

pub(super) fn scan(args: &ScanArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let source = open_source(&args.common.store, &args.src)?;
    let report = scan_with_progress(&args.common, &source)?;
    output::write_to(args.output.as_deref(), |out| {
        output::write_scan_jsonl(out, &report.instances)
    })?;
    print_issues(args.common.verbose, &report.skipped, &report.failed);
    if !args.common.quiet.quiet {
        eprintln!("{}{}", scan_summary(&report, started), requests(&source));
    }
    Ok(report.failed.is_empty())
}

pub(super) fn order(args: &OrderArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let source = open_source(&args.common.store, &args.src)?;
    let scan = super::index::selected_scan(&args.common, &args.select, &args.src, &source)?;
    // The page always shows diagnostics; the JSON carries them only with --explain.
    let explain = args.explain || args.html.is_some();
    let options = OrderOptions::new(args.rule.into()).with_explain(explain);
    let mut report = plan_order(&scan, &args.src.to_string(), options);
    if let Some(path) = &args.html {
        let html = page::render_order_page(&report);
        output::write_to(Some(path), |out| out.write_all(html.as_bytes()))?;
    }
    if !args.explain {
        for series in &mut report.series {
            for volume in &mut series.volumes {
                volume.diagnostics = None;
            }
        }
    }
    output::write_to(args.output.as_deref(), |out| match args.format {
        Format::Json => output::write_order_json(out, &report, args.compact),
        Format::Tsv => output::write_order_tsv(out, &report),
    })?;
    print_issues(args.common.verbose, &scan.skipped, &scan.failed);
    if !args.common.quiet.quiet {
        let volumes = report.volumes().count();
        eprintln!(
            "{}; {} series, {volumes} volumes, {} slices",
            scan_summary(&scan, started) + &requests(&source),
            report.series.len(),
            report.slice_count()
        );
    }
    Ok(report.failed.is_empty())
}

/// `; 10001 requests, 1.00 per file` for a bucket source (none for local folders).
fn requests(source: &Source) -> String {
    let Source::Bucket(bucket) = source else {
        return String::new();
    };
    let stats = bucket.stats();
    let requests = stats.requests.load(Ordering::Relaxed);
    let objects = stats.objects.load(Ordering::Relaxed).max(1);
    format!(
        "; {requests} requests ({:.2} per file, {} read)",
        requests as f64 / objects as f64,
        human_bytes(stats.bytes_read.load(Ordering::Relaxed))
    )
}

fn scan_summary(report: &ScanReport, started: Instant) -> String {
    let seconds = started.elapsed().as_secs_f64();
    let rate = report.total() as f64 / seconds.max(1e-9);
    let hint = if report.skipped.is_empty() {
        ""
    } else {
        " (-v lists them)"
    };
    format!(
        "{} files in {seconds:.2} s ({rate:.0} files/s): {} DICOM images, {} skipped{hint}, {} failed",
        report.total(),
        report.instances.len(),
        report.skipped.len(),
        report.failed.len()
    )
}
