//! DICOM RLE Lossless (PS3.5 Annex G): one PackBits segment per byte of each sample.

/// Decodes one RLE frame into native layout: interleaved samples, little-endian bytes.
pub fn decode_frame(
    fragment: &[u8],
    pixels: usize,
    samples: usize,
    bytes_per_sample: usize,
) -> Result<Vec<u8>, String> {
    if fragment.len() < 64 {
        return Err(format!(
            "header needs 64 bytes, fragment has {}",
            fragment.len()
        ));
    }
    let word = |i: usize| {
        u32::from_le_bytes([
            fragment[4 * i],
            fragment[4 * i + 1],
            fragment[4 * i + 2],
            fragment[4 * i + 3],
        ]) as usize
    };
    let segments = word(0);
    let expected = samples * bytes_per_sample;
    if segments != expected || segments > 15 {
        return Err(format!("{segments} segments, expected {expected}"));
    }
    let offsets: Vec<usize> = (1..=segments).map(word).collect();
    let mut data = Vec::with_capacity(segments);
    for (segment, &start) in offsets.iter().enumerate() {
        let end = offsets.get(segment + 1).copied().unwrap_or(fragment.len());
        let bytes = fragment
            .get(start..end.max(start))
            .ok_or_else(|| format!("segment {segment} offset {start} beyond the fragment"))?;
        // PackBits expands two bytes to at most 128: checked before allocating the frame, whose
        // declared size may be absurd.
        if pixels > bytes.len().saturating_mul(64) {
            return Err(format!(
                "segment {segment} holds {} bytes, too few for {pixels} pixels",
                bytes.len()
            ));
        }
        data.push(bytes);
    }
    let mut out = vec![0u8; pixels * expected];
    for (segment, data) in data.into_iter().enumerate() {
        let decoded = unpack_bits(data, pixels);
        if decoded.len() < pixels {
            return Err(format!(
                "segment {segment} holds {} of {pixels} bytes",
                decoded.len()
            ));
        }
        // Segments run most significant byte first within each sample.
        let (sample, byte) = (
            segment / bytes_per_sample,
            bytes_per_sample - 1 - segment % bytes_per_sample,
        );
        for (pixel, &value) in decoded.iter().take(pixels).enumerate() {
            out[(pixel * samples + sample) * bytes_per_sample + byte] = value;
        }
    }
    Ok(out)
}

/// PackBits: a header byte n in 0..=127 copies n+1 bytes, -127..=-1 repeats the next byte 1-n
/// times, -128 does nothing. Stops after `limit` bytes.
fn unpack_bits(mut data: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit);
    while out.len() < limit {
        let Some((&header, rest)) = data.split_first() else {
            break;
        };
        let n = header as i8;
        if n >= 0 {
            let count = (n as usize + 1).min(rest.len());
            out.extend_from_slice(&rest[..count]);
            data = &rest[count..];
        } else if n != -128 {
            let Some((&value, rest)) = rest.split_first() else {
                break;
            };
            out.extend(std::iter::repeat_n(value, (1 - i32::from(n)) as usize));
            data = rest;
        } else {
            data = rest;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_literals_runs_and_no_ops() {
        assert_eq!(
            unpack_bits(&[2, 1, 2, 3, 0xFE, 9, 0x80, 0, 7], 100),
            vec![1, 2, 3, 9, 9, 9, 7]
        );
        assert_eq!(unpack_bits(&[0xFE, 9], 2), vec![9, 9, 9]);
    }

    #[test]
    fn sixteen_bit_frame_reassembles_little_endian() {
        // 2 pixels, 1 sample, 2 bytes: values 0x0102 and 0x0304.
        let mut fragment = vec![0u8; 64];
        fragment[0] = 2;
        fragment[4] = 64;
        fragment[8] = 67;
        fragment.extend_from_slice(&[1, 0x01, 0x03]); // high bytes
        fragment.extend_from_slice(&[1, 0x02, 0x04]); // low bytes
        assert_eq!(
            decode_frame(&fragment, 2, 1, 2).unwrap(),
            vec![0x02, 0x01, 0x04, 0x03]
        );
        assert!(decode_frame(&fragment[..10], 2, 1, 2).is_err());
        assert!(decode_frame(&fragment, 2, 3, 2).is_err());
        // A declared size no segment can fill fails before the frame is allocated.
        let absurd = decode_frame(&fragment, 1 << 40, 1, 2).unwrap_err();
        assert!(absurd.contains("too few"), "{absurd}");
    }
}
