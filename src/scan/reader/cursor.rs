//! The element cursor: reads element headers and steps over values and sequences, checking
//! every declared length against the data and bounding the nesting.

use dicom_core::Tag;

use super::vr::{LONG_LENGTH, implicit_number_size, is_sequence, vr_facts};
use super::{
    Encoding, Endian, IMPLICIT_LE, ITEM, ITEM_DELIMITER, Input, MAX_DEPTH, ReadError,
    SEQUENCE_DELIMITER, UNDEFINED, fmt_tag,
};

/// An element's tag, VR (explicit encodings only) and declared length.
#[derive(Debug, Clone, Copy)]
pub(super) struct ElementHeader {
    pub(super) tag: Tag,
    pub(super) vr: Option<[u8; 2]>,
    pub(super) length: u32,
}

impl ElementHeader {
    /// Undefined-length UN values hold implicit little-endian items (PS3.5 6.2.2).
    pub(super) fn is_undefined_un(&self) -> bool {
        self.vr == Some(*b"UN") && self.length == UNDEFINED
    }
}

/// Where an item or element list ends: at a byte offset, or at a delimiter item.
#[derive(Debug, Clone, Copy)]
pub(super) enum End {
    At(usize),
    Delimited,
}

/// A position in the input with the encoding in force, checking every length it follows.
pub(super) struct Cursor<'a> {
    pub(super) input: Input<'a>,
    pub(super) pos: usize,
    pub(super) encoding: Encoding,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(input: Input<'a>, pos: usize, encoding: Encoding) -> Self {
        Cursor {
            input,
            pos,
            encoding,
        }
    }

    pub(super) fn remaining(&self) -> usize {
        self.input.bytes.len().saturating_sub(self.pos)
    }

    pub(super) fn absolute(&self) -> u64 {
        self.pos as u64
    }

    /// Fails unless `n` more bytes are available: asks for more input when the file has them.
    #[inline]
    pub(super) fn need(&self, n: usize) -> Result<(), ReadError> {
        if self.remaining() >= n {
            return Ok(());
        }
        Err(self.short_of(n))
    }

    /// Why `n` more bytes are not there (out of the walker's hot path, as are the other errors).
    #[cold]
    #[inline(never)]
    fn short_of(&self, n: usize) -> ReadError {
        let wanted = self.pos as u64 + n as u64;
        if self.input.is_complete() || wanted > self.input.file_size {
            ReadError::Corrupt(format!(
                "file ends at byte {} inside an element that needs {wanted} bytes (truncated?)",
                self.input.file_size.min(self.input.bytes.len() as u64)
            ))
        } else {
            ReadError::NeedMore(wanted)
        }
    }

    pub(super) fn peek_u16(&self, at: usize) -> u16 {
        let b = &self.input.bytes[self.pos + at..self.pos + at + 2];
        match self.encoding.endian {
            Endian::Little => u16::from_le_bytes([b[0], b[1]]),
            Endian::Big => u16::from_be_bytes([b[0], b[1]]),
        }
    }

    pub(super) fn peek_u32(&self, at: usize) -> u32 {
        let b = &self.input.bytes[self.pos + at..self.pos + at + 4];
        match self.encoding.endian {
            Endian::Little => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Endian::Big => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        }
    }

    #[inline]
    pub(super) fn element_header(&mut self) -> Result<ElementHeader, ReadError> {
        self.need(8)?;
        let tag = Tag(self.peek_u16(0), self.peek_u16(2));
        if tag.0 == 0xFFFE || !self.encoding.explicit_vr {
            let length = self.peek_u32(4);
            // The same check as below for implicit VR, with the VR dicom-object gives the tag.
            if tag.0 != 0xFFFE
                && let Some(size) = implicit_number_size(tag)
                && length != UNDEFINED
                && length & (size - 1) != 0
            {
                return Err(self.not_a_multiple(tag, None, size, length));
            }
            self.pos += 8;
            return Ok(ElementHeader {
                tag,
                vr: None,
                length,
            });
        }
        let vr = [
            self.input.bytes[self.pos + 4],
            self.input.bytes[self.pos + 5],
        ];
        let Some(facts) = vr_facts(&vr) else {
            return Err(self.invalid_vr(tag, vr));
        };
        let (length, header) = if facts & LONG_LENGTH != 0 {
            self.need(12)?;
            (self.peek_u32(8), 12)
        } else {
            (u32::from(self.peek_u16(6)), 8)
        };
        // A binary number's length is a multiple of its size; dicom-object would step over
        // such a value differently from us and read whatever follows as lengths.
        // Sizes are 2, 4 or 8: a mask, not a division, in the walker's hottest path.
        let size = u32::from(facts & !LONG_LENGTH);
        if size != 0 && length != UNDEFINED && length & (size - 1) != 0 {
            return Err(self.not_a_multiple(tag, Some(vr), size, length));
        }
        self.pos += header;
        Ok(ElementHeader {
            tag,
            vr: Some(vr),
            length,
        })
    }

    #[cold]
    #[inline(never)]
    fn not_an_item(&self, sequence: Tag, found: Tag) -> ReadError {
        ReadError::Corrupt(format!(
            "expected an item in sequence {} but found {} at byte {}",
            fmt_tag(sequence),
            fmt_tag(found),
            self.pos
        ))
    }

    #[cold]
    #[inline(never)]
    fn invalid_vr(&self, tag: Tag, vr: [u8; 2]) -> ReadError {
        ReadError::Corrupt(format!(
            "element {} at byte {} has an invalid VR {:?}",
            fmt_tag(tag),
            self.pos,
            String::from_utf8_lossy(&vr)
        ))
    }

    /// A binary number's length that is not a multiple of its size (`vr`: the explicit VR).
    #[cold]
    #[inline(never)]
    fn not_a_multiple(&self, tag: Tag, vr: Option<[u8; 2]>, size: u32, length: u32) -> ReadError {
        ReadError::Corrupt(match vr {
            None => format!(
                "element {} at byte {} is a binary number of {size} bytes but has a length of {length}",
                fmt_tag(tag),
                self.pos,
            ),
            Some(vr) => format!(
                "element {} at byte {} has VR {} but a length of {length}, not a multiple of {size}",
                fmt_tag(tag),
                self.pos,
                String::from_utf8_lossy(&vr)
            ),
        })
    }

    /// Checks a defined length against the bytes available and the file size.
    #[inline]
    pub(super) fn check_length(&self, element: &ElementHeader) -> Result<usize, ReadError> {
        let length = element.length as usize;
        let end = self.pos as u64 + element.length as u64;
        if end > self.input.file_size {
            return Err(self.beyond_the_file(element));
        }
        self.need(length)?;
        Ok(length)
    }

    #[cold]
    #[inline(never)]
    fn beyond_the_file(&self, element: &ElementHeader) -> ReadError {
        ReadError::Corrupt(format!(
            "element {} at byte {} declares {} bytes, beyond the end of the file ({} bytes)",
            fmt_tag(element.tag),
            self.pos,
            element.length,
            self.input.file_size
        ))
    }

    pub(super) fn value(&mut self, element: &ElementHeader) -> Result<&'a [u8], ReadError> {
        let length = self.check_length(element)?;
        let bytes = self.input.bytes;
        let value = &bytes[self.pos..self.pos + length];
        self.pos += length;
        Ok(value)
    }

    /// Skips a value; sequences are walked item by item even with a defined length, so that
    /// nesting stays bounded for every later reader (dicom-object recurses into them).
    pub(super) fn skip_value(
        &mut self,
        element: &ElementHeader,
        depth: u8,
    ) -> Result<(), ReadError> {
        if element.length != UNDEFINED && !is_sequence(element) {
            let length = self.check_length(element)?;
            self.pos += length;
            return Ok(());
        }
        self.for_each_item(element, depth + 1, &mut |cursor, end| {
            cursor.for_each_element(end, depth + 2, &mut |cursor, inner| {
                cursor.skip_value(&inner, depth + 2)
            })
        })
    }

    /// Calls `visit` for each item of a sequence (defined or undefined length).
    pub(super) fn for_each_item(
        &mut self,
        sequence: &ElementHeader,
        depth: u8,
        visit: &mut impl FnMut(&mut Cursor<'a>, End) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let saved = self.encoding;
        if sequence.is_undefined_un() {
            self.encoding = IMPLICIT_LE;
        }
        let result = self.items(sequence, visit);
        self.encoding = saved;
        result
    }

    fn items(
        &mut self,
        sequence: &ElementHeader,
        visit: &mut impl FnMut(&mut Cursor<'a>, End) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        let end = if sequence.length == UNDEFINED {
            End::Delimited
        } else {
            End::At(self.pos + self.check_length(sequence)?)
        };
        loop {
            if let End::At(end) = end
                && self.pos >= end
            {
                return Ok(());
            }
            let item = self.element_header()?;
            match item.tag {
                SEQUENCE_DELIMITER => return Ok(()),
                ITEM if item.length == UNDEFINED => visit(self, End::Delimited)?,
                ITEM => {
                    let item_end = self.pos + self.check_length(&item)?;
                    visit(self, End::At(item_end))?;
                    self.pos = item_end;
                }
                other => return Err(self.not_an_item(sequence.tag, other)),
            }
        }
    }

    /// Calls `visit` for each element of an item; `visit` must consume or skip the value.
    pub(super) fn for_each_element(
        &mut self,
        end: End,
        depth: u8,
        visit: &mut impl FnMut(&mut Cursor<'a>, ElementHeader) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        loop {
            if let End::At(end) = end
                && self.pos >= end
            {
                return Ok(());
            }
            let element = self.element_header()?;
            if element.tag == ITEM_DELIMITER {
                return Ok(());
            }
            visit(self, element)?;
            if let End::At(end) = end
                && self.pos > end
            {
                return Err(past_the_item(element.tag, end));
            }
        }
    }
}

#[cold]
#[inline(never)]
fn too_deep() -> ReadError {
    ReadError::Corrupt(format!("sequences nested deeper than {MAX_DEPTH}"))
}

#[cold]
#[inline(never)]
fn past_the_item(tag: Tag, end: usize) -> ReadError {
    ReadError::Corrupt(format!(
        "element {} runs past the end of its item at byte {end}",
        fmt_tag(tag)
    ))
}
