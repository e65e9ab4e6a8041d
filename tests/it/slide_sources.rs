//! Whole-slide images from every kind of source, each against the same slide read from a
//! folder: a DICOMweb service (Orthanc; levels read by frame-level WADO-RS) and a bucket (moto
//! S3; levels streamed to a temporary file and read tile by tile, the pyramid uploaded from a
//! staged file).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::emulators::{S3, TestStore};
use crate::orthanc::Orthanc;
use crate::slides::{convert, generated, oracle, slide_item};
use crate::util::{all_files, request_lines, run};

#[test]
fn a_slide_from_dicomweb_is_read_frame_by_frame_into_the_same_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (src, _) = generated(
        dir.path(),
        "web",
        &[
            "--width",
            "1300",
            "--height",
            "900",
            "--levels",
            "3",
            "--organization",
            "sparse",
            "--drop-tiles",
            "2",
            "--concatenate",
            "2",
            "--label",
            "--overview",
            "--seed",
            "11",
        ],
    );
    let local = dir.path().join("local");
    // The overview (declaring burned-in text) is kept, to be retrieved whole.
    let (manifest, _) = convert(&src, &local, &["--burned-in", "keep"]);
    let slide = slide_item(&manifest)["slide"].clone();
    assert_eq!(slide["associated"][0]["kind"], "overview");

    let orthanc = Orthanc::start(None);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    orthanc.load(&files);
    let web = dir.path().join("web");
    let url = orthanc.url();
    let args = [
        "convert",
        url.as_str(),
        "--dest",
        web.to_str().unwrap(),
        "-q",
        "--debug-requests",
        "--burned-in",
        "keep",
    ];
    let output = run(&args);
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    // The levels' four instances are read by frames, a batch per request; only the overview
    // is retrieved whole (the label is skipped before anything is read).
    let requests = request_lines(&output);
    let gets = |part: &str| requests.iter().filter(|r| r.contains(part)).count();
    assert!(gets("/frames/") >= 4, "{requests:#?}");
    let whole: Vec<&String> = requests
        .iter()
        .filter(|r| {
            r.contains("/instances/") && !r.contains("/frames/") && !r.contains("/metadata")
        })
        .collect();
    assert_eq!(whole.len(), 1, "{whole:#?}");

    // Byte for byte the outputs the files give, which OpenSlide reads as the DICOM.
    let web_manifest: Value =
        serde_json::from_slice(&std::fs::read(web.join("manifest.json")).unwrap()).unwrap();
    let web_slide = &slide_item(&web_manifest)["slide"];
    assert_eq!(web_slide["levels"], slide["levels"]);
    assert_eq!(web_slide["missing_tiles"], 2);
    let prefix = Path::new(slide["pyramid_key"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let written = all_files(&local.join(&prefix));
    assert!(written.len() > 20, "{written:?}");
    for file in &written {
        let (a, b) = (local.join(&prefix).join(file), web.join(&prefix).join(file));
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap_or_default(),
            "{file} differs from the DICOMweb run"
        );
    }
    let pyramid = web.join(web_slide["pyramid_key"].as_str().unwrap());
    let compared = oracle(&[
        OsStr::new("compare-regions"),
        src.as_os_str(),
        pyramid.as_os_str(),
        OsStr::new("--regions"),
        OsStr::new("6"),
        OsStr::new("--size"),
        OsStr::new("200"),
    ]);
    assert_eq!(compared["pass"], true, "{compared}");
}

#[test]
fn a_slide_read_from_and_written_to_a_bucket_is_the_one_of_folders() {
    // From the bucket each level is streamed into a temporary file and read tile by tile;
    // into the bucket the pyramid is written into a staged file and uploaded from it.
    let dir = tempfile::tempdir().unwrap();
    let (src, _) = generated(
        dir.path(),
        "bucket",
        &[
            "--width",
            "900",
            "--height",
            "700",
            "--levels",
            "2",
            "--concatenate",
            "2",
            "--seed",
            "13",
        ],
    );
    let local = dir.path().join("local");
    let (manifest, _) = convert(&src, &local, &[]);
    let slide = &slide_item(&manifest)["slide"];
    let s3 = S3::start("slides");
    let input = s3.bucket("in");
    for file in all_files(&src) {
        input
            .put(&file, std::fs::read(src.join(&file)).unwrap())
            .unwrap();
    }
    let output = crate::util::dicomprep()
        .args(["convert", &s3.url("in"), "--dest", &s3.url("out"), "-q"])
        .envs(s3.env())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let bucket = s3.bucket("out");
    for name in ["pyramid_key", "hq_key", "thumbnail_key", "dzi_key"] {
        let key = slide[name].as_str().unwrap();
        let stored = bucket.get(key).unwrap().expect(key);
        assert!(
            stored.to_vec() == std::fs::read(local.join(key)).unwrap(),
            "{key} differs from the folder's"
        );
    }
}

#[test]
fn jpeg_2000_and_native_slides_from_dicomweb_equal_the_folders_run() {
    // Frames of other codings: JPEG 2000 tiles of 240 x 200 (decoded, encoded once) and
    // highdicom's native RGB tiles, each part naming its own transfer syntax.
    let dir = tempfile::tempdir().unwrap();
    let (j2k, _) = generated(
        dir.path(),
        "j2k",
        &[
            "--width", "700", "--height", "500", "--levels", "2", "--tile", "240x200", "--codec",
            "jpeg2000", "--seed", "5",
        ],
    );
    std::fs::copy(
        crate::util::data("slides/highdicom/sm_image.dcm"),
        j2k.join("sm_image.dcm"),
    )
    .unwrap();
    let local = dir.path().join("local");
    let (manifest, _) = convert(&j2k, &local, &[]);
    let orthanc = Orthanc::start(None);
    let files: Vec<PathBuf> = all_files(&j2k).iter().map(|f| j2k.join(f)).collect();
    orthanc.load(&files);
    let web = dir.path().join("web");
    let url = orthanc.url();
    let output = run(&[
        "convert",
        url.as_str(),
        "--dest",
        web.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let slides: Vec<&Value> = manifest["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "slide")
        .collect();
    assert_eq!(slides.len(), 2, "{manifest}");
    for slide in slides {
        let prefix = Path::new(slide["slide"]["pyramid_key"].as_str().unwrap())
            .parent()
            .unwrap()
            .to_path_buf();
        for file in all_files(&local.join(&prefix)) {
            let (a, b) = (
                local.join(&prefix).join(&file),
                web.join(&prefix).join(&file),
            );
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap_or_default(),
                "{file} differs from the DICOMweb run"
            );
        }
    }
}
