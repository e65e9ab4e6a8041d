//! Criterion benches: header scan + ordering of generated studies, and ordering alone on
//! in-memory headers. Sizes 1k and 10k; set `DICOMPREP_BENCH_100K=1` to add 100k.
//!
//! Studies are generated once under `target/bench-data/` from the bundled `CT_small.dcm`
//! (a real CT header) and reused; they are never committed.

use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dicomprep::NoProgress;
use dicomprep::order::Rule;
use dicomprep::order::plan::{OrderOptions, plan_order};
use dicomprep::scan::{InstanceHeader, ScanReport};
use dicomprep::synth::{Layout, SynthOptions, generate, truth_path};

fn sizes() -> Vec<usize> {
    let mut sizes = vec![1_000, 10_000];
    if std::env::var_os("DICOMPREP_BENCH_100K").is_some() {
        sizes.push(100_000);
    }
    sizes
}

/// A generated study of `slices` files in 4 series, made on first use.
fn study(slices: usize) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join(format!("target/bench-data/ct_small_{slices}"));
    if !truth_path(&out).exists() {
        let _ = std::fs::remove_dir_all(&out);
        let options = SynthOptions {
            template: root.join("test-data/pydicom/CT_small.dcm"),
            out: out.clone(),
            slices,
            series: 4,
            layout: Layout::Flat,
            seed: 1,
        };
        generate(&options).expect("generate bench study");
    }
    out
}

fn scan_and_order(c: &mut Criterion) {
    let mut group = c.benchmark_group("scan_order");
    group.sample_size(10);
    for n in sizes() {
        let dir = study(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("darwin", n), &dir, |b, dir| {
            b.iter(|| {
                let scan = dicomprep::scan_source(dir, &NoProgress).unwrap();
                let report = plan_order(&scan, "", OrderOptions::new(Rule::Darwin));
                assert_eq!(report.slice_count(), n);
                report
            })
        });
    }
    group.finish();
}

/// `n` headers of one series, positions shuffled against file names, as a scan would give.
fn headers(n: usize) -> ScanReport {
    let instances = (0..n)
        .map(|i| {
            let slot = (i * 7919) % n; // a permutation: 7919 is prime and does not divide n
            InstanceHeader {
                path: format!(
                    "{:08x}.dcm",
                    (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
                ),
                study_instance_uid: Some("1.2.3".into()),
                series_instance_uid: Some("1.2.3.4".into()),
                series_number: Some(1),
                instance_number: Some(slot as i64 + 1),
                slice_location: Some(-(slot as f64) * 1.25),
                image_position_patient: Some([-250.0, -250.0, -(slot as f64) * 1.25]),
                image_orientation_patient: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
                rows: Some(512),
                columns: Some(512),
                number_of_frames: 1,
                ..Default::default()
            }
        })
        .collect();
    ScanReport {
        instances,
        ..Default::default()
    }
}

fn order_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("order");
    for n in sizes() {
        let scan = headers(n);
        group.throughput(Throughput::Elements(n as u64));
        for (name, rule) in [("darwin", Rule::Darwin), ("spatial", Rule::Spatial)] {
            group.bench_with_input(BenchmarkId::new(name, n), &scan, |b, scan| {
                b.iter(|| plan_order(scan, "", OrderOptions::new(rule)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, scan_and_order, order_only);
criterion_main!(benches);
