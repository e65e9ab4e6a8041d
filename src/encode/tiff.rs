//! Tiled pyramidal BigTIFF: one IFD per level, largest first (the reduced ones marked
//! NewSubfileType 1), JPEG tiles: the generic tiled TIFF that OpenSlide, libvips and tifffile
//! open as a pyramid. Tiles are written as they come (into a file: the pyramid is never held
//! in memory); the IFDs go at the end, and the header is pointed at them last.

use std::io::{Seek, SeekFrom, Write};

/// How a level's JPEG tiles hold their colour, for the TIFF tags that describe them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileColour {
    /// YCbCr with chroma subsampled by (horizontal, vertical): JPEG as most encoders and
    /// slide scanners write it (DICOM YBR_FULL_422 is (2, 1)).
    YCbCr(u16, u16),
    /// RGB components (Adobe JPEG without colour transform).
    Rgb,
    /// One grey component.
    Grey,
}

/// One level being written.
#[derive(Debug, Clone)]
struct Level {
    width: u32,
    height: u32,
    tile_width: u32,
    tile_height: u32,
    colour: TileColour,
    /// (offset, length) of each tile, row by row.
    tiles: Vec<(u64, u64)>,
}

/// A BigTIFF file being written to `out`.
#[derive(Debug)]
pub struct TiffPyramid<W: Write + Seek> {
    out: W,
    /// Bytes written so far.
    position: u64,
    levels: Vec<Level>,
    /// Pixels per centimetre at level 0, when the pixel size is known.
    resolution: Option<f64>,
}

/// TIFF field types.
const SHORT: u16 = 3;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;
const LONG8: u16 = 16;

impl<W: Write + Seek> TiffPyramid<W> {
    /// A file written to `out` (at its start); `mpp` (microns per pixel at level 0) becomes
    /// its resolution.
    pub fn new(mut out: W, mpp: Option<f64>) -> std::io::Result<TiffPyramid<W>> {
        let mut header = Vec::with_capacity(16);
        header.extend_from_slice(b"II");
        header.extend_from_slice(&43u16.to_le_bytes());
        header.extend_from_slice(&8u16.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(&0u64.to_le_bytes()); // first IFD, set by `finish`
        out.write_all(&header)?;
        Ok(TiffPyramid {
            out,
            position: header.len() as u64,
            levels: Vec::new(),
            resolution: mpp.filter(|m| *m > 0.0).map(|m| 10_000.0 / m),
        })
    }

    /// Starts the next (smaller) level; its tiles follow, row by row.
    pub fn begin_level(
        &mut self,
        (width, height): (u32, u32),
        (tile_width, tile_height): (u32, u32),
        colour: TileColour,
    ) {
        self.levels.push(Level {
            width,
            height,
            tile_width,
            tile_height,
            colour,
            tiles: Vec::new(),
        });
    }

    /// Appends the next tile of the current level (a whole JPEG stream).
    pub fn push_tile(&mut self, jpeg: &[u8]) -> std::io::Result<()> {
        let offset = self.position;
        self.out.write_all(jpeg)?;
        self.position += jpeg.len() as u64;
        if !self.position.is_multiple_of(2) {
            self.out.write_all(&[0])?; // word alignment
            self.position += 1;
        }
        self.push_tile_at(offset, jpeg.len() as u64);
        Ok(())
    }

    /// Repeats a tile already written at `offset` (a background tile used many times).
    pub fn push_tile_at(&mut self, offset: u64, length: u64) {
        if let Some(level) = self.levels.last_mut() {
            level.tiles.push((offset, length));
        }
    }

    /// Where the last tile pushed lies: (offset, length).
    pub fn last_tile(&self) -> Option<(u64, u64)> {
        self.levels.last()?.tiles.last().copied()
    }

    /// Ends the file (the tiles, then one IFD per level) and hands back its writer.
    pub fn finish(mut self) -> Result<W, String> {
        let base_width = self.levels.first().map_or(1, |l| l.width.max(1));
        // The IFDs, built where they will lie: after the tiles, each at a multiple of 8.
        let mut tail = Vec::new();
        let mut first_ifd = 0u64;
        let mut next_pointer: Option<usize> = None; // in `tail`
        for (index, level) in self.levels.iter().enumerate() {
            let across = level.width.div_ceil(level.tile_width) as usize;
            let down = level.height.div_ceil(level.tile_height) as usize;
            if level.tiles.len() != across * down {
                return Err(format!(
                    "level {index}: {} tiles written, {} expected",
                    level.tiles.len(),
                    across * down
                ));
            }
            let end = self.position + tail.len() as u64;
            tail.resize(tail.len() + (end.next_multiple_of(8) - end) as usize, 0);
            let ifd = self.position + tail.len() as u64;
            match next_pointer {
                None => first_ifd = ifd,
                Some(at) => tail[at..at + 8].copy_from_slice(&ifd.to_le_bytes()),
            }
            // Each level's resolution: level 0's over its downsampling.
            let resolution = self
                .resolution
                .map(|r| r * f64::from(level.width) / f64::from(base_width));
            next_pointer = Some(write_ifd(
                &mut tail,
                self.position,
                level,
                index,
                resolution,
            ));
        }
        let written = (|| -> std::io::Result<W> {
            self.out.write_all(&tail)?;
            self.out.seek(SeekFrom::Start(8))?;
            self.out.write_all(&first_ifd.to_le_bytes())?;
            self.out.flush()?;
            Ok(self.out)
        })();
        written.map_err(|e| format!("cannot write the pyramid: {e}"))
    }
}

/// One IFD entry: tag, type, count and its values as little-endian bytes.
struct Entry {
    tag: u16,
    kind: u16,
    count: u64,
    bytes: Vec<u8>,
}

fn shorts(tag: u16, values: &[u16]) -> Entry {
    Entry {
        tag,
        kind: SHORT,
        count: values.len() as u64,
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn long(tag: u16, value: u32) -> Entry {
    Entry {
        tag,
        kind: LONG,
        count: 1,
        bytes: value.to_le_bytes().to_vec(),
    }
}

fn long8s(tag: u16, values: impl Iterator<Item = u64>) -> Entry {
    let bytes: Vec<u8> = values.flat_map(|v| v.to_le_bytes()).collect();
    Entry {
        tag,
        kind: LONG8,
        count: (bytes.len() / 8) as u64,
        bytes,
    }
}

fn rationals(tag: u16, values: &[(u32, u32)]) -> Entry {
    Entry {
        tag,
        kind: RATIONAL,
        count: values.len() as u64,
        bytes: values
            .iter()
            .flat_map(|(n, d)| n.to_le_bytes().into_iter().chain(d.to_le_bytes()))
            .collect(),
    }
}

/// Appends the IFD of `level` to `data`, which lies at `base` in the file; returns where (in
/// `data`) its next-IFD offset lies.
fn write_ifd(
    data: &mut Vec<u8>,
    base: u64,
    level: &Level,
    index: usize,
    resolution: Option<f64>,
) -> usize {
    let samples: u16 = if level.colour == TileColour::Grey {
        1
    } else {
        3
    };
    let photometric = match level.colour {
        TileColour::YCbCr(..) => 6,
        TileColour::Rgb => 2,
        TileColour::Grey => 1,
    };
    let mut entries = vec![
        long(254, u32::from(index > 0)), // NewSubfileType: reduced resolution
        long(256, level.width),
        long(257, level.height),
        shorts(258, &vec![8; samples as usize]),
        shorts(259, &[7]), // JPEG
        shorts(262, &[photometric]),
        shorts(277, &[samples]),
        shorts(284, &[1]),
        long(322, level.tile_width),
        long(323, level.tile_height),
        long8s(324, level.tiles.iter().map(|t| t.0)),
        long8s(325, level.tiles.iter().map(|t| t.1)),
    ];
    if let Some(per_cm) = resolution {
        let per_cm = (per_cm * 1000.0).round().max(1.0) as u32;
        entries.push(rationals(282, &[(per_cm, 1000)]));
        entries.push(rationals(283, &[(per_cm, 1000)]));
        entries.push(shorts(296, &[3])); // centimetre
    }
    if let TileColour::YCbCr(h, v) = level.colour {
        entries.push(shorts(530, &[h, v]));
        entries.push(rationals(
            532,
            &[(0, 1), (255, 1), (128, 1), (255, 1), (128, 1), (255, 1)],
        ));
    }
    entries.sort_by_key(|e| e.tag);
    let start = base + data.len() as u64;
    let table = 8 + entries.len() as u64 * 20 + 8;
    let mut overflow = start + table;
    let mut values: Vec<u8> = Vec::new();
    data.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for entry in &entries {
        data.extend_from_slice(&entry.tag.to_le_bytes());
        data.extend_from_slice(&entry.kind.to_le_bytes());
        data.extend_from_slice(&entry.count.to_le_bytes());
        if entry.bytes.len() <= 8 {
            let mut inline = [0u8; 8];
            inline[..entry.bytes.len()].copy_from_slice(&entry.bytes);
            data.extend_from_slice(&inline);
        } else {
            data.extend_from_slice(&overflow.to_le_bytes());
            values.extend_from_slice(&entry.bytes);
            overflow += entry.bytes.len() as u64;
            if values.len() % 2 == 1 {
                values.push(0);
                overflow += 1;
            }
        }
    }
    let next = data.len();
    data.extend_from_slice(&0u64.to_le_bytes());
    data.extend_from_slice(&values);
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn pyramid(mpp: Option<f64>) -> TiffPyramid<Cursor<Vec<u8>>> {
        TiffPyramid::new(Cursor::new(Vec::new()), mpp).unwrap()
    }

    fn u16_at(d: &[u8], at: usize) -> u16 {
        u16::from_le_bytes(d[at..at + 2].try_into().unwrap())
    }
    fn u64_at(d: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(d[at..at + 8].try_into().unwrap())
    }

    /// (tag → (count, inline value or offset)) of the IFD at `at`, and the next IFD.
    fn ifd(d: &[u8], at: usize) -> (Vec<(u16, u64, u64)>, u64) {
        let n = u64_at(d, at) as usize;
        let entries = (0..n)
            .map(|i| {
                let e = at + 8 + i * 20;
                (u16_at(d, e), u64_at(d, e + 4), u64_at(d, e + 12))
            })
            .collect();
        (entries, u64_at(d, at + 8 + n * 20))
    }

    #[test]
    fn levels_become_chained_ifds_naming_their_tiles() {
        let mut tiff = pyramid(Some(0.25));
        tiff.begin_level((300, 200), (256, 256), TileColour::YCbCr(2, 1));
        tiff.push_tile(b"AAA").unwrap();
        tiff.push_tile(b"BBBBBB").unwrap();
        tiff.begin_level((150, 100), (256, 256), TileColour::Rgb);
        let (offset, length) = tiff.last_tile().map_or((16, 3), |t| t);
        tiff.push_tile_at(offset, length);
        let data = tiff.finish().unwrap().into_inner();
        assert_eq!(&data[..4], b"II\x2b\x00");
        let first = u64_at(&data, 8) as usize;
        let (entries, next) = ifd(&data, first);
        assert_eq!((first % 8, next % 8), (0, 0), "IFDs at multiples of 8");
        let tags: Vec<u16> = entries.iter().map(|e| e.0).collect();
        assert!(tags.windows(2).all(|w| w[0] < w[1]), "sorted tags");
        let value = |tag: u16| entries.iter().find(|e| e.0 == tag).unwrap();
        assert_eq!(value(256).2, 300);
        assert_eq!(value(262).2, 6);
        assert_eq!(value(530).2 & 0xffff_ffff, 2 | (1 << 16));
        // Two tile offsets: stored out of line.
        let offsets = value(324).2 as usize;
        assert_eq!(value(324).1, 2);
        let first_tile = u64_at(&data, offsets) as usize;
        assert_eq!(&data[first_tile..first_tile + 3], b"AAA");
        let (entries, last) = ifd(&data, next as usize);
        assert_eq!(last, 0);
        let value = |tag: u16| entries.iter().find(|e| e.0 == tag).unwrap();
        assert_eq!(value(254).2, 1, "reduced resolution");
        assert_eq!(value(324).2, first_tile as u64, "the tile repeated");
    }

    #[test]
    fn a_level_missing_tiles_is_refused() {
        let mut tiff = pyramid(None);
        tiff.begin_level((600, 10), (256, 16), TileColour::Grey);
        tiff.push_tile(b"x").unwrap();
        assert!(
            tiff.finish()
                .unwrap_err()
                .contains("1 tiles written, 3 expected")
        );
    }
}
