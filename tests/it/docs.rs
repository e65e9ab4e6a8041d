//! The user guide (`docs/`): mdBook builds it, every page of its summary becomes a page of the
//! site, and no link of the guide or the README is broken (`scripts/check-doc-links.py`).

use std::path::Path;
use std::process::Command;

use crate::util::run_script;

#[test]
fn the_guide_builds_and_its_links_hold() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mdbook = root.join(".emulators/venv/bin/mdbook");
    assert!(
        mdbook.exists(),
        "{} is missing: run `scripts/setup.sh --test`",
        mdbook.display()
    );
    let site = tempfile::tempdir().unwrap();
    let output = Command::new(&mdbook)
        .arg("build")
        .arg(root.join("docs"))
        .arg("--dest-dir")
        .arg(site.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = std::fs::read_to_string(root.join("docs/src/SUMMARY.md")).unwrap();
    let pages: Vec<&str> = summary
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .collect();
    assert!(pages.len() >= 15, "{pages:?}");
    for page in pages {
        let html = site.path().join(page.replace(".md", ".html"));
        assert!(html.exists(), "{page} was not built");
    }
    // It exits 1 listing every broken link.
    run_script("check-doc-links.py", &[root.as_os_str()]);
}
