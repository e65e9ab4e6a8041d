//! Encapsulated (compressed) frames: libjpeg for JPEG Baseline, libjpeg-turbo for 12-bit JPEG
//! Extended, our RLE and JPEG-LS decoders, and dicom-pixeldata's codecs for the rest (JPEG
//! Lossless, JPEG 2000), after checking that the codestream's own header declares no larger
//! image than the DICOM header.

use super::*;

impl DicomImage {
    pub(super) fn encapsulated_frame(
        &self,
        frame: u32,
        pixels: usize,
    ) -> Result<Samples, DecodeError> {
        if let Some(samples) = self.libjpeg_frame(frame, pixels) {
            return samples;
        }
        if let Some(samples) = self.jpeg12_frame(frame) {
            return samples;
        }
        if JPEG_LS_SYNTAXES.contains(&self.transfer_syntax.as_str()) {
            return self.jpeg_ls_frame(frame, pixels);
        }
        if self.transfer_syntax == "1.2.840.10008.1.2.5" {
            return self.rle_frame(frame, pixels);
        }
        let fail = |reason: String| {
            DecodeError(format!(
                "cannot decode pixel data of transfer syntax {} ({}): {reason}",
                self.transfer_syntax,
                transfer_syntax_name(&self.transfer_syntax),
            ))
        };
        if pixels.saturating_mul(usize::from(self.samples_per_pixel)) > MAX_DECODED_SAMPLES {
            return Err(fail(format!(
                "a frame of {} x {} x {} samples is over the {MAX_DECODED_SAMPLES}-sample limit",
                self.columns, self.rows, self.samples_per_pixel
            )));
        }
        if let Some((kind, size)) = self.oversized_codestream(frame) {
            return Err(fail(format!(
                "the {kind} codestream declares {} x {} with {} components, not the {} x {} x {} of the header",
                size.0, size.1, size.2, self.columns, self.rows, self.samples_per_pixel
            )));
        }
        let decoded = catch_codec_panic(|| self.object.decode_pixel_data_frame(frame))
            .map_err(|panic| fail(format!("the codec failed on corrupt data ({panic})")))?
            .map_err(|e| fail(error_chain(&e)))?;
        let data = decoded.data();
        if self.samples_per_pixel == 3 {
            // Codecs hand out interleaved RGB whatever the stored colour space.
            let bytes = self.bytes_per_sample();
            return rgb_from_interleaved(data, pixels, bytes, self.bits_stored);
        }
        self.grey_or_palette(Bytes::copy_from_slice(data), 0, pixels)
    }

    /// A JPEG 2000 SIZ or JPEG / JPEG-LS SOF marker, with the codestream's name, that declares
    /// a larger image than Rows x Columns x Samples (decoders allocate and decode from these,
    /// not from the header), among the fragments the codec may read for `frame`: its own when
    /// there is one fragment per frame, else every fragment (which fragments make which frame
    /// is then the codec's guess, not ours). `None` when all that parse fit, and for other
    /// transfer syntaxes.
    pub(super) fn oversized_codestream(
        &self,
        frame: u32,
    ) -> Option<(&'static str, CodestreamSize)> {
        let syntax = self.transfer_syntax.as_str();
        let (kind, parse): (&'static str, SizeParser) = if J2K_SYNTAXES.contains(&syntax) {
            ("JPEG 2000", j2k_siz)
        } else if JPEG_SYNTAXES.contains(&syntax) {
            ("JPEG", jpeg_sof)
        } else {
            return None;
        };
        let fragments = self.pixel_data().ok()?.fragments()?;
        let candidates = match fragments.get(frame as usize) {
            Some(own) if fragments.len() == self.frames as usize => std::slice::from_ref(own),
            _ => fragments,
        };
        candidates
            .iter()
            .filter_map(|fragment| parse(fragment))
            .find(|&(width, height, components)| {
                width > self.columns
                    || height > self.rows
                    || components == 0
                    || components > self.samples_per_pixel
            })
            .map(|size| (kind, size))
    }

    /// JPEG Baseline frames in YCbCr or grey go through libjpeg (mozjpeg), the decoder DCMTK
    /// and most viewers share: its IDCT and fancy chroma upsampling match theirs, where
    /// jpeg-decoder differs by a few grey levels on some pixels. `None` means "not this path".
    /// The codestream of `frame` when fragments map to frames simply: one fragment per frame,
    /// or one frame in all the fragments. `None` otherwise (left to dicom-pixeldata).
    pub fn frame_codestream(&self, frame: u32) -> Option<Vec<u8>> {
        let fragments = self.pixel_data().ok()?.fragments()?;
        if fragments.len() == self.frames as usize {
            fragments.get(frame as usize).cloned()
        } else if self.frames == 1 {
            Some(fragments.concat())
        } else {
            None
        }
    }

    /// JPEG Extended frames of 12-bit precision, which jpeg-decoder and mozjpeg cannot decode,
    /// into 16-bit grey samples (windowed like any 16-bit image) or 8-bit RGB. `None` for other
    /// transfer syntaxes and precisions.
    fn jpeg12_frame(&self, frame: u32) -> Option<Result<Samples, DecodeError>> {
        if self.transfer_syntax != "1.2.840.10008.1.2.4.51" {
            return None;
        }
        let bytes = self.frame_codestream(frame)?;
        let expected = (self.columns as usize, self.rows as usize);
        let decoded = match jpeg12::decode_12bit(&bytes, expected) {
            Ok(None) => return None,
            Ok(Some(decoded)) => decoded,
            Err(e) => {
                return Some(Err(DecodeError(format!(
                    "JPEG Extended frame {}: {e}",
                    self.number(frame)
                ))));
            }
        };
        let pixels = decoded.width * decoded.height;
        let bytes: Vec<u8> = decoded
            .samples
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        Some(if decoded.components == 1 && self.bits_allocated != 16 {
            Err(DecodeError(format!(
                "12-bit JPEG frame {} under BitsAllocated {}, not 16",
                self.number(frame),
                self.bits_allocated
            )))
        } else if decoded.components == 1 {
            self.grey_or_palette(Bytes::from(bytes), 0, pixels)
        } else {
            rgb_from_interleaved(&bytes, pixels, 2, 12)
        })
    }

    /// JPEG-LS frames, by our decoder ([`crate::render::jpeg_ls`]), into samples of
    /// BitsAllocated: grey (or palette indices) or RGB.
    fn jpeg_ls_frame(&self, frame: u32, pixels: usize) -> Result<Samples, DecodeError> {
        let fail =
            |reason: String| DecodeError(format!("JPEG-LS frame {}: {reason}", self.number(frame)));
        let bytes = self.frame_codestream(frame).ok_or_else(|| {
            fail(format!(
                "{} fragments for {} frames: which make this frame is unknown",
                self.pixel_data()
                    .ok()
                    .and_then(|p| p.fragments())
                    .map_or(0, <[_]>::len),
                self.frames
            ))
        })?;
        let decoded = jpeg_ls::decode(&bytes).map_err(fail)?;
        let width_height = (decoded.width, decoded.height);
        if width_height != (self.columns as usize, self.rows as usize)
            || decoded.components != usize::from(self.samples_per_pixel)
        {
            return Err(fail(format!(
                "the codestream is {} x {} x {}, the header says {} x {} x {}",
                decoded.width,
                decoded.height,
                decoded.components,
                self.columns,
                self.rows,
                self.samples_per_pixel
            )));
        }
        let bytes_per_sample = self.bytes_per_sample();
        if usize::from(decoded.precision) > 8 * bytes_per_sample {
            return Err(fail(format!(
                "{}-bit samples under BitsAllocated {}",
                decoded.precision, self.bits_allocated
            )));
        }
        let data: Vec<u8> = if bytes_per_sample == 1 {
            decoded.samples.iter().map(|&v| v as u8).collect()
        } else {
            decoded
                .samples
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect()
        };
        if decoded.components == 1 {
            self.grey_or_palette(Bytes::from(data), 0, pixels)
        } else {
            rgb_from_interleaved(&data, pixels, bytes_per_sample, self.bits_stored)
        }
    }

    pub(super) fn libjpeg_frame(
        &self,
        frame: u32,
        pixels: usize,
    ) -> Option<Result<Samples, DecodeError>> {
        let ycbcr_or_grey = self.photometric.starts_with("YBR_FULL") || self.samples_per_pixel == 1;
        if self.transfer_syntax != "1.2.840.10008.1.2.4.50"
            || !ycbcr_or_grey
            || self.bits_allocated != 8
        {
            return None;
        }
        let bytes = self.frame_codestream(frame)?;
        let grey = self.samples_per_pixel == 1;
        // libjpeg reports corrupt data by unwinding (mozjpeg's error handler panics).
        let decoded = catch_codec_panic(|| -> std::io::Result<(usize, usize, Vec<u8>)> {
            let decompress = mozjpeg::Decompress::new_mem(&bytes)?;
            let mut started = if grey {
                decompress.grayscale()?
            } else {
                decompress.rgb()?
            };
            let (width, height) = (started.width(), started.height());
            if width * height != pixels {
                // Checked before allocating: the JPEG header may claim 65535x65535.
                return Ok((width, height, Vec::new()));
            }
            let data = started.read_scanlines::<u8>()?;
            started.finish()?;
            Ok((width, height, data))
        });
        Some(match decoded {
            Ok(Ok((width, height, data))) if width * height == pixels => Ok(if grey {
                Samples::Grey(GreyValues::packed(data, false, 8, false))
            } else {
                Samples::Rgb(data)
            }),
            Ok(Ok((width, height, _))) => Err(DecodeError(format!(
                "JPEG frame {} is {width}x{height}, the header says {}x{}",
                self.number(frame),
                self.columns,
                self.rows
            ))),
            Ok(Err(e)) => Err(DecodeError(format!(
                "JPEG Baseline frame {} does not decode: {e}",
                self.number(frame)
            ))),
            Err(_) => Err(DecodeError(format!(
                "JPEG Baseline frame {} is corrupt (libjpeg error)",
                self.number(frame)
            ))),
        })
    }

    /// RLE Lossless, decoded here for every bit depth (dicom-pixeldata's decoder stops at 16).
    pub(super) fn rle_frame(&self, frame: u32, pixels: usize) -> Result<Samples, DecodeError> {
        let fragments = self
            .pixel_data()?
            .fragments()
            .ok_or_else(|| DecodeError("RLE Pixel Data is not encapsulated".into()))?;
        let fragment = fragments.get(frame as usize).ok_or_else(|| {
            DecodeError(format!(
                "RLE frame {} missing: {} fragments",
                self.number(frame),
                fragments.len()
            ))
        })?;
        let native = rle::decode_frame(
            fragment,
            pixels,
            usize::from(self.samples_per_pixel),
            self.bytes_per_sample(),
        )
        .map_err(|e| DecodeError(format!("RLE frame {}: {e}", self.number(frame))))?;
        // RLE segments come one per sample, so the result is planar only when asked to be interleaved.
        self.samples_from_native(native.into(), pixels, false)
    }
}

/// JPEG-LS transfer syntaxes (lossless, near-lossless).
const JPEG_LS_SYNTAXES: [&str; 2] = ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"];

/// JPEG 2000 transfer syntaxes (lossless, lossy, and the HTJ2K ones).
pub(super) const J2K_SYNTAXES: [&str; 5] = [
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
];

/// Width, height and component count a compressed frame's own header declares.
type CodestreamSize = (u32, u32, u16);

/// Reads the [`CodestreamSize`] of one kind of codestream.
type SizeParser = fn(&[u8]) -> Option<CodestreamSize>;

/// JPEG (baseline, extended, lossless) and JPEG-LS transfer syntaxes.
pub(super) const JPEG_SYNTAXES: [&str; 6] = [
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
];

/// Decoded samples of one compressed frame above which it is refused (2^28: 16384 x 16384; a
/// codec allocates several bytes per sample).
const MAX_DECODED_SAMPLES: usize = 1 << 28;

/// Width, height and component count from the SIZ marker of a JPEG 2000 codestream (raw, or
/// inside a JP2 wrapper), found in its first kilobyte.
pub(super) fn j2k_siz(bytes: &[u8]) -> Option<CodestreamSize> {
    let head = &bytes[..bytes.len().min(1024)];
    let at = head
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])?
        + 4;
    let u32_at = |i: usize| {
        let b = bytes.get(at + i..at + i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    // Lsiz, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz, four tile fields, Csiz.
    let (x, y, x0, y0) = (u32_at(4)?, u32_at(8)?, u32_at(12)?, u32_at(16)?);
    let c = bytes.get(at + 36..at + 38)?;
    Some((
        x.saturating_sub(x0),
        y.saturating_sub(y0),
        u16::from_be_bytes([c[0], c[1]]),
    ))
}

/// Width, height and component count from the SOF marker of a JPEG or JPEG-LS codestream
/// (SOF0-SOF15 but DHT, JPG and DAC; SOF55 for JPEG-LS), walking the marker segments from
/// SOI up to the first scan. A height of 0 (defined later by a DNL marker) is returned as is.
pub(super) fn jpeg_sof(bytes: &[u8]) -> Option<CodestreamSize> {
    let u16_at = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        match marker {
            // Fill bytes, and markers without a length (TEM, RSTn).
            0xFF => at += 1,
            0x01 | 0xD0..=0xD7 => at += 2,
            0xC0..=0xCF | 0xF7 if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                // Lf, P, Y, X, Nf.
                let (height, width) = (u16_at(at + 5)?, u16_at(at + 7)?);
                let components = *bytes.get(at + 9)?;
                return Some((width.into(), height.into(), components.into()));
            }
            0xDA | 0xD9 => return None,
            _ => at += 2 + usize::from(u16_at(at + 2)?),
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn jpeg_sof_gives_the_declared_size() {
        // SOI, an APP0 segment, a fill byte, then SOF0: 8 bits, 256 high, 65280 wide, 3 components.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0xAA, 0xBB, 0xFF];
        jpeg.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8, 1, 0, 0xFF, 0, 3]);
        assert_eq!(jpeg_sof(&jpeg), Some((65_280, 256, 3)));
        // JPEG-LS (SOF55) and a DHT segment before it.
        let ls = [
            0xFF, 0xD8, 0xFF, 0xC4, 0, 3, 0, 0xFF, 0xF7, 0, 11, 8, 0, 64, 0, 32, 1,
        ];
        assert_eq!(jpeg_sof(&ls), Some((32, 64, 1)));
        assert_eq!(jpeg_sof(&jpeg[..12]), None, "truncated");
        assert_eq!(
            jpeg_sof(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]),
            None,
            "scan before any SOF"
        );
        assert_eq!(jpeg_sof(b"not a codestream"), None);
    }

    #[test]
    pub(super) fn j2k_siz_gives_the_declared_size() {
        let mut siz = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [70_000u32, 600, 10, 100, 512, 512, 0, 0] {
            siz.extend_from_slice(&v.to_be_bytes());
        }
        siz.extend_from_slice(&3u16.to_be_bytes());
        assert_eq!(j2k_siz(&siz), Some((69_990, 500, 3)));
        assert_eq!(j2k_siz(&siz[..20]), None, "truncated");
        assert_eq!(j2k_siz(b"not a codestream"), None);
    }
}
