//! Option groups several subcommands share, each defined once and flattened into the commands
//! whose work reads it.

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::order::Rule;
use crate::store::retry::RetryPolicy;
use crate::store::{Anonymous, ConnectOptions, Location, RequestObserver, RequestRecord};

/// `-q`: for every command that prints progress or a summary.
#[derive(Debug, Args)]
pub struct Quiet {
    /// Print no progress bars and no summary (failures are still printed).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Retries and timeouts of HTTP requests: to buckets, and to the registration APIs.
#[derive(Debug, Args)]
#[command(next_help_heading = "Retries and timeouts")]
pub struct RetryArgs {
    /// Retries of a failed request (throttling, 5xx, timeouts, resets), with exponential backoff.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub retries: usize,

    /// Stop retrying a request after this many seconds.
    #[arg(long, default_value_t = 180, value_name = "SECONDS")]
    pub retry_timeout: u64,

    /// Timeout of one request, in seconds (a stalled request is retried).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub request_timeout: u64,
}

impl RetryArgs {
    /// Retries of the registration clients' requests.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: u32::try_from(self.retries)
                .unwrap_or(u32::MAX)
                .saturating_add(1),
            max_total: Duration::from_secs(self.retry_timeout),
            request_timeout: Duration::from_secs(self.request_timeout),
            ..RetryPolicy::default()
        }
    }
}

/// How buckets are reached (s3://, gs://, az:// or https URLs): for every command that opens one.
#[derive(Debug, Args)]
#[command(next_help_heading = "Buckets")]
pub struct StoreArgs {
    /// Unsigned requests: `auto` (default) when no credentials are configured (public buckets
    /// such as s3://idc-open-data), `yes` always, `no` never (e.g. instance roles).
    /// Credentials come from each cloud's standard variables and files: AWS_ACCESS_KEY_ID /
    /// AWS_PROFILE / ~/.aws/credentials, GOOGLE_APPLICATION_CREDENTIALS / gcloud ADC,
    /// AZURE_STORAGE_ACCOUNT_NAME + AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_KEY.
    #[arg(long, value_enum, default_value_t = AnonymousArg::Auto)]
    pub anonymous: AnonymousArg,

    #[command(flatten)]
    pub debug: DebugRequests,

    #[command(flatten)]
    pub retry: RetryArgs,
}

/// `--debug-requests`: for every command that sends HTTP requests.
#[derive(Debug, Args)]
pub struct DebugRequests {
    /// Print every HTTP request (to buckets, DICOMweb services and platform APIs) on stderr,
    /// retries included: method, URL (no user information; query values other than listing
    /// and paging parameters REDACTED; no headers, so no credentials, API keys or signatures),
    /// byte range, status, bytes, milliseconds, retry number.
    #[arg(long)]
    pub debug_requests: bool,
}

impl DebugRequests {
    /// The observer printing the requests, when asked for.
    pub fn observer(&self) -> Option<Arc<dyn RequestObserver>> {
        self.debug_requests
            .then(|| Arc::new(PrintRequests) as Arc<dyn RequestObserver>)
    }
}

impl StoreArgs {
    /// The connection options these flags give.
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            anonymous: match self.anonymous {
                AnonymousArg::Auto => Anonymous::Auto,
                AnonymousArg::Yes => Anonymous::Yes,
                AnonymousArg::No => Anonymous::No,
            },
            max_retries: self.retry.retries,
            retry_timeout: Duration::from_secs(self.retry.retry_timeout),
            request_timeout: Duration::from_secs(self.retry.request_timeout.max(1)),
            observer: self.debug.observer(),
        }
    }
}

/// `--debug-requests`: one line per request on stderr.
#[derive(Debug)]
struct PrintRequests;

impl RequestObserver for PrintRequests {
    fn request(&self, record: &RequestRecord) {
        eprintln!("request: {record}");
    }
}

/// Values of `--anonymous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnonymousArg {
    Auto,
    Yes,
    No,
}

/// Flags of every command that scans SRC (`scan`, `order`, `convert`): its threads, the
/// buckets SRC (and DEST) may be, and what it prints.
#[derive(Debug, Args)]
pub struct ScanCommon {
    /// Worker threads for CPU work [default: one per core].
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,

    /// Threads reading headers [default: the worker threads for a small folder or one whose
    /// files are in memory already; else one more per 48 files, up to 4 per worker thread (at
    /// least 8)]. Reads from a cold disk or network file system mostly wait, so more of them in
    /// flight is faster there.
    #[arg(long, value_name = "N")]
    pub io_threads: Option<usize>,

    /// Also print every skipped file (not DICOM, DICOMDIR, no pixel data) with its reason.
    #[arg(long, short)]
    pub verbose: bool,

    #[command(flatten)]
    pub quiet: Quiet,

    /// Requests in flight at once against a bucket (header reads while scanning, uploads
    /// while converting) or a DICOMweb service (metadata requests, instance retrievals).
    #[arg(long, default_value_t = 64, value_name = "N", help_heading = "Buckets")]
    pub concurrency: usize,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// Selection of the instances to work on (`order`, `convert`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Selection")]
pub struct SelectArgs {
    /// Work only on the instances this SQL condition selects, over the columns of the index's
    /// `instances` table, e.g. "modality = 'CT' AND slice_thickness <= 1.5" or
    /// "series_description LIKE '%FLAIR%'". A condition naming only series-level columns
    /// (modality, series_description, body_part_examined, slice_thickness, ...: see the README)
    /// selects whole series; naming any other column selects single instances.
    #[arg(long = "where", value_name = "SQL")]
    pub condition: Option<String>,

    /// Read the instances from this index (written by `dicomprep index SRC`) instead of
    /// listing SRC and reading headers; SRC is still where the pixels are read from.
    #[arg(long, value_name = "FILE")]
    pub index: Option<std::path::PathBuf>,
}

/// Slice ordering rules (`order --rule`, `convert --rule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleArg {
    /// SeriesNumber, InstanceNumber, SliceLocation, ImagePositionPatient (along the slice
    /// normal), file name (natural order): V7 Darwin's documented rule.
    Darwin,
    /// Position along the slice normal, then InstanceNumber, then file name.
    Spatial,
    /// InstanceNumber, then file name.
    Instance,
}

impl From<RuleArg> for Rule {
    fn from(rule: RuleArg) -> Rule {
        match rule {
            RuleArg::Darwin => Rule::Darwin,
            RuleArg::Spatial => Rule::Spatial,
            RuleArg::Instance => Rule::Instance,
        }
    }
}

/// Parses SRC and DEST arguments.
pub(crate) fn parse_location(text: &str) -> Result<Location, String> {
    Location::parse(text).map_err(|e| e.reason)
}
