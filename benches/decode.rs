//! Criterion benches of our own decoders on real frames of `test-data/`: JPEG-LS lossless
//! (a 384x384 16-bit MR slice of dcm_qa_ts) and near-lossless sample-interleaved RGB.
//! Single-threaded.
//!
//!     cargo bench --bench decode

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dicomprep::render::jpeg_ls;

/// The JPEG-LS codestream (SOI to the end) of a single-fragment file.
fn codestream(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data")
        .join(relative);
    let bytes = std::fs::read(&path).unwrap();
    let start = bytes
        .windows(3)
        .position(|w| w == [0xFF, 0xD8, 0xFF])
        .expect("a JPEG-LS codestream");
    bytes[start..].to_vec()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("jpeg_ls");
    for (label, file) in [
        ("mr_384x384_16bit_lossless", "dcm_qa_ts/In/7.dcm"),
        (
            "rgb_100x100_near_lossless_sample",
            "pydicom/SC_rgb_jls_lossy_sample.dcm",
        ),
    ] {
        let stream = codestream(file);
        let decoded = jpeg_ls::decode(&stream).unwrap();
        group.throughput(Throughput::Elements(decoded.samples.len() as u64));
        group.bench_function(label, |b| {
            b.iter(|| jpeg_ls::decode(black_box(&stream)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(decode, benches);
criterion_main!(decode);
