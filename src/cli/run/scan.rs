//! `dicomprep scan` and `dicomprep order`.

use std::time::Instant;

use super::{bucket_reads, dicomweb_reads, open_source, print_issues, scan_with_progress};
use crate::cli::output;
use crate::cli::progress::human_bytes;
use crate::cli::scan::{Format, OrderArgs, ScanArgs};
use crate::contract::order_report::OrderReport;
use crate::error::Error;
use crate::order::plan::{OrderOptions, plan_order};
use crate::page;
use crate::scan::ScanReport;
use crate::scan::source::Source;

/// The headers of `scan`'s SRC (with a progress bar unless quiet), and its source.
pub fn scan_report(args: &ScanArgs) -> Result<(ScanReport, Source), Error> {
    let source = open_source(&args.common.store, args.common.concurrency, &args.src)?;
    let (report, _) = scan_with_progress(&args.common, &source)?;
    Ok((report, source))
}

pub(super) fn scan(args: &ScanArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let (report, source) = scan_report(args)?;
    output::write_to(args.output.as_deref(), |out| {
        output::write_scan_jsonl(out, &report.instances)
    })?;
    print_issues(args.common.verbose, &report.skipped, &report.failed);
    if !args.common.quiet.quiet {
        eprintln!(
            "{}{}",
            scan_summary(&report, started),
            requests(&source, &report)
        );
    }
    Ok(report.failed.is_empty())
}

/// The scan `order` works on (SRC, or its index and selection) and its source.
pub fn order_scan(args: &OrderArgs) -> Result<(ScanReport, Source), Error> {
    let source = open_source(&args.common.store, args.common.concurrency, &args.src)?;
    let (scan, _) = super::index::selected_scan(&args.common, &args.select, &args.src, &source)?;
    Ok((scan, source))
}

/// The order report of `scan` as `order` makes it (diagnostics only with `--explain`).
pub fn order_report(args: &OrderArgs, scan: &ScanReport) -> OrderReport {
    let options = OrderOptions::new(args.rule.into()).with_explain(args.explain);
    plan_order(scan, &args.src.to_string(), options)
}

pub(super) fn order(args: &OrderArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let (scan, source) = order_scan(args)?;
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
            scan_summary(&scan, started) + &requests(&source, &scan),
            report.series.len(),
            report.slice_count()
        );
    }
    Ok(report.failed.is_empty())
}

/// The requests and bytes of a bucket scan, with the bytes up to Pixel Data of the instances
/// found, to compare; `; 12 requests (1.2 MiB read)` for a DICOMweb source; nothing for local
/// folders.
fn requests(source: &Source, report: &ScanReport) -> String {
    let bucket = match source {
        Source::Local { .. } => return String::new(),
        Source::Bucket(bucket) => bucket,
        Source::Dicomweb(service) => return format!("; {}", dicomweb_reads(service)),
    };
    let header_bytes: u64 = report
        .instances
        .iter()
        .map(|h| h.pixel_data_offset + 12)
        .sum();
    let per_instance = header_bytes / report.instances.len().max(1) as u64;
    format!(
        "; {} ({} up to Pixel Data)",
        bucket_reads(bucket, report.total()),
        human_bytes(per_instance)
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
