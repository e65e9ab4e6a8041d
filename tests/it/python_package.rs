//! The Python package (python/): the wheel maturin builds (dev profile, reusing this build's
//! artefacts), installed with pip into a fresh venv without Rust on its path, and its pytest
//! suite run there: results held against this build's CLI, values against pydicom and nibabel.

use std::path::Path;
use std::process::{Command, Output};

fn succeeded(what: &str, output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_wheel_installs_into_a_fresh_venv_and_passes_its_pytest_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tools = root.join(".emulators");
    assert!(
        tools.join("venv/bin/maturin").exists() && tools.join("wheelhouse/.complete").exists(),
        "maturin or the test wheelhouse is missing: run `scripts/setup.sh --test`"
    );
    let work = tempfile::tempdir().unwrap();
    let wheels = work.path().join("wheels");
    succeeded(
        "maturin build",
        Command::new(tools.join("venv/bin/maturin"))
            .args(["build", "--profile", "dev", "--quiet", "--manifest-path"])
            .arg(root.join("python/Cargo.toml"))
            .arg("--out")
            .arg(&wheels)
            .env("CARGO_TARGET_DIR", root.join("target"))
            .output()
            .unwrap(),
    );
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("maturin wrote no wheel");
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!(
            "dicomprep-{}-cp39-abi3-manylinux",
            env!("CARGO_PKG_VERSION")
        )),
        "{name}: not an abi3 manylinux wheel of this version"
    );

    let venv = work.path().join("venv");
    succeeded(
        "python3 -m venv",
        Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .output()
            .unwrap(),
    );
    let python = venv.join("bin/python");
    succeeded(
        "pip install",
        Command::new(&python)
            .args(["-m", "pip", "install", "-q", "--no-index", "--find-links"])
            .arg(tools.join("wheelhouse"))
            .arg(&wheel)
            .args(["pytest", "pydicom", "nibabel", "pandas", "pyarrow"])
            .output()
            .unwrap(),
    );
    // The wheel's own command, found on the venv's path, with no Rust toolchain on it.
    let path = format!("{}:/usr/bin:/bin", venv.join("bin").display());
    let version = succeeded(
        "dicomprep --version",
        Command::new(venv.join("bin/dicomprep"))
            .arg("--version")
            .env("PATH", &path)
            .output()
            .unwrap(),
    );
    assert_eq!(
        version.trim(),
        format!("dicomprep {}", env!("CARGO_PKG_VERSION"))
    );
    let report = succeeded(
        "pytest",
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(root.join("python/tests"))
            .current_dir(work.path())
            .env("PATH", &path)
            .env("DICOMPREP_CLI", env!("CARGO_BIN_EXE_dicomprep"))
            .env("DICOMPREP_TEST_DATA", root.join("test-data"))
            .output()
            .unwrap(),
    );
    let last = report.lines().last().unwrap_or_default();
    assert!(
        last.contains(" passed") && !last.contains("failed") && !last.contains("skipped"),
        "{report}"
    );
}
