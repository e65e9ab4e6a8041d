//! A file a NIfTI stack reads more than one frame of, or more than its pixels of: its frames,
//! sliced from the bytes for native grey and 8-bit RGB data, else decoded by a [`DicomImage`]
//! made once, when a frame first needs one; and its header as a tree (for the sidecar, the
//! gradients and the acquisition facts), parsed when first asked for.

use std::sync::OnceLock;

use bytes::Bytes;

use super::slices::{as_scanned, scanned_frame};
use dicom_dictionary_std::tags;

use crate::render::decode::{
    DicomImage, Frame, native_grey_frame, native_grey_pixels, native_rgb_frame, native_rgb_pixels,
};
use crate::scan::InstanceHeader;
use crate::scan::reader::{Dataset, HeaderTree, gzip};

pub(super) struct OpenedFile {
    bytes: Bytes,
    tree: OnceLock<Result<HeaderTree, String>>,
    /// The Pixel Data value of native grey data.
    native: Option<Bytes>,
    /// The Pixel Data value of native 8-bit RGB data.
    rgb: Option<Bytes>,
    image: OnceLock<Result<DicomImage, String>>,
}

impl OpenedFile {
    /// The file of `header` from its `bytes` (inflated first when gzip-compressed), with its
    /// native grey pixels found where the scan found them.
    pub(super) fn open(bytes: Bytes, header: &InstanceHeader) -> Result<OpenedFile, String> {
        let bytes = if gzip::is_gzip(&bytes) {
            Bytes::from(gzip::gunzip(&bytes)?)
        } else {
            bytes
        };
        let native = native_grey_pixels(&bytes, header)
            .transpose()
            .map_err(|e| e.to_string())?;
        let rgb = native_rgb_pixels(&bytes, header)
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(OpenedFile {
            bytes,
            tree: OnceLock::new(),
            native,
            rgb,
            image: OnceLock::new(),
        })
    }

    /// The top-level dataset (the header is parsed the first time).
    pub(super) fn dataset(&self) -> Result<Dataset<'_>, String> {
        self.tree
            .get_or_init(|| HeaderTree::parse(self.bytes.clone()).map_err(|e| e.to_string()))
            .as_ref()
            .map(HeaderTree::root)
            .map_err(Clone::clone)
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
        if let Some(pixels) = &self.rgb {
            // The scan keeps no PlanarConfiguration: the header tree has it (and is parsed
            // for the sidecar of the files it reads most).
            let planar = self
                .dataset()?
                .get(tags::PLANAR_CONFIGURATION)
                .is_some_and(|a| a.numbers().first() == Some(&1.0));
            return native_rgb_frame(pixels, header, frame, planar).map_err(|e| e.to_string());
        }
        let image = self
            .image
            .get_or_init(|| as_scanned(self.bytes.clone(), header))
            .as_ref()
            .map_err(Clone::clone)?;
        scanned_frame(image, frame, stored)
    }
}
