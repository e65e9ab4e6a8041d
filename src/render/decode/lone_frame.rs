//! A frame read on its own (DICOMweb's frame retrieval answers with a frame's bytes, not its
//! file; a slide level's frames are read where they lie): made the one-frame image it would
//! be, from the instance's header, so that it is checked and decoded as any file's frame is.

use dicom_core::value::PixelFragmentSequence;
use dicom_object::FileMetaTableBuilder;

use super::*;

/// Explicit VR Little Endian: what native frames arrive as (PS3.18 octet-stream bulk data).
const EXPLICIT_LITTLE: &str = "1.2.840.10008.1.2.1";

impl DicomImage {
    /// The one-frame image of `bytes`, frame `number` (0-based, as messages name it) of the
    /// instance `header` describes, coded in `transfer_syntax` (a codestream of it, or native
    /// little-endian samples).
    pub fn from_frame(
        header: &InstanceHeader,
        number: u32,
        transfer_syntax: &str,
        bytes: Vec<u8>,
    ) -> Result<Self, DecodeError> {
        let (Some(rows), Some(columns)) = (header.rows, header.columns) else {
            return Err(DecodeError("the header has no Rows/Columns".into()));
        };
        let samples = header.samples_per_pixel.unwrap_or(1);
        let bits_allocated = header.bits_allocated.unwrap_or(8);
        let bits_stored = header.bits_stored.unwrap_or(bits_allocated);
        let photometric = header
            .photometric_interpretation
            .clone()
            .unwrap_or_else(|| if samples == 3 { "RGB" } else { "MONOCHROME2" }.into());
        let mut object = InMemDicomObject::new_empty();
        let uint = |tag, value: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(value));
        object.put(uint(tags::ROWS, rows));
        object.put(uint(tags::COLUMNS, columns));
        object.put(uint(tags::SAMPLES_PER_PIXEL, samples));
        object.put(uint(tags::BITS_ALLOCATED, bits_allocated));
        object.put(uint(tags::BITS_STORED, bits_stored));
        object.put(uint(tags::HIGH_BIT, bits_stored.saturating_sub(1)));
        object.put(uint(
            tags::PIXEL_REPRESENTATION,
            header.pixel_representation.unwrap_or(0),
        ));
        if samples == 3 {
            // Whole-slide images are colour-by-pixel (PS3.3 C.8.12.4.1.3).
            object.put(uint(tags::PLANAR_CONFIGURATION, 0));
        }
        object.put(DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from(photometric),
        ));
        object.put(DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            PrimitiveValue::from("1"),
        ));
        let native = NATIVE_SYNTAXES.contains(&transfer_syntax);
        let syntax = if native {
            EXPLICIT_LITTLE
        } else {
            transfer_syntax
        };
        let pixels = if native {
            // Left in its bytes, as a native file's Pixel Data is.
            let value = 0..bytes.len();
            Some(NativePixels {
                file: bytes.into(),
                value,
            })
        } else {
            let fragments = PixelFragmentSequence::new(Vec::<u32>::new(), vec![bytes]);
            object.put(DataElement::new(tags::PIXEL_DATA, VR::OB, fragments));
            None
        };
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(syntax)
            .media_storage_sop_class_uid(header.sop_class_uid.as_deref().unwrap_or("1.2"))
            .media_storage_sop_instance_uid(header.sop_instance_uid.as_deref().unwrap_or("1.2"));
        let object = object
            .with_meta(meta)
            .map_err(|e| DecodeError(format!("cannot make the frame an image: {e}")))?;
        let mut image = Self::from_object(object, pixels)?;
        image.frame_base = number;
        Ok(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::jpeg::{Huffman, encode_jpeg};
    use crate::render::image::{Channels, Image8};

    fn header(rows: u16, columns: u16, samples: u16, photometric: &str) -> InstanceHeader {
        InstanceHeader {
            rows: Some(rows),
            columns: Some(columns),
            samples_per_pixel: Some(samples),
            bits_allocated: Some(8),
            bits_stored: Some(8),
            photometric_interpretation: Some(photometric.into()),
            ..InstanceHeader::default()
        }
    }

    #[test]
    fn a_jpeg_frame_decodes_as_its_file_would() {
        let rgb = Image8::gradient(32, 16, Channels::Rgb, (3, 5, 7));
        let jpeg = encode_jpeg(&rgb, 95, Huffman::Standard).unwrap();
        let image = DicomImage::from_frame(
            &header(16, 32, 3, "YBR_FULL_422"),
            0,
            "1.2.840.10008.1.2.4.50",
            jpeg.clone(),
        )
        .unwrap();
        assert_eq!(image.frame_count(), 1);
        assert_eq!(image.frame_codestream(0), Some(jpeg));
        let frame = image.frame(0).unwrap();
        assert_eq!((frame.width, frame.height), (32, 16));
        let Samples::Rgb(decoded) = frame.samples else {
            panic!("not colour")
        };
        let worst = decoded
            .iter()
            .zip(&rgb.data)
            .map(|(a, b)| a.abs_diff(*b))
            .max();
        assert!(worst.unwrap() <= 8, "{worst:?}");
    }

    #[test]
    fn native_frames_are_their_samples_and_short_ones_fail() {
        let samples: Vec<u8> = (0..12).collect();
        let image = DicomImage::from_frame(
            &header(3, 4, 1, "MONOCHROME2"),
            0,
            EXPLICIT_LITTLE,
            samples.clone(),
        )
        .unwrap();
        let Samples::Grey(grey) = image.frame(0).unwrap().samples else {
            panic!("not grey")
        };
        assert_eq!(grey.to_vec(), (0..12).collect::<Vec<i64>>());
        let short = DicomImage::from_frame(
            &header(3, 4, 1, "MONOCHROME2"),
            41,
            EXPLICIT_LITTLE,
            samples[..5].to_vec(),
        );
        // Named by its number in its instance.
        let error = short.unwrap().frame(0).unwrap_err().to_string();
        assert!(error.contains("frame 41 of 12 bytes"), "{error}");
        assert!(
            DicomImage::from_frame(&InstanceHeader::default(), 0, EXPLICIT_LITTLE, vec![]).is_err()
        );
    }
}
