//! Hostile input: the fault corpus (`dicomprep::synth::faults`, made from test-data) through the
//! real `scan`, `order` and `convert`. No panic, no hang, and every file accounted for exactly
//! once with a reason a person can read. `DICOMPREP_FAULT_SEED` picks another corpus.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use dicomprep::contract::manifest::Manifest;
use dicomprep::contract::order_report::{FileIssue, OrderReport};
use dicomprep::scan::source::SourceFile;
use dicomprep::scan::{ScanOutcome, scan_file};
use dicomprep::synth::faults::{corpus, load_templates, write_corpus};

use crate::util::{all_files, data, run};

const COUNT: usize = 300;

/// Whole-run budget per file for a debug build on a shared 2-core machine (a few ms are typical).
const PER_FILE_BUDGET: Duration = Duration::from_millis(200);

/// Writes the corpus into a fresh temporary folder and lists its files.
fn fault_corpus() -> (tempfile::TempDir, Vec<String>) {
    let seed = std::env::var("DICOMPREP_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let templates = load_templates(&data("")).expect("templates in test-data");
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path(), &corpus(&templates, seed, COUNT)).unwrap();
    let files = all_files(dir.path());
    assert_eq!(files.len(), COUNT);
    (dir, files)
}

/// Runs the binary over `files` inputs, checking it neither panicked nor crashed and stayed
/// within the budget.
fn run_bounded(args: &[&str], files: usize) -> std::process::Output {
    let started = Instant::now();
    let output = run(args);
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "{args:?}: {:?}\n{stderr}",
        output.status
    );
    assert!(!stderr.contains("panicked"), "{args:?}:\n{stderr}");
    assert!(
        elapsed < PER_FILE_BUDGET * files.max(10) as u32,
        "{args:?} took {elapsed:?}"
    );
    output
}

/// A reason is one readable line: not empty, no control characters, not a dump.
fn assert_readable(issue: &FileIssue) {
    let reason = &issue.reason;
    assert!(
        !reason.trim().is_empty() && reason.len() < 400 && !reason.chars().any(char::is_control),
        "{}: unreadable reason {reason:?}",
        issue.path
    );
}

/// Asserts that the named groups are disjoint and together hold exactly `files`.
fn assert_accounted(files: &[String], groups: &[(&str, Vec<String>)]) {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (group, paths) in groups {
        for path in paths {
            if let Some(first) = seen.insert(path, group) {
                panic!("{path} is both {first} and {group}");
            }
        }
    }
    let seen: BTreeSet<&str> = seen.into_keys().collect();
    let files: BTreeSet<&str> = files.iter().map(String::as_str).collect();
    assert_eq!(
        files.difference(&seen).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "files not accounted for"
    );
    assert_eq!(seen, files);
}

fn paths(issues: &[FileIssue]) -> Vec<String> {
    issues.iter().map(|i| i.path.clone()).collect()
}

#[test]
fn each_header_parses_well_under_a_second() {
    let (dir, files) = fault_corpus();
    let (mut buf, mut inflate) = (Vec::new(), Vec::new());
    for relative in files {
        let file = SourceFile {
            path: dir.path().join(&relative),
            relative: relative.clone(),
        };
        let started = Instant::now();
        let outcome = scan_file(&file, &mut buf, &mut inflate);
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(1), "{relative}: {elapsed:?}");
        if let ScanOutcome::Skipped(issue) | ScanOutcome::Failed(issue) = &outcome {
            assert_eq!(issue.path, relative);
            assert_readable(issue);
        }
    }
}

#[test]
fn scan_accounts_for_every_file() {
    let (dir, files) = fault_corpus();
    let output = run_bounded(&["scan", dir.path().to_str().unwrap(), "-v"], COUNT);
    let instances: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["path"].as_str().unwrap().to_string()
        })
        .collect();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let listed = |prefix: &str| -> Vec<String> {
        stderr
            .lines()
            .filter_map(|line| line.strip_prefix(prefix))
            .map(|rest| {
                let (path, reason) = rest.split_once(": ").expect("path: reason");
                assert_readable(&FileIssue {
                    path: path.into(),
                    reason: reason.into(),
                });
                path.to_string()
            })
            .collect()
    };
    let (skipped, failed) = (listed("skipped: "), listed("failed: "));
    assert!(!instances.is_empty() && !skipped.is_empty() && !failed.is_empty());
    assert_accounted(
        &files,
        &[
            ("an instance", instances),
            ("skipped", skipped),
            ("failed", failed),
        ],
    );
}

#[test]
fn order_accounts_for_every_file() {
    let (dir, files) = fault_corpus();
    let output = run_bounded(&["order", dir.path().to_str().unwrap(), "-q"], COUNT);
    let report: OrderReport = serde_json::from_slice(&output.stdout).unwrap();
    // A multi-frame file is one slice per frame, all in one series.
    let ordered: BTreeSet<String> = report
        .volumes()
        .flat_map(|v| v.slices.iter().map(|s| s.path.clone()))
        .collect();
    report
        .skipped
        .iter()
        .chain(&report.failed)
        .for_each(assert_readable);
    assert_accounted(
        &files,
        &[
            ("ordered", ordered.into_iter().collect()),
            ("skipped", paths(&report.skipped)),
            ("failed", paths(&report.failed)),
        ],
    );
}

#[test]
fn convert_accounts_for_every_file() {
    let (dir, files) = fault_corpus();
    assert_converted_or_reported(dir.path(), &files);
}

#[test]
fn regressions_are_accounted_for() {
    // Its README is one more input, skipped as not DICOM.
    let dir = data("fuzz-regressions");
    let files = all_files(&dir);
    assert!(files.len() >= 6);
    assert_converted_or_reported(&dir, &files);
}

/// Converts `src` and checks that the manifest accounts for each of `files` once.
fn assert_converted_or_reported(src: &Path, files: &[String]) {
    let dest = tempfile::tempdir().unwrap();
    let args = [
        "convert",
        src.to_str().unwrap(),
        "--dest",
        dest.path().to_str().unwrap(),
        "-q",
        "--no-mp4",
    ];
    run_bounded(&args, files.len());
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dest.path().join("manifest.json")).unwrap()).unwrap();
    manifest
        .skipped
        .iter()
        .chain(&manifest.failed)
        .for_each(assert_readable);
    let failed: BTreeSet<String> = paths(&manifest.failed).into_iter().collect();
    assert_eq!(failed.len(), manifest.failed.len(), "a file failed twice");
    // A file some of whose frames failed is reported failed, whatever frames it gave.
    let converted: BTreeSet<String> = manifest
        .items
        .iter()
        .flat_map(|item| item.frames.iter().map(|f| f.path.clone()))
        .filter(|path| !failed.contains(path))
        .collect();
    assert_accounted(
        files,
        &[
            ("converted", converted.into_iter().collect()),
            ("skipped", paths(&manifest.skipped)),
            ("failed", failed.into_iter().collect()),
        ],
    );
    // Every output the manifest names exists under the destination.
    for item in &manifest.items {
        for frame in &item.frames {
            assert!(
                dest.path().join(&frame.hq_key).is_file(),
                "{}",
                frame.hq_key
            );
        }
    }
}

/// The fixed cases of the corpus get the reasons a person expects.
#[test]
fn fixed_cases_are_named_for_what_they_are() {
    let (dir, _) = fault_corpus();
    let output = run_bounded(&["order", dir.path().to_str().unwrap(), "-q"], COUNT);
    let report: OrderReport = serde_json::from_slice(&output.stdout).unwrap();
    let reason = |name: &str| -> String {
        report
            .skipped
            .iter()
            .chain(&report.failed)
            .find(|i| Path::new(&i.path).file_name().unwrap() == name)
            .map(|i| i.reason.clone())
            .unwrap_or_else(|| panic!("{name} not reported"))
    };
    for (name, words) in [
        ("0000-empty.dcm", "not a DICOM file"),
        ("0001-one-byte.dcm", "not a DICOM file"),
        ("0002-png.dcm", "not a DICOM file"),
        ("0003-text.dcm", "not a DICOM file"),
        ("0006-nested-undefined.dcm", "nested deeper"),
        ("0007-nested-defined.dcm", "nested deeper"),
    ] {
        let why = reason(name);
        assert!(why.contains(words), "{name}: {why:?}");
    }
    // Issue 14: a gzip-compressed DICOM file is read through its compression, not skipped.
    let in_volume = report
        .series
        .iter()
        .flat_map(|s| &s.volumes)
        .flat_map(|v| &v.slices)
        .any(|slice| slice.path.ends_with("0005-gzip.dcm"));
    assert!(in_volume, "0005-gzip.dcm is not ordered as a slice");
}

#[test]
fn regressions_decode_directly_in_bounded_time() {
    // DicomImage::from_bytes and the first frame on their own (the library path, without the
    // scan in front): each hostile file is decoded or refused at once. The last open finding allocated 1.95 GB for
    // 2 s: a binary number (SL) whose length was not a multiple of its size.
    for file in all_files(&data("fuzz-regressions")) {
        if !file.ends_with(".dcm") {
            continue;
        }
        let bytes = std::fs::read(data("fuzz-regressions").join(&file)).unwrap();
        let started = std::time::Instant::now();
        if let Ok(image) = dicomprep::render::decode::DicomImage::from_bytes(&bytes) {
            // and its first frame decoded or refused: a 4 KB JPEG whose SOF declared 65280
            // columns for the header's 256 kept the decoder busy for seconds.
            let _ = image.frame(0);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_millis(1000),
            "{file} took {:?}",
            started.elapsed()
        );
    }
}
