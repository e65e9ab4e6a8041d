//! Links the private copy of libjpeg-turbo that decodes 12-bit JPEG (see `render::decode::jpeg12`).
//!
//! `turbojpeg-sys` builds libjpeg-turbo 3.1 from the source it vendors (cmake + nasm, nothing
//! downloaded). mozjpeg, which the JPEG encoder and the 8-bit JPEG Baseline decoder use, is a
//! libjpeg too, with the same `jpeg_*` symbol names but other internals: linked side by side,
//! each library's calls could land in the other's code. So this script copies libturbojpeg.a
//! with every symbol it defines prefixed by `dicomprep_tj_` (`objcopy --redefine-syms`), links
//! that copy, and the decoder calls the prefixed names only. No Rust code may `use turbojpeg_sys`
//! (not even a constant): rustc links the archive of a dependency only when code refers to the
//! crate, and turbojpeg-sys's own archive, un-renamed, would capture mozjpeg's `jpeg_*` calls.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Prefix given to every symbol of the private copy.
const PREFIX: &str = "dicomprep_tj_";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_TURBOJPEG_INCLUDE");
    let include = std::env::var("DEP_TURBOJPEG_INCLUDE")
        .expect("turbojpeg-sys gives its include folder (DEP_TURBOJPEG_INCLUDE)");
    let first = include.split(',').next().unwrap_or_default();
    let archive = Path::new(first)
        .parent()
        .map(|root| root.join("lib").join("libturbojpeg.a"))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| panic!("no libturbojpeg.a beside {first}"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));

    let listing = run(Command::new("nm")
        .args(["--defined-only", "--extern-only", "--format=posix"])
        .arg(&archive));
    let mut map = String::new();
    let mut seen = std::collections::BTreeSet::new();
    for line in listing.lines() {
        // "name type value size"; archive member headers end with ':' and are skipped.
        let mut fields = line.split_whitespace();
        if let (Some(name), Some(_kind)) = (fields.next(), fields.next())
            && !name.ends_with(':')
            && seen.insert(name.to_string())
        {
            map.push_str(&format!("{name} {PREFIX}{name}\n"));
        }
    }
    let map_path = out.join("turbojpeg.syms");
    std::fs::write(&map_path, map).expect("write the symbol map");
    let renamed = out.join("libdicomprep_turbojpeg.a");
    run(Command::new("objcopy")
        .arg(format!("--redefine-syms={}", map_path.display()))
        .arg(&archive)
        .arg(&renamed));
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=dicomprep_turbojpeg");
    link_without_pie();
}

/// Links the `dicomprep` command as a position-dependent executable on x86-64 Linux. A
/// position-independent one carries ~36,000 relative relocations that the dynamic loader
/// applies at every start, writing to (and so copying) ~300 pages: half of a start's page
/// faults, 3 ms of the 7 ms that `dicomprep --version` took on the 2-core test machine, where
/// a page fault costs ~10 µs. Linked at a fixed address, the loader has nothing to write. The
/// library, the Python extension and the tests stay position-independent.
fn link_without_pie() {
    let target = std::env::var("TARGET").unwrap_or_default();
    if target == "x86_64-unknown-linux-gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}

/// Runs `command` and returns its standard output, failing the build with its error output.
fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?} (binutils installed?): {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
