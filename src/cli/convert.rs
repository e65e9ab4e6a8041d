//! Flags of `dicomprep convert`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::common::{RuleArg, ScanCommon, SelectArgs, parse_location};
use crate::convert::burned_in::BurnedInChoice;
use crate::convert::{
    ConvertOptions, DEFAULT_LQ_QUALITY, DEFAULT_SLIDE_MAX_SIZE, ItemChoice, Outputs,
};
use crate::encode::VideoSettings;
use crate::labels::LabelOptions;
use crate::naming::{DEFAULT_TEMPLATE, NameTemplate};
use crate::payload::PayloadKind;
use crate::render::window::WindowChoice;
use crate::store::Location;
use crate::store::cache::parse_size;

/// Flags of `dicomprep convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Folder (scanned recursively), single file, or bucket prefix (s3://bucket/prefix,
    /// gs://..., az://container/prefix, https URL, file:///path) to convert.
    #[arg(value_parser = parse_location, required_unless_present = "plan")]
    pub src: Option<Location>,

    /// Destination folder (created) or bucket prefix (s3://, gs://, az://, https, file://).
    /// Layout: <study>/<series>/<volume>/..., manifest.json last.
    #[arg(long, short, value_name = "DEST", value_parser = parse_location, required_unless_present = "plan")]
    pub dest: Option<Location>,

    #[command(flatten)]
    pub render: RenderArgs,

    /// Rewrite outputs that already exist (by default a re-run with the same settings keeps
    /// complete outputs and only makes what is missing).
    #[arg(long)]
    pub overwrite: bool,

    #[command(flatten)]
    pub outputs: OutputArgs,

    #[command(flatten)]
    pub select: SelectArgs,

    /// Convert one shard of the plan `dicomprep plan` wrote under DEST (with --shard), with
    /// the plan's source and settings: no listing of SRC, outputs under the same keys as one
    /// run, the shard's own manifest and report under DEST/shards/. Settings flags, SRC and
    /// --dest are then refused (they come from the plan).
    #[arg(long, value_name = "DEST", value_parser = parse_location, requires = "shard",
          conflicts_with_all = PLAN_CONFLICTS, help_heading = "Shards")]
    pub plan: Option<Location>,

    /// The shard to convert: its number (0 to N-1), or `auto` for the task index of the array
    /// job running it (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, JOB_COMPLETION_INDEX,
    /// AWS_BATCH_JOB_ARRAY_INDEX or CLOUD_RUN_TASK_INDEX; the engine's task count, where it
    /// gives one, must equal the plan's shards).
    #[arg(long, value_name = "K|auto", requires = "plan", value_parser = parse_shard, help_heading = "Shards")]
    pub shard: Option<ShardChoice>,

    /// Keep the DICOM objects fetched from a bucket SRC in this folder (DIR/a/7/<hash of key
    /// and ETag>), so that converting again, e.g. with another --window, fetches nothing: an
    /// object is served from the cache while its listed ETag and size are unchanged (with
    /// --plan: the ETag and size the plan recorded, since a shard lists nothing).
    #[arg(long, value_name = "DIR", help_heading = "Buckets")]
    pub cache: Option<PathBuf>,

    /// Largest size of the --cache folder (K, M, G, T: powers of 1024); the least recently
    /// used objects are deleted beyond it.
    #[arg(long, default_value = "20G", value_parser = parse_size, value_name = "SIZE", requires = "cache", help_heading = "Buckets")]
    pub cache_size: u64,

    #[command(flatten)]
    pub common: ScanCommon,
}

/// Flags that the plan decides, refused with `--plan`.
const PLAN_CONFLICTS: [&str; 20] = [
    "src",
    "dest",
    "items",
    "window",
    "lq_quality",
    "rule",
    "fps",
    "crf",
    "no_mp4",
    "hls",
    "overlays",
    "copy_dicom",
    "outputs",
    "nifti_gzip",
    "name",
    "payload",
    "payload_destination",
    "no_html",
    "condition",
    "index",
];

/// `--shard`: a shard number or the array task's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardChoice {
    Number(usize),
    Auto,
}

fn parse_shard(text: &str) -> Result<ShardChoice, String> {
    match text {
        "auto" => Ok(ShardChoice::Auto),
        _ => text
            .parse()
            .map(ShardChoice::Number)
            .map_err(|_| format!("{text:?} is neither a shard number nor `auto`")),
    }
}

/// Flags that change the outputs' bytes (recorded as the manifest's settings): `convert`'s
/// and `plan`'s.
#[derive(Debug, Args)]
pub struct RenderArgs {
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

    /// Also write every source file rendered (and every label object placed) under dicom/ in
    /// DEST, named by its path (for a DICOMweb source: dicom/studies/UID/series/UID/instances/UID,
    /// the instance as stored).
    /// Read-write Darwin payloads and Encord --dicom-series need the DICOM files in storage,
    /// which a DICOMweb source is not: with this flag they name the copies.
    #[arg(long)]
    pub copy_dicom: bool,

    /// Burn overlays (60xx planes: annotations, ROIs) into the images, in white. Off by
    /// default, as DCMTK's `-O`.
    #[arg(long)]
    pub overlays: bool,

    /// What to write, comma-separated: `render` (8-bit pictures as --as says: images,
    /// frames, thumbnails, videos) and `nifti` (one NIfTI-1 volume per volume of a series,
    /// 4D for time series, with its BIDS JSON sidecar and .bval/.bvec for diffusion, as
    /// dcm2niix writes them). `nifti` alone reads pixels and writes only the NIfTI files.
    #[arg(long, default_value = "render", value_parser = parse_outputs, value_name = "LIST")]
    pub outputs: Outputs,

    /// Gzip NIfTI files (`.nii.gz`, deterministic bytes) or not (`.nii`).
    #[arg(long, default_value = "yes", value_parser = parse_yes_no, value_name = "yes|no", action = clap::ArgAction::Set)]
    pub nifti_gzip: bool,

    /// Item names: the titles annotators see in Darwin, Encord and BisQue and the page shows
    /// (keys do not change). Text with fields in braces: {modality}, {series_number},
    /// {series_description}, {volume}, {slice} (0-based, 5 digits; images of a volume of
    /// several slices get `_{slice}` appended when the template has none), {study_uid},
    /// {series_uid}, {study_description}, {protocol}, {body_part}. Anything but letters,
    /// digits, `-`, `_` and `.` becomes `_`; each field is cut to 64 bytes, a name to 128;
    /// a missing value is `unknown`; equal names get `-2`, `-3`... (by study, series, volume).
    #[arg(long, value_name = "TEMPLATE", default_value = DEFAULT_TEMPLATE, value_parser = parse_name)]
    pub name: NameTemplate,

    /// Label objects in SRC: `auto` places every segmentation (DICOM SEG, label map SEG) and
    /// RT structure set on the items whose frames it references (through its image references,
    /// else its Frame of Reference and plane) and writes, per labelled item, a Darwin JSON 2.0
    /// file and an Encord label row beside its pictures (and a NIfTI label map per object with
    /// `--outputs nifti`); the manifest lists them under each item's `labels`, report.json
    /// what could not be placed and why. `off` leaves label objects aside (never items either way).
    #[arg(long, default_value = "auto", value_parser = ["auto", "off"], value_name = "auto|off")]
    pub labels: String,

    /// Fractional SEGs: a pixel is in its segment from this fraction of
    /// MaximumFractionalValue (0 < T <= 1).
    #[arg(long, default_value_t = 0.5, value_parser = parse_threshold, value_name = "T")]
    pub seg_threshold: f64,

    /// Pixels that may carry the patient's name. `crop`: ultrasound with a Sequence of
    /// Ultrasound Regions is cut to the union of its regions (the scanner's text band lies
    /// outside them) in every output (frames, thumbnails, contact sheets, videos, NIfTI, labels),
    /// and the manifest records each item's crop; other images that declare
    /// BurnedInAnnotation YES are skipped ("burned-in annotation" in report.json). `skip`: as
    /// crop, and every image that declares YES is skipped, regions or not. `keep`: everything
    /// is rendered whole; the summary counts the images that declare YES.
    #[arg(long, default_value = "crop", value_parser = parse_burned_in, value_name = "crop|skip|keep")]
    pub burned_in: BurnedInChoice,

    /// Whole-slide images (slide microscopy): the picture of the whole slide (slide.png,
    /// slide.jpg, thumbnail) fits this many pixels on its long side; the pyramid (slide.tif)
    /// and Deep Zoom tiles keep every level.
    #[arg(long, default_value_t = DEFAULT_SLIDE_MAX_SIZE, value_name = "PX", value_parser = clap::value_parser!(u32).range(16..=65_535))]
    pub slide_max_size: u32,

    /// A slide's LABEL image is a photograph of the glass's label, with the patient's name and
    /// a barcode: `skip` leaves it out (report.json says so), `keep` writes it beside the
    /// slide's other associated images.
    #[arg(long, default_value = "skip", value_parser = ["skip", "keep"], value_name = "skip|keep")]
    pub slide_label: String,

    /// A slide with several optical paths (fluorescence channels) or focal planes: `first`
    /// makes the pyramid of the first path at the first plane; `all` makes one per path and
    /// plane, the others under slide-pathP-planeZ/ beside slide/.
    #[arg(long, default_value = "first", value_parser = ["first", "all"], value_name = "first|all")]
    pub slide_planes: String,

    /// Deep Zoom tiles of each slide (slide.dzi and slide_files/, what the page's viewer and
    /// OpenSeadragon read): `no` writes the pyramid and the pictures only.
    #[arg(long, default_value = "yes", value_parser = parse_yes_no, value_name = "yes|no", action = clap::ArgAction::Set)]
    pub slide_deep_zoom: bool,
}

impl RenderArgs {
    /// The conversion options these flags give.
    pub fn options(&self, overwrite: bool) -> ConvertOptions {
        ConvertOptions {
            items: self.items.into(),
            window: self.window,
            rule: self.rule.into(),
            lq_quality: self.lq_quality,
            overwrite,
            overlays: self.overlays,
            // Without the `video` feature (FFmpeg) no MP4 can be made.
            video: (cfg!(feature = "video") && !self.no_mp4).then_some(VideoSettings {
                fps: self.fps,
                crf: self.crf,
            }),
            hls: self.hls,
            name: self.name.clone(),
            copy_dicom: self.copy_dicom,
            outputs: self.outputs,
            nifti_gzip: self.nifti_gzip,
            labels: (self.labels == "auto").then_some(LabelOptions {
                seg_threshold: self.seg_threshold,
            }),
            burned_in: self.burned_in,
            slide_max_size: self.slide_max_size,
            slide_labels: self.slide_label == "keep",
            slide_planes: self.slide_planes == "all",
            slide_deep_zoom: self.slide_deep_zoom,
        }
    }
}

fn parse_burned_in(text: &str) -> Result<BurnedInChoice, String> {
    BurnedInChoice::from_name(text).ok_or_else(|| format!("{text:?} is not crop, skip or keep"))
}

fn parse_threshold(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(t) if t > 0.0 && t <= 1.0 => Ok(t),
        _ => Err(format!("{text:?} is not a fraction in (0, 1]: e.g. 0.5")),
    }
}

fn parse_outputs(text: &str) -> Result<Outputs, String> {
    text.parse()
}

fn parse_yes_no(text: &str) -> Result<bool, String> {
    match text {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("{other:?}: use yes or no")),
    }
}

/// What is written beside the manifest: payloads and the report page (`convert`, `plan`).
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Also write registration payloads next to the manifest, comma-separated:
    /// darwin-readonly, darwin-readwrite, encord, bisque (as `dicomprep payload` makes them
    /// with its defaults; slugs are filled in by `dicomprep register` or `dicomprep payload`).
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    pub payload: Vec<PayloadKind>,

    /// Bucket URL the outputs will be served from, for payloads of a local conversion that is
    /// copied to a bucket afterwards (e.g. s3://bucket/prefix); default: DEST.
    #[arg(long, value_name = "URL", value_parser = parse_location)]
    pub payload_destination: Option<Location>,

    /// Write no index.html. By default a static page is written beside the manifest (after it):
    /// per volume the thumbnail, contact sheet, video, window, split reason and order
    /// diagnostics, then every skipped and failed input; 200 volumes per page (index.html,
    /// index-2.html, ...).
    #[arg(long)]
    pub no_html: bool,
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

fn parse_name(text: &str) -> Result<NameTemplate, String> {
    text.parse()
        .map_err(|e: crate::naming::NameTemplateError| e.to_string())
}
