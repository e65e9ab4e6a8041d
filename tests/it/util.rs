use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicomprep::contract::order_report::{OrderReport, SeriesReport};
use serde_json::Value;

/// A path inside the project's bundled `test-data/`.
pub fn data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data")
        .join(relative)
}

/// The `dicomprep` binary under test.
/// The Python of `.emulators/venv` that `scripts/setup.sh --test` installs, with the oracles'
/// packages (nibabel, highdicom, pydicom, darwin-py, the Encord SDK).
pub fn python() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".emulators/venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run `scripts/setup.sh --test`",
        path.display()
    );
    path
}

/// Runs `scripts/<script>` of the project with [`python`] and `args`; panics with the
/// script's stderr unless it succeeds. Returns its output (stdout: what it found).
pub fn run_script(script: &str, args: &[&std::ffi::OsStr]) -> Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let output = Command::new(python())
        .arg(path)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "scripts/{script} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn dicomprep() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dicomprep"))
}

/// Runs the binary with `args`, returning its output (whatever the exit code).
pub fn run(args: &[&str]) -> Output {
    dicomprep().args(args).output().expect("run dicomprep")
}

/// `request:` lines of `--debug-requests` on stderr.
pub fn request_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("request: "))
        .map(str::to_string)
        .collect()
}

/// Runs `dicomprep order SRC -q <extra>` and parses the JSON contract.
pub fn order(src: &Path, extra: &[&str]) -> (OrderReport, Output) {
    let src = src.to_str().unwrap();
    let mut args = vec!["order", src, "-q"];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        matches!(output.status.code(), Some(0 | 3)),
        "dicomprep order {src} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: OrderReport = serde_json::from_slice(&output.stdout).expect("order JSON parses");
    (report, output)
}

/// The expectations written by `scripts/expected-order.py` (pydicom) for a case folder.
pub fn expected(case: &str) -> Value {
    let name = case.replace('/', "__");
    let text =
        std::fs::read_to_string(data(&format!("expected/{name}.json"))).expect("expected file");
    serde_json::from_str(&text).expect("expected JSON")
}

/// The series with this SeriesInstanceUID.
pub fn series<'a>(report: &'a OrderReport, uid: &str) -> &'a SeriesReport {
    report
        .series
        .iter()
        .find(|s| s.series_instance_uid == uid)
        .unwrap_or_else(|| panic!("series {uid} missing"))
}

/// Every slice path of a series' volumes, volume by volume, in order.
pub fn volume_paths(series: &SeriesReport) -> Vec<Vec<String>> {
    series
        .volumes
        .iter()
        .map(|v| v.slices.iter().map(|s| s.path.clone()).collect())
        .collect()
}

/// Every regular file under `root`, relative, with `/` separators (walked independently of the
/// code under test).
pub fn all_files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                let parts: Vec<_> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Writes `template` (a real DICOM file in test-data) to `out` with the header `values`
/// replaced, keeping its pixels.
pub fn write_variant(template: &str, out: &Path, values: &[(Tag, VR, &str)]) {
    let mut object = dicom_object::open_file(data(template)).unwrap();
    for &(tag, vr, value) in values {
        object.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
    }
    object.write_to_file(out).unwrap();
}
