//! What decoding a frame costs, relative to reading native samples: for starting the most
//! expensive work first, so that one slow codestream does not end a parallel run alone.

use super::codecs::{J2K_SYNTAXES, JPEG_SYNTAXES};

/// Relative CPU time of decoding one sample stored in `transfer_syntax` (native = 1).
///
/// Measured on dcm2niix's dcm_qa_ts suite (one 16-bit slice per syntax, 2 cores, 2026-12-07),
/// CPU over a native file of the same slice: JPEG Lossless +6 ms, JPEG-LS +5 ms, JPEG 2000
/// +36 ms, where reading and placing the native samples takes ~0.3 ms. RLE and deflate are
/// byte-oriented and cheap; baseline JPEG is close to lossless JPEG.
pub fn decode_cost(transfer_syntax: &str) -> u64 {
    let uid = transfer_syntax.trim_end_matches('\0');
    if J2K_SYNTAXES.contains(&uid) {
        120
    } else if JPEG_SYNTAXES.contains(&uid) {
        20
    } else if matches!(uid, "1.2.840.10008.1.2.5" | "1.2.840.10008.1.2.1.99") {
        3
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codestreams_cost_more_than_native_samples_and_jpeg_2000_most() {
        let native = decode_cost("1.2.840.10008.1.2.1");
        let rle = decode_cost("1.2.840.10008.1.2.5");
        let jpeg_ls = decode_cost("1.2.840.10008.1.2.4.80");
        let j2k = decode_cost("1.2.840.10008.1.2.4.90\0");
        assert!(native < rle && rle < jpeg_ls && jpeg_ls < j2k);
        assert_eq!(decode_cost("1.2.840.10008.1.2"), native);
        assert_eq!(decode_cost("1.2.840.10008.1.2.4.201"), j2k);
    }
}
