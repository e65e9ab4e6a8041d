//! A hostile-input corpus: real DICOM files from `test-data/` broken in the ways real archives
//! break them (truncations, bit flips, absurd element lengths, huge declared images, bogus
//! transfer syntaxes, broken compressed fragments, deeply nested sequences), plus files that are
//! not images at all (empty, one byte, PNG, text, DICOMDIR) and a gzip-compressed template.
//!
//! The corpus is deterministic by seed and never committed: `cargo run --example fault_corpus`
//! writes it, and `tests/it/faults.rs` runs the real binary over it. Everything here is pure
//! except [`load_templates`] and [`write_corpus`].

use std::io::Write;
use std::path::Path;

use super::SplitMix64;
use crate::scan::reader::{has_long_length, is_vr};

/// Real files (relative to `test-data/`) that the faults are made from: every encoding and
/// pixel data kind the tool reads, kept small so a corpus of hundreds of files stays fast.
pub const TEMPLATES: &[&str] = &[
    "pydicom/CT_small.dcm",
    "pydicom/MR_small_implicit.dcm",
    "pydicom/MR_small_bigendian.dcm",
    "pydicom/MR_small_RLE.dcm",
    "pydicom/SC_rgb_rle_2frame.dcm",
    "pydicom/JPEG2000.dcm",
    "pydicom/SC_rgb_jpeg_dcmtk.dcm",
    "pydicom/JPEGLSNearLossless_08.dcm",
    "pydicom/image_dfl.dcm",
    "pydicom/rtdose.dcm",
    "pydicom/ExplVR_LitEndNoMeta.dcm",
    "pydicom/dicomdirtests/DICOMDIR",
];

/// Levels of the deeply nested sequences.
pub const NESTING_LEVELS: usize = 10_000;

/// A real file the faults start from.
#[derive(Debug, Clone)]
pub struct Template {
    /// File stem, used in the names of the files made from it.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// One file of the corpus: its name says which fault it carries and what it was made from.
#[derive(Debug, Clone)]
pub struct FaultFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Reads [`TEMPLATES`] from a `test-data/` folder.
pub fn load_templates(test_data: &Path) -> std::io::Result<Vec<Template>> {
    TEMPLATES
        .iter()
        .map(|relative| {
            let path = test_data.join(relative);
            let bytes = std::fs::read(&path)?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Template { name, bytes })
        })
        .collect()
}

/// Writes the corpus into `out` (created), one file per entry.
pub fn write_corpus(out: &Path, files: &[FaultFile]) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    for file in files {
        std::fs::write(out.join(&file.name), &file.bytes)?;
    }
    Ok(())
}

/// `count` files (at least the fixed cases) made from `templates`, the same for the same seed.
///
/// The fixed cases come first: empty and one-byte files, PNG, text, gzip, a "DICM" magic with
/// garbage after it, and two files nested [`NESTING_LEVELS`] deep (undefined and defined
/// lengths). The rest are random faults applied to random templates.
pub fn corpus(templates: &[Template], seed: u64, count: usize) -> Vec<FaultFile> {
    let mut rng = SplitMix64(seed);
    let mut files = fixed_cases(templates);
    let mut index = files.len();
    while files.len() < count && !templates.is_empty() {
        let template = &templates[rng.below(templates.len())];
        let (fault, bytes) = random_fault(&template.bytes, &mut rng);
        files.push(FaultFile {
            name: format!("{index:04}-{fault}-{}.dcm", template.name),
            bytes,
        });
        index += 1;
    }
    files
}

fn fixed_cases(templates: &[Template]) -> Vec<FaultFile> {
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("one-byte", vec![0x08]),
        ("png", png_bytes()),
        ("text", b"patient list\nnot a DICOM file\n".to_vec()),
        (
            "dicm-garbage",
            [&[0u8; 128][..], b"DICM", &[0xAB; 64]].concat(),
        ),
    ];
    if let Some(template) = templates.first() {
        cases.push(("gzip", gzip(&template.bytes)));
        cases.push(("nested-undefined", nest_undefined(&template.bytes)));
        cases.push(("nested-defined", nest_defined(&template.bytes)));
    }
    cases
        .into_iter()
        .enumerate()
        .map(|(i, (fault, bytes))| FaultFile {
            name: format!("{i:04}-{fault}.dcm"),
            bytes,
        })
        .collect()
}

/// Applies one randomly chosen fault; returns its label and the broken bytes.
fn random_fault(template: &[u8], rng: &mut SplitMix64) -> (&'static str, Vec<u8>) {
    let mut bytes = template.to_vec();
    let fault = match rng.below(7) {
        0 => {
            // Most truncations fall in the header, where the parsing is.
            let limit = if rng.below(2) == 0 { 2048 } else { bytes.len() };
            bytes.truncate(rng.below(limit.min(bytes.len()).max(1)));
            "truncated"
        }
        1 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(bytes.len().max(1));
                if let Some(byte) = bytes.get_mut(at) {
                    *byte ^= 1 << rng.below(8);
                }
            }
            "bitflips"
        }
        2 => set_element_length(&mut bytes, rng).unwrap_or("length-skipped"),
        3 => huge_image(&mut bytes, rng).unwrap_or("huge-skipped"),
        4 => bogus_transfer_syntax(&mut bytes, rng).unwrap_or("syntax-skipped"),
        5 => break_fragments(&mut bytes, rng).unwrap_or("fragments-skipped"),
        _ => "intact",
    };
    (fault, bytes)
}

/// Offsets of what look like explicit-VR element headers (false positives only add variety).
fn element_headers(bytes: &[u8]) -> Vec<usize> {
    (0..bytes.len().saturating_sub(12))
        .filter(|&at| is_vr(&bytes[at + 4..at + 6]))
        .collect()
}

/// Sets one element's declared length to undefined, odd, beyond the file, or zero.
fn set_element_length(bytes: &mut [u8], rng: &mut SplitMix64) -> Option<&'static str> {
    let headers = element_headers(bytes);
    let at = *headers.get(rng.below(headers.len().max(1)))?;
    let file_len = bytes.len() as u32;
    if has_long_length(&[bytes[at + 4], bytes[at + 5]]) {
        let old = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().ok()?);
        let new = [u32::MAX, u32::MAX - 1, old | 1, file_len.wrapping_mul(2), 0][rng.below(5)];
        bytes[at + 8..at + 12].copy_from_slice(&new.to_le_bytes());
    } else {
        let old = u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]);
        let new = [u16::MAX, old | 1, old.wrapping_add(2), 0][rng.below(4)];
        bytes[at + 6..at + 8].copy_from_slice(&new.to_le_bytes());
    }
    Some("length")
}

/// Declares an image far larger than its pixel data: huge Rows/Columns or NumberOfFrames, or
/// absurd BitsAllocated / SamplesPerPixel.
fn huge_image(bytes: &mut Vec<u8>, rng: &mut SplitMix64) -> Option<&'static str> {
    let us = |bytes: &mut Vec<u8>, element: u16, value: u16| -> Option<()> {
        let at = find_tag(bytes, 0x0028, element)?;
        bytes
            .get_mut(at + 8..at + 10)?
            .copy_from_slice(&value.to_le_bytes());
        Some(())
    };
    match rng.below(4) {
        0 => {
            us(bytes, 0x0010, u16::MAX)?;
            us(bytes, 0x0011, u16::MAX)?;
            Some("huge-rows-columns")
        }
        1 => {
            set_text(
                bytes,
                (0x0028, 0x0008),
                b"IS",
                b"2000000000",
                (0x0028, 0x0010),
            )?;
            Some("huge-frames")
        }
        2 => {
            us(bytes, 0x0100, [0, 1, 7, 64, u16::MAX][rng.below(5)])?;
            Some("bits-allocated")
        }
        _ => {
            us(bytes, 0x0002, [0, 2, 4, u16::MAX][rng.below(4)])?;
            Some("samples-per-pixel")
        }
    }
}

/// Replaces the transfer syntax with an unknown one or one that does not match the data.
fn bogus_transfer_syntax(bytes: &mut Vec<u8>, rng: &mut SplitMix64) -> Option<&'static str> {
    let uid: &[u8] = [
        &b"1.2.3.4"[..],
        b"",
        b"1.2.840.10008.1.2.4.50\0", // JPEG Baseline on anything
        b"1.2.840.10008.1.2\0",      // implicit on explicit data
        b"1.2.840.10008.1.2.1.99\0", // deflated on plain data
        b"1.2.840.10008.1.2.2\0",    // big endian on little endian
        b"1.2.840.10008.1.2.4.91\0", // JPEG 2000 on anything
        b"1.2.840.10008.1.2.5\0",    // RLE on anything
        b"1.2.840.10008.1.2.1\0",    // native on compressed data
    ][rng.below(9)];
    let at = find_tag(bytes, 0x0002, 0x0010)?;
    let delta = set_text(bytes, (0x0002, 0x0010), b"UI", uid, (0x0002, 0x0010))?;
    // Keep the meta group length right so only the syntax is wrong.
    if let Some(group) = find_tag(bytes, 0x0002, 0x0000).filter(|&g| g < at) {
        let field = bytes.get_mut(group + 8..group + 12)?;
        let length = u32::from_le_bytes(field.try_into().ok()?);
        let length = (i64::from(length) + delta).clamp(0, u32::MAX.into()) as u32;
        field.copy_from_slice(&length.to_le_bytes());
    }
    Some("transfer-syntax")
}

/// Breaks the fragments of encapsulated pixel data: absurd item lengths, garbage inside a
/// fragment, a missing sequence delimiter, or an item tag overwritten.
fn break_fragments(bytes: &mut Vec<u8>, rng: &mut SplitMix64) -> Option<&'static str> {
    let pixel = find_tag(bytes, 0x7FE0, 0x0010)?;
    let items: Vec<usize> = (pixel..bytes.len().saturating_sub(8))
        .filter(|&at| bytes[at..at + 4] == [0xFE, 0xFF, 0x00, 0xE0])
        .collect();
    let item = *items.get(rng.below(items.len().max(1)))?;
    match rng.below(4) {
        0 => {
            let length = [u32::MAX - 1, 0x7FFF_FFFF, 3, 0][rng.below(4)];
            bytes[item + 4..item + 8].copy_from_slice(&length.to_le_bytes());
        }
        1 => {
            for at in item + 8..(item + 40).min(bytes.len()) {
                bytes[at] = (rng.next() & 0xFF) as u8;
            }
        }
        2 => bytes.truncate(bytes.len().saturating_sub(8 + rng.below(64))),
        _ => bytes[item..item + 4].copy_from_slice(&[0x00, 0x00, 0x10, 0x00]),
    }
    Some("fragments")
}

/// Offset of the first element with this tag (little-endian tag bytes) after the preamble.
fn find_tag(bytes: &[u8], group: u16, element: u16) -> Option<usize> {
    let mut tag = group.to_le_bytes().to_vec();
    tag.extend_from_slice(&element.to_le_bytes());
    let start = if bytes.len() > 132 { 132 } else { 0 };
    bytes
        .get(start..)?
        .windows(4)
        .position(|w| w == tag.as_slice())
        .map(|p| p + start)
}

/// Replaces the value of a short-length text element `tag` with `value` (padded to even), or
/// inserts the element before `before` when absent, in the encoding the bytes there use.
/// Returns how much longer the file got.
fn set_text(
    bytes: &mut Vec<u8>,
    tag: (u16, u16),
    vr: &[u8; 2],
    value: &[u8],
    before: (u16, u16),
) -> Option<i64> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(b' ');
    }
    let (at, old_len) = match find_tag(bytes, tag.0, tag.1) {
        Some(at) => (
            at,
            8 + usize::from(u16::from_le_bytes([*bytes.get(at + 6)?, bytes[at + 7]])),
        ),
        None => (find_tag(bytes, before.0, before.1)?, 0),
    };
    let explicit = bytes
        .get(at + 4..at + 6)
        .is_some_and(|vr| vr.iter().all(u8::is_ascii_uppercase));
    let mut element = tag.0.to_le_bytes().to_vec();
    element.extend_from_slice(&tag.1.to_le_bytes());
    if explicit {
        element.extend_from_slice(vr);
        element.extend_from_slice(&(value.len() as u16).to_le_bytes());
    } else {
        element.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    element.extend_from_slice(&value);
    let end = (at + old_len).min(bytes.len());
    let delta = element.len() as i64 - (end - at) as i64;
    bytes.splice(at..end, element);
    Some(delta)
}

/// The template with `levels` sequences of undefined length nested inside each other, each in
/// an undefined-length item, inserted just before Pixel Data.
fn nest_undefined(template: &[u8]) -> Vec<u8> {
    let open = [
        &[
            0x09, 0x00, 0x10, 0x10, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ][..],
        &[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF],
    ]
    .concat();
    let close = [
        &[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0][..],
        &[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0],
    ]
    .concat();
    let nest = [open.repeat(NESTING_LEVELS), close.repeat(NESTING_LEVELS)].concat();
    insert_before_pixel_data(template, &nest)
}

/// The same depth with every sequence and item of defined length (which a reader can skip
/// without descending).
fn nest_defined(template: &[u8]) -> Vec<u8> {
    // Size of a nested element at depth d (counted from the innermost, 0): 12 + 8 + size(d - 1).
    const LEVEL: usize = 20;
    let mut nest = Vec::with_capacity(LEVEL * NESTING_LEVELS);
    for depth in (0..NESTING_LEVELS).rev() {
        let item_len = (LEVEL * depth) as u32;
        nest.extend_from_slice(&[0x09, 0x00, 0x10, 0x10, b'S', b'Q', 0, 0]);
        nest.extend_from_slice(&(item_len + 8).to_le_bytes());
        nest.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        nest.extend_from_slice(&item_len.to_le_bytes());
    }
    insert_before_pixel_data(template, &nest)
}

fn insert_before_pixel_data(template: &[u8], insert: &[u8]) -> Vec<u8> {
    let at = find_tag(template, 0x7FE0, 0x0010).unwrap_or(template.len());
    [&template[..at], insert, &template[at..]].concat()
}

/// A real 2x2 grey PNG.
fn png_bytes() -> Vec<u8> {
    let image = crate::render::Image8 {
        width: 2,
        height: 2,
        channels: crate::render::Channels::Gray,
        data: vec![0, 64, 128, 255],
    };
    crate::encode::png::encode_png(&image).unwrap_or_default()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> Vec<Template> {
        let mut ct = vec![0u8; 128];
        ct.extend_from_slice(b"DICM");
        // (0028,0010) Rows, (0028,0011) Columns, then Pixel Data.
        ct.extend_from_slice(&[0x28, 0, 0x10, 0, b'U', b'S', 2, 0, 4, 0]);
        ct.extend_from_slice(&[0x28, 0, 0x11, 0, b'U', b'S', 2, 0, 4, 0]);
        ct.extend_from_slice(&[0xE0, 0x7F, 0x10, 0, b'O', b'W', 0, 0, 32, 0, 0, 0]);
        ct.extend_from_slice(&[0; 32]);
        vec![Template {
            name: "ct".into(),
            bytes: ct,
        }]
    }

    #[test]
    fn the_same_seed_gives_the_same_corpus() {
        let a = corpus(&templates(), 7, 60);
        let b = corpus(&templates(), 7, 60);
        let c = corpus(&templates(), 8, 60);
        assert_eq!(a.len(), 60);
        let pairs = |files: &[FaultFile]| -> Vec<(String, Vec<u8>)> {
            files
                .iter()
                .map(|f| (f.name.clone(), f.bytes.clone()))
                .collect()
        };
        assert_eq!(pairs(&a), pairs(&b));
        assert_ne!(pairs(&a), pairs(&c));
    }

    #[test]
    fn names_are_unique() {
        let files = corpus(&templates(), 1, 200);
        let names: std::collections::BTreeSet<_> = files.iter().map(|f| &f.name).collect();
        assert_eq!(names.len(), files.len());
    }

    #[test]
    fn huge_frames_are_inserted_before_rows() {
        let mut bytes = templates()[0].bytes.clone();
        let delta = set_text(
            &mut bytes,
            (0x0028, 0x0008),
            b"IS",
            b"2000000000",
            (0x0028, 0x0010),
        );
        assert_eq!(delta, Some(18));
        let at = find_tag(&bytes, 0x0028, 0x0008).unwrap();
        assert_eq!(&bytes[at + 8..at + 18], b"2000000000");
        assert_eq!(find_tag(&bytes, 0x0028, 0x0010), Some(at + 18));
    }

    #[test]
    fn defined_nesting_lengths_add_up() {
        let bytes = nest_defined(&templates()[0].bytes);
        let at = find_tag(&bytes, 0x0009, 0x1010).unwrap();
        let outer = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        // The outer sequence ends exactly where Pixel Data starts.
        assert_eq!(find_tag(&bytes, 0x7FE0, 0x0010), Some(at + 12 + outer));
    }
}
