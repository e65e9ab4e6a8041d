//! Criterion benches of the encoders and thumbnails on real frames from `test-data/thumbnails/`:
//! a 512x512 grey CT slice and a 640x480 RGB image (see that folder's README.md).
//!
//! Per image: `encode_png`, `encode_jpeg` at quality 50 and 85 (full size), `make_thumbnail`
//! (resampling only) and `encode_thumbnail` (resampling + JPEG q50); then the whole CPU work of
//! one slice (window + HQ PNG + LQ JPEG + thumbnail) on a real 16-bit CT frame. Single-threaded.
//!
//!     cargo bench --bench encode

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dicomprep::encode::jpeg::{Huffman, encode_jpeg};
use dicomprep::encode::png::encode_png;
use dicomprep::encode::thumbnail::encode_thumbnail;
use dicomprep::render::decode::{DicomImage, Samples};
use dicomprep::render::lut::{GreyMapping, ModalityLut, Voi, Window};
use dicomprep::render::thumbnail::make_thumbnail;
use dicomprep::render::{Channels, Image8};

/// A fixture PNG (8-bit grey or RGB) as an [`Image8`].
fn fixture(name: &str) -> Image8 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test-data/thumbnails")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("PNG header");
    let mut data = vec![0; reader.output_buffer_size().expect("PNG size")];
    let info = reader.next_frame(&mut data).expect("PNG data");
    data.truncate(info.buffer_size());
    let channels = match (info.color_type, info.bit_depth) {
        (png::ColorType::Grayscale, png::BitDepth::Eight) => Channels::Gray,
        (png::ColorType::Rgb, png::BitDepth::Eight) => Channels::Rgb,
        other => panic!("{name}: expected 8-bit grey or RGB, got {other:?}"),
    };
    Image8 {
        width: info.width,
        height: info.height,
        channels,
        data,
    }
}

fn bench_image(c: &mut Criterion, label: &str, image: &Image8) {
    let mut group = c.benchmark_group(format!("encode/{label}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode_png", |b| {
        b.iter(|| encode_png(black_box(image)).unwrap())
    });
    group.bench_function("encode_jpeg_q50", |b| {
        b.iter(|| encode_jpeg(black_box(image), 50, Huffman::Optimized).unwrap())
    });
    group.bench_function("encode_jpeg_q85", |b| {
        b.iter(|| encode_jpeg(black_box(image), 85, Huffman::Optimized).unwrap())
    });
    group.bench_function("encode_jpeg_q75_standard_huffman", |b| {
        b.iter(|| encode_jpeg(black_box(image), 75, Huffman::Standard).unwrap())
    });
    group.bench_function("make_thumbnail", |b| {
        b.iter(|| make_thumbnail(black_box(image)))
    });
    group.bench_function("encode_thumbnail", |b| {
        b.iter(|| encode_thumbnail(black_box(image)).unwrap())
    });
    group.finish();

    // Output sizes, for the record next to the timings.
    eprintln!(
        "{label}: PNG {} B, JPEG q50 {} B, JPEG q85 {} B, thumbnail {} B",
        encode_png(image).unwrap().len(),
        encode_jpeg(image, 50, Huffman::Optimized).unwrap().len(),
        encode_jpeg(image, 85, Huffman::Optimized).unwrap().len(),
        encode_thumbnail(image).unwrap().len()
    );
}

/// The whole per-slice CPU work of `convert` on one real 512x512 16-bit CT frame (693_J2KI,
/// decoded once): window (modality LUT + VOI to 8 bits), HQ PNG, LQ JPEG and thumbnail.
fn bench_pipeline(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/pydicom/693_J2KI.dcm");
    let image = DicomImage::open(&path).expect("open CT");
    let Samples::Grey(values) = image.frame(0).expect("decode CT").samples else {
        panic!("grey CT expected");
    };
    let mapping = GreyMapping {
        modality: ModalityLut::Rescale {
            slope: 1.0,
            intercept: -1024.0,
        },
        voi: Voi::Window(Window::linear(40.0, 400.0)),
        invert: false,
    };
    let frame = Image8 {
        width: 512,
        height: 512,
        channels: Channels::Gray,
        data: mapping.map_grey(&values),
    };
    let mut group = c.benchmark_group("slice/ct_512x512_16bit");
    group.throughput(Throughput::Elements(1));
    group.bench_function("window", |b| {
        b.iter(|| mapping.map_grey(black_box(&values)))
    });
    group.bench_function("window+png+lq_jpeg+thumbnail", |b| {
        b.iter(|| {
            let rendered = mapping.map_grey(black_box(&values));
            let image = Image8 {
                data: rendered,
                ..frame.clone()
            };
            let hq = encode_png(&image).unwrap();
            let lq = encode_jpeg(&image, 75, Huffman::Standard).unwrap();
            let thumbnail = encode_thumbnail(&image).unwrap();
            (hq.len(), lq.len(), thumbnail.len())
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_image(c, "ct_head_512x512_grey", &fixture("ct_head_512x512.png"));
    bench_image(c, "rgb_640x480", &fixture("jpeg2k_rgb_640x480.png"));
    bench_pipeline(c);
}

criterion_group!(encode, benches);
criterion_main!(encode);
