//! The object cache (`convert --cache`) against moto S3, requests counted through
//! `--debug-requests`: a second conversion with other settings fetches no object, and an
//! object changed in the bucket is fetched again.

use std::path::Path;
use std::process::Output;

use crate::emulators::{S3, TestStore};
use crate::util::{data, dicomprep, request_lines};

/// GETs of objects (not listings).
pub(crate) fn object_gets(output: &Output) -> Vec<String> {
    request_lines(output)
        .into_iter()
        .filter(|r| r.starts_with("GET ") && !r.contains("list-type="))
        .collect()
}

/// Files under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn a_second_convert_with_other_settings_fetches_nothing() {
    let s3 = S3::start("cached");
    let bucket = s3.bucket("in");
    let series = data("dicom2nifti/failing/gantrytilting/001");
    let mut sizes = Vec::new();
    for file in files(&series) {
        let bytes = std::fs::read(&file).unwrap();
        sizes.push(bytes.len() as u64);
        let key = file.file_name().unwrap().to_str().unwrap();
        bucket.put(key, bytes).unwrap();
    }
    let n = sizes.len();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let convert = |window: &str, dest: &str| {
        let mut command = dicomprep();
        command
            .args([
                "convert",
                &s3.url("in"),
                "--no-mp4",
                "--no-html",
                "--debug-requests",
            ])
            .args(["--window", window, "--cache"])
            .arg(&cache)
            .arg("--dest")
            .arg(dir.path().join(dest))
            .envs(s3.env());
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        output
    };
    let first = convert("header", "out1");
    // One ranged GET per header and one whole GET per object, all kept.
    let fetched = object_gets(&first);
    assert!(fetched.len() >= 2 * n, "{fetched:#?}");
    let mut entries: Vec<u64> = files(&cache)
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_str().unwrap();
            let parent = f.parent().unwrap();
            // DIR/a/7/a7…: two levels of one hex digit each, then the entry.
            assert_eq!(name.len(), 32, "{}", f.display());
            assert_eq!(parent.file_name().unwrap().to_str().unwrap(), &name[1..2]);
            assert_eq!(
                parent
                    .parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap(),
                &name[..1]
            );
            std::fs::metadata(f).unwrap().len()
        })
        .collect();
    entries.sort();
    sizes.sort();
    assert_eq!(entries, sizes, "one entry per object, of its size");

    let second = convert("bone", "out2");
    let gets = object_gets(&second);
    assert!(gets.is_empty(), "{gets:#?}");
    assert_eq!(request_lines(&second).len(), 1, "only the listing");
    let text = String::from_utf8_lossy(&second.stderr);
    assert!(text.contains("0 objects fetched and kept"), "{text}");
    // Same items, other pixels (another window).
    let manifest = |dest: &str| {
        let text = std::fs::read(dir.path().join(dest).join("manifest.json")).unwrap();
        serde_json::from_slice::<serde_json::Value>(&text).unwrap()
    };
    assert_eq!(
        manifest("out1")["items"].as_array().unwrap().len(),
        manifest("out2")["items"].as_array().unwrap().len()
    );

    // An object rewritten in the bucket gets a new ETag: it alone is fetched again.
    let changed = files(&series).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&changed).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let key = changed.file_name().unwrap().to_str().unwrap().to_string();
    bucket.put(&key, bytes).unwrap();
    let third = convert("lung", "out3");
    let gets = object_gets(&third);
    assert!(!gets.is_empty(), "the changed object is fetched");
    assert!(gets.iter().all(|g| g.contains(&key)), "{gets:#?}");
}
