//! JPEG-LS (ISO/IEC 14495-1, ITU-T T.87) decoding: DICOM's JPEG-LS Lossless and Near-Lossless
//! transfer syntaxes, 2 to 16 bits, one to four components in any interleave mode, preset
//! coding parameters and restart intervals. Mapping tables (palettised JPEG-LS) and the HP
//! colour transforms are refused with a reason; DICOM does not use them.
//!
//! Our own code, so that no C++ library (and its start-up tables) is linked for a codec few
//! files use; checked against DCMTK's `dcml2pnm` on real files in the tests.

mod bits;
mod scan;

use scan::{Coding, Layout, Target, decode_scan};

/// A decoded frame: `components` samples per pixel, interleaved, row by row.
#[derive(Debug)]
pub struct Decoded {
    pub width: usize,
    pub height: usize,
    pub components: usize,
    /// Bits per sample (P of the frame header).
    pub precision: u8,
    pub samples: Vec<u16>,
}

/// Samples above which a frame is refused before any allocation (2^28).
const MAX_SAMPLES: usize = 1 << 28;

/// The frame header (SOF55).
struct FrameHeader {
    precision: u8,
    width: usize,
    height: usize,
    ids: Vec<u8>,
}

/// Preset coding parameters of an LSE segment (0: the default).
#[derive(Default, Clone, Copy)]
struct Preset {
    maxval: i32,
    t1: i32,
    t2: i32,
    t3: i32,
    reset: i32,
}

/// Decodes a JPEG-LS codestream (SOI to EOI) into its samples.
pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    if bytes.get(..2) != Some(&[0xFF, 0xD8][..]) {
        return Err("no SOI marker: not a JPEG-LS codestream".into());
    }
    let mut at = 2;
    let mut frame: Option<(FrameHeader, Vec<u16>)> = None;
    let mut preset = Preset::default();
    let mut restart_interval = 0;
    let mut decoded = [false; 4];
    loop {
        // Markers may be preceded by fill bytes.
        let start = at;
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let marker = match bytes.get(at..at + 2) {
            Some(&[0xFF, m]) => m,
            Some(_) => return Err(format!("no marker at byte {start}")),
            None => return Err("the codestream ends before its EOI marker".into()),
        };
        at += 2;
        if marker == 0xD9 {
            break;
        }
        let length = match bytes.get(at..at + 2) {
            Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
            None => return Err(format!("marker 0xFF{marker:02X} cut short")),
        };
        let segment = bytes
            .get(at + 2..at + length.max(2))
            .ok_or_else(|| format!("marker 0xFF{marker:02X} segment cut short"))?;
        at += length;
        match marker {
            0xF7 => {
                if frame.is_some() {
                    return Err("two frame headers".into());
                }
                let header = frame_header(segment)?;
                let size = header.width * header.height * header.ids.len();
                frame = Some((header, vec![0; size]));
            }
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Err(format!("a JPEG frame (SOF{}), not JPEG-LS", marker - 0xC0));
            }
            0xF8 => preset = preset_segment(segment)?,
            0xDD => restart_interval = restart_segment(segment)?,
            0xE8 if segment.starts_with(b"mrfx") && segment.get(4).is_some_and(|&t| t != 0) => {
                return Err("an HP colour transform (APP8 mrfx), which DICOM does not use".into());
            }
            0xDA => {
                let Some((header, out)) = frame.as_mut() else {
                    return Err("a scan before the frame header".into());
                };
                let scan = scan_header(segment, header)?;
                let coding = coding(header.precision, scan.near, preset)?;
                let mut target = Target {
                    out,
                    width: header.width,
                    height: header.height,
                    components: header.ids.len(),
                    placed: &scan.placed,
                };
                let layout = Layout {
                    interleave: scan.interleave,
                    restart_interval,
                };
                let data = &bytes[at..];
                at += decode_scan(data, coding, &layout, &mut target)?;
                for &c in &scan.placed {
                    decoded[c] = true;
                }
            }
            _ => {}
        }
    }
    let (header, samples) = frame.ok_or("no frame header (SOF55)")?;
    if !decoded[..header.ids.len()].iter().all(|&d| d) {
        return Err("a component has no scan".into());
    }
    Ok(Decoded {
        width: header.width,
        height: header.height,
        components: header.ids.len(),
        precision: header.precision,
        samples,
    })
}

fn frame_header(segment: &[u8]) -> Result<FrameHeader, String> {
    let [precision, h0, h1, w0, w1, count, ..] = *segment else {
        return Err("frame header cut short".into());
    };
    let (height, width) = (
        usize::from(u16::from_be_bytes([h0, h1])),
        usize::from(u16::from_be_bytes([w0, w1])),
    );
    if !(2..=16).contains(&precision) {
        return Err(format!("{precision} bits per sample (JPEG-LS has 2 to 16)"));
    }
    if width == 0 || height == 0 {
        return Err("a frame of no width or height (a DNL marker), not supported".into());
    }
    if !(1..=4).contains(&count) {
        return Err(format!("{count} components (1 to 4 supported)"));
    }
    if width * height * usize::from(count) > MAX_SAMPLES {
        return Err(format!("a {width} x {height} frame is over the size limit"));
    }
    let ids = (0..usize::from(count))
        .map(|i| segment.get(6 + 3 * i).copied())
        .collect::<Option<Vec<u8>>>()
        .ok_or("frame header cut short")?;
    Ok(FrameHeader {
        precision,
        width,
        height,
        ids,
    })
}

fn preset_segment(segment: &[u8]) -> Result<Preset, String> {
    let word = |i: usize| {
        segment
            .get(i..i + 2)
            .map(|b| i32::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or("preset parameters cut short")
    };
    match segment.first() {
        Some(1) => Ok(Preset {
            maxval: word(1)?,
            t1: word(3)?,
            t2: word(5)?,
            t3: word(7)?,
            reset: word(9)?,
        }),
        Some(2 | 3) => Err("mapping tables (palettised JPEG-LS), not supported".into()),
        Some(id) => Err(format!("LSE segment of type {id}, not supported")),
        None => Err("empty LSE segment".into()),
    }
}

fn restart_segment(segment: &[u8]) -> Result<usize, String> {
    match segment.len() {
        2..=4 => Ok(segment.iter().fold(0, |n, &b| n << 8 | usize::from(b))),
        _ => Err("restart interval segment of a wrong length".into()),
    }
}

/// A scan header (SOS): the frame components it codes, NEAR and the interleave mode.
struct ScanHeader {
    placed: Vec<usize>,
    near: i32,
    interleave: u8,
}

fn scan_header(segment: &[u8], frame: &FrameHeader) -> Result<ScanHeader, String> {
    let count = usize::from(*segment.first().ok_or("empty scan header")?);
    let tail = segment
        .get(1 + 2 * count..1 + 2 * count + 3)
        .ok_or("scan header cut short")?;
    let (near, interleave, transform) = (tail[0], tail[1], tail[2]);
    let mut placed = Vec::with_capacity(count);
    for i in 0..count {
        let (id, table) = (segment[1 + 2 * i], segment[2 + 2 * i]);
        if table != 0 {
            return Err("mapping tables (palettised JPEG-LS), not supported".into());
        }
        let c = frame
            .ids
            .iter()
            .position(|&f| f == id)
            .ok_or_else(|| format!("scan of component {id}, which the frame does not have"))?;
        if placed.contains(&c) {
            return Err(format!("component {id} twice in one scan"));
        }
        placed.push(c);
    }
    if count == 0 || (interleave == 0 && count != 1) || interleave > 2 {
        return Err(format!(
            "{count} components in a scan of interleave mode {interleave}"
        ));
    }
    if transform != 0 {
        return Err("a point transform, not supported".into());
    }
    Ok(ScanHeader {
        placed,
        near: i32::from(near),
        interleave,
    })
}

/// The coding parameters of a scan: the preset's where given, else the defaults of
/// ISO/IEC 14495-1 C.2.4.1.1 for MAXVAL and NEAR; checked against Table C.1.
fn coding(precision: u8, near: i32, preset: Preset) -> Result<Coding, String> {
    let full = (1 << precision) - 1;
    let maxval = if preset.maxval == 0 {
        full
    } else {
        preset.maxval
    };
    if maxval > full {
        return Err(format!("MAXVAL {maxval} over {precision} bits"));
    }
    if near > (maxval / 2).min(255) {
        return Err(format!("NEAR {near} too large for MAXVAL {maxval}"));
    }
    let bounded = |i: i32, low: i32| if i > maxval || i < low { low } else { i };
    let (d1, d2, d3) = if maxval >= 128 {
        let factor = (maxval.min(4095) + 128) / 256;
        let t1 = bounded(factor + 2 + 3 * near, near + 1);
        let t2 = bounded(factor * 4 + 3 + 5 * near, t1);
        (t1, t2, bounded(factor * 17 + 4 + 7 * near, t2))
    } else {
        let factor = 256 / (maxval + 1);
        let t1 = bounded((3 / factor).max(2) + 3 * near, near + 1);
        let t2 = bounded((7 / factor).max(3) + 5 * near, t1);
        (t1, t2, bounded((21 / factor).max(4) + 7 * near, t2))
    };
    let pick = |given: i32, default: i32| if given == 0 { default } else { given };
    let coding = Coding {
        maxval,
        near,
        t1: pick(preset.t1, d1),
        t2: pick(preset.t2, d2),
        t3: pick(preset.t3, d3),
        reset: pick(preset.reset, 64),
    };
    let valid = coding.t1 > near
        && coding.t1 <= coding.t2
        && coding.t2 <= coding.t3
        && coding.t3 <= maxval
        && (3..=maxval.max(255)).contains(&coding.reset);
    if !valid {
        return Err(format!(
            "preset parameters T1 {} T2 {} T3 {} RESET {} out of range",
            coding.t1, coding.t2, coding.t3, coding.reset
        ));
    }
    Ok(coding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_thresholds_are_the_standards() {
        // ISO/IEC 14495-1 Table C.3 (MAXVAL 255, NEAR 0) and the 16-bit case.
        let eight = coding(8, 0, Preset::default()).unwrap();
        assert_eq!((eight.t1, eight.t2, eight.t3, eight.reset), (3, 7, 21, 64));
        let sixteen = coding(16, 0, Preset::default()).unwrap();
        assert_eq!((sixteen.t1, sixteen.t2, sixteen.t3), (18, 67, 276));
        let near = coding(8, 3, Preset::default()).unwrap();
        assert_eq!((near.t1, near.t2, near.t3), (12, 22, 42));
        assert!(coding(8, 200, Preset::default()).is_err());
    }

    /// A restart interval as an encoder writes it: each interval coded afresh (contexts,
    /// run index and the line above reset), its bits padded to a byte, then RSTm. The scan
    /// of a real 384-line image twice, with RST0 between, under a frame twice as high and an
    /// interval of 384 lines, is that image twice.
    #[test]
    fn restart_intervals_start_afresh() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test-data/dcm_qa_ts/In/7.dcm");
        let file = std::fs::read(path).unwrap();
        let soi = file
            .windows(4)
            .position(|w| w == [0xFF, 0xD8, 0xFF, 0xF7])
            .unwrap();
        let stream = &file[soi..];
        let eoi = stream.windows(2).rposition(|w| w == [0xFF, 0xD9]).unwrap();
        let stream = &stream[..eoi + 2];
        let once = decode(stream).unwrap();
        let sos = stream.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let sos_end = sos + 2 + usize::from(u16::from_be_bytes([stream[sos + 2], stream[sos + 3]]));
        let scan = &stream[sos_end..eoi];
        let mut twice = stream[..sos].to_vec();
        // The frame's height (after FF F7, the length and P) doubled.
        let sof = twice.windows(2).position(|w| w == [0xFF, 0xF7]).unwrap();
        let height = u16::from_be_bytes([twice[sof + 5], twice[sof + 6]]);
        twice[sof + 5..sof + 7].copy_from_slice(&(2 * height).to_be_bytes());
        twice.extend_from_slice(&[0xFF, 0xDD, 0, 4]);
        twice.extend_from_slice(&height.to_be_bytes());
        twice.extend_from_slice(&stream[sos..sos_end]);
        twice.extend_from_slice(scan);
        twice.extend_from_slice(&[0xFF, 0xD0]);
        twice.extend_from_slice(scan);
        twice.extend_from_slice(&[0xFF, 0xD9]);
        let decoded = decode(&twice).unwrap();
        assert_eq!(decoded.height, 2 * once.height);
        assert_eq!(
            decoded.samples,
            [once.samples.clone(), once.samples].concat()
        );
        // The wrong marker between the intervals is refused.
        let at = twice.len() - scan.len() - 3;
        twice[at] = 0xD3;
        assert!(decode(&twice).unwrap_err().contains("RST0"));
    }

    #[test]
    fn bad_streams_are_refused_with_a_reason() {
        assert!(decode(b"not jpeg").unwrap_err().contains("SOI"));
        assert!(decode(&[0xFF, 0xD8]).unwrap_err().contains("EOI"));
        // SOF0: a JPEG frame, not JPEG-LS.
        let jpeg = [0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0];
        assert!(decode(&jpeg).unwrap_err().contains("SOF0"));
        // A scan before the frame header.
        let scan = [0xFF, 0xD8, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0, 0];
        assert!(decode(&scan).unwrap_err().contains("before the frame"));
        // A frame of one component (id 1), then a sample-interleaved scan naming it twice.
        let twice = [
            0xFF, 0xD8, 0xFF, 0xF7, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0, 0xFF, 0xDA, 0, 10, 2, 1,
            0, 1, 0, 0, 2, 0,
        ];
        assert!(decode(&twice).unwrap_err().contains("twice"));
    }
}
