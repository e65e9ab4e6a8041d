//! The transfer syntaxes dicom-object parses a file with: the standard registry, except that a
//! dataset written in the other VR mode than its file meta declares is read in the mode of its
//! bytes, as the header scan reads it (and pydicom, and DCMTK with `-td`).

use dicom_encoding::transfer_syntax::{Codec, TransferSyntax, TransferSyntaxIndex};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// The registry, with the declared syntax of one file replaced by its VR-corrected twin.
pub(super) struct ParseSyntaxes {
    registry: TransferSyntaxRegistry,
    corrected: Option<TransferSyntax>,
}

impl ParseSyntaxes {
    /// Syntaxes for a file that declares `declared`; `explicit_vr` is the VR mode its dataset is
    /// really written in when that is not the declared one. The twin keeps the declared UID,
    /// byte order and pixel data encapsulation, so frames still go to the declared codec.
    pub(super) fn new(declared: &str, explicit_vr: Option<bool>) -> Self {
        let registry = TransferSyntaxRegistry;
        let corrected = explicit_vr.and_then(|explicit| {
            let base = registry.get(declared)?;
            let codec = if base.is_encapsulated_pixel_data() {
                Codec::EncapsulatedPixelData(None, None)
            } else {
                Codec::None
            };
            Some(TransferSyntax::new(
                base.uid(),
                base.name(),
                base.endianness(),
                explicit,
                codec,
            ))
        });
        ParseSyntaxes {
            registry,
            corrected,
        }
    }
}

impl TransferSyntaxIndex for ParseSyntaxes {
    fn get(&self, uid: &str) -> Option<&TransferSyntax> {
        match &self.corrected {
            Some(twin) if twin.uid() == uid.trim_end_matches(['\0', ' ']) => Some(twin),
            _ => self.registry.get(uid),
        }
    }
}
