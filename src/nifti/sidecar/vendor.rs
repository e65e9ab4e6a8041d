//! Vendor-specific parts of the sidecar: Siemens CSA/ASCCONV keys, GE echo spacing, and the
//! ImageType list.

use crate::scan::reader::Dataset;
use dicom_core::Tag;
use dicom_dictionary_std::tags;

use super::lookup::Lookup;
use super::{Sidecar, number};
use crate::nifti::values::Vendor;
use crate::scan::csa::{self, Ascconv, CsaHeader};

/// An ASCCONV integer (decimal or 0x hexadecimal), as dcm2niix's `readKey`.
pub(super) fn asc_int(asc: &Ascconv<'_>, key: &str) -> Option<i64> {
    let v = asc.get(key)?.trim();
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => v.parse::<f64>().ok().map(|f| f as i64),
    }
}

/// The image CSA header elements a sidecar reads (the others are stepped over).
const IMAGE_ELEMENTS: &[&str] = &[
    "BandwidthPerPixelPhaseEncode",
    "MosaicRefAcqTimes",
    "PhaseEncodingDirectionPositive",
    "ProtocolSliceNumber",
    "RealDwellTime",
];

/// The Siemens CSA headers of the first image: of its image header the elements a sidecar
/// reads.
pub(super) struct Siemens<'a> {
    pub(super) image: Option<CsaHeader>,
    pub(super) ascconv: Option<Ascconv<'a>>,
}

impl<'a> Siemens<'a> {
    pub(super) fn read(first: &'a Dataset<'_>, vendor: Vendor) -> Siemens<'a> {
        if vendor != Vendor::Siemens {
            return Siemens {
                image: None,
                ascconv: None,
            };
        }
        let image = csa::wanted_from_dataset(first, csa::Which::Image, IMAGE_ELEMENTS);
        let ascconv =
            csa::raw_from_dataset(first, csa::Which::Series).and_then(csa::protocol_ascconv);
        Siemens { image, ascconv }
    }

    pub(super) fn protocol_name(&self) -> Option<String> {
        let name = self.ascconv.as_ref()?.get("tProtocolName")?;
        let name = name.trim_matches('"').trim();
        (!name.is_empty()).then(|| name.to_string())
    }

    /// The keys dcm2niix reads from the ASCCONV block, in its order.
    /// sKSpace.dPhaseOversamplingForDialog (0 when absent).
    pub(super) fn phase_oversampling(&self) -> f64 {
        self.ascconv
            .as_ref()
            .and_then(|a| a.get("sKSpace.dPhaseOversamplingForDialog"))
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(0.0)
    }

    pub(super) fn ascconv_keys(&self, s: &mut Sidecar, asc: &Ascconv<'_>, mr: bool) {
        let pf = asc_int(asc, "sKSpace.ucPhasePartialFourier").unwrap_or(0);
        if pf > 0 && mr {
            let value = match pf {
                1 => 0.5,
                2 => 0.625,
                4 => 0.75,
                8 => 0.875,
                _ => 1.0,
            };
            s.put("PartialFourier", number(value));
        }
        if asc_int(asc, "sKSpace.uc2DInterpolation").unwrap_or(0) > 0 {
            s.put("Interpolation2D", 1);
        }
        if let Some(b) = asc_int(asc, "sKSpace.lBaseResolution").filter(|b| *b > 0) {
            s.put("BaseResolution", b);
        }
        if asc_int(asc, "sPat.lAccelFactPE").unwrap_or(0) > 0 {
            match asc_int(asc, "sPat.ucPATMode") {
                Some(1) => s.put("MatrixCoilMode", "SENSE"),
                Some(2) => s.put("MatrixCoilMode", "GRAPPA"),
                _ => {}
            }
        }
    }
}

/// ImageType (0008,0008) as dcm2niix lists it: the values joined by `_` and split again (so
/// `ECHO_00` becomes two entries), then MAGNITUDE/PHASE/REAL/IMAGINARY appended when the
/// type or ComplexImageComponent says so and the list lacks it.
pub(super) struct ImageType {
    pub(super) joined: String,
    pub(super) values: Vec<String>,
}

impl ImageType {
    /// The image's ImageType (FrameType for enhanced images) with the complex component
    /// appended, as dcm2niix lists it; a field map in Hz (a real image of a "B0 MAP", or the
    /// first volume of a GE B0 fieldmap series) ends in FIELDMAPHZ instead.
    pub(super) fn read(l: &Lookup, vendor: Vendor) -> ImageType {
        let joined = l
            .top_text(tags::IMAGE_TYPE)
            .or_else(|| l.text(tags::FRAME_TYPE))
            .unwrap_or_default()
            .replace('\\', "_");
        let mut complex = l.text(tags::COMPLEX_IMAGE_COMPONENT).unwrap_or_default();
        // GE keeps the component in a private element: 0..3 = magnitude, phase, real, imaginary.
        if complex.is_empty() {
            let code = l.int(Tag(0x0043, 0x102F)).unwrap_or(-1);
            complex = ["MAGNITUDE", "PHASE", "REAL", "IMAGINARY"]
                .get(code as usize)
                .map_or(String::new(), |s| s.to_string());
        }
        let component = |code: &str| complex.get(..2) == Some(code);
        let magnitude = joined.contains("_M_") || joined.contains("_MAGNITUDE_") || component("MA");
        let phase = joined.contains("_P_") || joined.contains("PHASE") || component("PH");
        let real = joined.contains("_R_") || joined.contains("_REAL_") || component("RE");
        let imaginary = joined.contains("_I_") || joined.contains("_IMAGINARY_") || component("IM");
        let b0_map = |t: &str| t.contains("B0") && t.contains("MAP");
        // The frame's own component counts here (Philips enhanced files say MIXED on top).
        let frame_real = l
            .nested_text(tags::COMPLEX_IMAGE_COMPONENT)
            .is_some_and(|c| c.starts_with("RE"));
        let b0_image =
            b0_map(&joined) || l.nested_text(tags::IMAGE_TYPE).is_some_and(|t| b0_map(&t));
        let hz = ((real || frame_real) && b0_image) || (vendor == Vendor::Ge && ge_hz_map(l));
        let mut values: Vec<String> = joined
            .split('_')
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect();
        if hz && !values.is_empty() {
            if !joined.contains("_FIELDMAPHZ_") {
                values.push("FIELDMAPHZ".to_string());
            }
        } else if !values.is_empty() {
            for (present, name) in [
                (magnitude, "MAGNITUDE"),
                (phase, "PHASE"),
                (real, "REAL"),
                (imaginary, "IMAGINARY"),
            ] {
                if present && !joined.contains(&format!("_{name}_")) {
                    values.push(name.to_string());
                }
            }
        }
        ImageType { joined, values }
    }

    pub(super) fn has(&self, needle: &str) -> bool {
        self.joined.contains(needle)
    }
}

/// Whether the image is the Hz map of a GE B0 fieldmap series.
fn ge_hz_map(l: &Lookup) -> bool {
    let text = |group, element| l.text(Tag(group, element));
    crate::scan::ge_fieldmap::is_hz_map(
        text(0x0019, 0x109E).as_deref(),
        text(0x0019, 0x109C).as_deref(),
        l.int(Tag(0x0021, 0x104F)),
        l.int(tags::IMAGES_IN_ACQUISITION),
        l.int(tags::INSTANCE_NUMBER),
    ) == Some(true)
}

/// GE's effective echo spacing (s) from its echo spacing (0043,102C, µs), as dcm2niix
/// computes it: the acquired phase lines, rounded up to a multiple of 2 (4 with partial
/// Fourier) after ASSET, minus one, times the spacing, spread over the phase lines minus one.
pub(super) fn ge_effective_echo_spacing(l: &Lookup, phase_lines: i64, accel: f64) -> Option<f64> {
    let spacing_us = l.float(Tag(0x0043, 0x102C)).filter(|v| *v > 0.0)?;
    if phase_lines < 2 || accel <= 0.0 {
        return None;
    }
    let partial_fourier = l
        .text(tags::SCAN_OPTIONS)
        .is_some_and(|o| o.contains("PFF"))
        || l.text(tags::PARTIAL_FOURIER)
            .is_some_and(|p| p.starts_with('Y'));
    let round = if partial_fourier { 4.0 } else { 2.0 };
    let acquired = (phase_lines as f64 / accel / round).ceil() * round;
    let total = (acquired - 1.0) * spacing_us * 1e-6;
    Some(total / (phase_lines as f64 - 1.0))
}

/// GE's ASSET in-plane factor: the reciprocal of the first of (0043,1083).
pub(super) fn ge_asset_factor(l: &Lookup) -> Option<f64> {
    let phase = *l.floats(Tag(0x0043, 0x1083))?.first()?;
    (phase > 0.0).then(|| 1.0 / phase)
}
