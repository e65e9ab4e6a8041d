//! The scan stage: where files come from ([`source`]: folders, buckets, and DICOMweb services
//! ([`dicomweb`])), and the header scan itself: every file's header read up to Pixel Data, in
//! parallel, each file accounted for as an instance, a skip or a failure.

pub mod burned_in;
pub mod csa;
pub mod dicomweb;
pub mod first_range;
pub mod frame_diffusion;
pub mod frame_index;
pub mod ge_fieldmap;
mod gzip;
pub mod label_class;
pub mod mosaic;
pub mod reader;
pub mod record;
pub mod resident;
pub mod slide;
pub mod source;
pub mod vector;

use std::cell::RefCell;
use std::fs::File;
use std::io::Read;

use rayon::prelude::*;

pub use first_range::FirstRanges;
pub use label_class::LabelClass;
pub use mosaic::Mosaic;
pub use record::{FrameHeader, InstanceHeader};

use crate::Progress;
use crate::contract::FileIssue;
use crate::scan::source::SourceFile;
use crate::store::{Bucket, ListedObject};
use reader::{Input, RawHeader, ReadError};

/// Bytes read first; enough for most headers (Siemens CSA headers need more and get it).
const FIRST_READ: usize = 16 << 10;
/// An object whose header is longer than its first range is read again up to at least this:
/// a request costs far more than its bytes, so two GETs cover nearly any header.
const SECOND_OBJECT_READ: u64 = 64 << 10;
/// A header longer than this before Pixel Data is treated as corrupt (bounds memory per file).
const MAX_HEADER: u64 = 256 << 20;

/// What the scan made of one file.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanOutcome {
    Instance(Box<InstanceHeader>),
    /// Not an image: not DICOM, a DICOMDIR, or no pixel data.
    Skipped(FileIssue),
    /// Should be an image but cannot be read.
    Failed(FileIssue),
}

impl ScanOutcome {
    /// The input's path, as reported.
    pub fn path(&self) -> &str {
        match self {
            ScanOutcome::Instance(header) => &header.path,
            ScanOutcome::Skipped(issue) | ScanOutcome::Failed(issue) => &issue.path,
        }
    }
}

/// Every file of a source, accounted for.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ScanReport {
    /// Image instances, in source order (sorted by path).
    pub instances: Vec<InstanceHeader>,
    pub skipped: Vec<FileIssue>,
    pub failed: Vec<FileIssue>,
}

impl ScanReport {
    /// Every input's outcome: instances, then skipped, then failed inputs.
    pub fn into_outcomes(self) -> Vec<ScanOutcome> {
        let instances = self.instances.into_iter();
        let instances = instances.map(|header| ScanOutcome::Instance(Box::new(header)));
        instances
            .chain(self.skipped.into_iter().map(ScanOutcome::Skipped))
            .chain(self.failed.into_iter().map(ScanOutcome::Failed))
            .collect()
    }

    /// Number of inputs accounted for.
    pub fn total(&self) -> usize {
        self.instances.len() + self.skipped.len() + self.failed.len()
    }
}

/// Files per reader thread beyond the run's own threads, for files not in memory. Reads from a
/// cold disk spend most of their time waiting, so more reads in flight than cores keep the disk
/// busy (10,000 cold files, 2 cores: 0.95 s with 2 threads, 0.60 s with 8: ~35 µs saved per
/// file); but each thread started costs ~1 ms of CPU, mostly the kernel zeroing the first pages
/// of its allocator heap (2 MiB transparent huge pages). An extra reader pays for itself from
/// ~40 files on when the disk is read, never when the files are in the page cache.
const FILES_PER_READER: usize = 48;

/// Threads for reading the headers of `count` local files (`path_of(i)` is the i-th) when none
/// are given: the run's own threads for a small folder or one whose files are in memory already
/// (see [`resident::in_page_cache`]: 569 cached files, 2 cores: 56 ms with 2 threads, 65 ms with
/// 11); else one more per [`FILES_PER_READER`] files, at most 4 per core (and 8).
pub fn default_io_threads<'a>(
    count: usize,
    path_of: impl Fn(usize) -> &'a std::path::Path,
) -> usize {
    let threads = rayon::current_num_threads();
    let readers = (count / FILES_PER_READER).clamp(threads, (threads * 4).max(8));
    if readers > threads && !resident::in_page_cache(count, path_of) {
        readers
    } else {
        threads
    }
}

/// Scans `files` with `io_threads` reader threads (the run's own when as many, else a pool of
/// their own, no larger than the number of files: a thread costs its stack and its allocator
/// heap), reporting progress.
pub fn scan_files(files: &[SourceFile], io_threads: usize, progress: &dyn Progress) -> ScanReport {
    let scan = || -> Vec<ScanOutcome> {
        files
            .par_iter()
            .map(|file| {
                let outcome = with_scratch(|buf, inflate| scan_file(file, buf, inflate));
                progress.advance(1);
                outcome
            })
            .collect()
    };
    let threads = io_threads.min(files.len());
    if threads == rayon::current_num_threads() {
        return collect(scan());
    }
    collect(in_pool(threads, scan))
}

thread_local! {
    /// A reader thread's scratch buffers (header bytes, inflated bytes), kept from file to file:
    /// fresh memory costs the kernel a page to zero, and rayon's `map_init` would make new
    /// buffers for each piece of work it splits off.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `scan` with this thread's scratch buffers (fresh ones if a scan on this thread holds
/// them already).
fn with_scratch<T>(scan: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> T) -> T {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => {
            let (buf, inflate) = &mut *scratch;
            scan(buf, inflate)
        }
        Err(_) => scan(&mut Vec::new(), &mut Vec::new()),
    })
}

/// Runs `work` in a pool of `threads` threads of its own (or the global pool when no thread
/// can be started).
pub(crate) fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

/// Sorts outcomes into a report, keeping their order.
pub(crate) fn collect(outcomes: Vec<ScanOutcome>) -> ScanReport {
    let mut report = ScanReport::default();
    for outcome in outcomes {
        match outcome {
            ScanOutcome::Instance(header) => report.instances.push(*header),
            ScanOutcome::Skipped(issue) => report.skipped.push(issue),
            ScanOutcome::Failed(issue) => report.failed.push(issue),
        }
    }
    report
}

/// Scans one local file, reading only as many bytes as its header needs. `buf` and `inflate`
/// are scratch buffers reused across files.
pub fn scan_file(file: &SourceFile, buf: &mut Vec<u8>, inflate: &mut Vec<u8>) -> ScanOutcome {
    let failed = |reason: String| {
        ScanOutcome::Failed(FileIssue {
            path: file.relative.clone(),
            reason,
        })
    };
    let handle = match File::open(&file.path) {
        Ok(handle) => handle,
        Err(e) => return failed(format!("cannot open: {e}")),
    };
    let size = match handle.metadata() {
        Ok(m) => m.len(),
        Err(e) => return failed(format!("cannot stat: {e}")),
    };
    let mut reader = LocalHeader { handle, size };
    let reads = Reads {
        first: FIRST_READ as u64,
        again: None,
    };
    scan_header(&mut reader, &file.relative, reads, buf, inflate)
}

/// Scans one object of a bucket with ranged GETs of `first_read` bytes and more only when the
/// header is longer (then at least [`SECOND_OBJECT_READ`]).
pub fn scan_object(
    bucket: &Bucket,
    object: &ListedObject,
    first_read: u64,
    buf: &mut Vec<u8>,
    inflate: &mut Vec<u8>,
) -> ScanOutcome {
    let mut reader = ObjectHeader { bucket, object };
    let reads = Reads {
        first: first_read,
        again: Some(SECOND_OBJECT_READ),
    };
    scan_header(&mut reader, &object.key, reads, buf, inflate)
}

/// Scans the objects of a bucket with `concurrency` requests in flight: one ranged GET for a
/// typical header. The first range is learned per key prefix ([`FirstRanges`]): the files of a
/// series have headers of about one length (e.g. 1.2 KB for a plain CT slice, 122 KB for
/// Siemens EPI), so each prefix's range fits its headers after its first files. `ranges`
/// carries what was learned across calls (the batches of `dicomprep index`).
pub fn scan_objects(
    bucket: &Bucket,
    objects: &[ListedObject],
    concurrency: usize,
    ranges: &FirstRanges,
    progress: &dyn Progress,
) -> ScanReport {
    let scan = || -> Vec<ScanOutcome> {
        objects
            .par_iter()
            .map(|object| {
                let first = ranges.first(&object.key);
                let outcome =
                    with_scratch(|buf, inflate| scan_object(bucket, object, first, buf, inflate));
                if let Some(needed) = header_length(&outcome) {
                    ranges.learn(&object.key, needed);
                }
                progress.advance(1);
                outcome
            })
            .collect()
    };
    collect(in_pool(concurrency, scan))
}

/// Bytes of a file up to the end of its Pixel Data element header: what reading its header
/// needs. `None` for Deflated files, whose offsets are in the inflated stream (and which are
/// read whole).
fn header_length(outcome: &ScanOutcome) -> Option<u64> {
    const DEFLATED: &str = "1.2.840.10008.1.2.1.99";
    match outcome {
        ScanOutcome::Instance(header) if header.transfer_syntax != DEFLATED => {
            Some(header.pixel_data_offset + 12)
        }
        _ => None,
    }
}

/// Where header bytes come from: a local file or an object.
trait HeaderSource {
    /// Size of the whole file.
    fn size(&self) -> u64;
    /// Extends `buf` (the file's first bytes) to `target` bytes, or to the end of the file.
    fn fill(&mut self, buf: &mut Vec<u8>, target: u64) -> Result<(), String>;
}

struct LocalHeader {
    handle: File,
    size: u64,
}

impl HeaderSource for LocalHeader {
    fn size(&self) -> u64 {
        self.size
    }

    fn fill(&mut self, buf: &mut Vec<u8>, target: u64) -> Result<(), String> {
        read_up_to(&mut self.handle, buf, target).map_err(|e| format!("cannot read: {e}"))
    }
}

struct ObjectHeader<'a> {
    bucket: &'a Bucket,
    object: &'a ListedObject,
}

impl HeaderSource for ObjectHeader<'_> {
    fn size(&self) -> u64 {
        self.object.size
    }

    fn fill(&mut self, buf: &mut Vec<u8>, target: u64) -> Result<(), String> {
        let start = buf.len() as u64;
        if start < target {
            let bytes = self
                .bucket
                .get_range(&self.object.key, start..target)
                .map_err(|e| format!("cannot read: {e}"))?;
            buf.extend_from_slice(&bytes);
        }
        Ok(())
    }
}

/// How much of a file a header scan reads: `first` bytes, then (when the header is longer)
/// more, growing geometrically so that a long header is parsed a few times, not once per
/// element.
#[derive(Debug, Clone, Copy)]
struct Reads {
    first: u64,
    /// For an object: at least twice as much and at least this (a request costs far more than
    /// its bytes). For a local file (`None`): what the header needs plus as much again as was
    /// read (a read call is cheap, pixel bytes read for nothing are not: a Siemens header
    /// needing 137 KB is read in 154 KB, not 275).
    again: Option<u64>,
}

impl Reads {
    /// What to read next after `read` bytes, when the header needs `needed`.
    fn after(&self, read: u64, needed: u64) -> u64 {
        match self.again {
            Some(again) => needed.max(read * 2).max(again),
            None => needed + read,
        }
    }
}

/// Reads a header from `source`, growing the read only when the header is longer.
fn scan_header(
    source: &mut dyn HeaderSource,
    relative: &str,
    reads: Reads,
    buf: &mut Vec<u8>,
    inflate: &mut Vec<u8>,
) -> ScanOutcome {
    let failed = |reason: String| {
        ScanOutcome::Failed(FileIssue {
            path: relative.to_string(),
            reason,
        })
    };
    let file_size = source.size();
    buf.clear();
    let mut wanted = reads.first;
    loop {
        let target = wanted.min(file_size);
        if let Err(reason) = source.fill(buf, target) {
            return failed(reason);
        }
        if reader::gzip::is_gzip(buf) {
            return gzip::scan_gzip_header(source, relative, buf, inflate);
        }
        // A file that shrank while being read is judged on the bytes it has.
        let size = if (buf.len() as u64) < target {
            buf.len() as u64
        } else {
            file_size
        };
        let input = Input {
            bytes: buf,
            file_size: size,
        };
        match reader::read_header(input, inflate) {
            Ok(raw) => return classify(&raw, relative, file_size),
            Err(ReadError::NeedMore(n)) if n > MAX_HEADER => {
                return failed(format!(
                    "header is longer than {} MiB before pixel data; not scanned",
                    MAX_HEADER >> 20
                ));
            }
            Err(ReadError::NeedMore(n)) => wanted = reads.after(wanted, n),
            Err(err @ ReadError::NotDicom(_)) => {
                return ScanOutcome::Skipped(FileIssue {
                    path: relative.to_string(),
                    reason: err.to_string(),
                });
            }
            Err(err @ ReadError::Corrupt(_)) => return failed(err.to_string()),
        }
    }
}

/// Reads from `handle` until `buf` holds `target` bytes or the file ends, with as few read calls
/// as possible (one, normally): consecutive small reads look sequential to the kernel, which then
/// reads ahead far into the pixel data.
fn read_up_to(handle: &mut File, buf: &mut Vec<u8>, target: u64) -> std::io::Result<()> {
    let mut filled = buf.len();
    buf.resize(target as usize, 0);
    while filled < buf.len() {
        match handle.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(filled);
                return Err(e);
            }
        }
    }
    buf.truncate(filled);
    Ok(())
}

/// Turns a parsed header into an instance, or says why the file is not one; `relative` is the
/// file's path as reported.
pub fn classify(raw: &RawHeader<'_>, relative: &str, file_size: u64) -> ScanOutcome {
    let issue = |reason: String| FileIssue {
        path: relative.to_string(),
        reason,
    };
    if raw.is_dicomdir() {
        return ScanOutcome::Skipped(issue(
            "DICOMDIR (a media directory: lists files, holds no image)".into(),
        ));
    }
    let Some(pixel_data) = raw.pixel_data else {
        // A structure set has no pixels: it is a label, placed on the images it references.
        if is_structure_set(raw) {
            return match record::decode_instance(raw, relative.to_string(), file_size) {
                Ok(header) => ScanOutcome::Instance(Box::new(header)),
                Err(why) => ScanOutcome::Failed(issue(why)),
            };
        }
        return ScanOutcome::Skipped(issue(
            "DICOM without pixel data (not an image: report, plan, structure set, stub…)".into(),
        ));
    };
    let header = match record::decode_instance(raw, relative.to_string(), file_size) {
        Ok(header) => header,
        Err(why) => return ScanOutcome::Failed(issue(why)),
    };
    if let Some(why) = pixel_data_problem(&header, raw, pixel_data) {
        return ScanOutcome::Failed(issue(why));
    }
    ScanOutcome::Instance(Box::new(header))
}

/// Whether the header is an RT Structure Set's (by its SOP Class UID).
fn is_structure_set(raw: &RawHeader<'_>) -> bool {
    raw.elements
        .iter()
        .find(|(tag, _)| *tag == dicom_dictionary_std::tags::SOP_CLASS_UID)
        .map(|(_, value)| reader::trim_text(value))
        .is_some_and(|uid| LabelClass::of(Some(&uid)) == Some(LabelClass::StructureSet))
}

/// Checks Pixel Data against the file before anything trusts the declared sizes: a native
/// length must fit in the file (in the bounded inflated stream for Deflated files) and hold every
/// frame, and encapsulated data needs at least one fragment item (8 bytes) per frame. Sizes are
/// multiplied in `u128`, so absurd Rows, Columns or NumberOfFrames cannot overflow.
fn pixel_data_problem(
    header: &InstanceHeader,
    raw: &RawHeader<'_>,
    pixel: reader::PixelDataInfo,
) -> Option<String> {
    let element_header = if raw.encoding.explicit_vr { 12 } else { 8 };
    // A mosaic stores one frame of the whole grid.
    let (frames, size) = match &header.mosaic {
        Some(m) => (1, Some((m.rows, m.columns))),
        None => (header.number_of_frames, header.size()),
    };
    let Some(length) = pixel.length else {
        let available = header
            .file_size
            .saturating_sub(pixel.offset + element_header);
        return (u64::from(frames) * 8 > available).then(|| {
            format!(
                "{frames} frames declared, but the {available} bytes of compressed pixel data cannot hold them (truncated?)"
            )
        });
    };
    let length = u64::from(length);
    let limit = if header.transfer_syntax == "1.2.840.10008.1.2.1.99" {
        reader::MAX_INFLATED // offsets are in the inflated stream
    } else {
        header.file_size
    };
    let end = pixel.offset + element_header + length;
    if end > limit {
        return Some(format!(
            "truncated: pixel data declares {length} bytes but the file ends {} bytes short",
            end - limit
        ));
    }
    if u64::from(frames) > length {
        return Some(format!(
            "{frames} frames declared, but pixel data holds only {length} bytes"
        ));
    }
    let (rows, columns) = size?;
    let bits = u128::from(header.bits_allocated?);
    // Native YBR_FULL_422 stores two samples per pixel (Y Y Cb Cr for each pair of pixels).
    let samples = match (
        header.samples_per_pixel.unwrap_or(1),
        header.photometric_interpretation.as_deref(),
    ) {
        (3, Some("YBR_FULL_422")) => 2,
        (samples, _) => u128::from(samples),
    };
    let bits_total = u128::from(rows) * u128::from(columns) * u128::from(frames) * samples * bits;
    let expected = bits_total.div_ceil(8);
    (u128::from(length) < expected).then(|| {
        format!(
            "pixel data holds {length} bytes but {rows}x{columns}x{frames} frames x {samples} samples x {bits} bits needs {expected} (truncated?)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_reads_grow_by_what_the_header_needs_objects_by_doubling() {
        let local = Reads {
            first: 16 << 10,
            again: None,
        };
        // A Siemens header needing 137 KB after the first 16 KB: one more read, not past 154 KB.
        assert_eq!(local.after(16 << 10, 137_396), 137_396 + (16 << 10));
        // A long header still grows geometrically (each read at least doubles what was read).
        assert_eq!(local.after(1 << 20, (1 << 20) + 8), (2 << 20) + 8);
        let object = Reads {
            first: 16 << 10,
            again: Some(SECOND_OBJECT_READ),
        };
        assert_eq!(object.after(16 << 10, 20_000), SECOND_OBJECT_READ);
        assert_eq!(object.after(128 << 10, 137_396), 256 << 10);
    }

    #[test]
    fn a_scan_thread_keeps_its_scratch_and_a_nested_scan_gets_its_own() {
        with_scratch(|buf, _| buf.extend_from_slice(b"kept"));
        with_scratch(|buf, _| {
            assert_eq!(
                buf.as_slice(),
                b"kept",
                "the same buffers on the same thread"
            );
            with_scratch(|inner, _| assert!(inner.is_empty(), "fresh buffers, no panic"));
            buf.clear();
        });
    }
}
