//! Native (uncompressed) frames: sliced out of the Pixel Data value, colour spaces converted
//! and palettes applied.

use super::*;

/// The Pixel Data value of a native little-endian grey file of 8- or 16-bit samples (of any
/// number of frames, or a mosaic), found straight from its bytes where the scan found it
/// (its `header`): no data set is parsed again. A file whose bytes there are not that element
/// (changed since the scan) is walked as dicom-object would read it. `None` for every other
/// file (colour, palette, other sample sizes, compressed, deflated, gzip), which
/// [`DicomImage`] decodes.
pub fn native_grey_pixels(
    bytes: &Bytes,
    header: &InstanceHeader,
) -> Option<Result<Bytes, DecodeError>> {
    native_value(bytes, header, is_native_grey(header))
}

/// The Pixel Data value of a native little-endian file of 8-bit RGB samples (not a mosaic),
/// found as [`native_grey_pixels`] finds grey ones; `None` for every other file.
pub fn native_rgb_pixels(
    bytes: &Bytes,
    header: &InstanceHeader,
) -> Option<Result<Bytes, DecodeError>> {
    let rgb = header.bits_allocated == Some(8)
        && header.samples_per_pixel == Some(3)
        && header.photometric_interpretation.as_deref() == Some("RGB")
        && header.mosaic.is_none()
        && LITTLE_ENDIAN_NATIVE.contains(&header.transfer_syntax.as_str());
    native_value(bytes, header, rgb)
}

/// The Pixel Data value of the file of `header` when `wanted` (and the bytes not gzip).
fn native_value(
    bytes: &Bytes,
    header: &InstanceHeader,
    wanted: bool,
) -> Option<Result<Bytes, DecodeError>> {
    if !wanted || gzip::is_gzip(bytes) {
        return None;
    }
    if let Some(value) = pixel_value_at(bytes, header) {
        return Some(Ok(bytes.slice(value)));
    }
    match check_bounds(bytes) {
        Ok(bounds) => Some(Ok(bytes.slice(bounds.native_value?))),
        Err(reason) => Some(Err(DecodeError(reason))),
    }
}

/// Where the value of the Pixel Data element at the scanned `header.pixel_data_offset` lies
/// in `bytes`: `None` unless an element header of Pixel Data is there (in the VR mode the scan
/// read the dataset in) with a defined length that fits within `bytes`.
fn pixel_value_at(bytes: &[u8], header: &InstanceHeader) -> Option<Range<usize>> {
    const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
    let at = usize::try_from(header.pixel_data_offset).ok()?;
    let element = bytes.get(at..)?;
    if element.get(..4)? != [0xE0, 0x7F, 0x10, 0x00] {
        return None;
    }
    let explicit = (header.transfer_syntax != IMPLICIT_LE) != header.vr_mode_corrected;
    let (length, start) = if explicit {
        let vr = element.get(4..8)?;
        if !matches!(vr, b"OW\0\0" | b"OB\0\0" | b"UN\0\0") {
            return None;
        }
        (element.get(8..12)?, at + 12)
    } else {
        (element.get(4..8)?, at + 8)
    };
    let length = u32::from_le_bytes(length.try_into().ok()?);
    let end = start.checked_add(usize::try_from(length).ok()?)?;
    (length != u32::MAX && end <= bytes.len()).then_some(start..end)
}

/// Whether the scan found the file of `header` to hold native little-endian grey samples of
/// 8 or 16 bits, which [`native_grey_frame`] reads.
pub fn is_native_grey(header: &InstanceHeader) -> bool {
    matches!(header.bits_allocated, Some(8 | 16))
        && header.samples_per_pixel.unwrap_or(1) == 1
        && header
            .photometric_interpretation
            .as_deref()
            .is_some_and(|p| p.starts_with("MONOCHROME"))
        && LITTLE_ENDIAN_NATIVE.contains(&header.transfer_syntax.as_str())
}

/// Stored frame `frame` (0-based; a mosaic's whole grid) of `pixels`, the value
/// [`native_grey_pixels`] found in the file of `header`.
pub fn native_grey_frame(
    pixels: &Bytes,
    header: &InstanceHeader,
    frame: u32,
) -> Result<Frame, DecodeError> {
    let (width, height) = match &header.mosaic {
        Some(mosaic) => (mosaic.columns, mosaic.rows),
        None => (
            header.columns.unwrap_or_default(),
            header.rows.unwrap_or_default(),
        ),
    };
    let bits = header.bits_allocated.unwrap_or(16);
    let count = usize::from(width) * usize::from(height);
    let samples = grey_values(
        pixels.clone(),
        frame as usize * count,
        count,
        bits,
        header.bits_stored.unwrap_or(bits),
        header.pixel_representation == Some(1),
    )?;
    Ok(Frame {
        width: u32::from(width),
        height: u32::from(height),
        samples: Samples::Grey(samples),
    })
}

/// Frame `frame` (0-based) of `pixels`, the value [`native_rgb_pixels`] found in the file of
/// `header`, as interleaved RGB (`planar`: PlanarConfiguration 1, each colour a plane).
pub fn native_rgb_frame(
    pixels: &Bytes,
    header: &InstanceHeader,
    frame: u32,
    planar: bool,
) -> Result<Frame, DecodeError> {
    let (width, height) = (
        header.columns.unwrap_or_default(),
        header.rows.unwrap_or_default(),
    );
    let count = usize::from(width) * usize::from(height);
    let frame_len = count * 3;
    let start = frame as usize * frame_len;
    let data = pixels.get(start..start + frame_len).ok_or_else(|| {
        DecodeError(format!(
            "pixel data holds {} bytes, too few for frame {} of {frame_len} bytes",
            pixels.len(),
            frame + 1
        ))
    })?;
    let rgb = if planar {
        interleave_planes(data, count, 1)
    } else {
        data.to_vec()
    };
    Ok(Frame {
        width: u32::from(width),
        height: u32::from(height),
        samples: Samples::Rgb(rgb),
    })
}

impl DicomImage {
    /// The bits of 1-bit frame `frame` (0-based) of a native little-endian file, shared with
    /// the file: the bytes that hold them and the bit (least significant first) of the first
    /// byte the frame starts at (frames need not start on a byte). `None` for other layouts,
    /// which [`DicomImage::stored_frame`] decodes, or pixel data too short for the frame.
    pub fn bit_frame(&self, frame: u32) -> Option<(Bytes, usize)> {
        let native = self.native.as_ref()?;
        if self.bits_allocated != 1 || self.samples_per_pixel != 1 || frame >= self.frames {
            return None;
        }
        let pixels = self.pixel_count();
        let first = (frame as usize).checked_mul(pixels)?;
        let end = first.checked_add(pixels)?.div_ceil(8);
        (end <= native.bytes().len()).then(|| (native.slice(first / 8..end), first % 8))
    }

    pub(super) fn native_frame(&self, frame: u32, pixels: usize) -> Result<Samples, DecodeError> {
        // 32-bit samples read as OW words from a big-endian file come out word-swapped.
        let mut words_swapped = false;
        let data = match &self.native {
            Some(native) => Cow::Borrowed(native.bytes()),
            None => {
                let Some(primitive) = self.pixel_data()?.primitive() else {
                    return Err(DecodeError(
                        "Pixel Data is encapsulated under a native transfer syntax".into(),
                    ));
                };
                words_swapped = self.transfer_syntax == "1.2.840.10008.1.2.2"
                    && self.bits_allocated == 32
                    && matches!(primitive, PrimitiveValue::U16(_));
                // Borrowed for 8/16-bit data: only this frame is copied, however many frames
                // the file has.
                primitive.to_bytes()
            }
        };
        // The bytes of `range` (within `data`), shared with the file when it was read in place.
        let frame_bytes = |range: Range<usize>| match &self.native {
            Some(native) => native.slice(range),
            None => Bytes::copy_from_slice(&data[range]),
        };
        let spp = self.samples_per_pixel as usize;
        if self.bits_allocated == 1 {
            // The bytes holding the frame's bits (frames need not start on a byte boundary).
            let first = frame as usize * pixels;
            let end = first.saturating_add(pixels).div_ceil(8).min(data.len());
            let start = (first / 8).min(end);
            return self.grey_or_palette(frame_bytes(start..end), first % 8, pixels);
        }
        let bytes = self.bytes_per_sample();
        let ybr422 = self.photometric == "YBR_FULL_422" && spp == 3;
        let frame_len = if ybr422 {
            pixels * 2 * bytes
        } else {
            pixels * spp * bytes
        };
        let start = (frame as usize).checked_mul(frame_len);
        let range = start
            .and_then(|s| Some(s..s.checked_add(frame_len)?))
            .filter(|range| range.end <= data.len());
        let Some(range) = range else {
            return Err(DecodeError(format!(
                "pixel data holds {} bytes, too few for frame {} of {frame_len} bytes",
                data.len(),
                self.number(frame),
            )));
        };
        let frame_data = if words_swapped {
            let mut swapped = data[range].to_vec();
            for sample in swapped.chunks_exact_mut(4) {
                sample.rotate_left(2);
            }
            Bytes::from(swapped)
        } else {
            frame_bytes(range)
        };
        self.samples_from_native(frame_data, pixels, self.planar)
    }

    /// Samples of one frame laid out as native pixel data (little-endian samples).
    pub(super) fn samples_from_native(
        &self,
        frame_data: Bytes,
        pixels: usize,
        planar: bool,
    ) -> Result<Samples, DecodeError> {
        let bytes = self.bytes_per_sample();
        match (self.samples_per_pixel, self.photometric.as_str()) {
            (1, _) => self.grey_or_palette(frame_data, 0, pixels),
            (3, "YBR_FULL_422") => Ok(Samples::Rgb(ybr_422_to_rgb(&frame_data, pixels))),
            (3, photometric) => {
                let interleaved = if planar {
                    Cow::Owned(interleave_planes(&frame_data, pixels, bytes))
                } else {
                    Cow::Borrowed(&frame_data[..])
                };
                let rgb = rgb_from_interleaved(&interleaved, pixels, bytes, self.bits_stored)?;
                match (photometric, rgb) {
                    ("YBR_FULL", Samples::Rgb(ybr)) => Ok(Samples::Rgb(ybr_to_rgb(&ybr))),
                    (_, rgb) => Ok(rgb),
                }
            }
            (n, photometric) => Err(DecodeError(format!(
                "{n} samples per pixel ({photometric}) are not supported"
            ))),
        }
    }
    /// Grey samples starting at pixel `first` (bit-addressed for 1-bit data), or RGB through the palette.
    pub(super) fn grey_or_palette(
        &self,
        data: Bytes,
        first: usize,
        pixels: usize,
    ) -> Result<Samples, DecodeError> {
        let grey = grey_values(
            data,
            first,
            pixels,
            self.bits_allocated,
            self.bits_stored,
            self.signed,
        )?;
        match &self.palette {
            None => Ok(Samples::Grey(grey)),
            Some([red, green, blue]) => {
                let to8 = |table: &LutTable, v: f64| {
                    (table.lookup(v) / table.max_output() * 255.0).round() as u8
                };
                let mut rgb = Vec::with_capacity(pixels * 3);
                for v in grey.to_vec() {
                    let v = v as f64;
                    rgb.extend_from_slice(&[to8(red, v), to8(green, v), to8(blue, v)]);
                }
                Ok(Samples::Rgb(rgb))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanned header of a test-data file, with its bytes.
    fn scanned(relative: &str) -> (InstanceHeader, Bytes) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test-data")
            .join(relative);
        let file = crate::scan::source::SourceFile {
            path: path.clone(),
            relative: relative.into(),
        };
        let crate::scan::ScanOutcome::Instance(header) =
            crate::scan::scan_file(&file, &mut Vec::new(), &mut Vec::new())
        else {
            panic!("{relative} scans as an instance");
        };
        (*header, Bytes::from(std::fs::read(path).unwrap()))
    }

    #[test]
    fn native_pixels_are_found_where_the_scan_found_them_else_by_a_walk() {
        for relative in [
            "pydicom/MR_small.dcm",
            "pydicom/MR_small_implicit.dcm",
            "pydicom/MR_small_padded.dcm",
            "vr_mismatch/explicit_under_implicit_meta.dcm",
            "vr_mismatch/implicit_under_explicit_meta.dcm",
            "dcm_qa_nih/In/20180918Si/mr_0003/epi_pe_ap-00001.dcm",
        ] {
            let (mut header, bytes) = scanned(relative);
            // The value the full walk finds, and dicom-object's own reading of it where it
            // reads the file: not in the other VR mode than declared (it reads garbage lengths).
            let bounds = check_bounds(&bytes).unwrap();
            let expected = bytes.slice(bounds.native_value.unwrap());
            if !header.vr_mode_corrected {
                let object = DefaultDicomObject::from_reader(&bytes[128..]).unwrap();
                let theirs = object
                    .element(tags::PIXEL_DATA)
                    .unwrap()
                    .to_bytes()
                    .unwrap();
                assert_eq!(theirs.as_ref(), expected.as_ref(), "{relative}");
            }
            assert_eq!(
                header.vr_mode_corrected,
                relative.starts_with("vr_mismatch")
            );
            let value = pixel_value_at(&bytes, &header).unwrap_or_else(|| panic!("{relative}"));
            let found = native_grey_pixels(&bytes, &header).unwrap().unwrap();
            assert_eq!(found.as_ref(), expected.as_ref(), "{relative}");
            // Bytes that are not the element where the scan saw it: the walk finds it.
            header.pixel_data_offset += 2;
            assert!(pixel_value_at(&bytes, &header).is_none(), "{relative}");
            let walked = native_grey_pixels(&bytes, &header).unwrap().unwrap();
            assert_eq!(walked.as_ref(), expected.as_ref(), "{relative}");
            header.pixel_data_offset -= 2;
            // A file cut inside its pixels: an error, not a short value.
            let cut = bytes.slice(..value.end - 1);
            assert!(pixel_value_at(&cut, &header).is_none(), "{relative}");
            assert!(
                native_grey_pixels(&cut, &header).unwrap().is_err(),
                "{relative}"
            );
        }
    }

    #[test]
    fn native_rgb_frames_are_the_decoders_frames() {
        for relative in [
            "pydicom/examples_rgb_color.dcm",
            "pydicom/SC_rgb_small_odd.dcm",
            "slides/highdicom/sm_image_numbers.dcm",
        ] {
            let (header, bytes) = scanned(relative);
            assert!(native_grey_pixels(&bytes, &header).is_none(), "{relative}");
            let pixels = native_rgb_pixels(&bytes, &header).unwrap().unwrap();
            let image = DicomImage::from_shared(bytes.clone()).unwrap();
            for frame in 0..header.number_of_frames.max(1) {
                let ours = native_rgb_frame(&pixels, &header, frame, false).unwrap();
                assert_eq!(
                    ours,
                    image.frame(frame).unwrap(),
                    "{relative} frame {frame}"
                );
                // The same colours stored plane by plane.
                let Samples::Rgb(rgb) = &ours.samples else {
                    panic!("{relative}: not RGB")
                };
                let planes: Vec<u8> = (0..3)
                    .flat_map(|c| rgb.iter().skip(c).step_by(3).copied())
                    .collect();
                let mut planar = vec![0; frame as usize * planes.len()];
                planar.extend(&planes);
                let planar = native_rgb_frame(&Bytes::from(planar), &header, frame, true);
                assert_eq!(planar.unwrap(), ours, "{relative} frame {frame}");
            }
            let past = header.number_of_frames.max(1);
            assert!(native_rgb_frame(&pixels, &header, past, false).is_err());
        }
        let (grey, bytes) = scanned("pydicom/MR_small.dcm");
        assert!(native_rgb_pixels(&bytes, &grey).is_none());
    }

    /// A 3x3, 3-frame, 1-bit grey file in `transfer_syntax`: 27 bits, so frames 1 and 2 start
    /// inside a byte. Bit `i` of the Pixel Data (LSB first) is set when `i % 4 == 1`.
    pub(super) fn one_bit_file(transfer_syntax: &str) -> Vec<u8> {
        use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
        let mut object = InMemDicomObject::new_empty();
        let uint = |tag, value: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(value));
        object.put(uint(tags::ROWS, 3));
        object.put(uint(tags::COLUMNS, 3));
        object.put(uint(tags::BITS_ALLOCATED, 1));
        object.put(uint(tags::BITS_STORED, 1));
        object.put(uint(tags::HIGH_BIT, 0));
        object.put(uint(tags::SAMPLES_PER_PIXEL, 1));
        object.put(uint(tags::PIXEL_REPRESENTATION, 0));
        object.put(DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            PrimitiveValue::from("3"),
        ));
        object.put(DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("MONOCHROME2"),
        ));
        object.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::U8(vec![0x22, 0x22, 0x22, 0x02].into()),
        ));
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(transfer_syntax)
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
            .media_storage_sop_instance_uid("1.2.3.4");
        let mut bytes = Vec::new();
        object
            .with_meta(meta)
            .unwrap()
            .write_all(&mut bytes)
            .unwrap();
        bytes
    }

    #[test]
    pub(super) fn one_bit_frames_start_mid_byte_in_place_and_copied() {
        // Little endian: read in place; big endian: copied out of dicom-object's value.
        for syntax in ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"] {
            let image = DicomImage::from_bytes(&one_bit_file(syntax)).unwrap();
            for frame in 0..3 {
                let Samples::Grey(grey) = image.frame(frame).unwrap().samples else {
                    panic!("{syntax}: frame {frame} is not grey");
                };
                let expected: Vec<i64> = (frame as usize * 9..frame as usize * 9 + 9)
                    .map(|bit| i64::from(bit % 4 == 1))
                    .collect();
                assert_eq!(grey.to_vec(), expected, "{syntax}, frame {frame}");
            }
            assert!(image.frame(3).is_err(), "{syntax}");
        }
    }
}
