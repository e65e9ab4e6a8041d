//! The benchmark S3 server (`examples/s3_folder_server.rs`) is itself checked: `order` of a
//! bucket it serves equals `order` of the same folder on disk, page by page of its listing.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::emulators::{S3, Server, free_port};
use crate::util::{all_files, data, dicomprep, request_lines};

/// Builds the example with the profile and features of this test build (cargo's own lock
/// makes this wait for any build under way) and returns its executable.
fn build_example(name: &str) -> PathBuf {
    let mut command = Command::new(env!("CARGO"));
    command
        .args([
            "build",
            "--quiet",
            "--message-format=json",
            "--example",
            name,
        ])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    if !cfg!(feature = "video") {
        command.arg("--no-default-features");
    }
    let output = command.output().expect("run cargo");
    assert!(
        output.status.success(),
        "cargo build --example {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no executable for example {name}"))
}

/// `order` as JSON, without `source` (which names the folder or bucket).
fn order_report(src: &str, env: &[(&str, String)]) -> (Value, Vec<String>) {
    let output = dicomprep()
        .args(["order", "-q", "--compact", "--debug-requests", src])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "order {src}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut report: Value = serde_json::from_slice(&output.stdout).unwrap();
    report.as_object_mut().unwrap().remove("source");
    (report, request_lines(&output))
}

#[test]
fn order_through_the_benchmark_s3_server_equals_order_of_the_folder() {
    // test-data's sub-folders are the buckets; with pages of 50 keys, listing the 172 objects
    // of `pydicom` (nested folders, broken and non-DICOM files) takes several pages.
    let port = free_port();
    let mut command = Command::new(build_example("s3_folder_server"));
    command
        .arg("--root")
        .arg(data(""))
        .args(["--port", &port.to_string(), "--page-size", "50"]);
    let server = Server::start(command, port, tempfile::tempdir().unwrap());
    let env = S3::env_for(server.endpoint());
    for bucket in ["pydicom", "dcm_qa_nih"] {
        let (from_server, requests) = order_report(&format!("s3://{bucket}/"), &env);
        let (from_folder, _) = order_report(data(bucket).to_str().unwrap(), &[]);
        assert_eq!(from_server, from_folder, "{bucket}");
        let next_pages = requests
            .iter()
            .filter(|r| r.contains("list-type=2") && r.contains("continuation-token="))
            .count();
        assert!(
            next_pages > 0,
            "no listing went past its first page: {requests:#?}"
        );
        // Every object was read from the server, with at least one ranged GET.
        let ranged = requests
            .iter()
            .filter(|r| r.contains(" range=bytes="))
            .count();
        assert!(ranged >= all_files(&data(bucket)).len(), "{requests:#?}");
    }
}
