//! Header scan of gzip-compressed DICOM files: compressed bytes are fetched (from the file or
//! with ranged GETs) and inflated only as far as the header needs, within the bound of
//! [`reader::gzip`].

use std::io::Read;

use flate2::read::MultiGzDecoder;

use super::reader::{self, Input, ReadError, gzip};
use super::{HeaderSource, MAX_HEADER, ScanOutcome, classify};
use crate::contract::FileIssue;

/// Inflated bytes asked for first: enough to tell a DICOM file (its preamble and file meta)
/// from another gzip file (a `.nii.gz` beside the series costs 4 KB inflated, not 64 KB, and
/// the inflater's buffers that much less fresh memory); a longer header asks for more.
const FIRST_INFLATE: u64 = 4 << 10;

/// Compressed bytes read on demand from a header source: `buf` holds the file's first bytes
/// (those read so far), and grows by doubling when the inflater needs more.
struct Compressed<'s> {
    source: &'s mut dyn HeaderSource,
    buf: &'s mut Vec<u8>,
    pos: usize,
}

impl Read for Compressed<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.buf.len() {
            let (have, size) = (self.buf.len() as u64, self.source.size());
            if have >= size {
                return Ok(0);
            }
            let target = have.saturating_mul(2).max(FIRST_INFLATE).min(size);
            self.source
                .fill(self.buf, target)
                .map_err(std::io::Error::other)?;
            if self.buf.len() as u64 == have {
                return Ok(0); // the file shrank while being read
            }
        }
        let available = &self.buf[self.pos..];
        let n = out.len().min(available.len());
        out[..n].copy_from_slice(&available[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Scans a gzip-compressed file whose first bytes are in `buf`.
pub(super) fn scan_gzip_header(
    source: &mut dyn HeaderSource,
    relative: &str,
    buf: &mut Vec<u8>,
    inflate: &mut Vec<u8>,
) -> ScanOutcome {
    let issue = |reason: String| FileIssue {
        path: relative.to_string(),
        reason,
    };
    let size = source.size();
    let limit = gzip::inflate_limit(size);
    let mut stream = MultiGzDecoder::new(Compressed {
        source,
        buf,
        pos: 0,
    });
    let mut plain = Vec::new();
    let mut wanted = FIRST_INFLATE;
    loop {
        let ended = match gzip::inflate_up_to(&mut stream, &mut plain, wanted.min(limit + 1)) {
            Ok(ended) => ended,
            Err(reason) => return ScanOutcome::Failed(issue(reason)),
        };
        if plain.len() as u64 > limit {
            return ScanOutcome::Failed(issue(gzip::too_large(limit)));
        }
        // Until the stream ends its inflated size is unknown: lengths may reach the bound.
        let input = Input {
            bytes: &plain,
            file_size: if ended { plain.len() as u64 } else { limit },
        };
        match reader::read_header(input, inflate) {
            Ok(raw) => {
                if let Some(pixel) = raw.pixel_data
                    && let Some(length) = pixel.length
                    && pixel.offset + u64::from(length) > limit
                {
                    return ScanOutcome::Failed(issue(gzip::too_large(limit)));
                }
                let mut outcome = classify(&raw, relative, input.file_size);
                if let ScanOutcome::Instance(header) = &mut outcome {
                    header.file_size = size; // bytes read from the source, as for other files
                }
                return outcome;
            }
            Err(ReadError::NeedMore(n)) if n > MAX_HEADER => {
                return ScanOutcome::Failed(issue(format!(
                    "header is longer than {} MiB before pixel data; not scanned",
                    MAX_HEADER >> 20
                )));
            }
            Err(ReadError::NeedMore(n)) => wanted = n.max(wanted.saturating_mul(2)),
            // Judged on the whole (bounded) stream, so the reason is about the real data.
            Err(ReadError::Corrupt(_)) if !ended => wanted = limit + 1,
            Err(ReadError::NotDicom(why)) => {
                return ScanOutcome::Skipped(issue(format!(
                    "gzip-compressed, but not a DICOM file inside: {why}"
                )));
            }
            Err(err) => {
                return ScanOutcome::Failed(issue(format!("gzip-compressed: {err}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;
    use crate::scan::scan_file;
    use crate::scan::source::SourceFile;

    fn scanned(path: &Path) -> ScanOutcome {
        let file = SourceFile {
            path: path.to_path_buf(),
            relative: "file".into(),
        };
        scan_file(&file, &mut Vec::new(), &mut Vec::new())
    }

    fn gzipped(dir: &Path, name: &str, plain: &[u8]) -> std::path::PathBuf {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(plain).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        path
    }

    /// A Siemens EPI slice's 122 KB header is inflated as far as it needs, past the first
    /// 4 KB; a gzip file holding something else is judged on those 4 KB.
    #[test]
    fn a_long_header_inflates_as_far_as_it_needs_another_file_stops_early() {
        let original = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test-data/dcm_qa_nih/In/20180918Si/mr_0003/epi_pe_ap-00001.dcm");
        let dir = tempfile::tempdir().unwrap();
        let packed = gzipped(dir.path(), "epi.dcm.gz", &std::fs::read(&original).unwrap());
        let (ScanOutcome::Instance(got), ScanOutcome::Instance(want)) =
            (scanned(&packed), scanned(&original))
        else {
            panic!("both scan as instances");
        };
        assert!(want.pixel_data_offset > 16 * FIRST_INFLATE);
        assert_eq!(got.pixel_data_offset, want.pixel_data_offset);
        assert_eq!(
            (got.sop_instance_uid, got.image_type, got.mosaic),
            (want.sop_instance_uid, want.image_type, want.mosaic)
        );

        let text = "not DICOM\n".repeat(100_000);
        let ScanOutcome::Skipped(issue) = scanned(&gzipped(dir.path(), "t.gz", text.as_bytes()))
        else {
            panic!("a gzip file of text is skipped");
        };
        assert!(
            issue.reason.contains("not a DICOM file inside"),
            "{issue:?}"
        );
    }
}
