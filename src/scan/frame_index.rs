//! Where each frame's bytes lie in a file, found from its Pixel Data element without reading
//! the frames: native frames follow each other at a fixed size; encapsulated frames are the
//! fragments, found by stepping over the items' headers (one fragment per frame, all fragments
//! of a single frame, or fragments grouped by the Basic Offset Table). A whole-slide level is
//! then read tile by tile, never held whole.

/// A run of bytes in the file: offset and length.
pub type Span = (u64, u64);

/// Bytes read at an offset (a file, without moving a cursor: one system call a read).
pub trait ReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}

impl ReadAt for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// Why the frames could not be located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexError {
    /// The file is damaged (cut short, or not what its header says): reading it whole would
    /// fail too.
    Damaged(String),
    /// The frames are there but not locatable this way (fragments that map to frames only
    /// through the codec): the file is to be read whole.
    Unmapped(String),
}

impl std::fmt::Display for IndexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexError::Damaged(reason) | IndexError::Unmapped(reason) => f.write_str(reason),
        }
    }
}

const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
const UNDEFINED: u32 = u32::MAX;

/// The spans of each of `frames` frames of the little-endian file `file` (`file_len` bytes),
/// whose Pixel Data element header starts at `element`. `frame_bytes` is the size of a native
/// frame (`None` when not a whole number of bytes). Each frame is one or more spans.
pub fn index_frames(
    file: &(impl ReadAt + ?Sized),
    file_len: u64,
    element: u64,
    frames: u32,
    frame_bytes: Option<u64>,
) -> Result<Vec<Vec<Span>>, IndexError> {
    let damaged = |reason: String| IndexError::Damaged(reason);
    let mut head = [0u8; 12];
    file.read_exact_at(&mut head[..8], element)
        .map_err(|e| damaged(format!("cannot read the Pixel Data header: {e}")))?;
    if tag(&head) != PIXEL_DATA {
        return Err(damaged(
            "no Pixel Data element where the scan found it".into(),
        ));
    }
    let explicit = matches!(&head[4..6], b"OB" | b"OW");
    let (length, start) = if explicit {
        file.read_exact_at(&mut head[8..12], element + 8)
            .map_err(|e| damaged(format!("cannot read the Pixel Data header: {e}")))?;
        (u32_at(&head, 8), element + 12)
    } else {
        (u32_at(&head, 4), element + 8)
    };
    if length != UNDEFINED {
        return native_spans(file_len, start, length, frames, frame_bytes);
    }
    let (table, fragments) = fragments(file, file_len, start, frames)?;
    map_fragments(&table, fragments, frames)
}

/// Native frames: `frames` runs of `frame_bytes` from `start`.
fn native_spans(
    file_len: u64,
    start: u64,
    length: u32,
    frames: u32,
    frame_bytes: Option<u64>,
) -> Result<Vec<Vec<Span>>, IndexError> {
    let size = frame_bytes.ok_or_else(|| {
        IndexError::Unmapped("frames that are not a whole number of bytes".into())
    })?;
    let needed = size * u64::from(frames);
    if u64::from(length) < needed || start + needed > file_len {
        return Err(IndexError::Damaged(format!(
            "truncated: Pixel Data holds {} of the {needed} bytes of {frames} frames",
            u64::from(length).min(file_len.saturating_sub(start))
        )));
    }
    Ok((0..u64::from(frames))
        .map(|i| vec![(start + i * size, size)])
        .collect())
}

/// The Basic Offset Table's entries and the fragments after it, items stepped over one by one.
fn fragments(
    file: &(impl ReadAt + ?Sized),
    file_len: u64,
    start: u64,
    frames: u32,
) -> Result<(Vec<u64>, Vec<Span>), IndexError> {
    let damaged = |reason: String| IndexError::Damaged(reason);
    let mut at = start;
    let mut table = None;
    let mut fragments = Vec::new();
    let mut head = [0u8; 8];
    loop {
        if at + 8 > file_len {
            return Err(damaged(format!(
                "truncated: the fragments end without their delimiter after {} fragments",
                fragments.len()
            )));
        }
        file.read_exact_at(&mut head, at)
            .map_err(|e| damaged(format!("cannot read a fragment header: {e}")))?;
        let length = u64::from(u32_at(&head, 4));
        match tag(&head) {
            SEQUENCE_END => break,
            ITEM => {}
            (group, element) => {
                return Err(damaged(format!(
                    "({group:04X},{element:04X}) among the fragments, not an item"
                )));
            }
        }
        let body = at + 8;
        if length == u64::from(UNDEFINED) || body + length > file_len {
            return Err(damaged(format!(
                "truncated: fragment {} runs past the end of the file",
                fragments.len() + 1
            )));
        }
        if table.is_none() && length > 8 * (u64::from(frames) + 1) {
            // Not an offset table of these frames (and not read into memory).
            table = Some(Vec::new());
        } else if table.is_none() {
            let mut bytes = vec![0u8; length as usize];
            file.read_exact_at(&mut bytes, body)
                .map_err(|e| damaged(format!("cannot read the offset table: {e}")))?;
            table = Some(
                bytes
                    .chunks_exact(4)
                    .map(|c| u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            );
        } else {
            fragments.push((body, length));
        }
        at = body + length;
    }
    Ok((table.unwrap_or_default(), fragments))
}

/// Fragments as frames: one each, all for one frame, or grouped where the offset table says
/// each frame starts (offsets count from the first fragment's item header).
fn map_fragments(
    table: &[u64],
    fragments: Vec<Span>,
    frames: u32,
) -> Result<Vec<Vec<Span>>, IndexError> {
    let frames = frames as usize;
    if fragments.len() == frames {
        return Ok(fragments.into_iter().map(|f| vec![f]).collect());
    }
    if frames == 1 && !fragments.is_empty() {
        return Ok(vec![fragments]);
    }
    if fragments.len() < frames {
        return Err(IndexError::Damaged(format!(
            "truncated: {} fragments for {frames} frames",
            fragments.len()
        )));
    }
    if table.len() != frames {
        return Err(IndexError::Unmapped(format!(
            "{} fragments for {frames} frames and no offset table to group them",
            fragments.len()
        )));
    }
    let first = fragments[0].0 - 8;
    let mut grouped: Vec<Vec<Span>> = vec![Vec::new(); frames];
    let mut frame = 0;
    for fragment in fragments {
        let offset = fragment.0 - 8 - first;
        while frame + 1 < frames && offset >= table[frame + 1] {
            frame += 1;
        }
        grouped[frame].push(fragment);
    }
    if grouped.iter().any(Vec::is_empty) {
        return Err(IndexError::Unmapped(
            "the offset table does not match the fragments".into(),
        ));
    }
    Ok(grouped)
}

fn tag(head: &[u8]) -> (u16, u16) {
    (
        u16::from_le_bytes([head[0], head[1]]),
        u16::from_le_bytes([head[2], head[3]]),
    )
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(tag: (u16, u16), body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&tag.0.to_le_bytes());
        out.extend_from_slice(&tag.1.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    /// 10 bytes of something, then an encapsulated Pixel Data of `table` and `fragments`.
    fn encapsulated(table: &[u32], fragments: &[&[u8]], end: bool) -> Vec<u8> {
        let mut file = vec![0u8; 10];
        file.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
        file.extend_from_slice(&UNDEFINED.to_le_bytes());
        let table: Vec<u8> = table.iter().flat_map(|o| o.to_le_bytes()).collect();
        file.extend(item(ITEM, &table));
        for fragment in fragments {
            file.extend(item(ITEM, fragment));
        }
        if end {
            file.extend(item(SEQUENCE_END, &[]));
        }
        file
    }

    fn index(
        file: &[u8],
        frames: u32,
        frame_bytes: Option<u64>,
    ) -> Result<Vec<Vec<Span>>, IndexError> {
        index_frames(file, file.len() as u64, 10, frames, frame_bytes)
    }

    fn read(file: &[u8], spans: &[Span]) -> Vec<u8> {
        spans
            .iter()
            .flat_map(|&(at, len)| file[at as usize..(at + len) as usize].to_vec())
            .collect()
    }

    #[test]
    fn a_fragment_per_frame_each_frame_its_own() {
        let file = encapsulated(&[], &[b"ab", b"cdef", b"gh"], true);
        let frames = index(&file, 3, None).unwrap();
        let bytes: Vec<Vec<u8>> = frames.iter().map(|f| read(&file, f)).collect();
        assert_eq!(bytes, [b"ab".to_vec(), b"cdef".to_vec(), b"gh".to_vec()]);
    }

    #[test]
    fn the_offset_table_groups_fragments_and_one_frame_takes_them_all() {
        // Frame 0: two fragments (10 + 12 bytes with headers), frame 1 from offset 22.
        let file = encapsulated(&[0, 22], &[b"ab", b"cdef", b"gh"], true);
        let frames = index(&file, 2, None).unwrap();
        assert_eq!(read(&file, &frames[0]), b"abcdef");
        assert_eq!(read(&file, &frames[1]), b"gh");
        let file = encapsulated(&[], &[b"ab", b"cd"], true);
        assert_eq!(read(&file, &index(&file, 1, None).unwrap()[0]), b"abcd");
        let unmapped = index(&encapsulated(&[], &[b"ab", b"cd", b"ef"], true), 2, None);
        assert!(
            matches!(unmapped, Err(IndexError::Unmapped(_))),
            "{unmapped:?}"
        );
    }

    #[test]
    fn cut_files_are_damaged() {
        let whole = encapsulated(&[], &[b"abcdef", b"ghijkl"], true);
        for cut in [whole.len() - 3, whole.len() - 8, 30] {
            let result = index(&whole[..cut], 2, None);
            assert!(
                matches!(result, Err(IndexError::Damaged(_))),
                "{cut}: {result:?}"
            );
        }
        let mut native = vec![0u8; 10];
        native.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0]);
        native.extend_from_slice(&12u32.to_le_bytes());
        native.extend((0..12).map(|i| i as u8));
        let frames = index(&native, 3, Some(4)).unwrap();
        assert_eq!(read(&native, &frames[2]), [8, 9, 10, 11]);
        assert!(matches!(
            index(&native[..20], 3, Some(4)),
            Err(IndexError::Damaged(_))
        ));
        assert!(matches!(
            index(&native, 3, None),
            Err(IndexError::Unmapped(_))
        ));
        assert!(matches!(
            index(&native, 4, Some(4)),
            Err(IndexError::Damaged(_))
        ));
    }
}
