//! The header index (`dicomprep index`, `query`, `--where`, `--index`): a selection converts
//! exactly the series pydicom picks (scripts/expected-selection.py), with or without the index;
//! refreshes read only what changed; a killed index run resumes; bad conditions exit 2; no
//! patient identifier is stored.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::open_file;
use dicomprep::contract::manifest::Manifest;
use serde_json::Value;

use crate::util::{data, dicomprep, request_lines, run};

fn index(src: &Path, db: &Path, extra: &[&str]) -> Output {
    let mut command = dicomprep();
    command
        .arg("index")
        .arg(src)
        .arg("--db")
        .arg(db)
        .args(extra);
    command.output().unwrap()
}

/// The summary line of an `index` run (`N new, M changed, ...`).
fn summary(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains(" unchanged ("))
        .unwrap_or_else(|| panic!("no summary in {stderr}"));
    line.split(" in ").next().unwrap().to_string()
}

fn query(db: &Path, sql: &str) -> Value {
    let mut command = dicomprep();
    command
        .args(["query", "--format", "json", "--db"])
        .arg(db)
        .arg(sql);
    let output = command.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Series UID → sorted source files of the manifest's items.
fn manifest_series(dest: &Path) -> BTreeMap<String, Vec<String>> {
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap();
    let mut series: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in &manifest.items {
        let files = series.entry(item.series_instance_uid.clone()).or_default();
        files.extend(item.frames.iter().map(|f| f.path.clone()));
        files.sort();
        files.dedup();
    }
    series
}

/// The manifest without `destination` (which names the folder).
fn manifest_value(dest: &Path) -> Value {
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap();
    manifest["destination"] = Value::Null;
    manifest
}

#[test]
fn where_with_the_index_converts_exactly_the_ct_series_pydicom_selects() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idx.sqlite");
    let output = index(&data(""), &db, &["-q"]);
    assert_eq!(output.status.code(), Some(3)); // test-data holds broken files
    let expected: Value =
        serde_json::from_slice(&std::fs::read(data("expected/selection-ct.json")).unwrap())
            .unwrap();
    let expected: BTreeMap<String, Vec<String>> =
        serde_json::from_value(expected["series"].clone()).unwrap();
    assert_eq!(expected.len(), 12);

    let convert = |dest: &Path, with_index: bool| {
        let mut command = dicomprep();
        command
            .args(["convert", "-q", "--no-mp4", "--where", "modality = 'CT'"])
            .arg(data(""))
            .arg("--dest")
            .arg(dest);
        if with_index {
            command.arg("--index").arg(&db);
        }
        let output = command.output().unwrap();
        assert!(
            matches!(output.status.code(), Some(0 | 3)),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let from_index = dir.path().join("from-index");
    convert(&from_index, true);
    assert_eq!(manifest_series(&from_index), expected);
    let from_scan = dir.path().join("from-scan");
    convert(&from_scan, false);
    assert_eq!(manifest_value(&from_scan), manifest_value(&from_index));
}

#[test]
fn order_selects_whole_series_or_single_instances() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idx.sqlite");
    index(&data("dcm_qa_nih"), &db, &["-q"]);
    let order = |condition: &str, with_index: bool| -> Value {
        let mut command = dicomprep();
        command
            .args(["order", "-q", "--compact", "--where", condition])
            .arg(data("dcm_qa_nih"));
        if with_index {
            command.arg("--index").arg(&db);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(0));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let slices = |report: &Value| -> usize {
        report["series"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["volumes"].as_array().unwrap())
            .map(|v| v["slices"].as_array().unwrap().len())
            .sum()
    };
    // Series-level: whole series whose number is 5 (pydicom-independent count from SQL; the
    // series is Siemens mosaics, whose tiles are its slices).
    let counted = query(
        &db,
        "SELECT SUM(number_of_frames) AS n FROM instances WHERE series_number = 5",
    );
    let by_series = order("series_number = 5", true);
    assert_eq!(
        slices(&by_series),
        counted[0]["n"].as_u64().unwrap() as usize
    );
    assert_eq!(order("series_number = 5", false), by_series);
    // Instance-level: instance_number names single instances.
    let first = order("series_number = 5 AND instance_number = 1", true);
    let tiles = query(
        &db,
        "SELECT number_of_frames AS n FROM instances WHERE series_number = 5 AND instance_number = 1",
    );
    assert_eq!(slices(&first), tiles[0]["n"].as_u64().unwrap() as usize);
    assert_eq!(first["series"].as_array().unwrap().len(), 1);
    assert!(slices(&first) < slices(&by_series));
    assert_eq!(
        order("series_number = 5 AND instance_number = 1", false),
        first
    );
}

/// Copies the files of `from` (a test-data case) into `to`, each under a flat name.
fn copy_case(from: &Path, to: &Path, copies: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut files: Vec<_> = walk(from);
    files.sort();
    for copy in 0..copies {
        for (i, file) in files.iter().enumerate() {
            let name = format!("c{copy:02}/f{i:04}.dcm");
            std::fs::create_dir_all(to.join(format!("c{copy:02}"))).unwrap();
            std::fs::copy(file, to.join(&name)).unwrap();
            names.push(name);
        }
    }
    names
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn refresh_reads_only_new_and_changed_files_and_drops_removed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let names = copy_case(&data("pydicom"), &src, 1);
    let db = dir.path().join("idx.sqlite");
    let n = names.len();
    let first = index(&src, &db, &[]);
    assert_eq!(
        summary(&first),
        format!("{n} new, 0 changed, 0 removed, 0 unchanged ({n} reads)")
    );
    let again = index(&src, &db, &[]);
    assert_eq!(
        summary(&again),
        format!("0 new, 0 changed, 0 removed, {n} unchanged (0 reads)")
    );
    // One new file, one rewritten with other content (size and mtime change), one deleted.
    std::fs::copy(data("pydicom/CT_small.dcm"), src.join("added.dcm")).unwrap();
    std::fs::copy(data("pydicom/MR_small.dcm"), src.join(&names[0])).unwrap();
    std::fs::remove_file(src.join(&names[1])).unwrap();
    let changed = index(&src, &db, &[]);
    assert_eq!(
        summary(&changed),
        format!("1 new, 1 changed, 1 removed, {} unchanged (2 reads)", n - 2)
    );
    // The refreshed index holds what a fresh index of the same folder holds.
    let fresh = dir.path().join("fresh.sqlite");
    index(&src, &fresh, &[]);
    let everything = "SELECT path, header FROM instances ORDER BY path";
    assert_eq!(query(&db, everything), query(&fresh, everything));
    let inputs = "SELECT path, outcome, reason FROM inputs ORDER BY path";
    assert_eq!(query(&db, inputs), query(&fresh, inputs));
    let rewritten = format!("SELECT modality FROM instances WHERE path = '{}'", names[0]);
    assert_eq!(query(&db, &rewritten)[0]["modality"], "MR");
}

#[test]
fn index_killed_mid_way_stays_valid_and_the_next_run_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let names = copy_case(&data("dcm_qa_nih"), &src, 12);
    let db = dir.path().join("idx.sqlite");
    let mut interrupted = 0;
    for delay in [60, 120, 200, 300, 450] {
        let mut child = dicomprep()
            .args(["index", "-q", "--batch", "25"])
            .arg(&src)
            .arg("--db")
            .arg(&db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        if db.exists() {
            let check = query(&db, "PRAGMA integrity_check");
            assert_eq!(check[0]["integrity_check"], "ok");
        }
    }
    assert!(interrupted >= 2, "only {interrupted} kills landed mid-run");
    let output = index(&src, &db, &[]);
    let line = summary(&output);
    assert!(line.contains(" 0 removed"), "{line}");
    let last = index(&src, &db, &[]);
    assert_eq!(
        summary(&last),
        format!(
            "0 new, 0 changed, 0 removed, {} unchanged (0 reads)",
            names.len()
        )
    );
    let fresh = dir.path().join("fresh.sqlite");
    index(&src, &fresh, &["-q"]);
    let everything = "SELECT path, header FROM instances ORDER BY path";
    assert_eq!(query(&db, everything), query(&fresh, everything));
}

#[test]
fn bad_conditions_and_queries_exit_2_listing_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idx.sqlite");
    index(&data("pydicom/CT_small.dcm"), &db, &["-q"]);
    let src = data("pydicom/CT_small.dcm");
    let src = src.to_str().unwrap();
    let db = db.to_str().unwrap();
    for args in [
        &["order", src, "--where", "modaliti = 'CT'"][..],
        &["order", src, "--index", db, "--where", "modaliti = 'CT'"],
        &[
            "convert",
            src,
            "--dest",
            "/nonexistent/x",
            "--where",
            "modality = = 'CT'",
        ],
        &[
            "order",
            src,
            "--where",
            "modality = 'CT'; DROP TABLE instances",
        ],
        &["query", "--db", db, "SELECT nope FROM instances"],
        &["query", "--db", db, "DELETE FROM instances"],
    ] {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("columns of instances: path,"), "{stderr}");
        assert!(stderr.contains("slice_thickness"), "{stderr}");
    }
    let count = query(Path::new(db), "SELECT COUNT(*) AS n FROM instances");
    assert_eq!(count[0]["n"], 1);
}

#[test]
fn query_prints_a_table_csv_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idx.sqlite");
    index(&data("pydicom/CT_small.dcm"), &db, &["-q"]);
    let sql = "SELECT modality, rows, slice_thickness, image_type FROM instances";
    let text = |format: &str| {
        let mut command = dicomprep();
        command
            .args(["query", "--format", format, "--db"])
            .arg(&db)
            .arg(sql);
        String::from_utf8(command.output().unwrap().stdout).unwrap()
    };
    assert_eq!(
        text("csv"),
        "modality,rows,slice_thickness,image_type\nCT,128,5.0,ORIGINAL\\PRIMARY\\AXIAL\n"
    );
    let table = text("table");
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "modality  rows  slice_thickness  image_type");
    assert!(lines[2].starts_with("CT        128   5.0"), "{table}");
    assert_eq!(lines[3], "(1 row)");
    let json: Value = serde_json::from_str(&text("json")).unwrap();
    assert_eq!(json[0]["rows"], 128);
    assert_eq!(json[0]["modality"], "CT");
}

/// Patient values planted in the files; none may be in the index file.
const SECRETS: &[&str] = &[
    "ZZSECRETPATIENT",
    "ZZSECRETID",
    "18881111",
    "ZZSECRETACCESSION",
];

#[test]
fn no_patient_identifier_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let mut object = open_file(data("pydicom/CT_small.dcm")).unwrap();
    let mut put = |tag, vr, value: &str| {
        object.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
    };
    put(tags::PATIENT_NAME, VR::PN, "ZZSECRETPATIENT^JOHN");
    put(tags::PATIENT_ID, VR::LO, "ZZSECRETID");
    put(tags::PATIENT_BIRTH_DATE, VR::DA, "18881111");
    put(tags::ACCESSION_NUMBER, VR::SH, "ZZSECRETACCESSION");
    put(tags::BODY_PART_EXAMINED, VR::CS, "CHEST");
    put(tags::PROTOCOL_NAME, VR::LO, "ZZPROTOCOL");
    object.write_to_file(src.join("one.dcm")).unwrap();
    let db = dir.path().join("idx.sqlite");
    assert_eq!(index(&src, &db, &["-q"]).status.code(), Some(0));
    // The planted selection fields are there (so the file was read)...
    let row = query(
        &db,
        "SELECT body_part_examined, protocol_name, manufacturer FROM instances",
    );
    assert_eq!(row[0]["body_part_examined"], "CHEST");
    assert_eq!(row[0]["protocol_name"], "ZZPROTOCOL");
    // ...and no patient value is anywhere in the database, its journal or its WAL.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for secret in SECRETS {
                let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(!found, "{secret} in {}", path.display());
            }
        }
    }
}

#[test]
fn refresh_over_s3_lists_once_and_reads_nothing_when_nothing_changed() {
    const SECRET: &str = "ZZplantedSECRETkey0123456789";
    const TOKEN: &str = "ZZplantedSESSIONtoken0123";
    let s3 = crate::emulators::S3::start("indexed");
    let bucket = crate::emulators::TestStore::bucket(&s3, "in");
    let case = data("pydicom");
    let mut files: Vec<_> = walk(&case);
    files.sort();
    files.truncate(20);
    for file in &files {
        let key = file.file_name().unwrap().to_str().unwrap();
        bucket.put(key, std::fs::read(file).unwrap()).unwrap();
    }
    let mut env = crate::emulators::S3::env_for(s3.server.endpoint());
    for (name, value) in &mut env {
        if *name == "AWS_SECRET_ACCESS_KEY" {
            *value = SECRET.into();
        }
    }
    env.push(("AWS_SESSION_TOKEN", TOKEN.into()));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idx.sqlite");
    let run_index = || {
        let mut command = dicomprep();
        command
            .args(["index", "s3://indexed/in", "--debug-requests", "--db"])
            .arg(&db)
            .envs(env.clone());
        command.output().unwrap()
    };
    let first = run_index();
    assert!(matches!(first.status.code(), Some(0 | 3)), "{first:?}");
    let n = files.len();
    assert!(summary(&first).starts_with(&format!("{n} new, 0 changed, 0 removed")));
    let requests = request_lines(&first);
    let gets = requests.iter().filter(|r| r.starts_with("GET ")).count();
    // One listing GET (20 keys fit in one page) and at least one ranged GET per object.
    let ranged = requests
        .iter()
        .filter(|r| r.contains(" range=bytes="))
        .count();
    assert!(ranged >= n && gets == ranged + 1, "{requests:#?}");
    assert!(
        requests.iter().all(|r| r.contains(" status=")),
        "{requests:#?}"
    );
    let again = run_index();
    assert_eq!(
        summary(&again),
        format!("0 new, 0 changed, 0 removed, {n} unchanged (0 reads)")
    );
    let requests = request_lines(&again);
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(requests[0].contains("list-type=2"), "{}", requests[0]);
    for output in [&first, &again] {
        let text = String::from_utf8_lossy(&output.stderr);
        assert!(!text.contains(SECRET) && !text.contains(TOKEN), "{text}");
        assert!(!text.contains("Signature") && !text.contains("Credential"));
    }
}
