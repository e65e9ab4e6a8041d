//! Flags of `dicomprep payload` and its targets.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::payload::{
    EncordFormat, EncordVolumes, PathFrom, PayloadKind, PayloadOptions, Schema, UrlStyle,
};

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
