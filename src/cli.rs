//! Command-line flags (clap). Only parsing lives here; the work is in the library.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::convert::{DEFAULT_LQ_QUALITY, ItemChoice};
use crate::order::Rule;
use crate::render::window::WindowChoice;
use crate::store::{Anonymous, ConnectOptions, Location};

/// Exit code when the run finished but some inputs failed (listed on stderr and in reports).
pub const EXIT_SOME_FAILED: u8 = 3;
/// Exit code when the run could not be done at all (unreadable source, unwritable output).
pub const EXIT_ERROR: u8 = 1;

/// Turn folders of DICOM into what annotation platforms can read.
///
/// Exit codes: 0 = every input was converted or skipped with a reason; 1 = the run could not be
/// done (e.g. the source is missing); 2 = invalid command line; 3 = the run finished but some
/// inputs failed (each is named on stderr and listed under "failed" in the report).
#[derive(Debug, Parser)]
#[command(name = "dicomprep", version, propagate_version = true)]
pub struct Cli {
    /// Worker threads for CPU work [default: one per core].
    #[arg(long, short = 'j', global = true, value_name = "N")]
    pub threads: Option<usize>,

    /// Threads reading headers [default: 4 per worker thread, at least 8]. Reads from a cold
    /// disk or network file system mostly wait, so more of them in flight is faster.
    #[arg(long, global = true, value_name = "N")]
    pub io_threads: Option<usize>,

    /// Print no progress bars and no summary (failures are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Also print every skipped file (not DICOM, DICOMDIR, no pixel data) with its reason.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// How buckets are reached (SRC or DEST given as s3://, gs://, az:// or https URLs).
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Unsigned requests: `auto` (default) when no credentials are configured (public buckets
    /// such as s3://idc-open-data), `yes` always, `no` never (e.g. instance roles).
    /// Credentials come from each cloud's standard variables and files: AWS_ACCESS_KEY_ID /
    /// AWS_PROFILE / ~/.aws/credentials, GOOGLE_APPLICATION_CREDENTIALS / gcloud ADC,
    /// AZURE_STORAGE_ACCOUNT_NAME + AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_KEY.
    #[arg(long, global = true, value_enum, default_value_t = AnonymousArg::Auto)]
    pub anonymous: AnonymousArg,

    /// Requests in flight at once against a bucket (header reads while scanning, uploads
    /// while converting).
    #[arg(long, global = true, default_value_t = 64, value_name = "N")]
    pub concurrency: usize,

    /// Retries of a failed request (throttling, 5xx, timeouts, resets), with exponential backoff.
    #[arg(long, global = true, default_value_t = 10, value_name = "N")]
    pub retries: usize,

    /// Stop retrying a request after this many seconds.
    #[arg(long, global = true, default_value_t = 180, value_name = "SECONDS")]
    pub retry_timeout: u64,

    /// Timeout of one request, in seconds (a stalled request is retried).
    #[arg(long, global = true, default_value_t = 60, value_name = "SECONDS")]
    pub request_timeout: u64,
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
            max_retries: self.retries,
            retry_timeout: Duration::from_secs(self.retry_timeout),
            request_timeout: Duration::from_secs(self.request_timeout.max(1)),
        }
    }
}

/// Values of `--anonymous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnonymousArg {
    Auto,
    Yes,
    No,
}

fn parse_location(text: &str) -> Result<Location, String> {
    Location::parse(text).map_err(|e| e.reason)
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the header of every DICOM file under SRC (never the pixels) and write one JSON
    /// record per instance (JSON Lines).
    Scan(ScanArgs),
    /// Group the DICOM files under SRC into series and volumes and print the slice order.
    Order(OrderArgs),
    /// Render every volume under SRC to 8-bit images (PNG), LQ frames (JPEG) and thumbnails
    /// under DEST, with DEST/manifest.json describing every item.
    Convert(ConvertArgs),
}

/// Flags of `dicomprep convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Folder (scanned recursively), single file, or bucket prefix (s3://bucket/prefix,
    /// gs://..., az://container/prefix, https URL, file:///path) to convert.
    #[arg(value_parser = parse_location)]
    pub src: Location,

    /// Destination folder (created) or bucket prefix (s3://, gs://, az://, https, file://).
    /// Layout: <study>/<series>/<volume>/..., manifest.json last.
    #[arg(long, short, value_name = "DEST", value_parser = parse_location)]
    pub dest: Location,

    /// Item kind: `images` makes every slice an image item (PNG + thumbnail); `video` makes every
    /// volume a video item (HQ PNG + LQ JPEG per slice, one thumbnail); `auto` makes one-slice
    /// volumes images and the rest videos.
    #[arg(long = "as", value_enum, default_value_t = ItemsArg::Auto, value_name = "KIND")]
    pub items: ItemsArg,

    /// VOI window of grey images: `header` (first VOI LUT or window in the header, else
    /// min-max), `minmax`, `CENTER,WIDTH` (e.g. `40,400`), or a CT preset: lung, mediastinum,
    /// soft-tissue, abdomen, liver, bone, brain, subdural, stroke. A video uses one window for
    /// all its frames, chosen from the volume.
    #[arg(long, default_value = "header", value_parser = parse_window, value_name = "WINDOW")]
    pub window: WindowChoice,

    /// JPEG quality (1-100) of LQ frames of video items.
    #[arg(long, default_value_t = DEFAULT_LQ_QUALITY, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub lq_quality: u8,

    /// How slices are ordered within each volume.
    #[arg(long, value_enum, default_value_t = RuleArg::Darwin)]
    pub rule: RuleArg,

    /// Frames per second of the MP4 of video items (a volume of N slices lasts N/fps s).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=240))]
    pub fps: u32,

    /// x264 constant rate factor of the MP4 (0 = lossless ... 51 = worst).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=51))]
    pub crf: u8,

    /// Write no MP4 for video items (HQ and LQ frames and the thumbnail only).
    #[arg(long)]
    pub no_mp4: bool,

    /// Burn overlays (60xx planes: annotations, ROIs) into the images, in white. Off by
    /// default, as DCMTK's `-O`.
    #[arg(long)]
    pub overlays: bool,

    /// Rewrite outputs that already exist (by default a re-run with the same settings keeps
    /// complete outputs and only makes what is missing).
    #[arg(long)]
    pub overwrite: bool,
}

/// Item kinds of `dicomprep convert --as`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ItemsArg {
    Auto,
    Images,
    Video,
}

impl From<ItemsArg> for ItemChoice {
    fn from(items: ItemsArg) -> ItemChoice {
        match items {
            ItemsArg::Auto => ItemChoice::Auto,
            ItemsArg::Images => ItemChoice::Images,
            ItemsArg::Video => ItemChoice::Video,
        }
    }
}

fn parse_window(text: &str) -> Result<WindowChoice, String> {
    text.parse()
}

/// Flags of `dicomprep scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Folder (scanned recursively), single file, or bucket prefix (s3://, gs://, az://,
    /// https, file://) to scan.
    #[arg(value_parser = parse_location)]
    pub src: Location,

    /// Write the JSON Lines here instead of stdout (written atomically).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Flags of `dicomprep order`.
#[derive(Debug, Args)]
pub struct OrderArgs {
    /// Folder (scanned recursively), single file, or bucket prefix (s3://, gs://, az://,
    /// https, file://) to order.
    #[arg(value_parser = parse_location)]
    pub src: Location,

    /// How slices are ordered within each volume.
    #[arg(long, value_enum, default_value_t = RuleArg::Darwin)]
    pub rule: RuleArg,

    /// Output format: the JSON contract, or TSV with one row per slice, skipped and failed file.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,

    /// Add ordering diagnostics per volume: whether InstanceNumber order agrees with spatial
    /// order, duplicated positions, slice spacing and gaps that suggest missing slices.
    #[arg(long)]
    pub explain: bool,

    /// Write JSON on one line instead of indented.
    #[arg(long)]
    pub compact: bool,

    /// Write the result here instead of stdout (written atomically).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Slice ordering rules.
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

/// Output formats of `dicomprep order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Tsv,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn order_defaults_to_darwin_json() {
        let cli = Cli::parse_from(["dicomprep", "order", "in"]);
        let Command::Order(args) = cli.command else {
            panic!("not order")
        };
        assert_eq!(args.rule, RuleArg::Darwin);
        assert_eq!(args.format, Format::Json);
        assert!(!args.explain);
    }
}
