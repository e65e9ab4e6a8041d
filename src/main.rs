//! The `dicomprep` command: parse flags, run the library, report, exit with the outcome.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use clap::Parser;

use dicomprep::cli::progress::{TerminalProgress, human_bytes};
use dicomprep::cli::{
    Cli, Command, ConvertArgs, EXIT_ERROR, EXIT_SOME_FAILED, EndpointArg, Format, OrderArgs,
    PayloadArgs, RegisterBisqueArgs, RegisterDarwinArgs, RegisterTarget, ResumeArgs, ScanArgs,
};
use dicomprep::contract::FileIssue;
use dicomprep::contract::manifest::Manifest;
use dicomprep::contract::run_report::{RunReport, Totals};
use dicomprep::convert::layout::REPORT_KEY;
use dicomprep::convert::sink::{BucketSink, LocalSink, Sink};
use dicomprep::convert::{ConvertOptions, convert};
use dicomprep::encode::VideoSettings;
use dicomprep::error::Error;
use dicomprep::output;
use dicomprep::payload::{self, PayloadOptions};
use dicomprep::plan::{OrderOptions, plan_order};
use dicomprep::register::darwin::{self as darwin_register, DarwinTarget, Endpoint};
use dicomprep::register::http::RetryPolicy;
use dicomprep::register::{self, RegisterError, bisque as bisque_register};
use dicomprep::scan::ScanReport;
use dicomprep::source::{Source, list_local};
use dicomprep::store::{Bucket, Location};

/// mimalloc instead of glibc's malloc: every slice allocates and frees buffers of hundreds of KB
/// (the file, its samples, its levels) on several threads, which glibc serves from fresh
/// mmap'd or trimmed pages, faulted in and zeroed each time. Its `no_thp` feature keeps it from
/// asking for transparent huge pages, each of which the kernel zeroes whole (2 MB) when a
/// purged page is touched again. Measured on 1,000 512x512 CT slices (2 cores): 7% less CPU
/// for video frames, 16% for images (with huge pages: 3%).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        // Fails only if a pool exists already, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build_global();
    }
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_SOME_FAILED),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Runs the command; `Ok(false)` when some inputs failed.
fn run(cli: &Cli) -> Result<bool, Error> {
    match &cli.command {
        Command::Scan(args) => scan(cli, args),
        Command::Order(args) => order(cli, args),
        Command::Convert(args) => convert_command(cli, args),
        Command::Payload(args) => payload_command(args),
        Command::Register(args) => match &args.target {
            RegisterTarget::Darwin(darwin) => register_darwin_command(cli, darwin),
            RegisterTarget::Bisque(bisque) => register_bisque_command(cli, bisque),
        },
    }
}

/// `dicomprep payload`: build one payload from a manifest and write it.
fn payload_command(args: &PayloadArgs) -> Result<bool, Error> {
    let common = args.target.manifest_args();
    let manifest = read_manifest(&common.manifest)?;
    let (kind, mut options) = args.target.kind_and_options();
    options.destination = match &common.destination {
        Some(url) => Some(parse_location(url, "--destination")?),
        None => manifest_folder(&manifest, &common.manifest),
    };
    options.source = common
        .source
        .as_deref()
        .map(|url| parse_location(url, "--source"))
        .transpose()?;
    let files = payload::build(kind, &manifest, &options).map_err(|source| Error::Payload {
        path: common.manifest.clone(),
        source,
    })?;
    output::write_to(common.output.as_deref(), |out| {
        files.iter().try_for_each(|(_, bytes)| out.write_all(bytes))
    })?;
    Ok(true)
}

/// `dicomprep register darwin`.
fn register_darwin_command(cli: &Cli, args: &RegisterDarwinArgs) -> Result<bool, Error> {
    let mut payload: serde_json::Value =
        register::read_json(&args.payload)?.ok_or_else(|| Error::Input {
            path: args.payload.clone(),
            reason: "no such file".into(),
        })?;
    darwin_register::set_slugs(
        &mut payload,
        args.dataset_slug.as_deref(),
        args.storage_slug.as_deref(),
    );
    let target = DarwinTarget {
        api_url: args.api_url.clone(),
        team: args.team.clone(),
        endpoint: match args.endpoint {
            EndpointArg::Auto => Endpoint::detect(&payload),
            EndpointArg::Readonly => Endpoint::Readonly,
            EndpointArg::Readwrite => Endpoint::Readwrite,
        },
        batch_size: usize::from(args.batch_size),
        retry: retry_policy(cli),
    };
    let mut notify = |message: &str| eprintln!("{message}");
    if args.dry_run {
        let (exists, place) = key_check(cli, args)?;
        let checked = darwin_register::check_keys(&payload, &*exists, &mut notify)?;
        if !cli.quiet {
            eprintln!(
                "dry run: all {checked} referenced keys exist in {place}; nothing was sent to {}",
                target.url()
            );
        }
        return Ok(true);
    }
    let api_key = secret(darwin_register::API_KEY_VAR, "V7 Darwin API key")?;
    let mut result = load_result(&args.resume)?;
    let outcome = darwin_register::register_darwin(
        &payload,
        &target,
        &api_key,
        &mut result,
        args.resume.result.as_deref(),
        &mut notify,
    )?;
    if !cli.quiet {
        eprintln!(
            "{} items registered in {} requests to {}; {} registered earlier (result file); {} blocked",
            outcome.registered,
            outcome.batches,
            target.url(),
            outcome.already,
            outcome.blocked.len()
        );
    }
    Ok(outcome.blocked.is_empty())
}

/// How a dry run checks that a key exists (HEAD in `--bucket`, or a file under
/// `--keys-root`), and a name of that place for messages.
type KeyCheck = Box<dyn Fn(&str) -> Result<bool, String>>;

fn key_check(cli: &Cli, args: &RegisterDarwinArgs) -> Result<(KeyCheck, String), Error> {
    if let Some(url) = &args.bucket {
        let mut location = parse_location(url, "--bucket")?;
        location.prefix.clear();
        let bucket = open_bucket(cli, &location, false)?;
        let place = location.to_string();
        let check = move |key: &str| {
            let key = payload::keys::bucket_key_of_darwin_key(&location, key)?;
            bucket.head(key).map(|info| info.is_some())
        };
        return Ok((Box::new(check), place));
    }
    let root = args
        .keys_root
        .clone()
        .unwrap_or_else(|| parent_folder(&args.payload));
    let place = root.display().to_string();
    let check = move |key: &str| match std::fs::metadata(root.join(key)) {
        Ok(meta) => Ok(meta.is_file()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err.to_string()),
    };
    Ok((Box::new(check), place))
}

/// `dicomprep register bisque`.
fn register_bisque_command(cli: &Cli, args: &RegisterBisqueArgs) -> Result<bool, Error> {
    let manifest = read_manifest(&args.manifest)?;
    let mut options = PayloadOptions::default();
    options.bisque_dataset = args.dataset.clone();
    let plan = payload::bisque::build_bisque_plan(&manifest, &options);
    let root = manifest
        .destination
        .as_ref()
        .and_then(Location::local_path)
        .unwrap_or_else(|| parent_folder(&args.manifest));
    let target = bisque_register::BisqueTarget {
        base_url: args.url.clone(),
        user: args.user.clone(),
        retry: retry_policy(cli),
    };
    let password = secret(bisque_register::PASSWORD_VAR, "BisQue password")?;
    let mut result = load_result(&args.resume)?;
    let outcome = bisque_register::register_bisque(
        &plan,
        &root,
        &target,
        &password,
        &mut result,
        args.resume.result.as_deref(),
        &mut |message| eprintln!("{message}"),
    )?;
    if !cli.quiet {
        eprintln!(
            "{} images uploaded, {} uploaded earlier (result file); dataset {}",
            outcome.uploaded,
            outcome.already,
            outcome
                .dataset_uri
                .or(result.dataset_uri)
                .unwrap_or_default()
        );
    }
    Ok(true)
}

fn read_manifest(path: &std::path::Path) -> Result<Manifest, Error> {
    register::read_json(path)?.ok_or_else(|| Error::Input {
        path: path.to_path_buf(),
        reason: "no such file; pass the manifest.json written by `dicomprep convert`".into(),
    })
}

/// Without a destination in the manifest, the manifest's own folder (convert writes it at the
/// root of the destination).
fn manifest_folder(manifest: &Manifest, path: &std::path::Path) -> Option<Location> {
    manifest
        .destination
        .is_none()
        .then(|| Location::local(parent_folder(path)))
}

fn parent_folder(path: &std::path::Path) -> std::path::PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

fn parse_location(url: &str, flag: &str) -> Result<Location, Error> {
    Location::parse(url).map_err(|err| Error::Input {
        path: flag.into(),
        reason: err.to_string(),
    })
}

/// A secret from the environment (never echoed).
fn secret(var: &'static str, what: &'static str) -> Result<String, RegisterError> {
    std::env::var(var)
        .ok()
        .filter(|value| !value.is_empty())
        .ok_or(RegisterError::MissingSecret { var, what })
}

/// Retries as the global --retries, --retry-timeout and --request-timeout say.
fn retry_policy(cli: &Cli) -> RetryPolicy {
    RetryPolicy {
        max_attempts: u32::try_from(cli.store.retries)
            .unwrap_or(u32::MAX)
            .saturating_add(1),
        max_total: std::time::Duration::from_secs(cli.store.retry_timeout),
        request_timeout: std::time::Duration::from_secs(cli.store.request_timeout),
        ..RetryPolicy::default()
    }
}

fn load_result<T: serde::de::DeserializeOwned + Default>(args: &ResumeArgs) -> Result<T, Error> {
    Ok(match &args.result {
        Some(path) => register::read_json(path)?.unwrap_or_default(),
        None => T::default(),
    })
}

fn convert_command(cli: &Cli, args: &ConvertArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let source = open_source(cli, &args.src)?;
    let scan = scan_with_progress(cli, &source)?;
    let sink: Box<dyn Sink> = match args.dest.local_path() {
        Some(path) => Box::new(LocalSink::new(&path).map_err(|source| Error::Output {
            path: path.clone(),
            source,
        })?),
        None => {
            let bucket = open_bucket(cli, &args.dest, true)?;
            Box::new(
                BucketSink::new(bucket, cli.store.concurrency).map_err(|reason| Error::Store {
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
    };
    let progress = TerminalProgress::new(
        "render",
        scan.instances
            .iter()
            .map(|h| u64::from(h.number_of_frames))
            .sum(),
        !cli.quiet,
    );
    let manifest_at = sink.describe("manifest.json");
    let report = convert(&source, &scan, sink.as_ref(), &options, &progress).map_err(|source| {
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
    let mut written_payloads = Vec::new();
    for &kind in &args.payload {
        let mut options = PayloadOptions::default();
        options.destination = args.payload_destination.clone();
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
    print_issues(cli, &manifest.skipped, &manifest.failed);
    if !cli.quiet {
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
        eprintln!("see {manifest_at} (items) and {report_at} (every input)");
        for at in written_payloads {
            eprintln!("payload: {at}");
        }
    }
    Ok(manifest.failed.is_empty())
}

fn scan(cli: &Cli, args: &ScanArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let source = open_source(cli, &args.src)?;
    let report = scan_with_progress(cli, &source)?;
    output::write_to(args.output.as_deref(), |out| {
        output::write_scan_jsonl(out, &report.instances)
    })?;
    print_issues(cli, &report.skipped, &report.failed);
    if !cli.quiet {
        eprintln!("{}{}", scan_summary(&report, started), requests(&source));
    }
    Ok(report.failed.is_empty())
}

fn order(cli: &Cli, args: &OrderArgs) -> Result<bool, Error> {
    let started = Instant::now();
    let source = open_source(cli, &args.src)?;
    let scan = scan_with_progress(cli, &source)?;
    let options = OrderOptions::new(args.rule.into()).with_explain(args.explain);
    let report = plan_order(&scan, &args.src.to_string(), options);
    output::write_to(args.output.as_deref(), |out| match args.format {
        Format::Json => output::write_order_json(out, &report, args.compact),
        Format::Tsv => output::write_order_tsv(out, &report),
    })?;
    print_issues(cli, &scan.skipped, &scan.failed);
    if !cli.quiet {
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

/// The source at `location`: a local folder or file, or a bucket prefix.
fn open_source(cli: &Cli, location: &Location) -> Result<Source, Error> {
    Ok(match location.local_path() {
        Some(path) => Source::local(&path),
        None => Source::Bucket(open_bucket(cli, location, false)?),
    })
}

fn open_bucket(cli: &Cli, location: &Location, create: bool) -> Result<Bucket, Error> {
    Bucket::open(location, &cli.store.connect_options(), create).map_err(|e| Error::Store {
        location: e.location,
        reason: e.reason,
    })
}

fn scan_with_progress(cli: &Cli, source: &Source) -> Result<ScanReport, Error> {
    let visible = !cli.quiet;
    match source {
        Source::Local { root } => {
            let listing = list_local(root)?;
            let progress = TerminalProgress::new("scan", listing.files.len() as u64, visible);
            let io_threads = cli
                .io_threads
                .unwrap_or_else(dicomprep::scan::default_io_threads);
            let mut report = dicomprep::scan::scan_files(&listing.files, io_threads, &progress);
            progress.finish();
            report.failed.extend(listing.unreadable);
            Ok(report)
        }
        Source::Bucket(bucket) => {
            let listing = TerminalProgress::spinner("list", visible);
            let objects = bucket.list().map_err(|reason| Error::Store {
                location: bucket.location().to_string(),
                reason,
            })?;
            listing.finish();
            let progress = TerminalProgress::new("scan", objects.len() as u64, visible);
            let report =
                dicomprep::scan::scan_objects(bucket, &objects, cli.store.concurrency, &progress);
            progress.finish();
            Ok(report)
        }
    }
}

/// Failures always go to stderr, one line each; skipped files only with `--verbose`.
fn print_issues(cli: &Cli, skipped: &[FileIssue], failed: &[FileIssue]) {
    let print =
        |label: &str, issue: &FileIssue| eprintln!("{label}: {}: {}", issue.path, issue.reason);
    if cli.verbose {
        skipped.iter().for_each(|issue| print("skipped", issue));
    }
    failed.iter().for_each(|issue| print("failed", issue));
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
