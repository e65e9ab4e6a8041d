use crate::util::{data, dicomprep, order, run};

#[test]
fn exit_code_0_when_every_input_is_accounted_for() {
    let output = run(&["order", data("dicom2nifti/siemens").to_str().unwrap(), "-q"]);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn exit_code_3_and_one_line_per_failed_file() {
    let output = run(&[
        "order",
        data("pydicom").to_str().unwrap(),
        "-o",
        "/dev/null",
    ]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("failed: MR_truncated.dcm: truncated"),
        "{stderr}"
    );
    assert!(stderr.contains("3 failed"), "summary: {stderr}");
}

#[test]
fn missing_source_is_exit_code_1_naming_the_path() {
    let output = run(&["order", "/nonexistent/study"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/study") && stderr.contains("check that the path exists"),
        "{stderr}"
    );
}

#[test]
fn bad_flag_is_exit_code_2() {
    assert_eq!(
        run(&["order", "x", "--rule", "alphabetical"]).status.code(),
        Some(2)
    );
}

#[test]
fn json_contract_fields_and_relative_paths() {
    let src = data("dicom2nifti/hitachi");
    let (report, _) = order(&src, &[]);
    assert_eq!(report.source, src.to_str().unwrap());
    assert_eq!(report.rule, "darwin");
    let raw: serde_json::Value =
        serde_json::from_slice(&run(&["order", src.to_str().unwrap(), "-q"]).stdout).unwrap();
    let series = &raw["series"][0];
    for key in [
        "study_instance_uid",
        "series_instance_uid",
        "series_number",
        "modality",
        "series_description",
        "volumes",
    ] {
        assert!(series.get(key).is_some(), "series.{key}");
    }
    let volume = &series["volumes"][0];
    for key in ["id", "split_reason", "rows", "columns", "slices"] {
        assert!(volume.get(key).is_some(), "volume.{key}");
    }
    assert_eq!(volume["id"], "0");
    assert!(volume["split_reason"].is_null());
    let slice = &volume["slices"][0];
    for key in ["path", "frame", "instance_number", "position"] {
        assert!(slice.get(key).is_some(), "slice.{key}");
    }
    assert_eq!(slice["frame"], 0);
    assert!(slice["path"].as_str().unwrap().starts_with("anatomical/"));
    assert!(raw["skipped"].is_array() && raw["failed"].is_array());
}

#[test]
fn tsv_has_a_row_per_slice_and_per_problem_file() {
    let src = data("pydicom/dicomdirtests");
    let (report, _) = order(&src, &[]);
    let output = run(&["order", src.to_str().unwrap(), "-q", "--format", "tsv"]);
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        dicomprep::cli::output::TSV_COLUMNS.join("\t")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert!(
        rows.iter()
            .all(|r| r.len() == dicomprep::cli::output::TSV_COLUMNS.len())
    );
    let count = |status: &str| rows.iter().filter(|r| r[0] == status).count();
    assert_eq!(count("slice"), report.slice_count());
    assert_eq!(count("skipped"), report.skipped.len());
    assert_eq!(count("failed"), report.failed.len());
}

#[test]
fn output_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("order.json");
    let status = dicomprep()
        .args([
            "order",
            data("dicom2nifti/hitachi").to_str().unwrap(),
            "-q",
            "--compact",
            "-o",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 1, "--compact is one line");
    let report: dicomprep::contract::order_report::OrderReport =
        serde_json::from_str(&text).unwrap();
    assert_eq!(report.slice_count(), 8);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
}

#[test]
fn help_explains_every_flag() {
    let help = String::from_utf8(run(&["order", "--help"]).stdout).unwrap();
    for flag in [
        "--rule",
        "--format",
        "--explain",
        "--compact",
        "--output",
        "--threads",
        "--quiet",
        "--verbose",
    ] {
        let line = help
            .lines()
            .find(|l| l.contains(flag))
            .unwrap_or_else(|| panic!("{flag} missing"));
        assert!(help.len() > line.len(), "{flag}");
    }
    let top = String::from_utf8(run(&["--help"]).stdout).unwrap();
    assert!(top.contains("Exit codes"), "{top}");
}

#[test]
fn thread_count_does_not_change_the_result() {
    let src = data("dicom2nifti");
    let one = run(&["order", src.to_str().unwrap(), "-q", "--threads", "1"]);
    let two = run(&["order", src.to_str().unwrap(), "-q", "--threads", "2"]);
    assert!(!one.stdout.is_empty());
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn each_command_lists_only_the_flags_that_act_on_it() {
    let help = |command: &[&str]| {
        let output = run(&[command, &["--help"]].concat());
        String::from_utf8(output.stdout).unwrap()
    };
    let shared = [
        "--threads",
        "--io-threads",
        "--anonymous",
        "--concurrency",
        "--retries",
        "--retry-timeout",
        "--request-timeout",
        "--verbose",
        "--quiet",
    ];
    let payload = help(&["payload", "encord"]);
    for flag in shared {
        assert!(!payload.contains(flag), "payload encord lists {flag}");
    }
    let convert = help(&["convert"]);
    for flag in shared {
        assert!(convert.contains(flag), "convert does not list {flag}");
    }
    let bisque = help(&["register", "bisque"]);
    assert!(bisque.contains("--retries") && bisque.contains("--quiet"));
    assert!(!bisque.contains("--anonymous") && !bisque.contains("--threads"));
}
