//! Flags of `dicomprep register` and its targets.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::common::{DebugRequests, Quiet, RetryArgs, StoreArgs};

/// Flags of `dicomprep register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(subcommand)]
    pub target: RegisterTarget,
}

/// Registration targets.
#[derive(Debug, Subcommand)]
pub enum RegisterTarget {
    /// Send a Darwin payload (from `payload darwin-readonly|darwin-readwrite`) to V7 Darwin,
    /// at most 10 items per request. The API key is read from $DARWIN_API_KEY and never
    /// printed. Blocked items are printed with Darwin's reason.
    Darwin(RegisterDarwinArgs),
    /// Upload the rendered images of a conversion to BisQue (multipart POST to
    /// BASE/import/transfer) and create a dataset of them (BASE/data_service/dataset). The
    /// password is read from $BISQUE_PASSWORD.
    Bisque(RegisterBisqueArgs),
}

/// Flags both registration clients take.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Result file (JSON): what was registered is recorded here after every request, and
    /// what it lists is not sent again, so an interrupted run can simply be repeated.
    #[arg(long, value_name = "FILE")]
    pub result: Option<PathBuf>,
}

/// Flags of `dicomprep register darwin`.
#[derive(Debug, Args)]
pub struct RegisterDarwinArgs {
    /// The payload file (JSON) to send.
    #[arg(long, value_name = "FILE")]
    pub payload: PathBuf,

    /// Team slug (the `{team}` of /api/v2/teams/{team}/items/...).
    #[arg(long, value_name = "SLUG")]
    pub team: String,

    /// Darwin base URL.
    #[arg(long, default_value = crate::register::darwin::DEFAULT_API_URL, value_name = "URL")]
    pub api_url: String,

    /// Endpoint: `register_existing_readonly` or `register_existing`; `auto` picks read-only
    /// when the payload has thumbnail keys (read-write payloads never do).
    #[arg(long, value_enum, default_value_t = EndpointArg::Auto)]
    pub endpoint: EndpointArg,

    /// Set the payload's dataset_slug before sending.
    #[arg(long, value_name = "SLUG")]
    pub dataset_slug: Option<String>,

    /// Set the payload's storage_slug before sending.
    #[arg(long, value_name = "SLUG")]
    pub storage_slug: Option<String>,

    /// Items per request (Darwin takes at most 10).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=10), value_name = "N")]
    pub batch_size: u16,

    /// Send nothing: check that every key the payload references (files, thumbnails,
    /// frames, segments) exists, in --bucket (one HEAD request per key) or under --keys-root,
    /// and exit 1 naming the missing ones.
    #[arg(long)]
    pub dry_run: bool,

    /// Dry run: the bucket Darwin reads (s3://BUCKET, gs://BUCKET,
    /// https://ACCOUNT.blob.core.windows.net/CONTAINER); the payload's keys are looked up in it
    /// with the credentials of the environment (see --anonymous).
    #[arg(long, value_name = "URL", conflicts_with = "keys_root")]
    pub bucket: Option<String>,

    /// Dry run: the local folder the payload's keys are relative to [default: the payload
    /// file's folder, where `convert` writes payloads next to the manifest].
    #[arg(long, value_name = "DIR")]
    pub keys_root: Option<PathBuf>,

    /// After registering, import the labels of the conversion whose manifest.json this is
    /// (`convert --labels auto` writes one Darwin JSON 2.0 file per labelled item, read from
    /// the manifest's folder) into the registered items, as `darwin dataset import` does:
    /// missing annotation classes are created in the labels' colours, each item's annotations
    /// replace what it had. Items imported are recorded in --result and not sent again.
    #[arg(long, value_name = "MANIFEST")]
    pub annotations: Option<PathBuf>,
    #[command(flatten)]
    pub resume: ResumeArgs,

    #[command(flatten)]
    pub quiet: Quiet,

    // --anonymous for the --bucket of a dry run; retries for it and for requests to Darwin.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Darwin endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EndpointArg {
    Auto,
    Readonly,
    Readwrite,
}

/// Flags of `dicomprep register bisque`.
#[derive(Debug, Args)]
pub struct RegisterBisqueArgs {
    /// The manifest.json of the conversion whose images are uploaded (read from its folder).
    #[arg(long, short, value_name = "FILE")]
    pub manifest: PathBuf,

    /// BisQue server base URL (e.g. https://bisque.example.org).
    #[arg(long, value_name = "BASE")]
    pub url: String,

    /// BisQue user name (the password is read from $BISQUE_PASSWORD).
    #[arg(long, value_name = "USER")]
    pub user: String,

    /// Name of the dataset created from the uploaded images.
    #[arg(long, default_value = crate::payload::bisque::DEFAULT_DATASET)]
    pub dataset: String,

    #[command(flatten)]
    pub resume: ResumeArgs,

    #[command(flatten)]
    pub quiet: Quiet,

    #[command(flatten)]
    pub debug: DebugRequests,

    #[command(flatten)]
    pub retry: RetryArgs,
}
