//! A whole header as a tree of borrowed values: every element before Pixel Data, sequences
//! and their items included, read with the same bounded cursor as the scan. Values stay raw
//! bytes of the file until asked for (no text decoding, no per-element allocation), which
//! makes reading the hundreds of functional-group items of an enhanced multi-frame file
//! several times cheaper than building a DICOM object.

use bytes::Bytes;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};

use super::cursor::{Cursor, ElementHeader, End};
use super::meta::sniff_encoding;
use super::vr::{is_sequence, vr_of};
use super::{Endian, Input, ReadError, UNDEFINED, locate_dataset};

/// One element: where its value lies in the tree's bytes and, for a sequence, its items.
#[derive(Debug, Clone, Copy)]
struct Node {
    tag: Tag,
    vr: VR,
    big_endian: bool,
    value: (u32, u32),
    /// Range of `HeaderTree::items` (empty for non-sequences).
    items: (u32, u32),
}

/// Every element of a file's header, parsed once.
#[derive(Debug)]
pub struct HeaderTree {
    bytes: Bytes,
    nodes: Vec<Node>,
    /// Each item's elements: a range of `nodes`, sorted by tag.
    items: Vec<(u32, u32)>,
    /// The top-level dataset's elements.
    root: (u32, u32),
    /// Where the value of a Pixel Data element of defined length lies.
    pixel_value: Option<(usize, usize)>,
}

/// A dataset of the tree: the top level or one item of a sequence.
#[derive(Debug, Clone, Copy)]
pub struct Dataset<'t> {
    tree: &'t HeaderTree,
    nodes: &'t [Node],
}

/// One element of a [`Dataset`].
#[derive(Debug, Clone, Copy)]
pub struct Attribute<'t> {
    tree: &'t HeaderTree,
    node: &'t Node,
}

impl HeaderTree {
    /// Parses the header of a whole file (`bytes`), up to Pixel Data.
    pub fn parse(bytes: Bytes) -> Result<HeaderTree, ReadError> {
        let input = Input {
            bytes: &bytes,
            file_size: bytes.len() as u64,
        };
        let mut inflated = Vec::new();
        let mut builder = Builder::default();
        let (root, pixel_value) = {
            let mut cursor = match locate_dataset(input, &mut inflated)? {
                Some(start) => start.cursor,
                None => {
                    let encoding = sniff_encoding(&bytes).ok_or_else(|| {
                        ReadError::NotDicom("no DICOM preamble, file meta or dataset start".into())
                    })?;
                    Cursor::new(input, 0, encoding)
                }
            };
            let root = builder.top_level(&mut cursor)?;
            (root, builder.pixel_value(&mut cursor)?)
        };
        Ok(HeaderTree {
            nodes: builder.nodes,
            items: builder.items,
            root,
            pixel_value,
            // A deflated dataset is kept inflated: the values lie there.
            bytes: if inflated.is_empty() {
                bytes
            } else {
                Bytes::from(inflated)
            },
        })
    }

    /// The value of the file's Pixel Data when its length is defined (native data).
    pub fn pixel_value(&self) -> Option<Bytes> {
        let (start, length) = self.pixel_value?;
        Some(self.bytes.slice(start..start + length))
    }

    /// The top-level dataset.
    pub fn root(&self) -> Dataset<'_> {
        self.dataset(self.root)
    }

    fn dataset(&self, (start, end): (u32, u32)) -> Dataset<'_> {
        Dataset {
            tree: self,
            nodes: &self.nodes[start as usize..end as usize],
        }
    }
}

impl<'t> Dataset<'t> {
    /// The element `tag` of this dataset (not of its items).
    pub fn get(&self, tag: Tag) -> Option<Attribute<'t>> {
        let at = self.nodes.binary_search_by(|n| n.tag.cmp(&tag)).ok()?;
        Some(Attribute {
            tree: self.tree,
            node: &self.nodes[at],
        })
    }

    /// Every element, in tag order.
    pub fn attributes(self) -> impl Iterator<Item = Attribute<'t>> + 't {
        let tree = self.tree;
        self.nodes.iter().map(move |node| Attribute { tree, node })
    }

    /// Item `index` of sequence `tag`.
    pub fn item(&self, tag: Tag, index: usize) -> Option<Dataset<'t>> {
        self.get(tag)?.item(index)
    }

    /// The items of sequence `tag` (none when absent or not a sequence).
    pub fn items(self, tag: Tag) -> impl Iterator<Item = Dataset<'t>> + 't {
        self.get(tag).into_iter().flat_map(|a| a.items())
    }
}

impl<'t> Attribute<'t> {
    pub fn tag(&self) -> Tag {
        self.node.tag
    }

    /// The VR as written (explicit files) or as the dictionary gives it (implicit files; UN
    /// for tags it does not know).
    pub fn vr(&self) -> VR {
        self.node.vr
    }

    /// The raw value bytes.
    pub fn bytes(&self) -> &'t [u8] {
        let (start, len) = self.node.value;
        &self.tree.bytes[start as usize..start as usize + len as usize]
    }

    /// Whether binary numbers are big-endian.
    pub fn is_big_endian(&self) -> bool {
        self.node.big_endian
    }

    pub fn items(self) -> impl ExactSizeIterator<Item = Dataset<'t>> + 't {
        let tree = self.tree;
        let (start, end) = self.node.items;
        tree.items[start as usize..end as usize]
            .iter()
            .map(move |&range| tree.dataset(range))
    }

    pub fn item(&self, index: usize) -> Option<Dataset<'t>> {
        let (start, end) = self.node.items;
        let range = *self.tree.items[start as usize..end as usize].get(index)?;
        Some(self.tree.dataset(range))
    }
}

/// Builds the flat arrays. Datasets nest, so the elements of the datasets being read (and the
/// item ranges of the sequences being read) wait on stacks; each is moved, contiguous, into
/// the tree when its dataset (sequence) ends. No allocation per item.
#[derive(Default)]
struct Builder {
    nodes: Vec<Node>,
    items: Vec<(u32, u32)>,
    open_nodes: Vec<Node>,
    open_items: Vec<(u32, u32)>,
    /// The Pixel Data element the top level stopped at.
    pixel_data: Option<ElementHeader>,
}

impl Builder {
    /// The top-level elements, up to Pixel Data or the end of the bytes.
    fn top_level(&mut self, cursor: &mut Cursor<'_>) -> Result<(u32, u32), ReadError> {
        // Trailing padding of fewer bytes than an element header is tolerated.
        while cursor.remaining() >= 8 {
            let element = cursor.element_header()?;
            if matches!(
                element.tag,
                tags::PIXEL_DATA | tags::FLOAT_PIXEL_DATA | tags::DOUBLE_FLOAT_PIXEL_DATA
            ) {
                self.pixel_data = Some(element);
                break;
            }
            let node = self.element(cursor, element, 0)?;
            self.open_nodes.push(node);
        }
        Ok(self.close(0))
    }

    /// Where the value of a Pixel Data element of defined length lies (checked against the
    /// bytes), with `cursor` just after its header.
    fn pixel_value(&self, cursor: &mut Cursor<'_>) -> Result<Option<(usize, usize)>, ReadError> {
        match self.pixel_data {
            Some(element) if element.tag == tags::PIXEL_DATA && element.length != UNDEFINED => {
                Ok(Some((cursor.pos, cursor.check_length(&element)?)))
            }
            _ => Ok(None),
        }
    }

    fn element(
        &mut self,
        cursor: &mut Cursor<'_>,
        element: ElementHeader,
        depth: u8,
    ) -> Result<Node, ReadError> {
        let big_endian = cursor.encoding.endian == Endian::Big;
        let vr = match element.vr {
            Some(vr) => vr_of(vr),
            None => implicit_vr(element.tag),
        };
        // Offsets are kept in 32 bits: a header reaching past 4 GiB is refused.
        let at = u32::try_from(cursor.pos).map_err(|_| {
            ReadError::Corrupt(format!(
                "element {} lies beyond 4 GiB into the header",
                super::fmt_tag(element.tag)
            ))
        })?;
        let mut node = Node {
            tag: element.tag,
            vr,
            big_endian,
            value: (at, 0),
            items: (0, 0),
        };
        if element.length == UNDEFINED || is_sequence(&element) {
            let first = self.open_items.len();
            cursor.for_each_item(&element, depth + 1, &mut |cursor, end| {
                let item = self.item(cursor, end, depth + 2)?;
                self.open_items.push(item);
                Ok(())
            })?;
            let start = self.items.len() as u32;
            self.items.extend(self.open_items.drain(first..));
            node.items = (start, self.items.len() as u32);
        } else {
            let value = cursor.value(&element)?;
            node.value.1 = value.len() as u32;
        }
        Ok(node)
    }

    fn item(
        &mut self,
        cursor: &mut Cursor<'_>,
        end: End,
        depth: u8,
    ) -> Result<(u32, u32), ReadError> {
        let first = self.open_nodes.len();
        cursor.for_each_element(end, depth, &mut |cursor, element| {
            let node = self.element(cursor, element, depth)?;
            self.open_nodes.push(node);
            Ok(())
        })?;
        Ok(self.close(first))
    }

    /// Moves the elements of the dataset that starts at `first` on the stack into the tree,
    /// sorted by tag, and returns their range.
    fn close(&mut self, first: usize) -> (u32, u32) {
        let open = &mut self.open_nodes[first..];
        if !open.is_sorted_by_key(|n| n.tag) {
            open.sort_by_key(|n| n.tag);
        }
        let start = self.nodes.len() as u32;
        self.nodes.extend(self.open_nodes.drain(first..));
        (start, self.nodes.len() as u32)
    }
}

/// The VR dicom-object gives `tag` in an implicit-VR dataset: UL for group lengths, the
/// standard dictionary's (US for US-or-SS, OW for OB-or-OW), UN for tags it does not know.
fn implicit_vr(tag: Tag) -> VR {
    if tag.1 == 0 {
        return VR::UL;
    }
    match StandardDataDictionary.by_tag(tag).map(|e| e.vr()) {
        Some(VirtualVr::Exact(vr)) => vr,
        Some(VirtualVr::Xs) => VR::US,
        Some(VirtualVr::Lt) => VR::US,
        Some(_) => VR::OW,
        None => VR::UN,
    }
}

#[cfg(test)]
mod tests {
    //! The tree of real files against dicom-object's reading of them (another parser): the
    //! same elements in every dataset, the same items, the same numbers and text.
    use super::*;
    use dicom_core::header::Header;
    use dicom_dictionary_std::tags;
    use dicom_object::{InMemDicomObject, OpenFileOptions};

    const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test-data");

    fn same(ours: Dataset<'_>, theirs: &InMemDicomObject, path: &str) {
        let wanted: Vec<Tag> = theirs
            .iter()
            .map(|e| e.tag())
            .filter(|t| *t < tags::PIXEL_DATA)
            .collect();
        let found: Vec<Tag> = ours.attributes().map(|a| a.tag()).collect();
        assert_eq!(found, wanted, "{path}: elements");
        for element in theirs.iter().filter(|e| e.tag() < tags::PIXEL_DATA) {
            let a = ours.get(element.tag()).unwrap();
            if let Some(items) = element.items() {
                assert_eq!(a.items().len(), items.len(), "{path}: items of {}", a.tag());
                for (o, t) in a.items().zip(items) {
                    same(o, t, path);
                }
                continue;
            }
            // US-or-SS tags of implicit files: dicom-object picks by Pixel Representation.
            let either = [VR::US, VR::SS];
            if !(either.contains(&a.vr()) && either.contains(&element.vr())) {
                assert_eq!(a.vr(), element.vr(), "{path}: VR of {}", a.tag());
            }
            match element.vr() {
                VR::US | VR::SS if a.vr() != element.vr() => {}
                VR::US | VR::SS | VR::UL | VR::SL | VR::FL | VR::FD => {
                    let theirs = element.to_multi_float64().unwrap();
                    let size = theirs.len().max(1);
                    assert_eq!(a.bytes().len() % size, 0);
                    let ours = a.numbers();
                    let finite: Vec<f64> = theirs.into_iter().filter(|v| v.is_finite()).collect();
                    assert_eq!(ours, finite, "{path}: numbers of {}", a.tag());
                }
                VR::CS | VR::DS | VR::IS | VR::LO | VR::SH | VR::UI | VR::DA | VR::TM => {
                    let theirs = element.to_str().unwrap();
                    let ours = a.text().unwrap_or_default();
                    assert_eq!(ours, theirs, "{path}: text of {}", a.tag());
                }
                _ => {}
            }
        }
    }

    #[test]
    fn every_element_and_item_as_dicom_object_reads_them() {
        for path in [
            "pydicom/MR_small.dcm",
            "pydicom/MR_small_implicit.dcm",
            "pydicom/MR_small_bigendian.dcm",
            "pydicom/image_dfl.dcm",
            "dcm_qa_enh/In/Philips/IM_0027_fMAP.dcm",
            "dcm_qa_nih/In/20180918Si/mr_0003/epi_pe_ap-00001.dcm",
            "dcm2niix-qa/dcm_qa_xa30/In/10_DWI_dir80_PA/0001_1.3.12.2.1107.5.2.43.67093.2022071112112064607905327.dcm",
        ] {
            let full = format!("{DATA}/{path}");
            let bytes = std::fs::read(&full).unwrap();
            let tree = HeaderTree::parse(bytes.into()).unwrap();
            let theirs = OpenFileOptions::new()
                .read_until(tags::PIXEL_DATA)
                .open_file(&full)
                .unwrap();
            same(tree.root(), &theirs, path);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Bytes of an enhanced header changed or cut anywhere: an error or a tree, whose
        /// every value reads as text and numbers, never a panic.
        #[test]
        fn changed_headers_never_panic(
            changes in proptest::collection::vec((0usize..12_000, proptest::prelude::any::<u8>()), 1..12),
            cut in 2_000usize..40_000,
        ) {
            let mut bytes = std::fs::read(format!("{DATA}/dcm_qa_enh/In/Philips/IM_0027_fMAP.dcm")).unwrap();
            for (at, value) in changes {
                bytes[at] = value;
            }
            bytes.truncate(cut);
            if let Ok(tree) = HeaderTree::parse(bytes.into()) {
                read_all(tree.root());
                let _ = tree.pixel_value();
            }
        }
    }

    fn read_all(ds: Dataset<'_>) {
        for attribute in ds.attributes() {
            let _ = attribute.text();
            let _ = attribute.numbers();
            for item in attribute.items() {
                read_all(item);
            }
        }
    }

    #[test]
    fn cut_files_are_errors_not_panics() {
        let bytes =
            std::fs::read(format!("{DATA}/dcm_qa_enh/In/Philips/IM_0027_fMAP.dcm")).unwrap();
        for end in (0..20_000).step_by(997) {
            let _ = HeaderTree::parse(Bytes::copy_from_slice(&bytes[..end]));
        }
        // Inside the Per-Frame Functional Groups: an item is cut short.
        let cut = HeaderTree::parse(Bytes::copy_from_slice(&bytes[..20_000]));
        assert!(
            cut.is_err(),
            "{:?}",
            cut.map(|t| t.root().attributes().count())
        );
    }
}
