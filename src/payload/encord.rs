//! Encord private-cloud upload spec (encord-private-cloud-upload), JSON and CSV.
//!
//! JSON: top-level `videos` (`objectUrl`, `title`, `clientMetadata`, `videoMetadata` with
//! `fps`, `duration`, `width`, `height`, `file_size`, `mime_type` exactly as measured),
//! `images`, `image_groups` (`title`, `createVideo`, `objectUrl_0`... in slice order),
//! `dicom_series` (`title`, `objectUrl_N` of the source files in slice order) and
//! `skip_duplicate_urls`. `clientMetadata` carries `study_instance_uid`,
//! `series_instance_uid`, `series_description` and `volume`.
//!
//! CSV: one block per data type, each with its header row (`ObjectUrl,Image title`,
//! `ObjectUrl,Video title`, `ObjectUrl,Image group title,Create video`,
//! `ObjectUrl,Series title`); when blocks are mixed every header gets the `Create video`
//! column, `false` outside image sequences, as the document requires. CSV carries no
//! metadata and no `skip_duplicate_urls` (JSON only, per the document).

use serde_json::{Map, Value, json};

use super::keys::encord_object_url;
use super::{
    EncordVolumes, PayloadError, PayloadOptions, destination, group_items, series_name, source,
    source_files,
};
use crate::contract::manifest::{Item, ItemKind, Manifest, VideoEntry};
use crate::store::Location;

/// An upload spec, independent of its file format.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EncordSpec {
    pub videos: Vec<Upload>,
    pub images: Vec<Upload>,
    pub image_groups: Vec<Group>,
    pub dicom_series: Vec<Group>,
    pub skip_duplicate_urls: bool,
}

/// A video or an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub object_url: String,
    pub title: String,
    pub client_metadata: Map<String, Value>,
    /// Videos: what the MP4 holds (Encord trusts it and skips its own checks).
    pub video_metadata: Option<VideoEntry>,
}

/// An image group or sequence, or a DICOM series: object URLs in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub title: String,
    /// `createVideo` (image groups only): true for an image sequence.
    pub create_video: Option<bool>,
    pub object_urls: Vec<String>,
    pub client_metadata: Map<String, Value>,
}

/// Builds the upload spec.
pub fn build_encord(
    manifest: &Manifest,
    options: &PayloadOptions,
) -> Result<EncordSpec, PayloadError> {
    let url = |location: &Location, key: &str| encord_object_url(location, key, options.url_style);
    let mut spec = EncordSpec {
        skip_duplicate_urls: options.skip_duplicate_urls,
        ..EncordSpec::default()
    };
    if !manifest.items.is_empty() {
        let dest = destination(manifest, options)?;
        for item in &manifest.items {
            let metadata = client_metadata(item);
            let as_sequence = |create_video| -> Result<Group, PayloadError> {
                Ok(Group {
                    title: item.name.trim_end_matches(".mp4").to_string(),
                    create_video: Some(create_video),
                    object_urls: item
                        .frames
                        .iter()
                        .map(|frame| url(dest, &frame.hq_key))
                        .collect::<Result<_, _>>()?,
                    client_metadata: metadata.clone(),
                })
            };
            match (item.kind, options.encord_volumes, &item.video) {
                (ItemKind::Image | ItemKind::Slide, _, _) => spec.images.push(Upload {
                    object_url: url(dest, &item.storage_key)?,
                    title: item.name.clone(),
                    client_metadata: metadata,
                    video_metadata: None,
                }),
                (ItemKind::Video, EncordVolumes::Video, Some(video)) => spec.videos.push(Upload {
                    object_url: url(dest, &item.storage_key)?,
                    title: item.name.clone(),
                    client_metadata: metadata,
                    video_metadata: Some(video.clone()),
                }),
                (ItemKind::Video, EncordVolumes::ImageGroup, _) => {
                    spec.image_groups.push(as_sequence(false)?)
                }
                (ItemKind::Video, _, _) => spec.image_groups.push(as_sequence(true)?),
                (ItemKind::Volume, _, _) => return Err(PayloadError::no_pictures(item)),
            }
        }
    }
    if options.dicom_series && !manifest.items.is_empty() {
        let src = source(manifest, options)?;
        for series in group_items(&manifest.items, |item| &item.series_instance_uid) {
            let mut metadata = client_metadata(series[0]);
            metadata.remove("volume");
            spec.dicom_series.push(Group {
                title: series_name(series[0]),
                create_video: None,
                object_urls: source_files(&series)
                    .into_iter()
                    .map(|path| url(&src, path))
                    .collect::<Result<_, _>>()?,
                client_metadata: metadata,
            });
        }
    }
    Ok(spec)
}

/// `clientMetadata` of an item: the DICOM identity of what it shows.
fn client_metadata(item: &Item) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("study_instance_uid".into(), json!(item.study_instance_uid));
    metadata.insert(
        "series_instance_uid".into(),
        json!(item.series_instance_uid),
    );
    if let Some(description) = &item.series_description {
        metadata.insert("series_description".into(), json!(description));
    }
    metadata.insert("volume".into(), json!(item.volume));
    metadata
}

impl EncordSpec {
    /// The JSON spec (empty lists are left out).
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        let uploads = |list: &[Upload]| -> Value {
            list.iter()
                .map(|upload| {
                    let mut entry = Map::new();
                    entry.insert("objectUrl".into(), json!(upload.object_url));
                    entry.insert("title".into(), json!(upload.title));
                    entry.insert("clientMetadata".into(), json!(upload.client_metadata));
                    if let Some(video) = &upload.video_metadata {
                        entry.insert(
                            "videoMetadata".into(),
                            json!({
                                "fps": f64::from(video.fps),
                                "duration": video.duration,
                                "width": video.width,
                                "height": video.height,
                                "file_size": video.file_size,
                                "mime_type": video.mime_type,
                            }),
                        );
                    }
                    Value::Object(entry)
                })
                .collect()
        };
        let groups = |list: &[Group]| -> Value {
            list.iter()
                .map(|group| {
                    let mut entry = Map::new();
                    entry.insert("title".into(), json!(group.title));
                    if let Some(create_video) = group.create_video {
                        entry.insert("createVideo".into(), json!(create_video));
                    }
                    for (position, url) in group.object_urls.iter().enumerate() {
                        entry.insert(format!("objectUrl_{position}"), json!(url));
                    }
                    entry.insert("clientMetadata".into(), json!(group.client_metadata));
                    Value::Object(entry)
                })
                .collect()
        };
        if !self.videos.is_empty() {
            root.insert("videos".into(), uploads(&self.videos));
        }
        if !self.images.is_empty() {
            root.insert("images".into(), uploads(&self.images));
        }
        if !self.image_groups.is_empty() {
            root.insert("image_groups".into(), groups(&self.image_groups));
        }
        if !self.dicom_series.is_empty() {
            root.insert("dicom_series".into(), groups(&self.dicom_series));
        }
        if self.skip_duplicate_urls {
            root.insert("skip_duplicate_urls".into(), json!(true));
        }
        Value::Object(root)
    }

    /// The CSV layout: one block per data type.
    pub fn to_csv(&self) -> String {
        let mut blocks: Vec<(&str, Vec<CsvRow>)> = vec![
            ("Image group title", group_rows(&self.image_groups)),
            ("Image title", upload_rows(&self.images)),
            ("Video title", upload_rows(&self.videos)),
            ("Series title", group_rows(&self.dicom_series)),
        ];
        blocks.retain(|(_, rows)| !rows.is_empty());
        let mixed = blocks.len() > 1;
        let mut csv = String::new();
        for (heading, rows) in blocks {
            let with_create_video = mixed || heading == "Image group title";
            csv.push_str("ObjectUrl,");
            csv.push_str(heading);
            if with_create_video {
                csv.push_str(",Create video");
            }
            csv.push('\n');
            for (url, title, create_video) in rows {
                csv.push_str(&csv_field(url));
                csv.push(',');
                csv.push_str(&csv_field(title));
                if with_create_video {
                    csv.push_str(if create_video { ",true" } else { ",false" });
                }
                csv.push('\n');
            }
        }
        csv
    }
}

/// A CSV row: object URL, title, createVideo.
type CsvRow<'a> = (&'a str, &'a str, bool);

/// CSV rows of groups.
fn group_rows(groups: &[Group]) -> Vec<CsvRow<'_>> {
    groups
        .iter()
        .flat_map(|g| {
            let create_video = g.create_video.unwrap_or(false);
            g.object_urls
                .iter()
                .map(move |url| (url.as_str(), g.title.as_str(), create_video))
        })
        .collect()
}

/// CSV rows of videos or images.
fn upload_rows(uploads: &[Upload]) -> Vec<CsvRow<'_>> {
    uploads
        .iter()
        .map(|u| (u.object_url.as_str(), u.title.as_str(), false))
        .collect()
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::UrlStyle;
    use crate::payload::testing::{image, manifest, video};

    const S3: &str = "https://cord-dev.s3.eu-west-2.amazonaws.com";

    fn spec(m: &Manifest, options: &PayloadOptions) -> EncordSpec {
        build_encord(m, options).unwrap()
    }

    #[test]
    fn videos_carry_exact_video_metadata_and_client_metadata() {
        let m = manifest(vec![video("st", "se", "v1", 3)], "in", &format!("{S3}/out"));
        let json = spec(&m, &PayloadOptions::default()).to_json();
        assert_eq!(
            json,
            json!({"videos": [{
                "objectUrl": format!("{S3}/out/st/se/v1/video.mp4"),
                "title": "se_v1.mp4",
                "clientMetadata": {
                    "study_instance_uid": "st",
                    "series_instance_uid": "se",
                    "volume": "v1"
                },
                "videoMetadata": {
                    "fps": 10.0,
                    "duration": 0.3,
                    "width": 512,
                    "height": 256,
                    "file_size": 5468,
                    "mime_type": "video/mp4"
                }
            }]})
        );
    }

    #[test]
    fn images_and_sequences_list_frames_in_slice_order() {
        let mut no_mp4 = video("st", "se", "v2", 3);
        no_mp4.video = None;
        let items = vec![image("st", "se", 0, 2, 2), no_mp4];
        let m = manifest(items, "in", "gs://b/out");
        let json = spec(&m, &PayloadOptions::default()).to_json();
        assert_eq!(
            json["images"][0]["objectUrl"],
            "gs://b/out/st/se/v1/images/00000.png"
        );
        assert_eq!(json["images"][0]["title"], "se_v1_00000.png");
        assert_eq!(
            json["images"][0]["clientMetadata"]["series_description"],
            "T1 axial"
        );
        assert!(json["images"][0].get("videoMetadata").is_none());
        let group = &json["image_groups"][0];
        assert_eq!(group["title"], "se_v2");
        assert_eq!(
            group["createVideo"], true,
            "a volume without MP4 is an image sequence"
        );
        for i in 0..3 {
            assert_eq!(
                group[format!("objectUrl_{i}")],
                format!("gs://b/out/st/se/v2/frames/hq/{i:05}.png")
            );
        }
        assert!(group.get("objectUrl_3").is_none());
        assert!(json.get("videos").is_none() && json.get("skip_duplicate_urls").is_none());
        let options = PayloadOptions {
            encord_volumes: EncordVolumes::ImageGroup,
            ..PayloadOptions::default()
        };
        let m = manifest(vec![video("st", "se", "v1", 2)], "in", "gs://b");
        assert_eq!(
            spec(&m, &options).to_json()["image_groups"][0]["createVideo"],
            false
        );
    }

    #[test]
    fn dicom_series_of_source_files_and_skip_duplicates() {
        let items = vec![video("st", "se", "v1", 2), video("st", "se", "v2", 1)];
        let m = manifest(items, "s3://b/dicom", "s3://b/out");
        let options = PayloadOptions {
            dicom_series: true,
            skip_duplicate_urls: true,
            url_style: UrlStyle::Protocol,
            ..PayloadOptions::default()
        };
        let json = spec(&m, &options).to_json();
        assert_eq!(json["skip_duplicate_urls"], true);
        assert_eq!(
            json["dicom_series"],
            json!([{
                "title": "se",
                "objectUrl_0": "s3://b/dicom/in/se/v1_0.dcm",
                "objectUrl_1": "s3://b/dicom/in/se/v1_1.dcm",
                "objectUrl_2": "s3://b/dicom/in/se/v2_0.dcm",
                "clientMetadata": {"study_instance_uid": "st", "series_instance_uid": "se"}
            }])
        );
        // A manifest with series names (convert --name) titles the series by them.
        let mut named = m.clone();
        for item in &mut named.items {
            item.series_name = Some("CT_2_Chest".into());
        }
        let json = spec(&named, &options).to_json();
        assert_eq!(json["dicom_series"][0]["title"], "CT_2_Chest");
    }

    #[test]
    fn csv_blocks_follow_the_documented_headings() {
        let m = manifest(vec![image("st", "se", 0, 2, 2)], "in", "gs://b");
        assert_eq!(
            spec(&m, &PayloadOptions::default()).to_csv(),
            "ObjectUrl,Image title\ngs://b/st/se/v1/images/00000.png,se_v1_00000.png\n"
        );
        let mut sequence = video("st", "se", "v2", 2);
        sequence.video = None;
        let mut titled = image("st", "se", 1, 2, 2);
        titled.name = "a,\"b\"".into();
        let m = manifest(vec![titled, sequence], "in", "gs://b");
        assert_eq!(
            spec(&m, &PayloadOptions::default()).to_csv(),
            "ObjectUrl,Image group title,Create video\n\
             gs://b/st/se/v2/frames/hq/00000.png,se_v2,true\n\
             gs://b/st/se/v2/frames/hq/00001.png,se_v2,true\n\
             ObjectUrl,Image title,Create video\n\
             gs://b/st/se/v1/images/00001.png,\"a,\"\"b\"\"\",false\n"
        );
    }

    #[test]
    fn a_local_destination_cannot_give_object_urls() {
        let m = manifest(vec![image("st", "se", 0, 2, 2)], "in", "/tmp/out");
        let err = build_encord(&m, &PayloadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("--destination"), "{err}");
    }
}
