//! Integration tests: one binary (as in ripgrep) running the real `dicomprep` on the real DICOM
//! files of `test-data/`.

// The order contract on real series, against expectations derived independently with pydicom.
mod order;
// Header scan records and the accounting of broken, odd and non-DICOM files.
mod scan;
// Exit codes, formats, output files and help text of the command line.
mod cli;
// The large-study generator, checked against its own ground truth.
mod synth;
// Rendered pixels against DCMTK.
mod render;
// The JPEG-LS decoder against DCMTK's, sample for sample.
mod jpeg_ls;
// Conversion: layout, manifest, accounting and resume.
mod convert;
// The user guide builds and its links hold.
mod docs;
// Labels in: SEG and RTSTRUCT on Darwin and Encord files, against highdicom and the platforms' clients.
mod labels;
// MP4 videos against ffprobe and ffmpeg.
mod video;
// Thumbnails and encoders against the real ImageMagick on PNGs rendered from real DICOM.
mod thumbnail;
// Object stores (moto S3, Azurite, fake-gcs-server, file://, in-memory): one contract for all.
mod stores;
// DICOMweb sources against a real Orthanc: order and convert as from disk, auth, faults.
mod dicomweb;
// Orthanc, the DICOMweb server the DICOMweb tests start.
mod orthanc;
// The S3, Azure and GCS servers the store tests start.
mod emulators;
// The benchmark S3 server (examples/s3_folder_server.rs) against `order` of the same folder.
mod bench_server;
// A fault-injecting proxy in front of the S3 server.
mod fault_proxy;
// Registration payloads (golden, from a real conversion) and register clients over HTTP.
mod payload;
// The local HTTP server the register clients' tests answer with.
mod register_server;
// Crash safety: killed runs, concurrent runs, a full disk.
mod crash;
// The manifest and payloads name only keys that exist; windows that show the volume.
mod integrity;
// Hostile input: the fault corpus through scan, order and convert.
mod faults;
// Keys and names against malicious headers and planted patient data.
mod safety;
// The header index: index, refresh, resume, query, --where and --index.
mod catalog;
// The object cache of convert (--cache) against moto S3.
mod object_cache;
// index.html and contact sheets, in a real browser (headless Chromium).
mod page;
// Scale-out: plan, shards as a Slurm job array, merge.
mod scale_out;
// Shards on buckets and DICOMweb: listings, the object cache, names after failed writes.
mod shard_stores;
// The Kubernetes and AWS Batch files, parsed and checked.
mod deploy_files;
// A single-node Slurm cluster started and stopped by the tests.
mod slurm_cluster;
// Readable item names (--name): hostile descriptions, collisions, payloads, renames.
mod names;
// NIfTI volumes and sidecars against dcm2niix, read back with nibabel.
mod nifti;
// Siemens mosaics: tiles as slices in scan, order, rendering, videos and the index.
mod mosaic;
// The Python package: its wheel built with maturin, installed into a fresh venv, its pytest suite.
mod python_package;
// `--burned-in`: ultrasound cut to its regions, declared text skipped, on planted real files.
mod burned_in;
// Whole-slide images against OpenSlide 4 and wsidicom.
mod slides;
// Whole-slide images from DICOMweb (frame by frame) and buckets, equal to a folder's.
mod slide_sources;
// Helpers: paths into test-data, running the binary, reading expectations.
mod util;
