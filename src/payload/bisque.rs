//! BisQue (bisque-upload-via-python): the rendered images to upload with a multipart POST to
//! `BASE/import/transfer`, the resource URI in each upload's XML response, and the dataset XML
//! made of those URIs for `BASE/data_service/dataset`.
//!
//! The document's dataset XML lost its tags in the copy we have; its code builds
//! `<dataset name="NAME">`, then one `<value index="I" type="object">URI</value>` per file,
//! then `</dataset>`, which is BisQue's dataset resource form.

use serde::{Deserialize, Serialize};

use super::PayloadOptions;
use crate::contract::manifest::{ItemKind, Manifest};
use crate::naming::{NAME_MAX_BYTES, deduplicate, truncate_utf8};

/// Extension of uploaded images (PNG frames and images) and slides (pyramidal TIFF).
const PNG: &str = ".png";
const TIFF: &str = ".tif";

/// Dataset name used when none is given.
pub const DEFAULT_DATASET: &str = "dicomprep";

/// What `register bisque` uploads, in order: every image item's PNG, every video item's HQ
/// frames (slice order) and every slide's `slide.tif`, under one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BisquePlan {
    pub dataset: String,
    pub images: Vec<BisqueImage>,
}

/// One image to upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BisqueImage {
    /// Key relative to the manifest's destination.
    pub key: String,
    /// The name BisQue shows (unique within the plan).
    pub file_name: String,
}

/// Lists the images to upload: an image item under its name, a video item's frames under its
/// name with `_00001.png`, `_00002.png`… in place of `.mp4` (the name shortened to stay within
/// [`NAME_MAX_BYTES`]); names are made unique with [`deduplicate`], by plan order.
pub fn build_bisque_plan(manifest: &Manifest, options: &PayloadOptions) -> BisquePlan {
    let mut images: Vec<(BisqueImage, &str)> = Vec::new();
    // NIfTI-only items have no pictures to show.
    for item in manifest.items.iter().filter(|i| i.kind != ItemKind::Volume) {
        // A slide goes up as its pyramid, which BisQue's image service tiles itself.
        if let (ItemKind::Slide, Some(slide)) = (item.kind, &item.slide) {
            let stem = item.name.trim_end_matches(PNG);
            let room = NAME_MAX_BYTES.saturating_sub(TIFF.len());
            let image = BisqueImage {
                key: slide.pyramid_key.clone(),
                file_name: format!("{}{TIFF}", truncate_utf8(stem, room)),
            };
            images.push((image, TIFF));
            continue;
        }
        for (index, frame) in item.frames.iter().enumerate() {
            let file_name = match item.kind {
                ItemKind::Video => {
                    let suffix = format!("_{:05}{PNG}", index + 1);
                    let stem = item.name.trim_end_matches(".mp4");
                    let room = NAME_MAX_BYTES.saturating_sub(suffix.len());
                    format!("{}{suffix}", truncate_utf8(stem, room))
                }
                _ => item.name.clone(),
            };
            let image = BisqueImage {
                key: frame.hq_key.clone(),
                file_name,
            };
            images.push((image, PNG));
        }
    }
    let entries: Vec<_> = images
        .iter()
        .enumerate()
        .map(|(order, (image, extension))| (image.file_name.clone(), *extension, order))
        .collect();
    let names = deduplicate(&entries);
    let images: Vec<BisqueImage> = images
        .into_iter()
        .zip(names)
        .map(|((image, _), file_name)| BisqueImage { file_name, ..image })
        .collect();
    let dataset = if options.bisque_dataset.is_empty() {
        DEFAULT_DATASET.to_string()
    } else {
        options.bisque_dataset.clone()
    };
    BisquePlan { dataset, images }
}

/// The dataset resource listing `uris` in order.
pub fn dataset_xml(name: &str, uris: &[String]) -> String {
    let mut xml = format!("<dataset name=\"{}\">", escape(name));
    for (index, uri) in uris.iter().enumerate() {
        xml.push_str(&format!(
            "<value index=\"{index}\" type=\"object\">{}</value>",
            escape(uri)
        ));
    }
    xml.push_str("</dataset>");
    xml
}

/// The `uri` of the first resource element other than the `<resource>` wrapper of an
/// import or data-service response (the wrapper's `uri` is a query, not the resource).
pub fn resource_uri(response: &str) -> Option<String> {
    response.split('<').skip(1).find_map(|tag| {
        let tag = tag.split('>').next()?;
        let name = tag.split_whitespace().next()?;
        if name.starts_with(['/', '?', '!']) || name == "resource" {
            return None;
        }
        let (_, rest) = tag.split_once(" uri=\"")?;
        let (value, _) = rest.split_once('"')?;
        Some(unescape(value))
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::testing::{image, manifest, video};

    #[test]
    fn plan_lists_images_and_every_video_frame_in_order() {
        let m = manifest(
            vec![image("st", "se", 0, 2, 2), video("st", "se", "v2", 2)],
            "in",
            "out",
        );
        let plan = build_bisque_plan(&m, &PayloadOptions::default());
        assert_eq!(plan.dataset, "dicomprep");
        let names: Vec<(&str, &str)> = plan
            .images
            .iter()
            .map(|i| (i.key.as_str(), i.file_name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("st/se/v1/images/00000.png", "se_v1_00000.png"),
                ("st/se/v2/frames/hq/00000.png", "se_v2_00001.png"),
                ("st/se/v2/frames/hq/00001.png", "se_v2_00002.png"),
            ]
        );
    }

    #[test]
    fn a_slide_goes_up_as_its_pyramid() {
        use crate::contract::manifest::SlideEntry;
        let mut slide = image("st", "se", 0, 2, 2);
        slide.kind = ItemKind::Slide;
        slide.name = "SM_1_slide.png".into();
        slide.slide = Some(SlideEntry {
            pyramid_key: "st/se/slide/slide.tif".into(),
            pyramid_bytes: 10,
            dzi_key: Some("st/se/slide/slide.dzi".into()),
            dzi_bytes: Some(1),
            dzi_tiles: 1,
            hq_key: "st/se/slide/slide.png".into(),
            lq_key: "st/se/slide/slide.jpg".into(),
            thumbnail_key: "st/se/slide/thumbnail.jpg".into(),
            width: 2,
            height: 2,
            levels: Vec::new(),
            mpp: None,
            objective_power: None,
            optical_path: None,
            focal_plane: 0,
            z_offset: None,
            missing_tiles: 0,
            associated: Vec::new(),
            instances: Vec::new(),
        });
        let plan = build_bisque_plan(
            &manifest(vec![slide], "in", "out"),
            &PayloadOptions::default(),
        );
        assert_eq!(plan.images.len(), 1);
        assert_eq!(plan.images[0].key, "st/se/slide/slide.tif");
        assert_eq!(plan.images[0].file_name, "SM_1_slide.tif");
    }

    #[test]
    fn frame_names_stay_bounded_and_unique() {
        let mut long = video("st", "se", "v2", 2);
        long.name = format!("{}.mp4", "é".repeat(62));
        let mut clash = image("st", "se", 0, 2, 2);
        clash.name = "a_00001.png".into();
        let mut video_a = video("st", "se", "v3", 1);
        video_a.name = "a.mp4".into();
        let m = manifest(vec![long, clash, video_a], "in", "out");
        let plan = build_bisque_plan(&m, &PayloadOptions::default());
        let names: Vec<&str> = plan.images.iter().map(|i| i.file_name.as_str()).collect();
        let stem = "é".repeat(59); // 118 bytes + "_00001.png"
        assert_eq!(
            names,
            [
                format!("{stem}_00001.png").as_str(),
                &format!("{stem}_00002.png"),
                "a_00001.png",
                "a_00001-2.png"
            ]
        );
        assert!(names.iter().all(|n| n.len() <= NAME_MAX_BYTES));
    }

    #[test]
    fn dataset_xml_lists_uris_in_order_escaped() {
        let uris = vec![
            "http://h/data_service/00-a".to_string(),
            "http://h/data_service/00-b?x=1&y=2".to_string(),
        ];
        assert_eq!(
            dataset_xml("CT \"head\"", &uris),
            "<dataset name=\"CT &quot;head&quot;\">\
             <value index=\"0\" type=\"object\">http://h/data_service/00-a</value>\
             <value index=\"1\" type=\"object\">http://h/data_service/00-b?x=1&amp;y=2</value>\
             </dataset>"
        );
    }

    #[test]
    fn resource_uri_of_the_documents_example_response() {
        let response = r#"<resource uri="/ds/image?name=8951_01401.tif&amp;wpublic=None&amp;format=None&amp;tag_query=&amp;limit=1000000&amp;offset=0&amp;tag_order=&amp;view=short">
<image created="2015-02-25T06:58:26" name="8951_01401.tif" owner="http://hawking.ebme.CWRU.Edu:8080/data_service/00-zFzVh6LJFDGHbEvkDyNEiS" permission="private" resource_uniq="00-zRJsRZfHvhdjao4XtseDVG" ts="2015-02-25T06:58:26" uri="http://hawking.ebme.CWRU.Edu:8080/data_service/00-zRJsRZfHvhdjao4XtseDVG" value="file://admin/8951_01401.tif"/>
</resource>"#;
        assert_eq!(
            resource_uri(response).as_deref(),
            Some("http://hawking.ebme.CWRU.Edu:8080/data_service/00-zRJsRZfHvhdjao4XtseDVG")
        );
        assert_eq!(resource_uri("<resource uri=\"/x\"></resource>"), None);
        assert_eq!(resource_uri("not xml"), None);
    }
}
