//! Registration payloads for annotation platforms, built from a conversion's `manifest.json`.
//! Pure code: no I/O; every builder reads a [`Manifest`] and [`PayloadOptions`] only.
//!
//! Targets and their specs (field names follow the documents exactly):
//! - [`darwin_readonly`]: V7 Darwin `register_existing_readonly` (legacy sections schema, or
//!   the read-only video slot schema with `--schema v2`);
//! - [`darwin_readwrite`]: V7 Darwin `register_existing`, the original DICOM files as `dicom`
//!   slots;
//! - [`encord`]: Encord's private-cloud upload spec, JSON or CSV;
//! - [`bisque`]: the images to upload to BisQue and the dataset XML made of their URIs.
//!
//! ```
//! use dicomprep::payload::{build, PayloadKind, PayloadOptions};
//! # let manifest: dicomprep::contract::manifest::Manifest = serde_json::from_str(
//! #   r#"{"version":1,"settings":{"item_kind":"auto","window":"header","rule":"darwin",
//! #   "lq_quality":75},"destination":{"scheme":"s3","bucket":"b","prefix":"out"},
//! #   "items":[],"skipped":[],"failed":[]}"#).unwrap();
//! // `manifest` is a conversion's manifest.json, read with serde_json.
//! let files = build(PayloadKind::DarwinReadonly, &manifest, &PayloadOptions::default())?;
//! let (name, bytes) = &files[0];
//! assert_eq!(name, "darwin-readonly.json");
//! let body: serde_json::Value = serde_json::from_slice(bytes).unwrap();
//! assert_eq!(body["dataset_slug"], ""); // left for `register darwin --dataset-slug`
//! # Ok::<(), dicomprep::payload::PayloadError>(())
//! ```

pub mod bisque;
pub mod darwin;
pub mod darwin_readonly;
pub mod darwin_readwrite;
pub mod encord;
pub mod keys;

use crate::contract::manifest::{Item, Manifest};
use crate::store::Location;

pub use keys::UrlStyle;

/// The payloads dicomprep can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// V7 Darwin read-only registration (`darwin-readonly.json`).
    DarwinReadonly,
    /// V7 Darwin read-write registration of the source DICOM files (`darwin-readwrite.json`).
    DarwinReadwrite,
    /// Encord private-cloud upload spec (`encord.json` or `encord.csv`).
    Encord,
    /// BisQue upload plan: the images to upload and the dataset name (`bisque.json`).
    Bisque,
}

impl PayloadKind {
    /// The name used on the command line (`darwin-readonly`, `encord`...).
    pub fn cli_name(self) -> &'static str {
        match self {
            PayloadKind::DarwinReadonly => "darwin-readonly",
            PayloadKind::DarwinReadwrite => "darwin-readwrite",
            PayloadKind::Encord => "encord",
            PayloadKind::Bisque => "bisque",
        }
    }
}

impl std::str::FromStr for PayloadKind {
    type Err = String;

    /// Parses a [`PayloadKind::cli_name`] (for `convert --payload darwin-readonly,encord`).
    fn from_str(text: &str) -> Result<PayloadKind, String> {
        ALL_KINDS
            .into_iter()
            .find(|kind| kind.cli_name() == text.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = ALL_KINDS.iter().map(|k| k.cli_name()).collect();
                format!("unknown payload {text:?}; use one of {}", names.join(", "))
            })
    }
}

/// Every payload kind, in the order the CLI lists them.
pub const ALL_KINDS: [PayloadKind; 4] = [
    PayloadKind::DarwinReadonly,
    PayloadKind::DarwinReadwrite,
    PayloadKind::Encord,
    PayloadKind::Bisque,
];

/// Where a Darwin item is placed in the dataset's folder tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathFrom {
    /// Every item at `/`.
    #[default]
    None,
    /// `/<StudyInstanceUID>`.
    Study,
    /// `/<StudyInstanceUID>/<SeriesInstanceUID>`.
    Series,
}

/// Which Darwin read-only schema to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schema {
    /// Items with `sections` (HQ/LQ frame keys per slice), as in the V7 documentation.
    #[default]
    V1,
    /// Slotted items with the read-only video slot fields (`native_fps`, `hls_segments`...),
    /// which need the HLS outputs of `convert --hls`.
    V2,
}

/// Encord output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncordFormat {
    /// The JSON spec (supports clientMetadata, videoMetadata and skip_duplicate_urls).
    #[default]
    Json,
    /// The CSV layout (object URLs and titles only).
    Csv,
}

/// How Encord receives the volumes of video items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncordVolumes {
    /// The MP4 as a video with exact `videoMetadata`; a volume without MP4 becomes an image
    /// sequence.
    #[default]
    Video,
    /// The HQ frames as an image sequence (`image_groups` with `createVideo: true`).
    ImageSequence,
    /// The HQ frames as an image group (`image_groups` with `createVideo: false`).
    ImageGroup,
}

/// Options of every payload builder (each builder reads the fields that concern it).
///
/// The defaults need no slug: `dataset_slug` and `storage_slug` are empty strings, which
/// `dicomprep register darwin --dataset-slug/--storage-slug` fill in before sending (it refuses
/// to send a payload whose slugs are still empty). Other defaults: items at `/`, one item per
/// volume, schema v1, Darwin's own DICOM ordering, no multi-planar views, default object URLs,
/// Encord JSON with MP4 videos, no `dicom_series`, duplicates not skipped, BisQue dataset
/// `dicomprep`, and the manifest's own `source`/`destination` locations.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PayloadOptions {
    /// Darwin dataset slug.
    pub dataset_slug: String,
    /// Darwin storage integration name (`storage_slug`).
    pub storage_slug: String,
    /// Darwin item folder.
    pub path_from: PathFrom,
    /// Darwin: one item per study, its volumes as slots side by side.
    pub slots: bool,
    /// Darwin read-only schema.
    pub schema: Schema,
    /// Darwin read-write: `options.ignore_dicom_layout` (keep our slice order and put every
    /// file in the series as a slice).
    pub ignore_dicom_layout: bool,
    /// Darwin read-write: `extract_views: "true"` on slot `0` (multi-planar view).
    pub extract_views: bool,
    /// Encord object URL form.
    pub url_style: UrlStyle,
    /// Encord `skip_duplicate_urls`.
    pub skip_duplicate_urls: bool,
    /// Encord JSON or CSV.
    pub encord_format: EncordFormat,
    /// Encord: how video items are sent.
    pub encord_volumes: EncordVolumes,
    /// Encord: also list the source DICOM files as `dicom_series`, one per series.
    pub dicom_series: bool,
    /// BisQue dataset name (empty: `dicomprep`).
    pub bisque_dataset: String,
    /// Where the outputs are stored, when not the manifest's `destination` (e.g. the bucket a
    /// local conversion was copied to).
    pub destination: Option<Location>,
    /// Where the DICOM files are stored, when not the manifest's `source`.
    pub source: Option<Location>,
}

/// Why a payload cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The manifest lacks a location the payload needs.
    #[error(
        "the manifest has no {which} location; pass --{which} URL (where the {what} are stored, e.g. s3://bucket/prefix)"
    )]
    MissingLocation {
        which: &'static str,
        what: &'static str,
    },
    /// A location cannot be expressed in the form the target needs.
    #[error("cannot build {target} for {location}: {reason}")]
    Location {
        target: &'static str,
        location: String,
        reason: String,
    },
    /// An item lacks an output the payload needs.
    #[error("item {item}: {reason}")]
    Item { item: String, reason: String },
}

impl PayloadError {
    /// An item of a NIfTI-only conversion: platforms take pictures, which it does not have.
    pub(crate) fn no_pictures(item: &crate::contract::manifest::Item) -> PayloadError {
        PayloadError::Item {
            item: item.name.clone(),
            reason: "a NIfTI volume without pictures (converted with --outputs nifti); platform payloads need pictures: convert with --outputs render,nifti".into(),
        }
    }
}

/// Builds the payload files of `kind` for `manifest`: `(file name, bytes)` pairs to write next
/// to the manifest. JSON is pretty-printed with a final newline.
pub fn build(
    kind: PayloadKind,
    manifest: &Manifest,
    options: &PayloadOptions,
) -> Result<Vec<(String, Vec<u8>)>, PayloadError> {
    let file = match kind {
        PayloadKind::DarwinReadonly => (
            "darwin-readonly.json".to_string(),
            to_json(&darwin_readonly::build_darwin_readonly(manifest, options)?),
        ),
        PayloadKind::DarwinReadwrite => (
            "darwin-readwrite.json".to_string(),
            to_json(&darwin_readwrite::build_darwin_readwrite(
                manifest, options,
            )?),
        ),
        PayloadKind::Encord => {
            let spec = encord::build_encord(manifest, options)?;
            match options.encord_format {
                EncordFormat::Json => ("encord.json".to_string(), to_json(&spec.to_json())),
                EncordFormat::Csv => ("encord.csv".to_string(), spec.to_csv().into_bytes()),
            }
        }
        PayloadKind::Bisque => (
            "bisque.json".to_string(),
            to_json(&bisque::build_bisque_plan(manifest, options)),
        ),
    };
    Ok(vec![file])
}

fn to_json(value: &impl serde::Serialize) -> Vec<u8> {
    // Serialising plain data structs and `Value`s cannot fail.
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The destination location: the override, else the manifest's.
pub(crate) fn destination<'a>(
    manifest: &'a Manifest,
    options: &'a PayloadOptions,
) -> Result<&'a Location, PayloadError> {
    let found = options
        .destination
        .as_ref()
        .or(manifest.destination.as_ref());
    found.ok_or(PayloadError::MissingLocation {
        which: "destination",
        what: "outputs",
    })
}

/// Where the DICOM files are stored: the override, else the copies `convert --copy-dicom`
/// made (under the destination, or under the overriding destination), else the manifest's
/// source. A DICOMweb service stores no files: an error that says so.
pub(crate) fn source(
    manifest: &Manifest,
    options: &PayloadOptions,
) -> Result<Location, PayloadError> {
    // The copies are `dicom/<path>` below the destination (a local destination's keys are
    // relative to its folder, so the prefix goes in the key, not in the folder).
    let copies = options
        .destination
        .as_ref()
        .or(manifest.destination.as_ref())
        .filter(|_| manifest.settings.copy_dicom)
        .map(|destination| Location {
            prefix: crate::store::location::join_key(
                &destination.prefix,
                crate::contract::keys::DICOM_COPY_PREFIX,
            ),
            ..destination.clone()
        });
    let found = options
        .source
        .clone()
        .or(copies)
        .or(manifest.source.clone())
        .ok_or(PayloadError::MissingLocation {
            which: "source",
            what: "DICOM files",
        })?;
    if found.scheme == crate::store::Scheme::Dicomweb {
        return Err(PayloadError::Location {
            target: "payloads that name the DICOM files",
            location: found.to_string(),
            reason: "a DICOMweb service is not storage the platform can read; convert with --copy-dicom to write the retrieved instances under the destination (payloads then name the copies), or pass --source with where copies of the files are".into(),
        });
    }
    Ok(found)
}

/// Items grouped by `key`, groups in order of first appearance, items in manifest order.
pub(crate) fn group_items(items: &[Item], key: impl Fn(&Item) -> &str) -> Vec<Vec<&Item>> {
    let mut groups: Vec<Vec<&Item>> = Vec::new();
    for item in items {
        match groups.iter_mut().find(|g| key(g[0]) == key(item)) {
            Some(group) => group.push(item),
            None => groups.push(vec![item]),
        }
    }
    groups
}

/// The name of an item made of `item`'s whole series: its `series_name`, or the series UID in
/// manifests of earlier versions.
pub(crate) fn series_name(item: &Item) -> String {
    item.series_name
        .clone()
        .unwrap_or_else(|| item.series_instance_uid.clone())
}

/// The last `/`-separated part of a key or path.
pub(crate) fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The distinct source files of `items`' frames, in frame order (a multi-frame file once).
pub(crate) fn source_files<'a>(items: &[&'a Item]) -> Vec<&'a str> {
    let mut files: Vec<&str> = Vec::new();
    for frame in items.iter().flat_map(|item| &item.frames) {
        if !files.contains(&frame.path.as_str()) {
            files.push(&frame.path);
        }
    }
    files
}

#[cfg(test)]
pub(crate) mod testing {
    //! A small manifest builder shared by the payload unit tests.

    use crate::contract::manifest::{FrameEntry, Item, ItemKind, Manifest, VideoEntry};
    use crate::store::Location;

    /// A manifest with `items`, written to `dest` from `src`.
    pub fn manifest(items: Vec<Item>, src: &str, dest: &str) -> Manifest {
        Manifest {
            version: 1,
            settings: crate::convert::ConvertOptions::default().settings(),
            source: Some(Location::parse(src).unwrap()),
            destination: Some(Location::parse(dest).unwrap()),
            items,
            skipped: vec![],
            failed: vec![],
        }
    }

    /// An image item of series `series` in study `study`.
    pub fn image(study: &str, series: &str, index: u32, width: u32, height: u32) -> Item {
        let base = format!("{study}/{series}/v1");
        let key = format!("{base}/images/{index:05}.png");
        Item {
            name: format!("{series}_v1_{index:05}.png"),
            series_name: None,
            kind: ItemKind::Image,
            study_instance_uid: study.into(),
            series_instance_uid: series.into(),
            volume: "v1".into(),
            series_number: Some(1),
            series_description: Some("T1 axial".into()),
            modality: Some("MR".into()),
            width,
            height,
            storage_key: key.clone(),
            thumbnail_key: format!("{base}/thumbnails/{index:05}.jpg"),
            thumbnail_bytes: None,
            frames: vec![FrameEntry {
                path: format!("in/{series}/{index}.dcm"),
                frame: 0,
                hq_key: key,
                lq_key: None,
                width,
                height,
                hq_bytes: 1000,
                lq_bytes: None,
                sop_instance_uid: None,
            }],
            video: None,
            window: None,
            hls: None,
            contact_sheet: None,
            nifti: None,
            labels: Vec::new(),
            label_sheet: None,
            crop: None,
            burned_in: None,
            slide: None,
        }
    }

    /// A video item of `slices` slices (source files `in/<series>/<volume>_<i>.dcm`).
    pub fn video(study: &str, series: &str, volume: &str, slices: u32) -> Item {
        let base = format!("{study}/{series}/{volume}");
        Item {
            name: format!("{series}_{volume}.mp4"),
            series_name: None,
            kind: ItemKind::Video,
            study_instance_uid: study.into(),
            series_instance_uid: series.into(),
            volume: volume.into(),
            series_number: Some(2),
            series_description: None,
            modality: Some("CT".into()),
            width: 512,
            height: 256,
            storage_key: format!("{base}/video.mp4"),
            thumbnail_key: format!("{base}/thumbnail.jpg"),
            thumbnail_bytes: None,
            frames: (0..slices)
                .map(|i| FrameEntry {
                    path: format!("in/{series}/{volume}_{i}.dcm"),
                    frame: 0,
                    hq_key: format!("{base}/frames/hq/{i:05}.png"),
                    lq_key: Some(format!("{base}/frames/lq/{i:05}.jpg")),
                    width: 512,
                    height: 256,
                    hq_bytes: 100,
                    lq_bytes: Some(10),
                    sop_instance_uid: None,
                })
                .collect(),
            video: Some(VideoEntry {
                fps: 10,
                frame_count: u64::from(slices),
                duration: f64::from(slices) / 10.0,
                width: 512,
                height: 256,
                file_size: 5468,
                mime_type: "video/mp4".into(),
                codec: "h264".into(),
            }),
            window: None,
            hls: None,
            contact_sheet: None,
            nifti: None,
            labels: Vec::new(),
            label_sheet: None,
            crop: None,
            burned_in: None,
            slide: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn build_names_each_file_after_its_target() {
        let m = manifest(vec![image("st", "se", 0, 4, 3)], "gs://b/in", "gs://b/out");
        let opts = PayloadOptions {
            encord_format: EncordFormat::Csv,
            ..PayloadOptions::default()
        };
        let names: Vec<String> = ALL_KINDS
            .into_iter()
            .map(|kind| build(kind, &m, &opts).unwrap().remove(0).0)
            .collect();
        assert_eq!(
            names,
            [
                "darwin-readonly.json",
                "darwin-readwrite.json",
                "encord.csv",
                "bisque.json"
            ]
        );
    }

    #[test]
    fn kinds_parse_from_their_cli_names() {
        for kind in ALL_KINDS {
            assert_eq!(kind.cli_name().parse::<PayloadKind>(), Ok(kind));
        }
        let err = "darwin".parse::<PayloadKind>().unwrap_err();
        assert!(
            err.contains("darwin-readonly, darwin-readwrite, encord, bisque"),
            "{err}"
        );
    }

    #[test]
    fn missing_locations_name_the_flag_to_pass() {
        let mut m = manifest(vec![image("st", "se", 0, 4, 3)], "in", "out");
        m.destination = None;
        let err = build(PayloadKind::DarwinReadonly, &m, &PayloadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("--destination"), "{err}");
        m.source = None;
        let err = build(PayloadKind::DarwinReadwrite, &m, &PayloadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("--source"), "{err}");
    }

    #[test]
    fn groups_keep_first_appearance_order_and_files_are_distinct() {
        let items = vec![
            video("a", "s1", "v1", 2),
            video("b", "s2", "v1", 1),
            video("a", "s1", "v2", 2),
        ];
        let groups = group_items(&items, |i| &i.study_instance_uid);
        let volumes: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|i| i.volume.as_str()).collect())
            .collect();
        assert_eq!(volumes, [vec!["v1", "v2"], vec!["v1"]]);
        let mut multi = video("a", "s1", "v1", 3);
        multi
            .frames
            .iter_mut()
            .for_each(|f| f.path = "in/multi.dcm".into());
        assert_eq!(
            source_files(&[&multi, &items[0]]),
            ["in/multi.dcm", "in/s1/v1_0.dcm", "in/s1/v1_1.dcm"]
        );
        assert_eq!(file_name("a/b/c.png"), "c.png");
        assert_eq!(file_name("c.png"), "c.png");
    }
}
