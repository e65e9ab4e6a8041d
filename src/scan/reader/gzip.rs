//! gzip-compressed DICOM files (`*.dcm.gz`, as several public collections ship them):
//! recognised by content, inflated with a bound.
//!
//! The bound: 64 times the compressed size, at least 64 MiB and at most 2 GiB. Real DICOM
//! compresses far less than 64:1 (a mostly black image of a few MiB may do better, which the
//! 64 MiB floor covers), while a gzip bomb reaches ~1000:1; 2 GiB is more than any single
//! DICOM file holds in practice. Past the bound a file fails with that reason, and no more of
//! it is inflated.

use std::io::Read;

use flate2::read::MultiGzDecoder;

/// The first two bytes of every gzip member (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];
/// Inflated bytes allowed per compressed byte.
const MAX_RATIO: u64 = 64;
/// The bound is never below this, so small, very compressible files still inflate.
const MIN_LIMIT: u64 = 64 << 20;
/// The bound is never above this.
const MAX_LIMIT: u64 = 2 << 30;

/// Whether `bytes` start like a gzip file (the name does not matter).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// The most a gzip file of `compressed` bytes may inflate to.
pub fn inflate_limit(compressed: u64) -> u64 {
    compressed
        .saturating_mul(MAX_RATIO)
        .clamp(MIN_LIMIT, MAX_LIMIT)
}

/// The reason given for a file that inflates beyond `limit`.
pub fn too_large(limit: u64) -> String {
    format!(
        "gzip-compressed file inflates beyond {} MiB ({MAX_RATIO} times its size, at least {} MiB, at most {} MiB): not inflated further",
        limit >> 20,
        MIN_LIMIT >> 20,
        MAX_LIMIT >> 20
    )
}

/// Inflates from `stream` into `out` until `out` holds `target` bytes or the stream ends;
/// returns whether it ended.
pub fn inflate_up_to(
    stream: &mut impl Read,
    out: &mut Vec<u8>,
    target: u64,
) -> Result<bool, String> {
    let wanted = target.saturating_sub(out.len() as u64);
    stream
        .take(wanted)
        .read_to_end(out)
        .map_err(|e| format!("gzip-compressed file does not inflate: {e}"))?;
    Ok((out.len() as u64) < target)
}

/// Inflates a whole gzip file held in memory, within its [`inflate_limit`].
pub fn gunzip(compressed: &[u8]) -> Result<Vec<u8>, String> {
    let limit = inflate_limit(compressed.len() as u64);
    let mut out = Vec::new();
    let ended = inflate_up_to(&mut MultiGzDecoder::new(compressed), &mut out, limit + 1)?;
    if !ended || out.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn inflates_within_the_bound_and_stops_past_it() {
        assert_eq!(gunzip(&gzip(b"DICM")).unwrap(), b"DICM");
        // 65 MiB of zeros compress to ~65 kB: 1000:1, past the 64 MiB floor.
        let bomb = gzip(&vec![0; 65 << 20]);
        assert!(bomb.len() < 1 << 20);
        let err = gunzip(&bomb).unwrap_err();
        assert!(err.contains("beyond 64 MiB"), "{err}");
    }

    #[test]
    fn the_bound_follows_the_size_between_floor_and_ceiling() {
        assert_eq!(inflate_limit(1000), 64 << 20);
        assert_eq!(inflate_limit(2 << 20), 128 << 20);
        assert_eq!(inflate_limit(u64::MAX), 2 << 30);
    }

    #[test]
    fn corrupt_streams_and_other_bytes_are_told_apart() {
        assert!(is_gzip(&gzip(b"x")) && !is_gzip(b"DICM") && !is_gzip(b""));
        let mut broken = gzip(b"some text to compress, some text to compress");
        broken.truncate(broken.len() / 2);
        assert!(gunzip(&broken).unwrap_err().contains("does not inflate"));
    }
}
