//! Shards on buckets and DICOMweb, without an engine: what a shard lists of a bucket DEST
//! (its own series' folders only), the object cache of a shard (`--cache`, versions from the
//! plan), item names after an output that always fails (the same as one run's), and a plan
//! over a DICOMweb study URL with a query. Requests are counted through `--debug-requests`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::emulators::{S3, TestStore};
use crate::fault_proxy::{FaultProxy, Faults};
use crate::object_cache::object_gets;
use crate::orthanc::{Orthanc, dicom_files};
use crate::scale_out::{assert_same, generated, objects, tree, without_totals};
use crate::util::{all_files, dicomprep, request_lines};

/// Runs the binary with `env`, expecting exit code `code`.
fn run(args: &[&str], env: &[(&'static str, String)], code: i32) -> Output {
    let output = dicomprep()
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The prefix of every LIST request in the request log of `output`, in order.
fn listed_prefixes(output: &Output) -> Vec<String> {
    request_lines(output)
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains("list-type="))
        .map(|r| {
            let url = r.split_whitespace().nth(1).unwrap();
            let query = url.split_once('?').map_or("", |(_, q)| q);
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("prefix="))
                .map(crate::emulators::percent_decode)
                .unwrap_or_default()
        })
        .collect()
}

/// The header line of shard `shard`'s inputs file under `dest`.
fn shard_header(bucket: &dicomprep::store::Bucket, shard: usize) -> Value {
    let bytes = bucket
        .get(&format!("shards/{shard:05}.jsonl"))
        .unwrap()
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// Issue 16: with 1,000 shards over an archive of 150M keys, listing DEST whole in every
/// shard would list 150 billion keys; a shard lists the folders of its own series only.
#[test]
fn a_shard_on_a_bucket_lists_only_the_folders_of_its_series_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let study = generated(dir.path(), 24, 6);
    let s3 = S3::start("lists");
    let (dest, env) = (s3.url("dest"), s3.env());
    let study = study.to_str().unwrap();
    let plan = run(
        &["plan", study, "--dest", &dest, "--shards", "2", "--no-mp4"],
        &env,
        0,
    );
    assert!(listed_prefixes(&plan).is_empty(), "plan lists nothing");
    let header = shard_header(&s3.bucket("dest"), 0);
    let own: BTreeSet<String> = header["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let (study, series) = (&s["study_instance_uid"], &s["series_instance_uid"]);
            format!(
                "dest/{}/{}/",
                study.as_str().unwrap(),
                series.as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(own.len(), 3, "6 equal series over 2 shards");

    let shard = |k: &str| {
        let args = ["convert", "--plan", &dest, "--shard", k, "--debug-requests"];
        run(&args, &env, 0)
    };
    for run in [shard("0"), shard("0")] {
        let listed = listed_prefixes(&run);
        assert_eq!(
            listed.len(),
            own.len(),
            "one listing per series: {listed:?}"
        );
        assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), own);
    }
    // The second run resumed: everything kept.
    let report = s3.bucket("dest").get("shards/00000/report.json").unwrap();
    let report: Value = serde_json::from_slice(&report.unwrap()).unwrap();
    assert_eq!(report["totals"]["outputs_written"], 0, "{report}");
    assert!(report["totals"]["outputs_kept"].as_u64().unwrap() > 0);

    shard("1");
    let merge = run(&["merge", &dest, "--debug-requests", "-q"], &env, 0);
    // The merge lists DEST once: its top level, then each sub-folder side by side.
    let listed = listed_prefixes(&merge);
    assert_eq!(listed[0], "dest/", "{listed:?}");
    let folders: BTreeSet<&String> = listed[1..].iter().collect();
    assert_eq!(
        folders.len(),
        listed.len() - 1,
        "a folder listed twice: {listed:?}"
    );
    assert!(
        folders
            .iter()
            .all(|f| f.starts_with("dest/") && f.len() > 5),
        "{listed:?}"
    );
}

/// Names are numbered over every item before the items whose outputs failed are left out, in
/// one run and in a merge alike: the shard keeps such an item in its own manifest.
#[test]
fn merged_names_equal_one_runs_when_an_output_always_fails() {
    let dir = tempfile::tempdir().unwrap();
    let study = generated(dir.path(), 16, 4);
    let study = study.to_str().unwrap();
    // Every item is named `CT`: one run numbers them CT, CT-2, ... by study, series, volume.
    let flags = ["--name", "{modality}", "--no-mp4"];
    let local = dir.path().join("local");
    let mut args = vec!["convert", study, "--dest", local.to_str().unwrap(), "-q"];
    args.extend(flags);
    run(&args, &[], 0);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(local.join("manifest.json")).unwrap()).unwrap();
    // The item numbered first (the unnumbered name) is the one to lose: one run numbers the
    // others -2, -3, ... all the same.
    let first = manifest["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| !item["name"].as_str().unwrap().contains('-'))
        .unwrap();
    let victim = first["thumbnail_key"].as_str().unwrap().to_string();
    let first_name = first["name"].as_str().unwrap().to_string();

    // The first item's thumbnail cannot be uploaded, into either destination.
    let (single_store, sharded_store) = (S3::start("out"), S3::start("out"));
    let faults = || Faults {
        always_fail: vec![victim.clone()],
        ..Faults::default()
    };
    let single_proxy = FaultProxy::start(single_store.server.port, faults());
    let sharded_proxy = FaultProxy::start(sharded_store.server.port, faults());
    let (single_env, sharded_env) = (
        S3::env_for(single_proxy.endpoint()),
        S3::env_for(sharded_proxy.endpoint()),
    );
    let dest = "s3://out/dest";
    let retries = ["--retries", "1", "--retry-timeout", "5", "-q"];
    let mut args = vec!["convert", study, "--dest", dest];
    args.extend(flags.iter().chain(&retries));
    run(&args, &single_env, 3);
    let mut args = vec!["plan", study, "--dest", dest, "--shards", "2", "-q"];
    args.extend(flags);
    run(&args, &sharded_env, 0);
    let mut codes = Vec::new();
    for shard in ["0", "1"] {
        let mut args = vec!["convert", "--plan", dest, "--shard", shard];
        args.extend(retries);
        let output = dicomprep()
            .args(&args)
            .envs(sharded_env.clone())
            .output()
            .unwrap();
        codes.push(output.status.code().unwrap());
    }
    codes.sort();
    assert_eq!(codes, [0, 3], "the shard of the first item lost it");
    run(&["merge", dest, "-q"], &sharded_env, 3);

    let (single, merged) = (
        objects(&single_store, "dest"),
        objects(&sharded_store, "dest"),
    );
    let names: Vec<String> =
        serde_json::from_slice::<Value>(&merged["manifest.json"]).unwrap()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap().to_string())
            .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        !names.contains(&first_name),
        "{first_name} went with the failed item: {names:?}"
    );
    let failed = String::from_utf8_lossy(&merged["manifest.json"]).into_owned();
    assert!(
        failed.contains(&format!("upload of {dest}/{victim} failed")),
        "{failed}"
    );
    // The error text names the proxy's port and the time the PUT took: the rest is the same.
    // The manifest holds that text, so the bytes written (which count it) differ with it.
    let steady = |files: BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        without_totals(files, &["bytes_written"])
            .into_iter()
            .map(
                |(key, bytes)| match key.ends_with(".json") || key.ends_with(".html") {
                    true => (key, without_request_details(&bytes)),
                    false => (key, bytes),
                },
            )
            .collect()
    };
    assert_same(&steady(single), &steady(merged));
}

/// `bytes` with the details of an upload error that differ between runs (the address of the
/// PUT and its duration) cut out.
fn without_request_details(bytes: &[u8]) -> Vec<u8> {
    const START: &str = "Error performing PUT ";
    const END: &str = "after 1 retries";
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(START) {
        let end = rest[start..].find(END).map_or(rest.len(), |e| start + e);
        out.push_str(&rest[..start + START.len()]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.into_bytes()
}

/// `convert --plan --cache`: the shard has no listing of SRC, so the plan carries each
/// object's ETag and size (from the scan's listing, or from the index).
#[test]
fn a_shard_with_the_object_cache_fetches_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let study = generated(dir.path(), 12, 2);
    let s3 = S3::start("cached");
    let bucket = s3.bucket("in");
    let mut sizes = std::collections::BTreeMap::new();
    for file in all_files(&study) {
        let bytes = std::fs::read(study.join(&file)).unwrap();
        sizes.insert(file.clone(), bytes.len() as u64);
        bucket.put(&file, bytes).unwrap();
    }
    let (src, env) = (s3.url("in"), s3.env());
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (db, cache) = (path("index.sqlite"), path("cache"));
    run(&["index", &src, "--db", &db, "-q"], &env, 0);
    let common = ["--shards", "2", "--no-mp4", "--no-html", "-q"];
    // One plan from a scan of the bucket, one with another window from the index.
    let from_scan = path("scanned");
    let mut args = vec!["plan", src.as_str(), "--dest", &from_scan];
    args.extend(common);
    run(&args, &env, 0);
    let from_index = path("indexed");
    let mut args = vec!["plan", src.as_str(), "--dest", &from_index, "--index", &db];
    args.extend(common.iter().chain(&["--window", "bone"]));
    run(&args, &env, 0);
    for dest in [&from_scan, &from_index] {
        let inputs = std::fs::read_to_string(Path::new(dest).join("shards/00000.jsonl")).unwrap();
        for line in inputs.lines().skip(1) {
            let input: Value = serde_json::from_str(line).unwrap();
            let path = input["path"].as_str().unwrap();
            assert_eq!(input["listed"]["size"], sizes[path], "{line}");
            assert!(
                input["listed"]["etag"].as_str().unwrap().len() > 2,
                "{line}"
            );
        }
    }

    let shard = |dest: &str| {
        let args = ["convert", "--plan", dest, "--shard", "0", "--cache", &cache];
        let mut args = args.to_vec();
        args.push("--debug-requests");
        run(&args, &env, 0)
    };
    let first = shard(&from_scan);
    let fetched = object_gets(&first);
    assert!(
        !fetched.is_empty(),
        "the first shard run fetches its objects"
    );
    assert!(listed_prefixes(&first).is_empty(), "no listing of SRC");
    let second = shard(&from_index);
    assert_eq!(
        request_lines(&second),
        Vec::<String>::new(),
        "nothing fetched"
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("object cache: {} reads served", fetched.len())),
        "{stderr}"
    );
    let items = |dest: &str| {
        let text = std::fs::read(Path::new(dest).join("shards/00000/manifest.json")).unwrap();
        serde_json::from_slice::<Value>(&text).unwrap()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(items(&from_scan), items(&from_index));
}

/// The Siemens study of dcm_qa_nih: 4 series of 2 instances.
const SIEMENS_STUDY: &str = "1.3.12.2.1107.5.2.19.45160.30000018091720502193200000007";

/// A plan keeps a DICOMweb source with its study and QIDO query; its shards read from it.
#[test]
fn shards_of_a_dicomweb_study_with_a_query_merge_into_what_one_convert_writes() {
    let orthanc = Orthanc::start(None);
    let siemens: Vec<_> = dicom_files("dcm_qa_nih")
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("20180918Si"))
        .collect();
    assert_eq!(siemens.len(), 8);
    orthanc.load(&siemens);
    orthanc.load(&dicom_files("dcm_qa_enh"));
    let url = format!(
        "{}/studies/{SIEMENS_STUDY}?Modality=MR&includefield=SeriesDescription",
        orthanc.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    let dest_text = dest.to_str().unwrap();
    let flags = ["--no-mp4", "-q"];
    let mut args = vec!["convert", url.as_str(), "--dest", dest_text];
    args.extend(flags);
    run(&args, &[], 0);
    let single = tree(&dest);
    std::fs::remove_dir_all(&dest).unwrap();

    let mut args = vec!["plan", url.as_str(), "--dest", dest_text, "--shards", "2"];
    args.extend(flags);
    run(&args, &[], 0);
    let plan: Value =
        serde_json::from_slice(&std::fs::read(dest.join("shards/plan.json")).unwrap()).unwrap();
    let source: dicomprep::store::Location =
        serde_json::from_value(plan["source"].clone()).unwrap();
    assert_eq!(
        source.to_string(),
        url,
        "the URL round-trips through plan.json"
    );
    assert_eq!(
        plan["source"]["query"], "Modality=MR&includefield=SeriesDescription",
        "{plan}"
    );
    assert_eq!(plan["series"], 4, "the study's series only");
    for shard in ["0", "1"] {
        run(
            &["convert", "--plan", dest_text, "--shard", shard, "-q"],
            &[],
            0,
        );
    }
    run(&["merge", dest_text, "-q"], &[], 0);
    assert_same(&single, &tree(&dest));
}
