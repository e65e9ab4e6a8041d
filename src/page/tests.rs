use super::*;
use crate::contract::manifest::{ContactSheetEntry, FrameEntry, Settings, VideoEntry, WindowUsed};
use crate::contract::order_report::SliceReport;
use crate::order::explain::diagnose;

const HOSTILE: &str = "<script>alert(\"x\")</script>' onload='alert(1)";

fn settings() -> Settings {
    crate::convert::ConvertOptions::default().settings()
}

fn volume(id: &str, slices: usize) -> VolumeReport {
    let slices: Vec<SliceReport> = (0..slices)
        .map(|i| SliceReport {
            path: format!("in/{i}.dcm"),
            frame: 0,
            instance_number: Some(i as i64 + 1),
            position: Some(i as f64 * 2.5),
        })
        .collect();
    let pairs: Vec<(Option<i64>, Option<f64>)> = slices
        .iter()
        .map(|s| (s.instance_number, s.position))
        .collect();
    VolumeReport {
        id: id.into(),
        split_reason: Some(HOSTILE.into()),
        rows: Some(64),
        columns: Some(64),
        normal: None,
        slices,
        diagnostics: Some(diagnose(&pairs)),
    }
}

fn item(series: &str, volume: &str) -> Item {
    let prefix = format!("1.2/{series}/{volume}");
    Item {
        name: format!("{series}_{volume}.mp4"),
        series_name: None,
        kind: ItemKind::Video,
        study_instance_uid: "1.2".into(),
        series_instance_uid: series.into(),
        volume: volume.into(),
        series_number: Some(3),
        series_description: Some(HOSTILE.into()),
        modality: Some("MR".into()),
        width: 64,
        height: 64,
        storage_key: format!("{prefix}/video.mp4"),
        thumbnail_key: format!("{prefix}/thumbnail.jpg"),
        thumbnail_bytes: Some(10),
        frames: vec![FrameEntry {
            path: "in/0.dcm".into(),
            frame: 0,
            hq_key: format!("{prefix}/frames/hq/00000.png"),
            lq_key: Some(format!("{prefix}/frames/lq/00000.jpg")),
            width: 64,
            height: 64,
            hq_bytes: 1,
            lq_bytes: Some(1),
            sop_instance_uid: None,
        }],
        video: Some(VideoEntry {
            fps: 10,
            frame_count: 4,
            duration: 0.4,
            width: 64,
            height: 64,
            file_size: 100,
            mime_type: "video/mp4".into(),
            codec: "h264".into(),
        }),
        window: Some(WindowUsed {
            center: 40.0,
            width: 400.0,
            source: "header".into(),
            chosen_by: Some(HOSTILE.into()),
        }),
        hls: None,
        contact_sheet: Some(ContactSheetEntry {
            key: format!("{prefix}/contact_sheet.jpg"),
            bytes: 5,
            width: 130,
            height: 130,
            columns: 2,
            rows: 2,
            frames: vec![0, 1, 2, 3],
        }),
        nifti: None,
        labels: Vec::new(),
        label_sheet: None,
        crop: None,
        burned_in: None,
        slide: None,
    }
}

fn fixture(volumes: usize) -> (Manifest, OrderReport) {
    let ids: Vec<String> = (0..volumes).map(|v| v.to_string()).collect();
    let manifest = Manifest {
        version: 1,
        settings: settings(),
        source: None,
        destination: None,
        items: ids.iter().map(|id| item("1.2.3", id)).collect(),
        skipped: vec![FileIssue {
            path: format!("{HOSTILE}.txt"),
            reason: "not DICOM".into(),
        }],
        failed: vec![FileIssue {
            path: "bad.dcm".into(),
            reason: HOSTILE.into(),
        }],
    };
    let order = OrderReport {
        source: "in".into(),
        rule: "darwin".into(),
        series: vec![SeriesReport {
            study_instance_uid: "1.2".into(),
            series_instance_uid: "1.2.3".into(),
            series_number: Some(3),
            modality: Some("MR".into()),
            series_description: Some(HOSTILE.into()),
            volumes: ids.iter().map(|id| volume(id, 4)).collect(),
        }],
        skipped: Vec::new(),
        failed: Vec::new(),
    };
    (manifest, order)
}

#[test]
fn header_strings_are_escaped_everywhere() {
    let (manifest, order) = fixture(1);
    let pages = render_pages(&manifest, &order, DEFAULT_PAGE_SIZE);
    assert_eq!(pages.len(), 1);
    let html = &pages[0].1;
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("' onload"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onload=&#39;"));
    assert_eq!(escape("a\u{0}b\n"), "a\u{fffd}b\u{fffd}");
}

#[test]
fn only_keys_the_manifest_names_are_linked() {
    let (manifest, order) = fixture(2);
    let html = &render_pages(&manifest, &order, DEFAULT_PAGE_SIZE)[0].1;
    let named: Vec<String> = manifest
        .items
        .iter()
        .flat_map(|i| i.named_keys().into_iter().map(|k| k.key.to_owned()))
        .chain(["manifest.json".to_owned(), "report.json".to_owned()])
        .collect();
    let mut linked = 0;
    for attribute in ["src=\"./", "href=\"./"] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            let key = &rest[..rest.find('"').unwrap()];
            assert!(named.iter().any(|n| n == key), "{key} is not named");
            linked += 1;
        }
    }
    // Per volume: thumbnail, contact sheet (link + image), video; plus the two records.
    assert_eq!(linked, 2 * 4 + 2);
    assert!(html.contains("<video controls preload=\"metadata\""));
    assert_eq!(html.matches("loading=\"lazy\"").count(), 4);
    assert!(html.contains("InstanceNumber follows the slice positions (ascending"));
    assert!(html.contains("<svg"));
}

#[test]
fn many_volumes_are_paginated_and_issues_close_the_last_page() {
    let (manifest, order) = fixture(5);
    let pages = render_pages(&manifest, &order, 2);
    let keys: Vec<&str> = pages.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["index.html", "index-2.html", "index-3.html"]);
    for (at, (_, html)) in pages.iter().enumerate() {
        let volumes = html.matches("<article class=\"volume\">").count();
        assert_eq!(volumes, if at < 2 { 2 } else { 1 });
        assert!(html.contains("href=\"./index-2.html\"") || at == 1);
        assert_eq!(html.contains("Failed inputs (1)"), at == 2);
    }
}

#[test]
fn keys_become_relative_urls() {
    assert_eq!(href("a b/c?d#e.jpg"), "./a%20b/c%3Fd%23e.jpg");
    assert_eq!(href("/etc/passwd"), "./etc/passwd");
    assert_eq!(href("x\"><script>"), "./x%22%3E%3Cscript%3E");
}

#[test]
fn the_order_page_shows_diagnostics_without_images() {
    let (_, mut order) = fixture(3);
    order.failed.push(FileIssue {
        path: "x.dcm".into(),
        reason: HOSTILE.into(),
    });
    let html = render_order_page(&order);
    assert_eq!(html.matches("<article class=\"volume\">").count(), 3);
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(!html.contains("<img") && !html.contains("<video") && !html.contains("<script"));
    assert!(!html.contains("converted"), "nothing was converted");
    assert!(html.contains("Median slice spacing 2.5 mm"));
    assert!(html.contains("Failed inputs (1)"));
}

#[test]
fn item_names_are_shown() {
    let (mut manifest, order) = fixture(2);
    manifest.items[0].name = "MR_3_T1_axial_0.mp4".into();
    let mut image = item("1.2.3", "1");
    image.kind = ItemKind::Image;
    image.video = None;
    image.contact_sheet = None;
    image.name = "MR_3_T1_axial_1_00000.png".into();
    manifest.items[1] = image;
    let html = &render_pages(&manifest, &order, DEFAULT_PAGE_SIZE)[0].1;
    assert!(
        html.contains("<dt>name</dt><dd>MR_3_T1_axial_0.mp4</dd>"),
        "{html}"
    );
    assert!(
        html.contains("<figcaption>MR_3_T1_axial_1_00000.png</figcaption>"),
        "{html}"
    );
    let template = "names <code>{modality}_{series_number}_{series_description}_{volume}</code>";
    assert!(html.contains(template), "{html}");
}

#[test]
fn burned_in_text_is_flagged_per_volume() {
    let (mut manifest, order) = fixture(3);
    manifest.items[0].burned_in = Some(BurnedIn::Undeclared);
    manifest.items[1].burned_in = Some(BurnedIn::Cropped);
    manifest.items[1].crop = Some(crate::contract::manifest::Crop {
        x: 120,
        y: 60,
        width: 680,
        height: 290,
    });
    let html = &render_pages(&manifest, &order, DEFAULT_PAGE_SIZE)[0].1;
    let notes: Vec<&str> = html
        .split(r#"<p class="burned-in">"#)
        .skip(1)
        .map(|rest| rest.split("</p>").next().unwrap())
        .collect();
    assert_eq!(notes.len(), 2, "{html}");
    assert_eq!(notes[0], "may contain burned-in text (not declared)");
    assert!(notes[1].starts_with("cropped to the ultrasound regions: 680 x 290 from (120, 60)"));
}
