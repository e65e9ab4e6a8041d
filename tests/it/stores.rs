//! One contract for every store (moto S3, Azurite, fake-gcs-server, `file://` folders,
//! in-memory): a header scan that the server saw as one ranged GET per file, a conversion from
//! store to store with exactly the outputs of a local run, every manifest key present with its
//! recorded size and content type, repair of a damaged output, and kill-and-resume ending with
//! the outputs of an uninterrupted run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use dicomprep::NoProgress;
use dicomprep::contract::manifest::Manifest;
use dicomprep::convert::sink::BucketSink;
use dicomprep::convert::{ConvertOptions, convert};
use dicomprep::scan::source::Source;
use dicomprep::store::{Bucket, Location, content_type};
use object_store::memory::InMemory;

use crate::emulators::{Azure, Folder, Gcs, S3, TestStore, requests};
use crate::fault_proxy::{FaultProxy, Faults};
use crate::util::{all_files, data, dicomprep};

const CASE: &str = "dcm_qa_nih";

/// Outputs (key -> bytes, manifest excluded) and manifest of a local conversion of the case.
fn reference() -> &'static (BTreeMap<String, Vec<u8>>, Manifest) {
    static REFERENCE: OnceLock<(BTreeMap<String, Vec<u8>>, Manifest)> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let dest = tempfile::tempdir().unwrap();
        let output = dicomprep()
            .args(["convert", "-q"])
            .arg(data(CASE))
            .arg("--dest")
            .arg(dest.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let mut files: BTreeMap<String, Vec<u8>> = all_files(dest.path())
            .into_iter()
            .map(|f| (f.clone(), std::fs::read(dest.path().join(&f)).unwrap()))
            .collect();
        let manifest = serde_json::from_slice(&files.remove("manifest.json").unwrap()).unwrap();
        assert!(files.remove("report.json").is_some());
        (files, manifest)
    })
}

/// Every object under `bucket`, with its bytes; the manifest separately. Temporary files of
/// writes a kill interrupted in a local folder (`.<name>.<pid>.<thread>.part`) are ignored, as
/// every reader of the layout must.
fn contents(bucket: &Bucket) -> (BTreeMap<String, Vec<u8>>, Option<Manifest>) {
    let mut objects: BTreeMap<String, Vec<u8>> = bucket
        .list(8)
        .unwrap()
        .into_iter()
        .filter(|o| !o.key.ends_with(".part"))
        .map(|o| {
            let bytes = bucket.get(&o.key).unwrap().unwrap().to_vec();
            (o.key, bytes)
        })
        .collect();
    let manifest = objects
        .remove("manifest.json")
        .map(|bytes| serde_json::from_slice(&bytes).unwrap());
    objects.remove("report.json");
    (objects, manifest)
}

/// Uploads every file under `dir` to `bucket`, keyed by relative path.
fn upload_tree(bucket: &Bucket, dir: &Path) {
    for file in all_files(dir) {
        bucket
            .put(&file, std::fs::read(dir.join(&file)).unwrap())
            .unwrap();
    }
}

fn convert_command(store: &dyn TestStore, src: &str, dest: &str) -> std::process::Command {
    let mut command = dicomprep();
    command
        .args(["convert", src, "--dest", dest, "--concurrency", "8"])
        .envs(store.env());
    command
}

fn run_convert(store: &dyn TestStore, src: &str, dest: &str) -> Output {
    convert_command(store, src, dest).output().unwrap()
}

/// The converted outputs under `bucket` equal the local reference, byte for byte (videos too:
/// encoding is deterministic), and the manifest describes the same items.
fn assert_same_as_local(bucket: &Bucket, destination: &str) {
    let (expected, expected_manifest) = reference();
    let (objects, manifest) = contents(bucket);
    let manifest = manifest.expect("manifest.json written");
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !objects.contains_key(*k))
        .collect();
    let extra: Vec<_> = objects
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "keys differ from a local run: missing {missing:?}, extra {extra:?}"
    );
    for (key, bytes) in expected {
        assert!(objects[key] == *bytes, "{key} differs from the local run");
    }
    assert_eq!(manifest.items, expected_manifest.items);
    assert_eq!(manifest.skipped, expected_manifest.skipped);
    assert_eq!(manifest.failed, expected_manifest.failed);
    assert_eq!(
        manifest.destination,
        Some(Location::parse(destination).unwrap())
    );
}

/// Every key of the manifest exists with the size it records and the right Content-Type.
fn assert_manifest_keys_stored(bucket: &Bucket, manifest: &Manifest) {
    let mut checked = 0;
    for item in &manifest.items {
        let mut expect = vec![(item.thumbnail_key.clone(), None)];
        if let Some(video) = &item.video {
            expect.push((item.storage_key.clone(), Some(video.file_size)));
        }
        for frame in &item.frames {
            expect.push((frame.hq_key.clone(), Some(frame.hq_bytes)));
            if let Some(lq) = &frame.lq_key {
                expect.push((lq.clone(), frame.lq_bytes));
            }
        }
        for (key, size) in expect {
            let info = bucket
                .head(&key)
                .unwrap()
                .unwrap_or_else(|| panic!("{key} missing"));
            if let Some(size) = size {
                assert_eq!(info.size, size, "{key}");
            }
            let wanted = content_type(&key);
            if bucket.location().scheme != dicomprep::store::Scheme::File {
                assert_eq!(info.content_type.as_deref(), Some(wanted), "{key}");
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} keys checked");
}

/// Most extra GETs a header scan of `keys` may make: the first range of a folder is learned
/// from its first files, so those read while the range was unknown (at most one per request
/// in flight, per folder) may find their header longer than the initial 8 KiB and read again
/// up to 64 KiB, then (Siemens, 122 KB) 128 KiB.
fn second_gets_bound(keys: &[&str], concurrency: usize) -> usize {
    let mut per_folder = std::collections::BTreeMap::<&str, usize>::new();
    for key in keys {
        let folder = key.rsplit_once('/').map_or("", |(folder, _)| folder);
        *per_folder.entry(folder).or_default() += 1;
    }
    per_folder.values().map(|&n| 2 * n.min(concurrency)).sum()
}

/// `dicomprep scan` of `src` (the case uploaded under `in/`) reads each object with one ranged
/// GET, as the server's own access log shows, but for a folder's first files
/// ([`second_gets_bound`]).
fn assert_scan_is_one_ranged_get_per_file(store: &dyn TestStore, src: &str) {
    let concurrency = 8;
    let logged = |server: &crate::emulators::Server, from: usize| {
        requests(&server.log_text()[from..])
            .into_iter()
            .filter(|r| r.method == "GET" && r.path.contains("/in/"))
            .collect::<Vec<_>>()
    };
    let from = store.server().map(|s| s.log_text().len());
    let output = dicomprep()
        .args(["scan", src, "--concurrency", &concurrency.to_string()])
        .envs(store.env())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let local = dicomprep().arg("scan").arg(data(CASE)).output().unwrap();
    let sorted = |stdout: &[u8]| {
        let mut lines: Vec<String> = String::from_utf8_lossy(stdout)
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    assert!(
        sorted(&output.stdout) == sorted(&local.stdout),
        "the records differ from a local scan"
    );
    let names = all_files(&data(CASE));
    let files = names.len();
    let keys: Vec<&str> = names.iter().map(String::as_str).collect();
    let bound = files + second_gets_bound(&keys, concurrency);
    let (Some(server), Some(from)) = (store.server(), from) else {
        return;
    };
    // A server may log a request just after answering it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut gets = logged(server, from);
    while gets.len() < files && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        gets = logged(server, from);
    }
    assert!(
        gets.len() >= files && gets.len() <= bound,
        "{} GETs for {files} files",
        gets.len()
    );
    let whole: Vec<_> = gets.iter().filter(|r| r.status != 206).collect();
    assert!(whole.is_empty(), "GETs without a range: {whole:?}");
}

/// The whole contract on one store.
fn contract(store: &dyn TestStore) {
    upload_tree(&store.bucket("in"), &data(CASE));
    let (src, dest) = (store.url("in"), store.url("out"));
    assert_scan_is_one_ranged_get_per_file(store, &src);
    let output = run_convert(store, &src, &dest);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let out = store.bucket("out");
    assert_same_as_local(&out, &dest);
    let manifest = contents(&out).1.unwrap();
    assert_manifest_keys_stored(&out, &manifest);
    assert_eq!(manifest.source, Some(Location::parse(&src).unwrap()));

    // A re-run keeps everything; an output of the wrong size is made again.
    let again = run_convert(store, &src, &dest);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains(" 0 files written"), "{stderr}");
    let item = &manifest.items[0];
    let (damaged, rewritten) = match &item.frames[0].lq_key {
        // An LQ frame of a video: the frame and the video are made again.
        Some(lq) => (lq.clone(), 2),
        None => (item.thumbnail_key.clone(), 1),
    };
    out.put(&damaged, b"partial".to_vec()).unwrap();
    let repaired = run_convert(store, &src, &dest);
    let stderr = String::from_utf8_lossy(&repaired.stderr);
    assert!(
        stderr.contains(&format!(" {rewritten} files written")),
        "{stderr}"
    );
    assert_same_as_local(&out, &dest);

    // Killed at several points, then finished: exactly the outputs of an uninterrupted run.
    let resumed = store.url("resumed");
    for delay in [150, 400, 700, 1000, 1400, 1800] {
        let mut child = convert_command(store, &src, &resumed)
            .arg("-q")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        child.wait().unwrap();
    }
    let finished = run_convert(store, &src, &resumed);
    assert_eq!(finished.status.code(), Some(0), "{finished:?}");
    assert_same_as_local(&store.bucket("resumed"), &resumed);
}

#[test]
fn s3_store_contract() {
    contract(&S3::start("dicomprep"));
}

#[test]
fn azure_store_contract() {
    contract(&Azure::start("dicomprep"));
}

#[test]
fn gcs_store_contract() {
    contract(&Gcs::start("dicomprep"));
}

/// The key may also come as JSON in `GOOGLE_SERVICE_ACCOUNT_KEY` instead of a file.
#[test]
fn gcs_emulator_reached_with_a_service_account_key_in_the_environment() {
    let gcs = Gcs::start("inline");
    let case = data(CASE);
    let files = all_files(&case);
    let bucket = gcs.bucket("in");
    for file in &files[..3] {
        bucket
            .put(file, std::fs::read(case.join(file)).unwrap())
            .unwrap();
    }
    let output = dicomprep()
        .args(["scan", &gcs.url("in"), "-q"])
        .env("GOOGLE_SERVICE_ACCOUNT_KEY", gcs.key_json())
        .env("GOOGLE_ALLOW_HTTP", "true")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let images = files[..3].iter().filter(|f| f.ends_with(".dcm")).count();
    assert!(images > 0);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        images
    );
}

#[test]
fn file_url_store_contract() {
    contract(&Folder {
        root: tempfile::tempdir().unwrap(),
    });
}

#[test]
fn in_memory_store_contract() {
    let store = Arc::new(InMemory::new());
    let bucket = |prefix: &str| {
        Bucket::with_store(
            store.clone(),
            Location::parse(&format!("memory://mem/{prefix}")).unwrap(),
        )
    };
    upload_tree(&bucket("in"), &data(CASE));
    let source = Source::Bucket(bucket("in"));
    let scanner = bucket("in");
    let objects = scanner.list(8).unwrap();
    let ranges = dicomprep::scan::FirstRanges::default();
    let scan = dicomprep::scan::scan_objects(&scanner, &objects, 8, &ranges, &NoProgress);
    // One listing, then one ranged GET per file, but for the first files of each folder
    // (GE headers of 17 KB, Siemens of 122 KB are longer than the first 8 KiB).
    let requests = scanner.stats().requests.load(Ordering::Relaxed);
    let files = objects.len() as u64;
    let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    let first_files = second_gets_bound(&keys, 8) as u64;
    assert!(
        requests > files && requests <= 1 + files + first_files,
        "{requests} requests for {files} files"
    );
    let sink = BucketSink::new(bucket("out"), 8).unwrap();
    let report = convert(
        &source,
        &scan,
        &sink,
        &ConvertOptions::default(),
        &NoProgress,
    )
    .unwrap();
    // The page, as the CLI writes it after the manifest.
    let pages = dicomprep::convert::write_pages(
        &sink,
        &report.manifest,
        &scan,
        &source,
        ConvertOptions::default().rule,
    )
    .unwrap();
    assert_eq!(pages, ["index.html"]);
    assert_same_as_local(&bucket("out"), "memory://mem/out");
    assert_manifest_keys_stored(&bucket("out"), &report.manifest);
}

#[test]
fn an_unreachable_store_is_a_clean_run_error() {
    let port = crate::emulators::free_port();
    let output = dicomprep()
        .args(["convert"])
        .arg(data(CASE))
        .args([
            "--dest",
            "s3://nowhere/out",
            "--retries",
            "1",
            "--retry-timeout",
            "2",
        ])
        .args(["--request-timeout", "2"])
        .envs(S3::env_for(format!("http://127.0.0.1:{port}")))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("s3://nowhere/out"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("testing"), "credentials leaked: {stderr}");
}

#[test]
fn s3_throttling_drops_and_stalls_are_retried_until_the_run_completes() {
    let s3 = S3::start("faulty");
    let proxy = FaultProxy::start(
        s3.server.port,
        Faults {
            every: 4,
            stall: Duration::from_secs(3),
            always_fail: Vec::new(),
        },
    );
    let dest = "s3://faulty/out";
    let started = Instant::now();
    let output = dicomprep()
        .args(["convert", "-q"])
        .arg(data(CASE))
        .args([
            "--dest",
            dest,
            "--concurrency",
            "8",
            "--request-timeout",
            "2",
        ])
        .envs(S3::env_for(proxy.endpoint()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(started.elapsed() < Duration::from_secs(120));
    assert_same_as_local(&s3.bucket("out"), dest);
    let injected = &proxy.injected;
    for (what, count) in [
        ("503 SlowDown", &injected.slow_down),
        ("dropped connections", &injected.dropped),
        ("stalls", &injected.stalled),
    ] {
        assert!(count.load(Ordering::Relaxed) > 3, "too few {what}");
    }
}

#[test]
fn a_key_that_always_fails_is_reported_by_name_while_the_rest_completes() {
    let s3 = S3::start("failing");
    let (expected, expected_manifest) = reference();
    // (Every item of the case is a video: its Siemens mosaics are videos of their tiles.)
    let victim = expected_manifest
        .items
        .iter()
        .find(|i| i.video.is_some())
        .expect("a video item")
        .clone();
    let proxy = FaultProxy::start(
        s3.server.port,
        Faults {
            always_fail: vec![victim.storage_key.clone()],
            ..Faults::default()
        },
    );
    let dest = "s3://failing/out";
    let output = dicomprep()
        .args(["convert"])
        .arg(data(CASE))
        .args(["--dest", dest, "--retries", "2", "--retry-timeout", "10"])
        .envs(S3::env_for(proxy.endpoint()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "upload of s3://failing/out/{}",
            victim.storage_key
        )),
        "{stderr}"
    );
    assert!(stderr.contains("500"), "the last error is named: {stderr}");
    let out = s3.bucket("out");
    let (objects, manifest) = contents(&out);
    let manifest = manifest.expect("manifest written");
    assert!(
        manifest
            .items
            .iter()
            .all(|i| i.storage_key != victim.storage_key)
    );
    assert!(
        manifest
            .failed
            .iter()
            .any(|f| f.path == victim.frames[0].path)
    );
    assert!(!objects.contains_key(&victim.storage_key));
    for key in expected.keys().filter(|k| **k != victim.storage_key) {
        assert!(objects.contains_key(key), "{key} missing");
    }
    // Without the fault, a re-run completes the set.
    let output = dicomprep()
        .args(["convert", "-q"])
        .arg(data(CASE))
        .args(["--dest", dest])
        .envs(s3.env())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_same_as_local(&out, dest);
}

#[test]
fn credentials_never_appear_in_output_reports_or_payloads() {
    const SECRET: &str = "ZZplantedSECRETkey0123456789";
    const KEY_ID: &str = "AKIAZZPLANTEDKEYID";
    let s3 = S3::start("secrets");
    let credentials = |endpoint: String| {
        let mut env = S3::env_for(endpoint);
        for (name, value) in &mut env {
            match *name {
                "AWS_SECRET_ACCESS_KEY" => *value = SECRET.into(),
                "AWS_ACCESS_KEY_ID" => *value = KEY_ID.into(),
                _ => {}
            }
        }
        env
    };
    let dest = "s3://secrets/out";
    let mut everything = Vec::new();
    // A run that works (moto accepts any key), then one whose server is gone.
    let dead = format!("http://127.0.0.1:{}", crate::emulators::free_port());
    for (endpoint, expected) in [(s3.server.endpoint(), 0), (dead, 1)] {
        let output = dicomprep()
            .args(["convert", "-v"])
            .arg(data(CASE))
            .args(["--dest", dest, "--payload", "darwin-readonly,bisque"])
            .args([
                "--retries",
                "1",
                "--retry-timeout",
                "2",
                "--request-timeout",
                "2",
            ])
            .envs(credentials(endpoint))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(expected), "{output:?}");
        everything.extend(output.stdout);
        everything.extend(output.stderr);
    }
    let out = s3.bucket("out");
    for object in out.list(8).unwrap() {
        if object.key.ends_with(".json") {
            everything.extend(out.get(&object.key).unwrap().unwrap().to_vec());
        }
    }
    let text = String::from_utf8_lossy(&everything);
    assert!(
        text.contains("darwin-readonly.json"),
        "payloads were written"
    );
    assert!(!text.contains(SECRET), "the secret key leaked");
    assert!(!text.contains(KEY_ID), "the key id leaked");
}
