//! A file a NIfTI stack reads more than its pixels of: its header as a tree (for the sidecar,
//! the gradients and the acquisition facts) and its frames, sliced from the bytes for native
//! grey data, else decoded by a [`DicomImage`] made once, when a frame first needs one.

use std::sync::OnceLock;

use bytes::Bytes;

use super::slices::{as_scanned, scanned_frame};
use crate::render::decode::{DicomImage, Frame, is_native_grey, native_grey_frame};
use crate::scan::InstanceHeader;
use crate::scan::reader::{Dataset, HeaderTree, gzip};

pub(super) struct OpenedFile {
    bytes: Bytes,
    tree: HeaderTree,
    /// The Pixel Data value of native grey data.
    native: Option<Bytes>,
    image: OnceLock<Result<DicomImage, String>>,
}

impl OpenedFile {
    /// Parses the header of the file of `header` from its `bytes` (inflated first when
    /// gzip-compressed).
    pub(super) fn open(bytes: Bytes, header: &InstanceHeader) -> Result<OpenedFile, String> {
        let bytes = if gzip::is_gzip(&bytes) {
            Bytes::from(gzip::gunzip(&bytes)?)
        } else {
            bytes
        };
        let tree = HeaderTree::parse(bytes.clone()).map_err(|e| e.to_string())?;
        let native = is_native_grey(header).then(|| tree.pixel_value()).flatten();
        Ok(OpenedFile {
            bytes,
            tree,
            native,
            image: OnceLock::new(),
        })
    }

    /// The top-level dataset.
    pub(super) fn dataset(&self) -> Dataset<'_> {
        self.tree.root()
    }

    /// Frame `frame` of the file (a mosaic's whole grid when `stored`, else its tile).
    pub(super) fn frame(
        &self,
        header: &InstanceHeader,
        frame: u32,
        stored: bool,
    ) -> Result<Frame, String> {
        if let Some(pixels) = &self.native
            && (header.mosaic.is_none() || stored)
        {
            return native_grey_frame(pixels, header, frame).map_err(|e| e.to_string());
        }
        let image = self
            .image
            .get_or_init(|| as_scanned(self.bytes.clone(), header))
            .as_ref()
            .map_err(Clone::clone)?;
        scanned_frame(image, frame, stored)
    }
}
