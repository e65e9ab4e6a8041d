//! Siemens CSA headers: the private (0029,1010) image header and (0029,1020) series header,
//! and the ASCCONV protocol text inside the series header.
//!
//! A CSA header is a little-endian list of named elements, each holding a list of text items.
//! Two layouts exist: "SV10" (every syngo MR since VB) starts with the magic `SV10` and four
//! more bytes; the older one starts directly with the element count. After that both read:
//!
//! ```text
//! n_elements u32, u32 (77)
//! per element: name [u8; 64] (NUL-terminated), vm i32, vr [u8; 4], syngodt i32,
//!              n_items i32, i32 (77 or 205)
//!   per item:  4 x i32 (the 2nd is the byte length), then the text, padded to 4 bytes
//! ```
//!
//! The reader takes untrusted bytes: every count and length is checked against what is left,
//! so it never reads out of bounds, never panics and allocates no more than the input's size.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use crate::scan::reader::{Dataset, trim_text};
use dicom_core::Tag;

/// More elements than any scanner writes (series headers hold about 100); a larger count is
/// corrupt data.
const MAX_ELEMENTS: u32 = 1000;
/// Size of one element's fixed part: name, vm, vr, syngodt, n_items, and a marker.
const ELEMENT_HEADER: usize = 64 + 4 + 4 + 4 + 4 + 4;
/// Size of one item's fixed part: four 32-bit integers.
const ITEM_HEADER: usize = 16;

/// A parsed CSA header: element name to its non-empty leading text items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsaHeader {
    elements: BTreeMap<String, Vec<String>>,
}

impl CsaHeader {
    /// The text items of element `name` (trimmed; trailing empty items dropped), if present
    /// with at least one value.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.elements
            .get(name)
            .map(Vec::as_slice)
            .filter(|v| !v.is_empty())
    }

    /// The first item of `name` read as a number.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.get(name)?.first().and_then(|s| parse_number(s))
    }

    /// Every item of `name` read as a number; empty or unreadable items are skipped, as
    /// dcm2niix skips them (some sequences store empty items between values).
    pub fn numbers(&self, name: &str) -> Vec<f64> {
        self.get(name)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| parse_number(s))
            .collect()
    }

    /// Names of all elements, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.elements.keys().map(String::as_str)
    }

    /// Tiles in a Siemens mosaic (image header); absent or < 1 means not a mosaic.
    pub fn number_of_images_in_mosaic(&self) -> Option<u32> {
        let n = self.number("NumberOfImagesInMosaic")?.round();
        (n >= 1.0 && n <= u32::MAX as f64).then_some(n as u32)
    }

    /// The slice normal in patient (LPS) coordinates; for mosaics its sign says in which
    /// direction the tiles are stacked, which can be opposite to row x column of IOP.
    pub fn slice_normal_vector(&self) -> Option<[f64; 3]> {
        three(&self.numbers("SliceNormalVector"))
    }

    /// The diffusion b-value in s/mm²; negative values (corrupt) read as 0 as in dcm2niix.
    pub fn b_value(&self) -> Option<f64> {
        self.number("B_value").map(|b| b.max(0.0))
    }

    /// The diffusion gradient direction in patient (LPS) coordinates. Absent on b=0 images.
    pub fn diffusion_gradient_direction(&self) -> Option<[f64; 3]> {
        three(&self.numbers("DiffusionGradientDirection"))
    }

    /// Acquisition time of each mosaic tile in ms from the start of the volume, in tile order.
    pub fn mosaic_ref_acq_times(&self) -> Vec<f64> {
        self.numbers("MosaicRefAcqTimes")
    }

    /// Whether k-space was traversed along the positive phase-encoding axis (1) or not (0);
    /// gives the sign of BIDS PhaseEncodingDirection.
    pub fn phase_encoding_direction_positive(&self) -> Option<bool> {
        match self.number("PhaseEncodingDirectionPositive")?.round() as i64 {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    /// Bandwidth per pixel in the phase-encoding direction, in Hz; gives the echo spacing.
    pub fn bandwidth_per_pixel_phase_encode(&self) -> Option<f64> {
        self.number("BandwidthPerPixelPhaseEncode")
            .filter(|v| *v > 0.0)
    }
}

/// Parses a CSA header from the bytes of (0029,1010) or (0029,1020), either layout.
/// Returns `None` when the bytes are not a CSA header or are cut short in the fixed part
/// of an element; an item that runs past the end ends the parse with what was read so far.
pub fn parse(bytes: &[u8]) -> Option<CsaHeader> {
    parse_elements(bytes, None)
}

/// As [`parse`], keeping only the elements named in `wanted` (the others' items are stepped
/// over, not read as text): what the scan needs of each file's header.
pub fn parse_wanted(bytes: &[u8], wanted: &[&str]) -> Option<CsaHeader> {
    parse_elements(bytes, Some(wanted))
}

/// The value items of element `name` as stored (text, NUL-padded), borrowed from `bytes`: a
/// series header's 100 KB protocol read in place, not copied. `None` when the element is absent
/// or the bytes are not a CSA header.
fn items<'a>(bytes: &'a [u8], name: &str) -> Option<Vec<&'a [u8]>> {
    let mut found = None;
    walk(
        bytes,
        |n| name_is(n, name),
        |element| {
            if name_is(element.name, name) {
                found = Some(element.items);
            }
            found.is_none()
        },
    );
    found
}

fn parse_elements(bytes: &[u8], wanted: Option<&[&str]>) -> Option<CsaHeader> {
    let keep = |name: &[u8]| wanted.is_none_or(|wanted| wanted.iter().any(|w| name_is(name, w)));
    let mut elements = BTreeMap::new();
    walk(bytes, keep, |element| {
        if keep(element.name) {
            let items = element.items.iter().map(|item| text(item)).collect();
            insert(&mut elements, text(element.name), items);
        }
        true
    })?;
    (!elements.is_empty()).then_some(CsaHeader { elements })
}

/// One element as read: its name field (64 bytes, NUL-padded) and its value items (those within
/// its value multiplicity, of an element whose items are kept; an element cut short has the
/// items read before the cut).
struct RawElement<'a> {
    name: &'a [u8],
    items: Vec<&'a [u8]>,
}

/// Reads the elements of a CSA header in order, handing each to `visit` until it returns
/// `false`; the items of elements `keep` does not want are stepped over. An item that runs past
/// the end ends the walk after its element. `None` when the bytes are not a CSA header or an
/// element's fixed part is cut short.
fn walk<'a>(
    bytes: &'a [u8],
    keep: impl Fn(&[u8]) -> bool,
    mut visit: impl FnMut(RawElement<'a>) -> bool,
) -> Option<()> {
    let sv10 = bytes.starts_with(b"SV10");
    let mut pos = if sv10 { 8 } else { 0 };
    let n_elements = read_u32(bytes, pos)?;
    pos += 8;
    if n_elements == 0 || n_elements > MAX_ELEMENTS {
        return None;
    }
    // Each element needs at least its fixed part: a count that cannot fit is corrupt.
    if (n_elements as usize).saturating_mul(ELEMENT_HEADER) > bytes.len().saturating_sub(pos) {
        return None;
    }
    let mut first_n_items = None;
    for _ in 0..n_elements {
        let fixed = bytes.get(pos..pos + ELEMENT_HEADER)?;
        let name = &fixed[..64];
        let vm = read_i32(fixed, 64)?;
        let n_items = read_i32(fixed, 76)?;
        pos += ELEMENT_HEADER;
        // The old layout's item length is relative to the first element's item count.
        let first_n = *first_n_items.get_or_insert(n_items);
        if n_items < 0 || (n_items as usize).saturating_mul(ITEM_HEADER) > bytes.len() - pos {
            return Some(());
        }
        // Items past the value multiplicity are placeholders (usually empty).
        let n_values = match keep(name) {
            true if vm > 0 => vm.min(n_items),
            true => n_items,
            false => 0,
        };
        let mut element = RawElement {
            name,
            items: Vec::new(),
        };
        for item_no in 0..n_items {
            let Some(header) = bytes.get(pos..pos + ITEM_HEADER) else {
                visit(element);
                return Some(());
            };
            let len = item_length(header, sv10, first_n);
            pos += ITEM_HEADER;
            let Some(len) = len.filter(|l| *l <= bytes.len() - pos) else {
                visit(element);
                return Some(());
            };
            if item_no < n_values {
                element.items.push(&bytes[pos..pos + len]);
            }
            pos += len.div_ceil(4) * 4;
            if pos > bytes.len() {
                visit(element);
                return Some(());
            }
        }
        if !visit(element) {
            break;
        }
    }
    Some(())
}

/// Whether a name field reads `name`.
fn name_is(field: &[u8], name: &str) -> bool {
    until_nul(field).trim_ascii() == name.as_bytes()
}

/// Byte length of one item's text. SV10 stores it in the second integer; GDCM reads old-layout
/// headers the same way (all of the first, second and fourth integers equal the length), while
/// SPM reads the first integer minus the first element's item count: take the second when it
/// fits, else SPM's.
fn item_length(header: &[u8], sv10: bool, first_n_items: i32) -> Option<usize> {
    let second = read_i32(header, 4)?;
    if sv10 {
        return usize::try_from(second).ok();
    }
    let first = read_i32(header, 0)?;
    if first == second || first.checked_sub(first_n_items).is_none() {
        return usize::try_from(second).ok();
    }
    usize::try_from(first - first_n_items).ok()
}

fn insert(elements: &mut BTreeMap<String, Vec<String>>, name: String, mut items: Vec<String>) {
    while items.last().is_some_and(|s| s.is_empty()) {
        items.pop();
    }
    // A repeated name keeps its first occurrence, as dcm2niix's first match would.
    elements.entry(name).or_insert(items);
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn read_i32(bytes: &[u8], at: usize) -> Option<i32> {
    read_u32(bytes, at).map(|v| v as i32)
}

/// Latin-1 text up to the first NUL, trimmed.
fn text(bytes: &[u8]) -> String {
    text_in_place(bytes).into_owned()
}

/// As [`text`], borrowed when ASCII (nearly every header: the protocol text alone is ~100 KB);
/// other bytes are widened one by one.
fn text_in_place(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = until_nul(bytes);
    match std::str::from_utf8(bytes) {
        Ok(ascii) if bytes.is_ascii() => Cow::Borrowed(ascii.trim()),
        _ => {
            let s: String = bytes.iter().map(|&b| b as char).collect();
            Cow::Owned(s.trim().to_string())
        }
    }
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    let end = memchr::memchr(0, bytes).unwrap_or(bytes.len());
    &bytes[..end]
}

/// Numbers as Siemens writes them ("2.50000000", "+0", "1       "), like C's atof.
fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn three(v: &[f64]) -> Option<[f64; 3]> {
    match v {
        [x, y, z, ..] => Some([*x, *y, *z]),
        _ => None,
    }
}

/// Which of the two CSA headers to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// (0029,xx10): per image (mosaic tiles, diffusion, slice times).
    Image,
    /// (0029,xx20): per series (the MrPhoenixProtocol with its ASCCONV block).
    Series,
}

/// Reads and parses the CSA header of a dataset. The element block is found through the
/// "SIEMENS CSA HEADER" private creator; without one, the usual (0029,1010)/(0029,1020).
pub fn from_dataset(ds: &Dataset<'_>, which: Which) -> Option<CsaHeader> {
    parse(raw_from_dataset(ds, which)?)
}

/// As [`from_dataset`], keeping only the elements named in `wanted` (see [`parse_wanted`]):
/// a series header's protocol text alone, say, without its hundred other elements.
pub fn wanted_from_dataset(ds: &Dataset<'_>, which: Which, wanted: &[&str]) -> Option<CsaHeader> {
    parse_wanted(raw_from_dataset(ds, which)?, wanted)
}

/// The raw bytes of a CSA header element (see [`from_dataset`]).
pub fn raw_from_dataset<'a>(ds: &'a Dataset<'_>, which: Which) -> Option<&'a [u8]> {
    let block = private_block(ds, 0x0029, "SIEMENS CSA HEADER").unwrap_or(0x10);
    let offset = match which {
        Which::Image => 0x10,
        Which::Series => 0x20,
    };
    Some(ds.get(Tag(0x0029, (block << 8) | offset))?.bytes())
}

/// The block (high byte of the element number) reserved by private creator `creator`.
fn private_block(ds: &Dataset<'_>, group: u16, creator: &str) -> Option<u16> {
    (0x10..=0xFFu16).find(|&block| {
        ds.get(Tag(group, block))
            .is_some_and(|e| trim_text(e.bytes()).trim().eq_ignore_ascii_case(creator))
    })
}

/// The `key = value` lines of the ASCCONV block(s) (`### ASCCONV BEGIN ... ### ASCCONV END ###`)
/// of a MrPhoenixProtocol text (or any text holding it, such as the raw series header or XA's
/// (0021,1019)). A protocol holds thousands of lines and a sidecar reads a dozen of them: the
/// blocks are found once and each key is searched for where it is asked.
#[derive(Debug, Clone, Default)]
pub struct Ascconv<'a> {
    text: Cow<'a, str>,
    /// Byte ranges of the blocks' bodies (the lines between BEGIN and END), in text order.
    blocks: Vec<Range<usize>>,
}

impl Ascconv<'_> {
    /// The value of `key`: trimmed, without a trailing `#` comment; strings keep their quotes
    /// (`""epfid2d1_64""`). A key repeated across blocks has its first value.
    pub fn get(&self, key: &str) -> Option<&str> {
        let finder = memchr::memmem::Finder::new(key.as_bytes());
        self.blocks.iter().find_map(|block| {
            let body = &self.text[block.clone()];
            finder.find_iter(body.as_bytes()).find_map(|at| {
                // The line holding the match, read as every line is.
                let start = memchr::memrchr(b'\n', &body.as_bytes()[..at]).map_or(0, |i| i + 1);
                let end = memchr::memchr(b'\n', &body.as_bytes()[at..])
                    .map_or(body.len(), |i| at + i + 1);
                let line = &body[start..end];
                let (k, v) = key_value(line)?;
                (&line[k] == key).then(|| &line[v])
            })
        })
    }

    /// Whether no `key = value` line was found.
    pub fn is_empty(&self) -> bool {
        self.lines().next().is_none()
    }

    /// The keys in text order (repeats included).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.lines().map(|(key, _)| key)
    }

    /// The `key = value` lines, in text order.
    fn lines(&self) -> impl Iterator<Item = (&str, &str)> {
        self.blocks.iter().flat_map(|block| {
            self.text[block.clone()]
                .split_inclusive('\n')
                .filter_map(|line| key_value(line).map(|(k, v)| (&line[k], &line[v])))
        })
    }
}

/// Finds the ASCCONV blocks of `text` (see [`Ascconv`]).
pub fn ascconv<'a>(text: impl Into<Cow<'a, str>>) -> Ascconv<'a> {
    let text = text.into();
    let begin_marker = memchr::memmem::Finder::new("### ASCCONV BEGIN");
    let end_marker = memchr::memmem::Finder::new("### ASCCONV END");
    let bytes = text.as_bytes();
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some(begin) = begin_marker.find(&bytes[at..]).map(|i| at + i) {
        // The BEGIN line itself may carry extra text ("@Checksum=... ###").
        let body = memchr::memchr(b'\n', &bytes[begin..]).map_or(bytes.len(), |i| begin + i + 1);
        let end = end_marker
            .find(&bytes[body..])
            .map_or(bytes.len(), |i| body + i);
        blocks.push(body..end);
        if end == bytes.len() {
            break;
        }
        at = end + 1;
    }
    Ascconv { text, blocks }
}

/// The ASCCONV blocks of the protocol in a series header's bytes (its MrPhoenixProtocol
/// element), read in place when it is one ASCII item.
pub fn protocol_ascconv(series_header: &[u8]) -> Option<Ascconv<'_>> {
    let mut items = items(series_header, "MrPhoenixProtocol")?;
    while items
        .last()
        .is_some_and(|item| text_in_place(item).is_empty())
    {
        items.pop();
    }
    let text = match items.as_slice() {
        [] => return None,
        [one] => text_in_place(one),
        more => Cow::Owned(more.iter().map(|item| text_in_place(item)).collect()),
    };
    Some(ascconv(text)).filter(|a| !a.is_empty())
}

/// Byte ranges of the key and the value of an ASCCONV line, when it is a `key = value` line
/// whose key holds no whitespace.
fn key_value(line: &str) -> Option<(Range<usize>, Range<usize>)> {
    let eq = line.find('=')?;
    let key = trimmed(line, 0..eq);
    if key.is_empty() || line[key.clone()].contains(char::is_whitespace) {
        return None;
    }
    let value = without_comment(line, eq + 1..line.trim_end_matches(['\n', '\r']).len());
    Some((key, value))
}

/// `range` of `s` without surrounding whitespace.
fn trimmed(s: &str, range: Range<usize>) -> Range<usize> {
    let part = &s[range.clone()];
    let start = range.start + (part.len() - part.trim_start().len());
    start..start + part.trim().len()
}

/// The range of value `range` of `line` without its trailing `# comment`, trimmed. Strings
/// (`""text""`, Siemens doubles the quotes) run to their last quote, so a `#` inside them stays.
fn without_comment(line: &str, range: Range<usize>) -> Range<usize> {
    let value = trimmed(line, range);
    let text = &line[value.clone()];
    if text.starts_with('"')
        && let Some(end) = text.rfind('"')
    {
        return value.start..value.start + end + 1;
    }
    let uncommented = text.split('#').next().unwrap_or("");
    trimmed(line, value.start..value.start + uncommented.len())
}

#[cfg(test)]
mod tests;
