//! DICOMweb sources against a real Orthanc (Debian's `orthanc` + `orthanc-dicomweb`, installed
//! by `scripts/setup.sh --test`), started per test on a free loopback port with a config and
//! storage folder of its own, loaded through `POST /instances`, and killed when the test ends.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Output;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dicomprep::contract::manifest::Manifest;
use dicomprep::contract::order_report::OrderReport;
use serde_json::Value;

use crate::fault_proxy::{FaultProxy, Faults, forward, read_request};
use crate::orthanc::{Orthanc, dicom_files, local_copy};
use crate::util::{all_files, data, dicomprep};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = dicomprep();
    command
        .args(args)
        .env_remove("DICOMWEB_TOKEN")
        .env_remove("DICOMWEB_USER");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run dicomprep")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// SOP Instance UID of every file of a local scan, by path.
fn sop_uids(src: &Path) -> BTreeMap<String, String> {
    let output = run(&["scan", src.to_str().unwrap(), "-q"], &[]);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            (
                record["path"].as_str().unwrap().to_string(),
                record["sop_instance_uid"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// An order report with every slice path replaced by what `name` makes of it.
fn series_by_uid(report: &OrderReport, name: &dyn Fn(&str) -> String) -> Value {
    let mut series = serde_json::to_value(&report.series).unwrap();
    for one in series.as_array_mut().unwrap() {
        for volume in one["volumes"].as_array_mut().unwrap() {
            for slice in volume["slices"].as_array_mut().unwrap() {
                let path = slice["path"].as_str().unwrap().to_string();
                slice["path"] = name(&path).into();
            }
        }
    }
    series
}

/// An implicit-VR Siemens mosaic: Orthanc's metadata gives its private elements as UN bulk
/// data only, so a DICOMweb scan cannot learn its tile count (NumberOfImagesInMosaic) and
/// lists it as one grid picture, unlike the file (a known limitation, issue 23).
const IMPLICIT_MOSAIC: &str = "dcm_qa_ts/In/2.dcm";

/// `files` without [`IMPLICIT_MOSAIC`], for the tests that compare a server with the disk.
fn metadata_complete(files: Vec<std::path::PathBuf>) -> Vec<std::path::PathBuf> {
    files
        .into_iter()
        .filter(|f| !f.ends_with(IMPLICIT_MOSAIC))
        .collect()
}

fn order_json(src: &str, extra: &[&str]) -> OrderReport {
    let mut args = vec!["order", src, "-q", "--explain"];
    args.extend_from_slice(extra);
    let output = run(&args, &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "order {src}: {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn order_from_dicomweb_equals_order_from_disk() {
    let folders = ["dcm_qa_nih", "dcm_qa_enh", "dcm_qa_ts"];
    let orthanc = Orthanc::start(None);
    for folder in folders {
        orthanc.load(&metadata_complete(dicom_files(folder)));
    }
    let local = local_copy(&folders);
    std::fs::remove_file(local.path().join(IMPLICIT_MOSAIC)).unwrap();
    let sops = sop_uids(local.path());
    let from_disk = order_json(local.path().to_str().unwrap(), &[]);
    let from_server = order_json(&orthanc.url(), &[]);
    let disk = series_by_uid(&from_disk, &|path| sops[path].clone());
    let server = series_by_uid(&from_server, &|path| {
        // studies/{st}/series/{se}/instances/{sop}
        path.rsplit('/').next().unwrap().to_string()
    });
    assert_eq!(from_server.series.len(), 8);
    // Same series, volumes, splits, slice order and diagnostics; Orthanc prints DS values as
    // JSON numbers of about 14 significant digits ("1e-016" becomes 0), so positions and
    // normals may differ from the files' text in the last digits.
    assert_close(&server, &disk, "series");
    assert!(from_server.skipped.is_empty() && from_server.failed.is_empty());

    // The header index keeps the server's headers: `--index` reads no metadata and gives the
    // same order, and `--where` selects from it.
    let db = local.path().join("server.sqlite");
    let indexed = run(
        &["index", &orthanc.url(), "--db", db.to_str().unwrap(), "-q"],
        &[],
    );
    assert_eq!(indexed.status.code(), Some(0), "{}", stderr(&indexed));
    let from_index = order_json(&orthanc.url(), &["--index", db.to_str().unwrap()]);
    // (Within 1e-9: the index keeps records as JSON, which serde_json reads back to within
    // one ulp without its `float_roundtrip` feature.)
    assert_close(
        &serde_json::to_value(&from_index.series).unwrap(),
        &serde_json::to_value(&from_server.series).unwrap(),
        "indexed series",
    );
    let selected = order_json(&orthanc.url(), &["--where", "manufacturer LIKE 'GE%'"]);
    assert_eq!(selected.series.len(), 1);
    assert_eq!(selected.series[0].series_number, Some(4));
}

/// `a` equals `b`, numbers within 1e-9 (relative).
fn assert_close(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                "{at}: {x} != {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths differ");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                assert_close(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{at}"
            );
            for (key, x) in x {
                assert_close(x, &y[key], &format!("{at}.{key}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// Every output key below `dest` but the run's own records, with its bytes.
fn outputs(dest: &Path) -> BTreeMap<String, Vec<u8>> {
    all_files(dest)
        .into_iter()
        .filter(|k| !k.ends_with(".json") && !k.ends_with(".html") && !k.starts_with("dicom/"))
        .map(|k| {
            let bytes = std::fs::read(dest.join(&k)).unwrap();
            (k, bytes)
        })
        .collect()
}

fn manifest(dest: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn convert_from_dicomweb_writes_the_same_outputs_and_copies_the_instances_as_stored() {
    let folders = ["dcm_qa_enh", "dcm_qa_ts"];
    let orthanc = Orthanc::start(None);
    for folder in folders {
        orthanc.load(&metadata_complete(dicom_files(folder)));
    }
    let local = local_copy(&folders);
    std::fs::remove_file(local.path().join(IMPLICIT_MOSAIC)).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (from_disk, from_server) = (out.path().join("disk"), out.path().join("server"));
    let convert = |src: &str, dest: &Path, extra: &[&str]| {
        let mut args = vec![
            "convert",
            src,
            "--dest",
            dest.to_str().unwrap(),
            "-q",
            "--no-html",
        ];
        args.extend_from_slice(extra);
        let output = run(&args, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "convert {src}: {}",
            stderr(&output)
        );
    };
    convert(local.path().to_str().unwrap(), &from_disk, &[]);
    convert(
        &orthanc.url(),
        &from_server,
        &["--copy-dicom", "--payload", "darwin-readwrite"],
    );

    let (disk, server) = (outputs(&from_disk), outputs(&from_server));
    assert!(disk.len() > 50, "{} outputs", disk.len());
    assert_eq!(
        server.keys().collect::<Vec<_>>(),
        disk.keys().collect::<Vec<_>>()
    );
    for (key, bytes) in &disk {
        assert!(server[key] == *bytes, "{key} differs");
    }

    let manifest = manifest(&from_server);
    assert_eq!(manifest.source.as_ref().unwrap().to_string(), orthanc.url());
    let frame_path = &manifest.items[0].frames[0].path;
    assert!(
        frame_path.starts_with("studies/") && frame_path.contains("/instances/"),
        "{frame_path}"
    );

    // The copies are the files as uploaded (8 transfer syntaxes, enhanced multi-frame).
    let originals: BTreeSet<Vec<u8>> = folders
        .iter()
        .flat_map(|f| metadata_complete(dicom_files(f)))
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    let copies: BTreeSet<Vec<u8>> = all_files(&from_server.join("dicom"))
        .into_iter()
        .map(|k| std::fs::read(from_server.join("dicom").join(k)).unwrap())
        .collect();
    assert_eq!(copies, originals);
    let payload: Value =
        serde_json::from_slice(&std::fs::read(from_server.join("darwin-readwrite.json")).unwrap())
            .unwrap();
    let key = payload["items"][0]["slots"][0]["storage_key"]
        .as_str()
        .unwrap();
    assert!(key.starts_with("dicom/studies/"), "{key}");
    assert!(from_server.join(key).is_file(), "{key} names a copy");

    // Without the copies, a read-write payload says why it cannot be made.
    let plain = out.path().join("plain");
    let args = [
        "convert",
        &orthanc.url(),
        "--dest",
        plain.to_str().unwrap(),
        "-q",
        "--no-mp4",
        "--no-html",
        "--payload",
        "darwin-readwrite",
    ];
    let output = run(&args, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("--copy-dicom"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn basic_auth_on_and_off_and_credentials_are_never_printed() {
    const PASSWORD: &str = "ZZplantedPASSWORD";
    const TOKEN: &str = "ZZplantedTOKEN";
    let orthanc = Orthanc::start(Some(("reader", PASSWORD)));
    orthanc.load(&dicom_files("dcm_qa_ts"));
    let url = orthanc.url();
    let args = ["scan", url.as_str(), "--debug-requests", "-o", "/dev/null"];

    let anonymous = run(&args, &[]);
    assert_eq!(anonymous.status.code(), Some(1));
    assert!(
        stderr(&anonymous).contains("HTTP 401"),
        "{}",
        stderr(&anonymous)
    );

    let wrong = run(&args, &[("DICOMWEB_TOKEN", TOKEN)]);
    assert_eq!(wrong.status.code(), Some(1));

    let basic = [("DICOMWEB_USER", "reader"), ("DICOMWEB_PASSWORD", PASSWORD)];
    let authorised = run(&args, &basic);
    assert_eq!(authorised.status.code(), Some(0), "{}", stderr(&authorised));
    let log = stderr(&authorised);
    assert!(log.contains("/metadata status=200"), "{log}");
    assert!(log.contains("9 DICOM images"), "{log}");

    for output in [&anonymous, &wrong, &authorised] {
        let printed = format!(
            "{}{}",
            stderr(output),
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(
            !printed.contains("ZZplanted"),
            "a credential was printed: {printed}"
        );
    }
}

#[test]
fn the_run_completes_through_resets_503s_and_stalls() {
    let orthanc = Orthanc::start(None);
    orthanc.load(&dicom_files("dcm_qa_ts"));
    orthanc.load(&dicom_files("dcm_qa_enh"));
    let out = tempfile::tempdir().unwrap();
    let direct = out.path().join("direct");
    let args = |src: &str, dest: &Path| {
        vec![
            "convert".to_string(),
            src.to_string(),
            "--dest".into(),
            dest.display().to_string(),
            "-q".into(),
            "--no-mp4".into(),
            "--no-html".into(),
            "--request-timeout".into(),
            "1".into(),
            "--retries".into(),
            "8".into(),
        ]
    };
    let refs = |v: &[String]| {
        v.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\u{0}")
    };
    let direct_args = args(&orthanc.url(), &direct);
    let output = run(&refs(&direct_args).split('\u{0}').collect::<Vec<_>>(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let proxy = FaultProxy::start(
        orthanc.port(),
        Faults {
            every: 4,
            stall: Duration::from_secs(2),
            ..Faults::default()
        },
    );
    let faulty = out.path().join("faulty");
    let faulty_args = args(&Orthanc::url_via(proxy.port), &faulty);
    let output = run(&refs(&faulty_args).split('\u{0}').collect::<Vec<_>>(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let injected = &proxy.injected;
    for (what, count) in [
        ("503", &injected.slow_down),
        ("reset", &injected.dropped),
        ("stall", &injected.stalled),
    ] {
        assert!(count.load(Ordering::Relaxed) > 0, "no {what} was injected");
    }
    assert_eq!(outputs(&faulty), outputs(&direct));
}

/// A proxy to Orthanc that answers some requests as a broken server would: `tamper` gets the
/// request path and returns the answer to send instead, or `None` to forward it.
fn tampering_proxy(
    upstream: u16,
    tamper: impl Fn(&str) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tamper = std::sync::Arc::new(tamper);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let tamper = tamper.clone();
            std::thread::spawn(move || serve_tampered(client, upstream, &*tamper));
        }
    });
    port
}

fn serve_tampered(client: TcpStream, upstream: u16, tamper: &dyn Fn(&str) -> Option<Vec<u8>>) {
    let Some((head, body, mut client)) = read_request(client) else {
        return;
    };
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let answer = tamper(&path).or_else(|| forward(upstream, &head, &body));
    if let Some(answer) = answer {
        let _ = client.write_all(&answer);
    }
}

/// A 200 answer with a multipart body as given.
fn multipart_answer(body: &[u8]) -> Vec<u8> {
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=B0B\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    answer
}

#[test]
fn bad_answers_fail_their_input_with_a_reason_and_the_run_goes_on() {
    let orthanc = Orthanc::start(None);
    orthanc.load(&dicom_files("dcm_qa_ts"));
    orthanc.load(&dicom_files("dcm_qa_enh"));
    let local = local_copy(&["dcm_qa_ts", "dcm_qa_enh"]);
    let sops = sop_uids(local.path());
    let sop = |file: &str| sops[&format!("dcm_qa_ts/In/{file}")].clone();
    let file_of = |file: &str| std::fs::read(data(&format!("dcm_qa_ts/In/{file}"))).unwrap();
    let (truncated, lying, not_dicom, missing) =
        (sop("2.dcm"), sop("3.dcm"), sop("4.dcm"), sop("5.dcm"));
    let two = file_of("2.dcm");
    let three = file_of("3.dcm");
    // The enhanced Philips file is a series of its own.
    let philips = local.path().join("dcm_qa_enh/In/Philips");
    let scanned = run(&["scan", philips.to_str().unwrap(), "-q"], &[]).stdout;
    let record: Value =
        serde_json::from_slice(scanned.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let philips_series = record["series_instance_uid"].as_str().unwrap().to_string();
    let (t, l, n, m, p) = (
        truncated.clone(),
        lying.clone(),
        not_dicom.clone(),
        missing.clone(),
        philips_series.clone(),
    );
    let port = tampering_proxy(orthanc.port(), move |path| {
        if path.ends_with(&format!("/instances/{t}")) {
            let mut body = b"--B0B\r\nContent-Type: application/dicom\r\n\r\n".to_vec();
            body.extend_from_slice(&two[..two.len() / 2]);
            return Some(multipart_answer(&body));
        }
        if path.ends_with(&format!("/instances/{l}")) {
            let mut body = format!(
                "--B0B\r\nContent-Type: application/dicom\r\nContent-Length: {}\r\n\r\n",
                three.len() + 100
            )
            .into_bytes();
            body.extend_from_slice(&three);
            body.extend_from_slice(b"\r\n--B0B--\r\n");
            return Some(multipart_answer(&body));
        }
        if path.ends_with(&format!("/instances/{n}")) {
            return Some(multipart_answer(
                b"--B0B\r\nContent-Type: application/dicom\r\n\r\nthis is not DICOM\r\n--B0B--\r\n",
            ));
        }
        if path.ends_with(&format!("/instances/{m}")) {
            return Some(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            );
        }
        if path.contains(&format!("/series/{p}/metadata")) {
            let body = br#"{"error": "not an array"}"#;
            let mut answer = format!("HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
            answer.extend_from_slice(body);
            return Some(answer);
        }
        None
    });
    let dest = tempfile::tempdir().unwrap();
    let url = Orthanc::url_via(port);
    let args = [
        "convert",
        &url,
        "--dest",
        dest.path().to_str().unwrap(),
        "--no-mp4",
        "--no-html",
        "--as",
        "images",
        "--retries",
        "2",
    ];
    let started = std::time::Instant::now();
    let output = run(&args, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "nothing is retried for long"
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    let reason_of = |needle: &str| {
        text.lines()
            .find(|l| l.starts_with("failed: ") && l.contains(needle))
            .unwrap_or_else(|| panic!("no failure for {needle}: {text}"))
            .to_string()
    };
    assert!(reason_of(&truncated).contains("truncated multipart body"));
    assert!(reason_of(&lying).contains("Content-Length"));
    assert!(reason_of(&not_dicom).contains("not a DICOM file"));
    assert!(reason_of(&missing).contains("404"));
    assert!(reason_of(&philips_series).contains("not a JSON array"));
    let manifest = manifest(dest.path());
    assert_eq!(manifest.failed.len(), 5, "{:?}", manifest.failed);
    // The rest converted: 5 good slices of dcm_qa_ts and the Siemens enhanced frames.
    let converted: BTreeSet<&str> = manifest
        .items
        .iter()
        .flat_map(|i| i.frames.iter().map(|f| f.path.as_str()))
        .collect();
    assert_eq!(converted.len(), 5 + 4);

    // An unknown study is an error naming it.
    let unknown = format!("{}/studies/1.2.3.999", orthanc.url());
    let output = run(&["order", &unknown, "-q"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no study 1.2.3.999"),
        "{}",
        stderr(&output)
    );
}
