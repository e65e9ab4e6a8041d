//! Unit tests of the header reader, on bytes built by hand.

use dicom_dictionary_std::tags;

use super::*;

/// Builds explicit VR little-endian bytes for tests.
struct Writer(Vec<u8>);

impl Writer {
    fn part10() -> Self {
        let mut w = Writer(vec![0; 128]);
        w.0.extend_from_slice(b"DICM");
        w.element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
        w
    }
    fn element(&mut self, group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&group.to_le_bytes());
        self.0.extend_from_slice(&elem.to_le_bytes());
        self.0.extend_from_slice(vr);
        if has_long_length(vr) {
            self.0.extend_from_slice(&[0, 0]);
            self.0
                .extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            self.0
                .extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        self.0.extend_from_slice(value);
        self
    }
    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }
}

fn read(bytes: &[u8]) -> Result<RawHeader<'_>, ReadError> {
    // The inflate buffer is leaked so the header can borrow it in tests.
    let buf = Box::leak(Box::new(Vec::new()));
    read_header(
        Input {
            bytes,
            file_size: bytes.len() as u64,
        },
        buf,
    )
}

#[test]
fn kept_tag_list_is_sorted_for_binary_search() {
    assert!(TOP_LEVEL_TAGS.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn stops_at_pixel_data_and_keeps_wanted_tags() {
    let mut w = Writer::part10();
    w.element(0x0020, 0x0013, b"IS", b"7 ")
        .element(0x0020, 0x0020, b"CS", b"A ") // not wanted
        .element(0x7FE0, 0x0010, b"OW", &[0; 8]);
    let header = read(&w.0).unwrap();
    assert_eq!(
        header.transfer_syntax.as_deref(),
        Some("1.2.840.10008.1.2.1")
    );
    assert_eq!(header.elements, vec![(tags::INSTANCE_NUMBER, &b"7 "[..])]);
    let pixel = header.pixel_data.unwrap();
    assert_eq!(pixel.length, Some(8));
    assert_eq!(pixel.offset, 132 + 28 + 10 + 10);
}

#[test]
fn asks_for_more_bytes_when_prefix_ends_early() {
    let mut w = Writer::part10();
    w.element(0x0010, 0x0010, b"PN", &[b'A'; 200])
        .element(0x7FE0, 0x0010, b"OW", &[0; 8]);
    let full = w.0.len() as u64;
    let mut buf = Vec::new();
    let err = read_header(
        Input {
            bytes: &w.0[..200],
            file_size: full,
        },
        &mut buf,
    )
    .unwrap_err();
    assert!(matches!(err, ReadError::NeedMore(n) if n > 200 && n <= full));
}

#[test]
fn a_binary_number_of_the_wrong_length_is_corrupt() {
    let mut w = Writer::part10();
    w.element(0x0028, 0x0102, b"SL", &[7, 0]);
    let err = read(&w.0).unwrap_err();
    assert!(
        matches!(&err, ReadError::Corrupt(m) if m.contains("(0028,0102)") && m.contains("not a multiple of 4")),
        "{err:?}"
    );
    let mut w = Writer::part10();
    w.element(0x0028, 0x0102, b"US", &[7, 0]);
    assert!(read(&w.0).is_ok());
}

#[test]
fn a_length_beyond_the_file_fails_fast() {
    let mut w = Writer::part10();
    w.raw(&[0x10, 0x00, 0x10, 0x00, b'O', b'B', 0, 0])
        .raw(&0x4000_0000u32.to_le_bytes());
    let err = read(&w.0).unwrap_err();
    assert!(
        matches!(&err, ReadError::Corrupt(m) if m.contains("beyond the end of the file")),
        "{err:?}"
    );
}

#[test]
fn non_dicom_bytes_are_not_dicom() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";
    assert!(matches!(read(png), Err(ReadError::NotDicom(_))));
    assert!(matches!(read(b""), Err(ReadError::NotDicom(_))));
    assert!(matches!(read(b"x"), Err(ReadError::NotDicom(_))));
}

#[test]
fn dataset_without_pixel_data_has_none() {
    let mut w = Writer::part10();
    w.element(0x0008, 0x0060, b"CS", b"SR");
    let header = read(&w.0).unwrap();
    assert!(header.pixel_data.is_none());
    assert_eq!(header.elements, vec![(tags::MODALITY, &b"SR"[..])]);
}

#[test]
fn reads_per_frame_functional_groups_with_undefined_lengths() {
    let mut w = Writer::part10();
    // (5200,9230) SQ undefined length, one item, undefined length, with a Plane Position
    // Sequence holding IPP, then item and sequence delimiters.
    w.raw(&[0x00, 0x52, 0x30, 0x92, b'S', b'Q', 0, 0])
        .raw(&UNDEFINED.to_le_bytes());
    w.raw(&[0xFE, 0xFF, 0x00, 0xE0])
        .raw(&UNDEFINED.to_le_bytes());
    let mut inner = Writer(Vec::new());
    inner.element(0x0020, 0x0032, b"DS", b"1\\2\\3 ");
    let mut item = Vec::new();
    item.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
    item.extend_from_slice(&(inner.0.len() as u32).to_le_bytes());
    item.extend_from_slice(&inner.0);
    w.element(0x0020, 0x9113, b"SQ", &item);
    w.raw(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0])
        .raw(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    w.element(0x7FE0, 0x0010, b"OB", &[]);
    let header = read(&w.0).unwrap();
    assert_eq!(
        header.per_frame_groups,
        vec![vec![(tags::IMAGE_POSITION_PATIENT, &b"1\\2\\3 "[..])]]
    );
    assert!(header.pixel_data.is_some());
}

#[test]
fn deeply_nested_sequences_are_rejected_not_recursed_forever() {
    let mut w = Writer::part10();
    for _ in 0..100 {
        w.raw(&[0x09, 0x00, 0x10, 0x10, b'S', b'Q', 0, 0])
            .raw(&UNDEFINED.to_le_bytes());
        w.raw(&[0xFE, 0xFF, 0x00, 0xE0])
            .raw(&UNDEFINED.to_le_bytes());
    }
    let err = read(&w.0).unwrap_err();
    assert!(
        matches!(&err, ReadError::Corrupt(m) if m.contains("nested")),
        "{err:?}"
    );
}

#[test]
fn pixel_data_extent_is_checked_and_trailing_elements_are_not_needed() {
    let mut w = Writer::part10();
    w.element(0x7FE0, 0x0010, b"OW", &[0; 8]);
    let end = w.0.len();
    // A trailing element declaring 4 GB: beyond Pixel Data, so not part of the extent.
    w.raw(&[0x0E, 0x00, 0x98, 0xE0, b'O', b'B', 0, 0])
        .raw(&0xEC4F_C80Eu32.to_le_bytes());
    let header = read(&w.0).unwrap();
    let input = Input {
        bytes: &w.0,
        file_size: w.0.len() as u64,
    };
    let pixel = header.pixel_data.unwrap();
    assert_eq!(check_pixel_data(input, header.encoding, pixel), Ok(end));
    assert!(check_elements(input, header.encoding, end).is_err());
    let short = Input {
        bytes: &w.0[..end - 1],
        file_size: end as u64 - 1,
    };
    assert!(check_pixel_data(short, header.encoding, pixel).is_err());
}

#[test]
fn deep_nesting_with_defined_lengths_is_rejected_too() {
    // Built from the inside out: each level is a sequence holding one item holding the next.
    let mut nest = Vec::new();
    for _ in 0..100 {
        let mut item = vec![0xFE, 0xFF, 0x00, 0xE0];
        item.extend_from_slice(&(nest.len() as u32).to_le_bytes());
        item.extend_from_slice(&nest);
        let mut sequence = Writer(Vec::new());
        sequence.element(0x0009, 0x1010, b"SQ", &item);
        nest = sequence.0;
    }
    let mut w = Writer::part10();
    w.raw(&nest).element(0x7FE0, 0x0010, b"OW", &[0; 8]);
    let err = read(&w.0).unwrap_err();
    assert!(
        matches!(&err, ReadError::Corrupt(m) if m.contains("nested")),
        "{err:?}"
    );
}

#[test]
fn the_first_element_decides_the_vr_mode() {
    // Explicit VR declared, implicit written: (0020,0013) with a 4-byte length, no VR letters.
    let mut w = Writer::part10();
    w.raw(&[0x20, 0x00, 0x13, 0x00, 2, 0, 0, 0])
        .raw(b"7 ")
        .raw(&[0xE0, 0x7F, 0x10, 0x00, 8, 0, 0, 0])
        .raw(&[0; 8]);
    let header = read(&w.0).unwrap();
    assert!(!header.encoding.explicit_vr && header.vr_mode_corrected);
    assert_eq!(header.elements, vec![(tags::INSTANCE_NUMBER, &b"7 "[..])]);
    // A prefix that ends inside the first element's VR asks for the bytes that decide.
    let mut buf = Vec::new();
    let cut = 132 + 28 + 4;
    let err = read_header(
        Input {
            bytes: &w.0[..cut],
            file_size: w.0.len() as u64,
        },
        &mut buf,
    )
    .unwrap_err();
    assert_eq!(err, ReadError::NeedMore(cut as u64 + 2));
}
