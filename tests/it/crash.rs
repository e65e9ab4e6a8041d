//! Crash safety of a local destination: `convert` killed (SIGKILL) at many random points and
//! then finished gives exactly the bytes of an uninterrupted run; no final name ever holds a
//! partial file; two runs at once do not corrupt the destination; a full disk is a clear error
//! naming the destination, with no partial files.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use dicomprep::encode::png::decode_png;

use crate::util::{all_files, data, dicomprep};

const CASE: &str = "dcm_qa_nih";

/// Every final output under `dir` with its bytes (temporary `.part` files and the timing-laden
/// report excluded; the manifest without its `destination`, which names `dir`).
fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    all_files(dir)
        .into_iter()
        .filter(|f| !f.ends_with(".part") && f != "report.json")
        .map(|f| {
            let mut bytes = std::fs::read(dir.join(&f)).unwrap();
            if f == "manifest.json" {
                let mut manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                manifest["destination"] = serde_json::Value::Null;
                bytes = serde_json::to_vec(&manifest).unwrap();
            }
            (f, bytes)
        })
        .collect()
}

/// `actual` holds exactly the files of `expected`, with the same bytes.
fn assert_same(actual: &BTreeMap<String, Vec<u8>>, expected: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in expected {
        assert!(actual[name] == *bytes, "{name} differs");
    }
}

/// Every output under a final name is complete: PNGs decode, JPEGs end with EOI, MP4s hold
/// their index, JSON parses.
fn assert_complete(files: &BTreeMap<String, Vec<u8>>) {
    for (name, bytes) in files {
        let complete = match name.rsplit_once('.').map_or("", |(_, e)| e) {
            "png" => decode_png(bytes).is_ok(),
            "jpg" => bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]),
            "mp4" => bytes.windows(4).any(|w| w == b"moov"),
            "json" => serde_json::from_slice::<serde_json::Value>(bytes).is_ok(),
            _ => false,
        };
        assert!(
            complete,
            "{name} is partial or unknown ({} bytes)",
            bytes.len()
        );
    }
}

fn convert(dest: &Path) -> Command {
    let mut command = dicomprep();
    command
        .args(["convert", "-q"])
        .arg(data(CASE))
        .arg("--dest")
        .arg(dest);
    command
}

/// Delays in milliseconds from a fixed-seed generator (reproducible "random" points).
fn kill_points(count: usize, max_ms: u64) -> Vec<u64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            20 + state % max_ms
        })
        .collect()
}

fn uninterrupted() -> BTreeMap<String, Vec<u8>> {
    let dest = tempfile::tempdir().unwrap();
    let status = convert(dest.path()).status().unwrap();
    assert_eq!(status.code(), Some(0));
    outputs(dest.path())
}

#[test]
fn killed_at_random_points_then_resumed_equals_an_uninterrupted_run() {
    let expected = uninterrupted();
    let dest = tempfile::tempdir().unwrap();
    let mut interrupted = 0;
    // Early kills interrupt the rendering; later runs have less left to do (they resume), so
    // the delays are short enough to catch them mid-run too (scan, listing, the last outputs).
    for delay in kill_points(12, 300) {
        let mut child = convert(dest.path()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
        assert_complete(&outputs(dest.path()));
    }
    assert!(interrupted >= 3, "only {interrupted} kills landed mid-run");
    let status = convert(dest.path()).status().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_same(&outputs(dest.path()), &expected);
}

#[test]
fn two_runs_at_once_on_one_destination_do_not_corrupt_it() {
    let expected = uninterrupted();
    let dest = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| convert(dest.path()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
    }
    assert_same(&outputs(dest.path()), &expected);
    assert!(
        all_files(dest.path()).iter().all(|f| !f.ends_with(".part")),
        "no temporary file left"
    );
}

#[test]
fn a_full_disk_is_a_clear_error_naming_the_destination_with_no_partial_files() {
    // A 300 kB tmpfs in a private mount namespace (no root needed): the outputs (~900 kB) do
    // not fit. The mount vanishes with the namespace, so the shell archives what was written.
    let mount = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let script = r#"mount -t tmpfs -o size=300k tmpfs "$1" || exit 90
"$2" convert -q "$3" --dest "$1/out" 2>"$4/stderr"
echo $? >"$4/exit"
tar -C "$1" -cf "$4/out.tar" out"#;
    let status = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(mount.path())
        .arg(env!("CARGO_BIN_EXE_dicomprep"))
        .arg(data(CASE))
        .arg(logs.path())
        .status()
        .expect("unshare (util-linux) runs");
    assert!(
        status.success(),
        "the tmpfs could not be mounted: {status:?}"
    );
    let exit = std::fs::read_to_string(logs.path().join("exit")).unwrap();
    let stderr = std::fs::read_to_string(logs.path().join("stderr")).unwrap();
    assert!(
        matches!(exit.trim(), "1" | "3"),
        "exit {exit}: a full disk is an error"
    );
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let destination = mount.path().join("out").display().to_string();
    assert!(stderr.contains(&destination), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let unpacked = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(logs.path().join("out.tar"))
        .arg("-C")
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(status.success());
    let written = unpacked.path().join("out");
    assert!(
        all_files(&written).iter().all(|f| !f.ends_with(".part")),
        "temporary files were removed"
    );
    let files = outputs(&written);
    assert!(!files.is_empty(), "some outputs fitted");
    assert_complete(&files);
}
