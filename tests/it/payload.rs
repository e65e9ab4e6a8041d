//! Payloads and registration (issue 6): golden payloads hand-built from the platforms'
//! documents, payloads of a real conversion checked against the files written, and the
//! register clients against a local HTTP server on a real socket.

use std::collections::BTreeSet;
use std::path::Path;

use dicomprep::contract::manifest::Manifest;
use dicomprep::payload::{self, PayloadKind, PayloadOptions};
use serde_json::{Value, json};

use crate::register_server::{Server, run_register};
use crate::util::{data, dicomprep, request_lines};

// ---------------------------------------------------------------------------------------------
// Golden payloads: the documents' example bodies, from a manifest describing the same files.

/// A manifest (as `convert` writes it) whose items are given as JSON.
fn manifest_of(destination: Value, source: Value, items: Value) -> Manifest {
    serde_json::from_value(json!({
        "version": 1,
        "settings": {"item_kind": "auto", "window": "header", "rule": "darwin", "lq_quality": 75},
        "source": source,
        "destination": destination,
        "items": items,
        "skipped": [],
        "failed": []
    }))
    .expect("manifest JSON")
}

fn location(scheme: &str, bucket: &str, prefix: &str) -> Value {
    json!({"scheme": scheme, "bucket": bucket, "prefix": prefix})
}

/// An item with the fields the payloads read; `frames` are `(path, hq, lq, width, height)`.
fn item(
    name: &str,
    kind: &str,
    (study, series): (&str, &str),
    (storage_key, thumbnail_key): (&str, &str),
    (width, height): (u32, u32),
    frames: &[(&str, &str, Option<&str>, u32, u32)],
) -> Value {
    let frames: Vec<Value> = frames
        .iter()
        .map(|(path, hq, lq, w, h)| {
            json!({"path": path, "frame": 0, "hq_key": hq, "lq_key": lq, "width": w,
                   "height": h, "hq_bytes": 1})
        })
        .collect();
    let mut item = json!({
        "name": name, "kind": kind, "study_instance_uid": study,
        "series_instance_uid": series, "volume": "v1", "series_number": 1, "modality": "MR",
        "width": width, "height": height, "storage_key": storage_key,
        "thumbnail_key": thumbnail_key, "frames": frames
    });
    if kind == "video" {
        item["video"] = json!({"fps": 10, "frame_count": frames.len(), "duration": 0.2,
            "width": width, "height": height, "file_size": 5468354, "mime_type": "video/mp4",
            "codec": "h264"});
    }
    item
}

fn golden(name: &str) -> Value {
    let path = data(&format!("payload/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn built(kind: PayloadKind, manifest: &Manifest, options: &PayloadOptions) -> Value {
    let files = payload::build(kind, manifest, options).expect("payload builds");
    serde_json::from_slice(&files[0].1).expect("payload is JSON")
}

fn darwin_options(
    dataset: &str,
    storage: &str,
    edit: impl FnOnce(&mut PayloadOptions),
) -> PayloadOptions {
    let mut options = PayloadOptions::default();
    options.dataset_slug = dataset.into();
    options.storage_slug = storage.into();
    edit(&mut options);
    options
}

fn assert_json_eq(actual: &Value, expected: &Value) {
    assert!(
        actual == expected,
        "payload differs from the golden file\n--- actual\n{}\n--- expected\n{}",
        serde_json::to_string_pretty(actual).unwrap(),
        serde_json::to_string_pretty(expected).unwrap()
    );
}

/// Darwin read-only, "The Basics": one image.
#[test]
fn golden_darwin_readonly_image() {
    let m = manifest_of(
        location("s3", "example-bucket", ""),
        Value::Null,
        json!([item(
            "car_1.png",
            "image",
            ("st", "se"),
            ("car_folder/car_1.png", "thumbnails/car_1_thumbnail.png"),
            (1920, 1080),
            &[("in/1.dcm", "car_folder/car_1.png", None, 1920, 1080)]
        )]),
    );
    let options = darwin_options(
        "your-dataset-slug-here",
        "your-storage-bucket-name-here",
        |_| {},
    );
    assert_json_eq(
        &built(PayloadKind::DarwinReadonly, &m, &options),
        &golden("darwin-readonly-image.json"),
    );
}

fn car_video() -> Value {
    item(
        "car_video.mp4",
        "video",
        ("cars", "se"),
        (
            "video_folder/car_video.mp4",
            "thumbnails/car_video_thumbnail.png",
        ),
        (1920, 1080),
        &[
            (
                "in/1.dcm",
                "video_folder/car_video/frame_1_hq.png",
                Some("video_folder/car_video/frame_1_lq.png"),
                1920,
                1080,
            ),
            (
                "in/2.dcm",
                "video_folder/car_video/frame_2_hq.png",
                Some("video_folder/car_video/frame_2_lq.png"),
                1920,
                1080,
            ),
        ],
    )
}

/// Darwin read-only, "Registering Videos": sections from 1.
#[test]
fn golden_darwin_readonly_video() {
    let m = manifest_of(
        location("gs", "example-bucket", ""),
        Value::Null,
        json!([car_video()]),
    );
    let options = darwin_options(
        "your-dataset-slug-here",
        "your-storage-bucket-name-here",
        |_| {},
    );
    assert_json_eq(
        &built(PayloadKind::DarwinReadonly, &m, &options),
        &golden("darwin-readonly-video.json"),
    );
}

/// Darwin read-only, "Registering files in Multiple Slots" (the document's third slot names
/// its file `cars.mp4` while its key ends in `car_video.mp4`; the document's own rule, "file_name
/// should match the last part of storage_key", is followed).
#[test]
fn golden_darwin_readonly_slots() {
    let image = |n: u32| {
        item(
            &format!("car_{n}.png"),
            "image",
            ("cars", "se"),
            (
                &format!("car_folder/car_{n}.png"),
                &format!("thumbnails/car_{n}_thumbnail.png"),
            ),
            (1920, 1080),
            &[("in/x.dcm", "unused.png", None, 1920, 1080)],
        )
    };
    let m = manifest_of(
        location("s3", "example-bucket", ""),
        Value::Null,
        json!([image(1), image(2), car_video()]),
    );
    let options = darwin_options(
        "your-dataset-slug-here",
        "your-storage-bucket-name-here",
        |o| o.slots = true,
    );
    assert_json_eq(
        &built(PayloadKind::DarwinReadonly, &m, &options),
        &golden("darwin-readonly-slots.json"),
    );
}

/// Darwin read-write, "A series of DICOM slices ... in the same slot_name", with the
/// `ignore_dicom_layout` option of "Uploading DICOM Slices as Series".
#[test]
fn golden_darwin_readwrite_slices() {
    let m = manifest_of(
        location("s3", "out-bucket", "rendered"),
        location("s3", "example-bucket", ""),
        json!([item(
            "my_dicom_series_v1.mp4",
            "video",
            ("st", "my_dicom_series"),
            ("a/video.mp4", "a/thumbnail.jpg"),
            (4, 4),
            &[
                ("dicom_slices/slice_1.dcm", "h1.png", Some("l1.jpg"), 4, 4),
                ("dicom_slices/slice_2.dcm", "h2.png", Some("l2.jpg"), 4, 4),
                ("dicom_slices/slice_3.dcm", "h3.png", Some("l3.jpg"), 4, 4),
            ]
        )]),
    );
    let options = darwin_options(
        "your-dataset-slug-here",
        "your-storage-bucket-name-here",
        |o| o.ignore_dicom_layout = true,
    );
    assert_json_eq(
        &built(PayloadKind::DarwinReadwrite, &m, &options),
        &golden("darwin-readwrite-slices.json"),
    );
}

/// Darwin read-write, "Multi-Planar View": `extract_views: "true"` on slot "0" (Azure: the
/// container name leads the key).
#[test]
fn golden_darwin_readwrite_mpr() {
    let m = manifest_of(
        location("az", "out", ""),
        json!({"scheme": "az", "bucket": "mycontainer", "prefix": "", "account": "acct"}),
        json!([item(
            "x.mp4",
            "video",
            ("st", "001.dcm"),
            ("a/video.mp4", "a/thumbnail.jpg"),
            (4, 4),
            &[("001/slice1.dcm", "h1.png", Some("l1.jpg"), 4, 4)]
        )]),
    );
    let options = darwin_options(
        "your-dataset-slug-here",
        "your-storage-bucket-name-here",
        |o| o.extract_views = true,
    );
    assert_json_eq(
        &built(PayloadKind::DarwinReadwrite, &m, &options),
        &golden("darwin-readwrite-mpr.json"),
    );
}

/// Encord, "Multiple file types": 1 image, 2 videos, 2 image sequences and 1 image group at
/// S3 virtual-hosted URLs. The document's example leaves out the optional `title` and
/// `clientMetadata` (and writes `image_groups` twice; here they are one list), so those are
/// removed from the built spec before comparing; they are checked field by field elsewhere.
#[test]
fn golden_encord_multiple_types() {
    // Keys exactly as in the document's URLs.
    let frames = |dir: &str, n: u32| -> Vec<(String, String)> {
        let digit = &dir[..1];
        (32..32 + n)
            .map(|i| {
                (
                    format!("in/{i}.dcm"),
                    format!("food-dataset/Apple/{dir}/{digit}+({i}).jpg"),
                )
            })
            .collect()
    };
    let sequence = |title: &str, dir: &str, n: u32| {
        let frames = frames(dir, n);
        let frames: Vec<(&str, &str, Option<&str>, u32, u32)> = frames
            .iter()
            .map(|(p, k)| (p.as_str(), k.as_str(), Some("lq.jpg"), 4, 4))
            .collect();
        let mut v = item(
            title,
            "video",
            ("st", title),
            ("x/video.mp4", "x/t.jpg"),
            (4, 4),
            &frames,
        );
        v["video"] = Value::Null;
        v
    };
    let video = |name: &str| {
        item(
            name,
            "video",
            ("st", name),
            (name, "t.jpg"),
            (4, 4),
            &[("in/v.dcm", "h.png", Some("l.jpg"), 4, 4)],
        )
    };
    let m = manifest_of(
        json!({"scheme": "s3", "bucket": "cord-dev", "prefix": "", "region": "eu-west-2"}),
        Value::Null,
        json!([
            item(
                "Image1.png",
                "image",
                ("st", "a"),
                ("Image1.png", "t.jpg"),
                (4, 4),
                &[("in/i.dcm", "Image1.png", None, 4, 4)]
            ),
            video("Cooking.mp4"),
            video("Oranges.mp4"),
            sequence("apple-samsung-light", "1-Samsung-S4-Light+Environment", 4),
            sequence("apple-samsung-dark", "2-samsung-S4-Dark+Environment", 4),
        ]),
    );
    let mut spec = built(PayloadKind::Encord, &m, &PayloadOptions::default());
    let mut group_options = PayloadOptions::default();
    group_options.encord_volumes = payload::EncordVolumes::ImageGroup;
    let group = manifest_of(
        m.destination
            .as_ref()
            .map(|d| serde_json::to_value(d).unwrap())
            .unwrap(),
        Value::Null,
        json!([sequence("apple-ios-light", "3-IOS-4-Light+Environment", 2)]),
    );
    let groups = built(PayloadKind::Encord, &group, &group_options);
    spec["image_groups"]
        .as_array_mut()
        .unwrap()
        .extend(groups["image_groups"].as_array().unwrap().iter().cloned());
    for list in ["images", "videos"] {
        for entry in spec[list].as_array_mut().unwrap() {
            let entry = entry.as_object_mut().unwrap();
            assert!(entry.remove("title").is_some() && entry.remove("clientMetadata").is_some());
            assert!(entry.remove("videoMetadata").is_some() == (list == "videos"));
        }
    }
    for entry in spec["image_groups"].as_array_mut().unwrap() {
        assert!(
            entry
                .as_object_mut()
                .unwrap()
                .remove("clientMetadata")
                .is_some()
        );
    }
    assert_json_eq(&spec, &golden("encord-multiple-types.json"));
}

// ---------------------------------------------------------------------------------------------
// Payloads of a real conversion.

/// Converts `src` into `dest` with the real binary.
fn convert(src: &Path, dest: &Path) -> Manifest {
    let out = dicomprep()
        .args([
            "convert",
            src.to_str().unwrap(),
            "--dest",
            dest.to_str().unwrap(),
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap()
}

/// Runs `dicomprep payload <args>` and parses stdout as JSON.
fn payload_json(args: &[&str]) -> Value {
    let out = dicomprep().arg("payload").args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("payload JSON on stdout")
}

/// Width and height from a PNG's IHDR (read here, independently of the code under test).
fn png_size(path: &Path) -> (u64, u64) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{path:?} is a PNG");
    let be = |at: usize| u64::from(u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()));
    (be(16), be(20))
}

fn assert_file(root: &Path, key: &str) {
    assert!(!key.starts_with('/'), "{key} has a leading slash");
    assert!(root.join(key).is_file(), "{key} missing under {root:?}");
}

/// Every object of a Darwin read-only payload: keys exist, sizes are the PNGs' sizes.
fn check_darwin_readonly_file(dest: &Path, file: &Value) {
    for field in ["storage_key", "storage_thumbnail_key"] {
        assert_file(dest, file[field].as_str().unwrap());
    }
    match file["type"].as_str().unwrap() {
        "image" => {
            let size = png_size(&dest.join(file["storage_key"].as_str().unwrap()));
            assert_eq!(
                (
                    file["width"].as_u64().unwrap(),
                    file["height"].as_u64().unwrap()
                ),
                size
            );
        }
        "video" => {
            let sections = file["sections"].as_array().unwrap();
            assert!(!sections.is_empty());
            for (i, section) in sections.iter().enumerate() {
                assert_eq!(section["section_index"], i + 1);
                let hq = section["storage_hq_key"].as_str().unwrap();
                assert_file(dest, hq);
                assert_file(dest, section["storage_lq_key"].as_str().unwrap());
                let size = png_size(&dest.join(hq));
                assert_eq!(
                    (
                        section["width"].as_u64().unwrap(),
                        section["height"].as_u64().unwrap()
                    ),
                    size
                );
            }
        }
        other => panic!("unexpected type {other}"),
    }
}

#[test]
fn payloads_of_a_conversion_reference_existing_files_with_their_real_sizes() {
    // GE CT volumes and a single-slice series: both video and image items.
    let src = data("dicom2nifti/ge");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let manifest = convert(&src, &dest);
    let manifest_path = dest.join("manifest.json");
    let m = manifest_path.to_str().unwrap();
    assert!(manifest.items.iter().any(|i| i.video.is_some()));
    assert!(manifest.items.iter().any(|i| i.video.is_none()));

    // Darwin read-only, one item per volume, and with slots.
    let readonly = payload_json(&[
        "darwin-readonly",
        "-m",
        m,
        "--dataset-slug",
        "d",
        "--storage-slug",
        "s",
    ]);
    let items = readonly["items"].as_array().unwrap();
    assert_eq!(items.len(), manifest.items.len());
    items
        .iter()
        .for_each(|item| check_darwin_readonly_file(&dest, item));
    let slotted = payload_json(&[
        "darwin-readonly",
        "-m",
        m,
        "--slots",
        "--path-from",
        "study",
    ]);
    let studies: BTreeSet<&str> = manifest
        .items
        .iter()
        .map(|i| i.study_instance_uid.as_str())
        .collect();
    assert_eq!(slotted["items"].as_array().unwrap().len(), studies.len());
    for item in slotted["items"].as_array().unwrap() {
        assert_eq!(item["path"], format!("/{}", item["name"].as_str().unwrap()));
        for slot in item["slots"].as_array().unwrap() {
            // Each slot is named as the manifest item it shows (`convert --name`).
            let key = slot["storage_key"].as_str().unwrap();
            let shown = manifest
                .items
                .iter()
                .find(|i| key.ends_with(&i.storage_key));
            assert_eq!(
                slot["file_name"],
                shown.expect("a manifest item").name.as_str()
            );
            check_darwin_readonly_file(&dest, slot);
        }
    }

    // Darwin read-write: the source files, each once, every one existing under SRC.
    let readwrite = payload_json(&[
        "darwin-readwrite",
        "-m",
        m,
        "--source",
        src.to_str().unwrap(),
    ]);
    let mut sources = BTreeSet::new();
    for item in readwrite["items"].as_array().unwrap() {
        for slot in item["slots"].as_array().unwrap() {
            assert_eq!(slot["type"], "dicom");
            let key = slot["storage_key"].as_str().unwrap();
            assert_file(&src, key);
            assert!(sources.insert(key.to_string()), "{key} listed twice");
        }
    }
    let converted: BTreeSet<String> = manifest
        .items
        .iter()
        .flat_map(|i| i.frames.iter().map(|f| f.path.clone()))
        .collect();
    assert_eq!(sources, converted);

    // Encord, as if DEST and SRC were copied to a GCS bucket: every URL maps back to a file.
    let encord = payload_json(&[
        "encord",
        "-m",
        m,
        "--destination",
        "gs://bkt/out",
        "--source",
        "gs://bkt/src",
        "--dicom-series",
        "--skip-duplicate-urls",
    ]);
    assert_eq!(encord["skip_duplicate_urls"], true);
    let in_dest = |url: &Value| {
        let key = url
            .as_str()
            .unwrap()
            .strip_prefix("gs://bkt/out/")
            .expect("destination URL");
        assert_file(&dest, key);
        dest.join(key)
    };
    for video in encord["videos"].as_array().unwrap() {
        let path = in_dest(&video["objectUrl"]);
        let meta = &video["videoMetadata"];
        assert_eq!(meta["file_size"], std::fs::metadata(&path).unwrap().len());
        assert_eq!(meta["mime_type"], "video/mp4");
        assert!(meta["fps"].as_f64().unwrap() > 0.0 && meta["duration"].as_f64().unwrap() > 0.0);
        assert!(video["clientMetadata"]["series_instance_uid"].is_string());
    }
    for image in encord["images"].as_array().unwrap() {
        let path = in_dest(&image["objectUrl"]);
        assert!(image["title"].as_str().unwrap().ends_with(".png"));
        png_size(&path);
    }
    let mut dicom_urls = BTreeSet::new();
    for series in encord["dicom_series"].as_array().unwrap() {
        let urls = series
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("objectUrl_"));
        for (_, url) in urls {
            let key = url.as_str().unwrap().strip_prefix("gs://bkt/src/").unwrap();
            assert_file(&src, key);
            dicom_urls.insert(key.to_string());
        }
    }
    assert_eq!(dicom_urls, converted);

    // BisQue plan: one upload per rendered frame, each a PNG under DEST.
    let bisque = payload_json(&["bisque", "-m", m, "--dataset", "nih"]);
    assert_eq!(bisque["dataset"], "nih");
    let images = bisque["images"].as_array().unwrap();
    let frames: usize = manifest.items.iter().map(|i| i.frames.len()).sum();
    assert_eq!(images.len(), frames);
    for image in images {
        png_size(&dest.join(image["key"].as_str().unwrap()));
    }

    // Dry run: every key exists; after deleting one, the dry run names it and fails.
    let payload_path = dest.join("darwin-readonly.json");
    std::fs::write(&payload_path, serde_json::to_vec(&readonly).unwrap()).unwrap();
    let dry = |extra: &[&str]| {
        dicomprep()
            .args([
                "register",
                "darwin",
                "--payload",
                payload_path.to_str().unwrap(),
                "--team",
                "t",
                "--dry-run",
            ])
            .args(extra)
            .env_remove("DARWIN_API_KEY")
            .output()
            .unwrap()
    };
    let out = dry(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same through the object-store HEAD path (a local folder as the bucket).
    let out = dry(&["--bucket", dest.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let removed = items[0]["sections"][1]["storage_lq_key"].as_str().unwrap();
    std::fs::remove_file(dest.join(removed)).unwrap();
    let out = dry(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("missing: {removed}")), "{stderr}");
    let out = dry(&["--bucket", dest.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("missing: {removed}")), "{stderr}");
    let out = dry(&["--keys-root", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}

// ---------------------------------------------------------------------------------------------
// Register clients against a local HTTP server.

const API_KEY: &str = "sk-test-5f1d0c9e-never-print-me";

#[test]
fn register_darwin_batches_retries_reports_blocked_items_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let manifest = convert(&data("dcm_qa_nih"), &dest);
    let payload = payload_json(&[
        "darwin-readonly",
        "-m",
        dest.join("manifest.json").to_str().unwrap(),
        "--storage-slug",
        "my-storage",
    ]);
    let blocked_name = manifest.items[3].name.clone();
    let payload_path = tmp.path().join("payload.json");
    std::fs::write(&payload_path, serde_json::to_vec(&payload).unwrap()).unwrap();

    let blocked = blocked_name.clone();
    let server = Server::start(move |request, count| {
        // Checked here, on the wire: method, path, key, JSON body.
        let ok = request.method == "POST"
            && request.path == "/api/v2/teams/my-team/items/register_existing_readonly"
            && request.header("authorization") == Some(&format!("ApiKey {API_KEY}"))
            && request.header("content-type") == Some("application/json");
        if !ok {
            return (400, vec![], b"bad request".to_vec());
        }
        if count == 0 {
            return (
                429,
                vec![("Retry-After", "1".to_string())],
                b"slow down".to_vec(),
            );
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let items = body["items"].as_array().unwrap();
        let (blocked_items, registered): (Vec<&Value>, Vec<&Value>) = items
            .iter()
            .partition(|item| item["name"] == blocked.as_str());
        let answer = json!({
            "items": registered.iter().map(|i| json!({"name": i["name"], "id": format!("id-{}", i["name"].as_str().unwrap())})).collect::<Vec<_>>(),
            "blocked_items": blocked_items.iter().map(|i| json!({"name": i["name"], "slots": [{"reason": "ALREADY_EXISTS"}]})).collect::<Vec<_>>(),
        });
        (
            200,
            vec![("Content-Type", "application/json".into())],
            serde_json::to_vec(&answer).unwrap(),
        )
    });

    let result_path = tmp.path().join("result.json");
    let args = [
        "darwin",
        "--payload",
        payload_path.to_str().unwrap(),
        "--team",
        "my-team",
        "--api-url",
        &server.url,
        "--dataset-slug",
        "my-dataset",
        "--result",
        result_path.to_str().unwrap(),
    ];
    let out = run_register(&args, &[("DARWIN_API_KEY", API_KEY)]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(3),
        "blocked items make exit code 3: {stderr}"
    );
    assert!(!stderr.contains(API_KEY) && !stdout.contains(API_KEY));
    assert!(stderr.contains("HTTP 429; retrying"), "{stderr}");
    assert!(
        stderr.contains(&format!("Item {blocked_name} was blocked: ALREADY_EXISTS")),
        "{stderr}"
    );

    let received = server.received();
    let n = manifest.items.len();
    assert_eq!(
        received.len(),
        1 + n.div_ceil(10),
        "one 429, then one request per batch"
    );
    assert_eq!(
        received[0].body, received[1].body,
        "the 429'd batch is sent again"
    );
    let mut sent = Vec::new();
    for request in &received[1..] {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["dataset_slug"], "my-dataset");
        assert_eq!(body["storage_slug"], "my-storage");
        let items = body["items"].as_array().unwrap();
        assert!(!items.is_empty() && items.len() <= 10);
        sent.extend(
            items
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_string()),
        );
    }
    let expected: Vec<String> = manifest.items.iter().map(|i| i.name.clone()).collect();
    assert_eq!(sent, expected, "every item once, in payload order");

    let result: Value = serde_json::from_slice(&std::fs::read(&result_path).unwrap()).unwrap();
    assert_eq!(result["registered"].as_array().unwrap().len(), n - 1);
    assert_eq!(result["registered"][0]["id"], format!("id-{}", expected[0]));
    assert_eq!(result["blocked"][0]["name"], blocked_name.as_str());
    assert_eq!(result["blocked"][0]["reason"], "ALREADY_EXISTS");
    assert!(!String::from_utf8_lossy(&std::fs::read(&result_path).unwrap()).contains(API_KEY));

    // A re-run sends only what is not registered yet: the blocked item.
    let out = run_register(&args, &[("DARWIN_API_KEY", API_KEY)]);
    assert_eq!(out.status.code(), Some(3));
    let received = server.received();
    assert_eq!(received.len(), 2 + n.div_ceil(10));
    let body: Value = serde_json::from_slice(&received.last().unwrap().body).unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["name"], blocked_name.as_str());

    // Without the key nothing is sent and the message says where it comes from.
    let out = run_register(&args, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DARWIN_API_KEY is not set"));
    assert_eq!(server.received().len(), received.len());
}

#[test]
fn register_darwin_refuses_a_payload_without_slugs_and_reports_server_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let payload = tmp.path().join("p.json");
    let body = json!({"items": [{"path": "/", "name": "a", "type": "dicom", "storage_key": "a.dcm"}],
                      "dataset_slug": "", "storage_slug": "s"});
    std::fs::write(&payload, serde_json::to_vec(&body).unwrap()).unwrap();
    let server = Server::start(|request, _| {
        assert_eq!(request.path, "/api/v2/teams/t/items/register_existing");
        (403, vec![], b"{\"errors\":\"forbidden\"}".to_vec())
    });
    let base = [
        "darwin",
        "--payload",
        payload.to_str().unwrap(),
        "--team",
        "t",
        "--api-url",
        &server.url,
    ];
    let out = run_register(&base, &[("DARWIN_API_KEY", API_KEY)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --dataset-slug"));
    assert!(server.received().is_empty());
    let mut args = base.to_vec();
    args.extend(["--dataset-slug", "d"]);
    let out = run_register(&args, &[("DARWIN_API_KEY", API_KEY)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("HTTP 403") && stderr.contains("forbidden"),
        "{stderr}"
    );
    assert!(!stderr.contains(API_KEY));
    assert_eq!(
        server.received().len(),
        1,
        "4xx other than 429 is not retried"
    );
}

#[test]
fn register_bisque_uploads_each_image_then_creates_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let manifest = convert(&data("dcm_qa_nih"), &dest);
    let hq_keys: Vec<String> = manifest
        .items
        .iter()
        .flat_map(|i| i.frames.iter().map(|f| f.hq_key.clone()))
        .collect();
    let server = Server::start(|request, count| {
        if request.header("authorization") != Some("Basic YWxpY2U6czNjcmV0") {
            return (401, vec![], b"who?".to_vec());
        }
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/import/transfer") if count == 0 => (503, vec![], b"busy".to_vec()),
            ("POST", "/import/transfer") => {
                let xml = format!(
                    "<resource uri=\"/ds/image?name=x&amp;view=short\">\n<image name=\"x\" owner=\"http://b/data_service/00-owner\" resource_uniq=\"00-{count}\" uri=\"http://b/data_service/00-{count}\"/>\n</resource>"
                );
                (200, vec![], xml.into_bytes())
            }
            ("POST", "/data_service/dataset") => (
                200,
                vec![],
                b"<dataset name=\"nih\" uri=\"http://b/data_service/00-ds\"/>".to_vec(),
            ),
            _ => (404, vec![], vec![]),
        }
    });
    let result_path = tmp.path().join("bisque-result.json");
    let manifest_path = dest.join("manifest.json");
    let args = [
        "bisque",
        "--manifest",
        manifest_path.to_str().unwrap(),
        "--url",
        &server.url,
        "--user",
        "alice",
        "--dataset",
        "nih",
        "--result",
        result_path.to_str().unwrap(),
    ];
    let out = run_register(&args, &[("BISQUE_PASSWORD", "s3cret")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("HTTP 503; retrying"), "{stderr}");
    assert!(!stderr.contains("s3cret"));

    let received = server.received();
    assert_eq!(
        received.len(),
        1 + hq_keys.len() + 1,
        "a 503, every image, the dataset"
    );
    let uploads = &received[1..=hq_keys.len()];
    for (request, key) in uploads.iter().zip(&hq_keys) {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/import/transfer")
        );
        let content_type = request.header("content-type").unwrap();
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let png = std::fs::read(dest.join(key)).unwrap();
        let head =
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"");
        assert!(request.body.starts_with(head.as_bytes()));
        let mut expected = b"\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
        expected.extend_from_slice(&png);
        expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        assert!(
            request.body.ends_with(&expected),
            "{key}: the file's bytes in one part"
        );
    }
    let dataset = received.last().unwrap();
    assert_eq!(dataset.path, "/data_service/dataset");
    assert_eq!(dataset.header("content-type"), Some("text/xml"));
    let mut xml = String::from("<dataset name=\"nih\">");
    for (index, count) in (1..=hq_keys.len()).enumerate() {
        xml.push_str(&format!(
            "<value index=\"{index}\" type=\"object\">http://b/data_service/00-{count}</value>"
        ));
    }
    xml.push_str("</dataset>");
    assert_eq!(String::from_utf8_lossy(&dataset.body), xml);
    let result: Value = serde_json::from_slice(&std::fs::read(&result_path).unwrap()).unwrap();
    assert_eq!(result["dataset_uri"], "http://b/data_service/00-ds");
    assert_eq!(result["uploaded"].as_array().unwrap().len(), hq_keys.len());

    // A re-run uploads nothing and creates no second dataset.
    let out = run_register(&args, &[("BISQUE_PASSWORD", "s3cret")]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(server.received().len(), received.len());
    // Without the password nothing is sent.
    let out = run_register(&args, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BISQUE_PASSWORD is not set"));
}

#[test]
fn convert_writes_the_payloads_next_to_the_manifest() {
    let dest = tempfile::tempdir().unwrap();
    let bucket = "https://my-bucket.s3.eu-west-1.amazonaws.com/studies";
    let output = dicomprep()
        .args(["convert", "-q"])
        .arg(data("dcm_qa_nih"))
        .arg("--dest")
        .arg(dest.path())
        .args([
            "--payload",
            "darwin-readonly,encord",
            "--payload-destination",
            bucket,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dest.path().join("manifest.json")).unwrap()).unwrap();
    let mut options = PayloadOptions::default();
    options.destination = Some(dicomprep::store::Location::parse(bucket).unwrap());
    for (kind, file) in [
        (PayloadKind::DarwinReadonly, "darwin-readonly.json"),
        (PayloadKind::Encord, "encord.json"),
    ] {
        let written: Value =
            serde_json::from_slice(&std::fs::read(dest.path().join(file)).unwrap()).unwrap();
        assert_json_eq(&written, &built(kind, &manifest, &options));
    }
    // Keys under the bucket prefix, per the S3 rule: no bucket name, no leading slash.
    let darwin: Value =
        serde_json::from_slice(&std::fs::read(dest.path().join("darwin-readonly.json")).unwrap())
            .unwrap();
    let key = darwin["items"][0]["storage_key"].as_str().unwrap();
    assert!(key.starts_with("studies/"), "{key}");
    let local = dest.path().join(key.trim_start_matches("studies/"));
    assert!(local.is_file(), "{key} was written");
}

#[test]
fn schema_v2_payload_of_an_hls_conversion_references_only_written_keys() {
    let dest = tempfile::tempdir().unwrap();
    let output = dicomprep()
        .args(["convert", "-q"])
        .arg(data("pydicom/examples_ybr_color.dcm"))
        .arg("--dest")
        .arg(dest.path())
        .args(["--hls", "--fps", "5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let output = dicomprep()
        .args(["payload", "darwin-readonly", "--schema", "v2", "-m"])
        .arg(dest.path().join("manifest.json"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let payload: Value = serde_json::from_slice(&output.stdout).unwrap();
    let slot = &payload["items"][0]["slots"][0];
    let exists = |key: &str| dest.path().join(key).is_file();
    for field in [
        "storage_key",
        "storage_thumbnail_key",
        "storage_frames_manifest_key",
    ] {
        assert!(exists(slot[field].as_str().unwrap()), "{field}");
    }
    let total = slot["total_frames"].as_u64().unwrap();
    assert_eq!(total, 30);
    for prefix in [
        "storage_sections_key_prefix",
        "storage_low_quality_sections_key_prefix",
    ] {
        let extension = if prefix.contains("low") { "jpg" } else { "png" };
        for frame in 0..total {
            let key = format!("{}/{frame:09}.{extension}", slot[prefix].as_str().unwrap());
            assert!(exists(&key), "{key}");
        }
    }
    for rendition in ["high_quality", "low_quality"] {
        let index = slot["hls_segments"][rendition]["index"].as_str().unwrap();
        let segments: Vec<&str> = index.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(segments.len() >= 2);
        assert!(segments.iter().all(|key| exists(key)), "{index}");
        assert!(slot["hls_segments"][rendition]["bitrate"].as_u64().unwrap() > 0);
    }
}

#[test]
fn debug_requests_of_the_register_clients_log_every_attempt_and_no_secret() {
    const PASSWORD: &str = "ZZplantedBISQUEpassword";
    const URL_PASSWORD: &str = "ZZplantedURLpassword";
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    convert(&data("dicom2nifti/failing/gantrytilting/001"), &dest);
    let manifest_path = dest.join("manifest.json");
    // Every first attempt is refused with a 503, so retries show in the log.
    let server = Server::start(|request, count| match request.path.as_str() {
        _ if count == 0 => (503, vec![], b"busy".to_vec()),
        "/import/transfer" => (
            200,
            vec![],
            format!("<resource><image uri=\"http://b/data_service/00-{count}\"/></resource>")
                .into_bytes(),
        ),
        "/data_service/dataset" => (200, vec![], b"<dataset uri=\"http://b/ds\"/>".to_vec()),
        _ => (200, vec![], b"{}".to_vec()),
    });
    let payload_path = tmp.path().join("payload.json");
    let payload = payload_json(&[
        "darwin-readonly",
        "-m",
        manifest_path.to_str().unwrap(),
        "--storage-slug",
        "s",
        "--dataset-slug",
        "d",
    ]);
    std::fs::write(&payload_path, serde_json::to_vec(&payload).unwrap()).unwrap();
    let darwin = run_register(
        &[
            "darwin",
            "--payload",
            payload_path.to_str().unwrap(),
            "--team",
            "t",
            "--api-url",
            &server.url,
            "--debug-requests",
            "--retry-timeout",
            "30",
        ],
        &[("DARWIN_API_KEY", API_KEY)],
    );
    assert_eq!(darwin.status.code(), Some(0), "{darwin:?}");
    let lines = request_lines(&darwin);
    let endpoint = format!(
        "POST {}/api/v2/teams/t/items/register_existing_readonly",
        server.url
    );
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with(&endpoint), "{}", lines[0]);
    assert!(lines[0].contains(" status=503 ") && lines[0].ends_with(" retry=0"));
    assert!(lines[1].contains(" status=200 ") && lines[1].ends_with(" retry=1"));
    let sent = server.received()[1].body.len();
    assert!(
        lines[1].contains(&format!(" bytes={sent} ")),
        "{}",
        lines[1]
    );

    // BisQue, its base URL carrying a password too.
    let with_password = server
        .url
        .replacen("http://", &format!("http://alice:{URL_PASSWORD}@"), 1);
    let bisque = run_register(
        &[
            "bisque",
            "--manifest",
            manifest_path.to_str().unwrap(),
            "--url",
            &with_password,
            "--user",
            "alice",
            "--debug-requests",
        ],
        &[("BISQUE_PASSWORD", PASSWORD)],
    );
    assert_eq!(bisque.status.code(), Some(0), "{bisque:?}");
    let lines = request_lines(&bisque);
    let received = server.received().len() - 2;
    assert_eq!(lines.len(), received, "one line per request: {lines:#?}");
    let uploads = format!("POST {}/import/transfer ", server.url);
    assert!(lines.iter().filter(|l| l.starts_with(&uploads)).count() >= 4);
    assert!(
        lines
            .last()
            .unwrap()
            .contains("/data_service/dataset status=200")
    );
    for out in [&darwin, &bisque] {
        let text = String::from_utf8_lossy(&out.stderr);
        for secret in [API_KEY, PASSWORD, URL_PASSWORD, "ApiKey", "Basic "] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
