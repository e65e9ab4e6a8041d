//! V7 Darwin `register_existing_readonly` body (darwin-external-storage-registration,
//! "Read-Only Registration"; the v2 video slot per shared/notes/landscape.md 1.3b).
//!
//! Schema v1: an image item is `{path, type: "image", storage_key, storage_thumbnail_key,
//! height, width, name}`; a video item is `{path, type: "video", storage_key,
//! storage_thumbnail_key, name, sections: [{section_index, height, width, storage_hq_key,
//! storage_lq_key}]}` with `section_index` 1 for the first slice. With `slots`, one item per
//! study holds each volume as a slot (`slot_name` "0", "1"..., `file_name`: the item's name).
//!
//! Schema v2: every item is slotted; a video slot carries `native_fps`, `visible_frames`,
//! `total_frames`, `hls_segments` (playlists with storage keys substituted), the sections key
//! prefix and the frames manifest key; an image slot adds `size_bytes`.

use serde::{Deserialize, Serialize};

use super::darwin::{DarwinPayload, item_path, study_path};
use super::keys::darwin_storage_key;
use super::{PayloadError, PayloadOptions, Schema, destination, group_items};
use crate::contract::manifest::{HlsRendition, Item, ItemKind, Manifest};
use crate::store::Location;

/// A read-only item: one file (`file`), or `slots`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadonlyItem {
    pub path: String,
    pub name: String,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub file: Option<ReadonlyFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<ReadonlySlot>,
}

/// An image or a video with pre-rendered sections (schema v1; v2 images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadonlyFile {
    /// `image` or `video`.
    #[serde(rename = "type")]
    pub kind: String,
    pub storage_key: String,
    pub storage_thumbnail_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Schema v2 images: the file's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<Section>>,
}

/// One slice of a video: its HQ and LQ frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// 1 for the first slice.
    pub section_index: u32,
    pub height: u32,
    pub width: u32,
    pub storage_hq_key: String,
    pub storage_lq_key: String,
}

/// A slot of a multi-slot item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadonlySlot {
    pub slot_name: String,
    /// The item's name (`convert --name`).
    pub file_name: String,
    #[serde(flatten)]
    pub content: SlotContent,
}

/// What a slot shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SlotContent {
    /// A schema v2 video.
    Video(Box<VideoSlot>),
    /// An image, or a schema v1 video with sections.
    File(ReadonlyFile),
}

/// The read-only video slot of schema v2 (SECTIONED_V2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoSlot {
    /// Always `video`.
    #[serde(rename = "type")]
    pub kind: String,
    pub storage_key: String,
    pub width: u32,
    pub height: u32,
    pub native_fps: f64,
    pub visible_frames: u64,
    pub total_frames: u64,
    pub hls_segments: HlsSegments,
    pub storage_sections_key_prefix: String,
    pub storage_sections_key_extension: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_low_quality_sections_key_prefix: Option<String>,
    pub storage_thumbnail_key: String,
    pub storage_frames_manifest_key: String,
    pub size_bytes: u64,
}

/// `hls_segments`: both renditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HlsSegments {
    pub high_quality: HlsIndex,
    pub low_quality: HlsIndex,
}

/// One rendition: the playlist text with storage keys as segment URIs, and its bitrate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HlsIndex {
    pub index: String,
    pub bitrate: u64,
}

/// Builds the read-only registration body.
pub fn build_darwin_readonly(
    manifest: &Manifest,
    options: &PayloadOptions,
) -> Result<DarwinPayload<ReadonlyItem>, PayloadError> {
    let dest = destination(manifest, options)?;
    let items = if options.slots {
        group_items(&manifest.items, |item| &item.study_instance_uid)
            .into_iter()
            .map(|study| {
                let slots = study
                    .iter()
                    .enumerate()
                    .map(|(index, item)| slot(item, index, dest, options.schema))
                    .collect::<Result<_, _>>()?;
                Ok(ReadonlyItem {
                    path: study_path(study[0], options.path_from),
                    name: study[0].study_instance_uid.clone(),
                    file: None,
                    slots,
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        manifest
            .items
            .iter()
            .map(|item| {
                let path = item_path(item, options.path_from);
                Ok(match options.schema {
                    Schema::V1 => ReadonlyItem {
                        path,
                        name: item.name.clone(),
                        file: Some(file_v1(item, dest)?),
                        slots: vec![],
                    },
                    Schema::V2 => ReadonlyItem {
                        path,
                        name: item.name.clone(),
                        file: None,
                        slots: vec![slot(item, 0, dest, Schema::V2)?],
                    },
                })
            })
            .collect::<Result<_, _>>()?
    };
    Ok(DarwinPayload {
        items,
        dataset_slug: options.dataset_slug.clone(),
        storage_slug: options.storage_slug.clone(),
        options: None,
    })
}

/// The slot `index` of a multi-slot item, showing `item`.
fn slot(
    item: &Item,
    index: usize,
    dest: &Location,
    schema: Schema,
) -> Result<ReadonlySlot, PayloadError> {
    let content = match (schema, item.kind) {
        (Schema::V2, ItemKind::Video) => SlotContent::Video(Box::new(video_slot(item, dest)?)),
        (Schema::V2, ItemKind::Image | ItemKind::Slide) => SlotContent::File(ReadonlyFile {
            size_bytes: item.frames.first().map(|frame| frame.hq_bytes),
            ..file_v1(item, dest)?
        }),
        (_, ItemKind::Volume) => return Err(PayloadError::no_pictures(item)),
        (Schema::V1, _) => SlotContent::File(file_v1(item, dest)?),
    };
    Ok(ReadonlySlot {
        slot_name: index.to_string(),
        file_name: item.name.clone(),
        content,
    })
}

/// An image, or a video with one section per slice.
fn file_v1(item: &Item, dest: &Location) -> Result<ReadonlyFile, PayloadError> {
    let (kind, height, width, sections) = match item.kind {
        ItemKind::Image => ("image", Some(item.height), Some(item.width), None),
        // A slide is registered as the picture of the whole slide (its one frame).
        ItemKind::Slide => {
            let picture = item
                .frames
                .first()
                .ok_or_else(|| PayloadError::no_pictures(item))?;
            ("image", Some(picture.height), Some(picture.width), None)
        }
        ItemKind::Video => {
            require_mp4(item)?;
            ("video", None, None, Some(sections(item, dest)?))
        }
        ItemKind::Volume => return Err(PayloadError::no_pictures(item)),
    };
    Ok(ReadonlyFile {
        kind: kind.into(),
        storage_key: darwin_storage_key(dest, &item.storage_key),
        storage_thumbnail_key: darwin_storage_key(dest, &item.thumbnail_key),
        height,
        width,
        size_bytes: None,
        sections,
    })
}

/// One section per frame, in slice order, `section_index` from 1.
fn sections(item: &Item, dest: &Location) -> Result<Vec<Section>, PayloadError> {
    item.frames
        .iter()
        .enumerate()
        .map(|(index, frame)| {
            let lq = frame.lq_key.as_deref().ok_or_else(|| PayloadError::Item {
                item: item.name.clone(),
                reason: format!("frame {} has no LQ key (lq_key)", index + 1),
            })?;
            Ok(Section {
                section_index: index as u32 + 1,
                height: frame.height,
                width: frame.width,
                storage_hq_key: darwin_storage_key(dest, &frame.hq_key),
                storage_lq_key: darwin_storage_key(dest, lq),
            })
        })
        .collect()
}

/// The schema v2 video slot of `item`, from its HLS outputs.
fn video_slot(item: &Item, dest: &Location) -> Result<VideoSlot, PayloadError> {
    let video = require_mp4(item)?;
    let hls = item.hls.as_ref().ok_or_else(|| PayloadError::Item {
        item: item.name.clone(),
        reason: "no HLS outputs (hls) for --schema v2; convert with --hls, or use --schema v1"
            .into(),
    })?;
    let key = |relative: &str| darwin_storage_key(dest, relative);
    let index = |rendition: &HlsRendition| HlsIndex {
        index: playlist(rendition, dest),
        bitrate: rendition.bitrate,
    };
    Ok(VideoSlot {
        kind: "video".into(),
        storage_key: key(&item.storage_key),
        width: video.width,
        height: video.height,
        native_fps: hls.native_fps,
        visible_frames: hls.visible_frames,
        total_frames: hls.total_frames,
        hls_segments: HlsSegments {
            high_quality: index(&hls.high_quality),
            low_quality: index(&hls.low_quality),
        },
        storage_sections_key_prefix: key(&hls.sections_key_prefix),
        storage_sections_key_extension: hls.sections_key_extension.clone(),
        storage_low_quality_sections_key_prefix: hls
            .low_quality_sections_key_prefix
            .as_deref()
            .map(key),
        storage_thumbnail_key: key(&item.thumbnail_key),
        storage_frames_manifest_key: key(&hls.frames_manifest_key),
        size_bytes: video.file_size,
    })
}

/// A VOD playlist whose segment URIs are the segments' storage keys.
fn playlist(rendition: &HlsRendition, dest: &Location) -> String {
    let target = rendition
        .segments
        .iter()
        .map(|segment| segment.duration)
        .fold(0.0_f64, f64::max)
        .ceil();
    let mut text = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n"
    );
    for segment in &rendition.segments {
        text.push_str(&format!(
            "#EXTINF:{:.6},\n{}\n",
            segment.duration,
            darwin_storage_key(dest, &segment.key)
        ));
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

/// The MP4 of a video item (Darwin registers the video file itself).
fn require_mp4(item: &Item) -> Result<&crate::contract::manifest::VideoEntry, PayloadError> {
    item.video.as_ref().ok_or_else(|| PayloadError::Item {
        item: item.name.clone(),
        reason: format!(
            "no MP4 ({}) was written (convert --no-mp4?); Darwin video items need it: convert again without --no-mp4",
            item.storage_key
        ),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::contract::manifest::{HlsEntry, HlsSegment};
    use crate::payload::PathFrom;
    use crate::payload::testing::{image, manifest, video};

    fn body(m: &Manifest, options: &PayloadOptions) -> Value {
        serde_json::to_value(build_darwin_readonly(m, options).unwrap()).unwrap()
    }

    fn slugs() -> PayloadOptions {
        PayloadOptions {
            dataset_slug: "ds".into(),
            storage_slug: "store".into(),
            ..PayloadOptions::default()
        }
    }

    #[test]
    fn image_item_fields() {
        let m = manifest(vec![image("st", "se", 3, 640, 480)], "in", "s3://b/out");
        let b = body(&m, &slugs());
        assert_eq!(b["dataset_slug"], "ds");
        assert_eq!(b["storage_slug"], "store");
        assert!(b.get("options").is_none());
        assert_eq!(
            b["items"][0],
            json!({
                "path": "/",
                "type": "image",
                "storage_key": "out/st/se/v1/images/00003.png",
                "storage_thumbnail_key": "out/st/se/v1/thumbnails/00003.jpg",
                "height": 480,
                "width": 640,
                "name": "se_v1_00003.png"
            })
        );
    }

    #[test]
    fn a_slide_is_registered_as_the_picture_of_the_whole_slide() {
        // The item is level 0's size; its one frame (the picture Darwin shows) is smaller.
        let mut slide = image("st", "se", 0, 8192, 6144);
        slide.kind = ItemKind::Slide;
        (slide.width, slide.height) = (20000, 15000);
        let m = manifest(vec![slide], "in", "s3://b/out");
        let item = &body(&m, &slugs())["items"][0];
        assert_eq!(item["type"], "image");
        assert_eq!(
            (&item["width"], &item["height"]),
            (&json!(8192), &json!(6144))
        );
        assert_eq!(item["storage_key"], "out/st/se/v1/images/00000.png");
    }

    #[test]
    fn video_sections_start_at_one_in_slice_order_with_each_frame_size() {
        let mut item = video("st", "se", "v2", 3);
        item.frames[1].width = 500;
        let m = manifest(vec![item], "in", "az://cont/out");
        let b = body(&m, &slugs());
        let v = &b["items"][0];
        assert_eq!(v["type"], "video");
        assert_eq!(v["storage_key"], "cont/out/st/se/v2/video.mp4");
        assert_eq!(
            v["storage_thumbnail_key"],
            "cont/out/st/se/v2/thumbnail.jpg"
        );
        assert!(v.get("height").is_none() && v.get("width").is_none());
        let sections = v["sections"].as_array().unwrap();
        assert_eq!(sections.len(), 3);
        for (i, s) in sections.iter().enumerate() {
            assert_eq!(s["section_index"], i + 1);
            assert_eq!(
                s["storage_hq_key"],
                format!("cont/out/st/se/v2/frames/hq/{i:05}.png")
            );
            assert_eq!(
                s["storage_lq_key"],
                format!("cont/out/st/se/v2/frames/lq/{i:05}.jpg")
            );
            assert_eq!(s["height"], 256);
        }
        assert_eq!(sections[1]["width"], 500);
    }

    #[test]
    fn paths_follow_path_from() {
        let m = manifest(vec![image("st", "se", 0, 1, 1)], "in", "s3://b");
        let b = body(
            &m,
            &PayloadOptions {
                path_from: PathFrom::Series,
                ..slugs()
            },
        );
        assert_eq!(b["items"][0]["path"], "/st/se");
    }

    #[test]
    fn slots_put_a_studys_volumes_side_by_side() {
        let items = vec![
            video("st1", "a", "v1", 2),
            image("st2", "c", 0, 8, 8),
            video("st1", "b", "v1", 2),
        ];
        let m = manifest(items, "in", "gs://b");
        let b = body(
            &m,
            &PayloadOptions {
                slots: true,
                path_from: PathFrom::Study,
                ..slugs()
            },
        );
        let items = b["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["name"], "st1");
        assert_eq!(items[0]["path"], "/st1");
        assert!(items[0].get("type").is_none());
        let slots = items[0]["slots"].as_array().unwrap();
        assert_eq!(slots[0]["slot_name"], "0");
        assert_eq!(slots[1]["slot_name"], "1");
        // Slots are named as their items (`convert --name`).
        assert_eq!(slots[1]["file_name"], "b_v1.mp4");
        assert_eq!(slots[1]["storage_key"], "st1/b/v1/video.mp4");
        assert_eq!(slots[1]["sections"][1]["section_index"], 2);
        assert_eq!(items[1]["slots"][0]["file_name"], "c_v1_00000.png");
        assert_eq!(items[1]["slots"][0]["width"], 8);
    }

    #[test]
    fn video_without_mp4_or_lq_frames_is_an_error_naming_the_item() {
        let mut item = video("st", "se", "v1", 2);
        item.video = None;
        let m = manifest(vec![item], "in", "s3://b");
        let err = build_darwin_readonly(&m, &slugs()).unwrap_err();
        assert!(err.to_string().contains("se_v1.mp4") && err.to_string().contains("--no-mp4"));
        let mut item = video("st", "se", "v1", 2);
        item.frames[1].lq_key = None;
        let m = manifest(vec![item], "in", "s3://b");
        let err = build_darwin_readonly(&m, &slugs()).unwrap_err();
        assert!(err.to_string().contains("frame 2"), "{err}");
    }

    fn with_hls(mut item: Item) -> Item {
        let rendition = |quality: &str, bitrate| HlsRendition {
            index_key: format!("st/se/v1/segments/{quality}/index.m3u8"),
            bitrate,
            segments: vec![
                HlsSegment {
                    key: format!("st/se/v1/segments/{quality}/000000000.ts"),
                    duration: 2.0,
                },
                HlsSegment {
                    key: format!("st/se/v1/segments/{quality}/000000001.ts"),
                    duration: 1.0,
                },
            ],
        };
        item.hls = Some(HlsEntry {
            native_fps: 10.0,
            visible_frames: 30,
            total_frames: 30,
            high_quality: rendition("high", 800_000),
            low_quality: rendition("low", 100_000),
            sections_key_prefix: "st/se/v1/sections/high".into(),
            sections_key_extension: "png".into(),
            low_quality_sections_key_prefix: Some("st/se/v1/sections/low".into()),
            frames_manifest_key: "st/se/v1/frames_manifest.txt".into(),
        });
        item
    }

    #[test]
    fn schema_v2_video_slot_fields() {
        let m = manifest(
            vec![with_hls(video("st", "se", "v1", 30))],
            "in",
            "s3://b/test/prefix",
        );
        let b = body(
            &m,
            &PayloadOptions {
                schema: Schema::V2,
                ..slugs()
            },
        );
        let item = &b["items"][0];
        assert_eq!(item["path"], "/");
        assert_eq!(item["name"], "se_v1.mp4");
        let hq_index = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
            #EXTINF:2.000000,\ntest/prefix/st/se/v1/segments/high/000000000.ts\n\
            #EXTINF:1.000000,\ntest/prefix/st/se/v1/segments/high/000000001.ts\n#EXT-X-ENDLIST\n";
        assert_eq!(
            item["slots"][0],
            json!({
                "slot_name": "0",
                "file_name": "se_v1.mp4",
                "type": "video",
                "storage_key": "test/prefix/st/se/v1/video.mp4",
                "width": 512,
                "height": 256,
                "native_fps": 10.0,
                "visible_frames": 30,
                "total_frames": 30,
                "hls_segments": {
                    "high_quality": {"index": hq_index, "bitrate": 800000},
                    "low_quality": {
                        "index": hq_index.replace("/high/", "/low/"),
                        "bitrate": 100000
                    }
                },
                "storage_sections_key_prefix": "test/prefix/st/se/v1/sections/high",
                "storage_sections_key_extension": "png",
                "storage_low_quality_sections_key_prefix": "test/prefix/st/se/v1/sections/low",
                "storage_thumbnail_key": "test/prefix/st/se/v1/thumbnail.jpg",
                "storage_frames_manifest_key": "test/prefix/st/se/v1/frames_manifest.txt",
                "size_bytes": 5468
            })
        );
        for rejected in ["fps", "as_frames", "sections"] {
            assert!(item["slots"][0].get(rejected).is_none(), "{rejected}");
        }
    }

    #[test]
    fn schema_v2_image_slot_and_missing_hls() {
        let m = manifest(vec![image("st", "se", 0, 7, 5)], "in", "s3://b");
        let b = body(
            &m,
            &PayloadOptions {
                schema: Schema::V2,
                ..slugs()
            },
        );
        assert_eq!(
            b["items"][0]["slots"][0],
            json!({
                "slot_name": "0",
                "file_name": "se_v1_00000.png",
                "type": "image",
                "storage_key": "st/se/v1/images/00000.png",
                "storage_thumbnail_key": "st/se/v1/thumbnails/00000.jpg",
                "width": 7,
                "height": 5,
                "size_bytes": 1000
            })
        );
        let m = manifest(vec![video("st", "se", "v1", 2)], "in", "s3://b");
        let options = PayloadOptions {
            schema: Schema::V2,
            ..slugs()
        };
        let err = build_darwin_readonly(&m, &options).unwrap_err();
        assert!(err.to_string().contains("--hls"), "{err}");
    }
}
