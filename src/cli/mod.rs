//! Command-line flags (clap). Only parsing lives here; the work is in the library.

pub mod progress;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::convert::{DEFAULT_LQ_QUALITY, ItemChoice};
use crate::order::Rule;
use crate::payload::{
    EncordFormat, EncordVolumes, PathFrom, PayloadKind, PayloadOptions, Schema, UrlStyle,
};
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
    /// Build a registration payload for an annotation platform from DEST/manifest.json (pure:
    /// nothing is sent; see `register` for that).
    Payload(PayloadArgs),
    /// Register converted outputs on an annotation platform over HTTP.
    Register(RegisterArgs),
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

    /// Also write HLS renditions for V7 Darwin's newer read-only video schema: per video item
    /// HQ and LQ renditions (segments/high|low/index.m3u8 + 2-second .ts segments; LQ at CRF
    /// 40, frames taller than 720 px halved to at least 720) and frames_manifest.txt; frames
    /// are then named as darwin-py names them (sections/high/000000000.png,
    /// sections/low/000000000.jpg). `dicomprep payload darwin-readonly --schema v2` needs it.
    #[arg(long, conflicts_with = "no_mp4")]
    pub hls: bool,

    /// Burn overlays (60xx planes: annotations, ROIs) into the images, in white. Off by
    /// default, as DCMTK's `-O`.
    #[arg(long)]
    pub overlays: bool,

    /// Rewrite outputs that already exist (by default a re-run with the same settings keeps
    /// complete outputs and only makes what is missing).
    #[arg(long)]
    pub overwrite: bool,

    /// Also write registration payloads next to the manifest, comma-separated:
    /// darwin-readonly, darwin-readwrite, encord, bisque (as `dicomprep payload` makes them
    /// with its defaults; slugs are filled in by `dicomprep register` or `dicomprep payload`).
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    pub payload: Vec<PayloadKind>,

    /// Bucket URL the outputs will be served from, for payloads of a local conversion that is
    /// copied to a bucket afterwards (e.g. s3://bucket/prefix); default: DEST.
    #[arg(long, value_name = "URL", value_parser = parse_location)]
    pub payload_destination: Option<Location>,
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

/// Flags of `dicomprep payload`.
#[derive(Debug, Args)]
pub struct PayloadArgs {
    #[command(subcommand)]
    pub target: PayloadTarget,
}

/// Payload targets.
#[derive(Debug, Subcommand)]
pub enum PayloadTarget {
    /// V7 Darwin read-only registration body (`register_existing_readonly`): images with their
    /// thumbnails and sizes, videos with one HQ/LQ section per slice (section_index from 1).
    DarwinReadonly(DarwinReadonlyArgs),
    /// V7 Darwin read-write registration body (`register_existing`): the source DICOM files as
    /// `dicom` slots, one item per series with its slices in slot "0" in dicomprep's order.
    DarwinReadwrite(DarwinReadwriteArgs),
    /// Encord private-cloud upload spec (JSON or CSV): videos with exact videoMetadata,
    /// images, image sequences/groups, optionally the DICOM series.
    Encord(EncordArgs),
    /// BisQue upload plan (JSON): the images `register bisque` uploads, in order, and the
    /// dataset name.
    Bisque(BisquePayloadArgs),
}

/// Flags every payload takes.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The manifest.json written by `dicomprep convert`.
    #[arg(long, short, value_name = "FILE")]
    pub manifest: PathBuf,

    /// Write the payload here instead of stdout (written atomically).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Where the outputs are stored, if not where the manifest says (e.g. the bucket a local
    /// conversion was copied to): s3://bucket/prefix, https://bucket.s3.REGION.amazonaws.com/
    /// prefix, gs://bucket/prefix, https://ACCOUNT.blob.core.windows.net/container/prefix.
    /// Keys in the payload are this location's keys.
    #[arg(long, value_name = "URL")]
    pub destination: Option<String>,

    /// Where the source DICOM files are stored, if not where the manifest says (read-write
    /// Darwin and Encord dicom_series reference them). Same forms as --destination.
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
}

/// Flags both Darwin payloads take.
#[derive(Debug, Args)]
pub struct DarwinArgs {
    /// Darwin dataset slug (`dataset_slug`). May be left out here and given to `register
    /// darwin` instead.
    #[arg(
        long,
        default_value = "",
        hide_default_value = true,
        value_name = "SLUG"
    )]
    pub dataset_slug: String,

    /// Name of the storage integration in Darwin (`storage_slug`). May be left out here and
    /// given to `register darwin` instead.
    #[arg(
        long,
        default_value = "",
        hide_default_value = true,
        value_name = "SLUG"
    )]
    pub storage_slug: String,

    /// Dataset folder of each item: `none` (all at /), `study` (/StudyInstanceUID) or `series`
    /// (/StudyInstanceUID/SeriesInstanceUID; with --slots, like `study`).
    #[arg(long, value_enum, default_value_t = PathFromArg::None, value_name = "FROM")]
    pub path_from: PathFromArg,

    /// One item per study, its volumes side by side as slots "0", "1"... (named after the
    /// StudyInstanceUID) instead of one item per volume (read-only) or per series
    /// (read-write).
    #[arg(long)]
    pub slots: bool,
}

/// Flags of `dicomprep payload darwin-readonly`.
#[derive(Debug, Args)]
pub struct DarwinReadonlyArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub darwin: DarwinArgs,

    /// Schema: `v1` (items with sections, as in V7's documentation) or `v2` (slotted items
    /// with the read-only video slot: native_fps, hls_segments, sections key prefix, frames
    /// manifest; needs the outputs of `convert --hls`).
    #[arg(long, value_enum, default_value_t = SchemaArg::V1)]
    pub schema: SchemaArg,
}

/// Flags of `dicomprep payload darwin-readwrite`.
#[derive(Debug, Args)]
pub struct DarwinReadwriteArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub darwin: DarwinArgs,

    /// Add `options: {"ignore_dicom_layout": true}`: Darwin keeps the slice order of the
    /// payload (dicomprep's) and takes every file as a slice, instead of re-ordering by its
    /// own rule and splitting multi-volume files.
    #[arg(long)]
    pub ignore_dicom_layout: bool,

    /// Add `extract_views: "true"` to slot "0": Darwin extracts the axial, sagittal and coronal
    /// views (multi-planar view).
    #[arg(long)]
    pub extract_views: bool,
}

/// Flags of `dicomprep payload encord`.
#[derive(Debug, Args)]
pub struct EncordArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,

    /// Output format: JSON (with clientMetadata, videoMetadata, skip_duplicate_urls) or CSV
    /// (object URLs and titles only, the documented column layout).
    #[arg(long, value_enum, default_value_t = EncordFormatArg::Json)]
    pub format: EncordFormatArg,

    /// Object URL form: `default` (S3 virtual-hosted https://BUCKET.s3.REGION.amazonaws.com/
    /// KEY, gs://BUCKET/KEY, Azure https://ACCOUNT.blob.core.windows.net/CONTAINER/KEY),
    /// `path` (https://s3.REGION.amazonaws.com/BUCKET/KEY, https://storage.cloud.google.com/
    /// BUCKET/KEY) or `protocol` (s3://BUCKET/KEY, gs://BUCKET/KEY). Use what your Encord
    /// integration accepts.
    #[arg(long, value_enum, default_value_t = UrlStyleArg::Default, value_name = "STYLE")]
    pub integration_url_style: UrlStyleArg,

    /// How volumes (video items) are sent: `video` (the MP4 with exact videoMetadata; a volume
    /// converted with --no-mp4 becomes an image sequence), `image-sequence` (HQ frames,
    /// createVideo true) or `image-group` (HQ frames, createVideo false).
    #[arg(long, value_enum, default_value_t = EncordVolumesArg::Video, value_name = "AS")]
    pub volumes: EncordVolumesArg,

    /// Also list the source DICOM files as `dicom_series`, one per series, in slice order.
    #[arg(long)]
    pub dicom_series: bool,

    /// Set `skip_duplicate_urls`: Encord skips object URLs already in the dataset, so the
    /// same spec can be uploaded again safely (JSON only).
    #[arg(long)]
    pub skip_duplicate_urls: bool,
}

/// Flags of `dicomprep payload bisque`.
#[derive(Debug, Args)]
pub struct BisquePayloadArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,

    /// Name of the BisQue dataset.
    #[arg(long, default_value = crate::payload::bisque::DEFAULT_DATASET)]
    pub dataset: String,
}

/// Darwin item folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PathFromArg {
    None,
    Study,
    Series,
}

/// Darwin read-only schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaArg {
    V1,
    V2,
}

/// Encord formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncordFormatArg {
    Json,
    Csv,
}

/// Encord object URL forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UrlStyleArg {
    Default,
    Path,
    Protocol,
}

/// How Encord receives volumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncordVolumesArg {
    Video,
    ImageSequence,
    ImageGroup,
}

impl PayloadTarget {
    /// The manifest flags of any target.
    pub fn manifest_args(&self) -> &ManifestArgs {
        match self {
            PayloadTarget::DarwinReadonly(args) => &args.manifest,
            PayloadTarget::DarwinReadwrite(args) => &args.manifest,
            PayloadTarget::Encord(args) => &args.manifest,
            PayloadTarget::Bisque(args) => &args.manifest,
        }
    }

    /// The payload kind and its options (locations are left to the caller to parse).
    pub fn kind_and_options(&self) -> (PayloadKind, PayloadOptions) {
        let mut options = PayloadOptions::default();
        let darwin = |options: &mut PayloadOptions, args: &DarwinArgs| {
            options.dataset_slug = args.dataset_slug.clone();
            options.storage_slug = args.storage_slug.clone();
            options.slots = args.slots;
            options.path_from = match args.path_from {
                PathFromArg::None => PathFrom::None,
                PathFromArg::Study => PathFrom::Study,
                PathFromArg::Series => PathFrom::Series,
            };
        };
        let kind = match self {
            PayloadTarget::DarwinReadonly(args) => {
                darwin(&mut options, &args.darwin);
                options.schema = match args.schema {
                    SchemaArg::V1 => Schema::V1,
                    SchemaArg::V2 => Schema::V2,
                };
                PayloadKind::DarwinReadonly
            }
            PayloadTarget::DarwinReadwrite(args) => {
                darwin(&mut options, &args.darwin);
                options.ignore_dicom_layout = args.ignore_dicom_layout;
                options.extract_views = args.extract_views;
                PayloadKind::DarwinReadwrite
            }
            PayloadTarget::Encord(args) => {
                options.encord_format = match args.format {
                    EncordFormatArg::Json => EncordFormat::Json,
                    EncordFormatArg::Csv => EncordFormat::Csv,
                };
                options.url_style = match args.integration_url_style {
                    UrlStyleArg::Default => UrlStyle::Default,
                    UrlStyleArg::Path => UrlStyle::Path,
                    UrlStyleArg::Protocol => UrlStyle::Protocol,
                };
                options.encord_volumes = match args.volumes {
                    EncordVolumesArg::Video => EncordVolumes::Video,
                    EncordVolumesArg::ImageSequence => EncordVolumes::ImageSequence,
                    EncordVolumesArg::ImageGroup => EncordVolumes::ImageGroup,
                };
                options.dicom_series = args.dicom_series;
                options.skip_duplicate_urls = args.skip_duplicate_urls;
                PayloadKind::Encord
            }
            PayloadTarget::Bisque(args) => {
                options.bisque_dataset = args.dataset.clone();
                PayloadKind::Bisque
            }
        };
        (kind, options)
    }
}

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

    #[command(flatten)]
    pub resume: ResumeArgs,
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

    #[test]
    fn payload_flags_map_onto_options() {
        let cli = Cli::parse_from([
            "dicomprep",
            "payload",
            "darwin-readwrite",
            "--manifest",
            "m.json",
            "--dataset-slug",
            "d",
            "--path-from",
            "series",
            "--ignore-dicom-layout",
            "--extract-views",
        ]);
        let Command::Payload(args) = cli.command else {
            panic!("not payload")
        };
        let (kind, options) = args.target.kind_and_options();
        assert_eq!(kind, PayloadKind::DarwinReadwrite);
        assert_eq!(options.dataset_slug, "d");
        assert_eq!(options.storage_slug, "");
        assert_eq!(options.path_from, PathFrom::Series);
        assert!(options.ignore_dicom_layout && options.extract_views && !options.slots);
        let cli = Cli::parse_from([
            "dicomprep",
            "payload",
            "encord",
            "-m",
            "m.json",
            "--format",
            "csv",
            "--integration-url-style",
            "protocol",
            "--volumes",
            "image-group",
        ]);
        let Command::Payload(args) = cli.command else {
            panic!("not payload")
        };
        let (kind, options) = args.target.kind_and_options();
        assert_eq!(kind, PayloadKind::Encord);
        assert_eq!(options.encord_format, EncordFormat::Csv);
        assert_eq!(options.url_style, UrlStyle::Protocol);
        assert_eq!(options.encord_volumes, EncordVolumes::ImageGroup);
    }

    #[test]
    fn register_darwin_batches_are_capped_at_10() {
        let parse = |n: &str| {
            Cli::try_parse_from([
                "dicomprep",
                "register",
                "darwin",
                "--payload",
                "p",
                "--team",
                "t",
                "--batch-size",
                n,
            ])
        };
        assert!(parse("10").is_ok());
        assert!(parse("11").is_err());
        assert!(parse("0").is_err());
    }
}
