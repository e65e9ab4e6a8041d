//! The BIDS JSON sidecar as dcm2niix writes it (`nii_SaveBIDSX`): the same key names, units
//! (seconds, not DICOM's milliseconds), conditions for writing a key, and key order.
//!
//! Patient identifiers are never written: dcm2niix's `-ba y` (its default) leaves out
//! PatientName, PatientID, PatientBirthDate, PatientSex, PatientAge, PatientWeight, PatientSize,
//! AccessionNumber, StudyID, ReferringPhysicianName, the UIDs and AcquisitionDateTime; this
//! module has no code path that reads them. Site fields dcm2niix keeps under `-ba y`
//! (InstitutionName, InstitutionAddress, StationName, DeviceSerialNumber) are kept.
//!
//! Values come from the volume's first image (and, for an enhanced object, its first frame's
//! functional groups), Siemens CSA and ASCCONV, and the per-slice headers for slice timing.

mod ge;
mod lookup;
mod timing;
mod vendor;

use crate::scan::reader::Dataset;
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use serde_json::{Map, Value, json};

use super::values::{Vendor, round_g};
use crate::scan::csa::CsaHeader;
use lookup::Lookup;
use vendor::{ImageType, Siemens, asc_int};

/// What the sidecar of one NIfTI volume is made from.
#[derive(Debug, Clone, Default)]
pub struct SidecarInput<'a> {
    /// The first image of the volume (first file; for an enhanced object, the object itself).
    pub first: Option<Dataset<'a>>,
    /// For an enhanced (multi-frame) object: the Per-Frame Functional Groups item of the
    /// first frame of the volume.
    pub first_frame: Option<Dataset<'a>>,
    /// The slices of the first time point in NIfTI slice order: one header per file for
    /// classic images, one Per-Frame Functional Groups item per frame for enhanced objects,
    /// just the mosaic file for a mosaic. Gives SliceTiming when there is no mosaic.
    pub slice_headers: Vec<Dataset<'a>>,
    /// The slices of the second time point (same form as `slice_headers`; for a mosaic, its
    /// mosaic file), when the series has one: dcm2niix takes Siemens XA slice times from the
    /// second volume, and mosaic times from it when the first volume's are implausible (a CMRR
    /// sequence bug).
    pub second_slice_headers: Vec<Dataset<'a>>,
    /// Tiles per mosaic for a Siemens mosaic.
    pub mosaic_slices: Option<u32>,
    /// NIfTI dim[1..=4]: columns, rows, slices, volumes of the written image.
    pub dims: [usize; 4],
    /// The stored slices run against the files' InstanceNumbers (their acquisition order, in
    /// which dcm2niix estimates GE slice times before `nii_flipZ` reverses them with the
    /// slices).
    pub slices_reversed: bool,
    /// The series holds several echoes (EchoNumber is then written even for echo 1).
    pub multi_echo: bool,
    /// The volume's echo among the echo times of its one multi-frame file when the file holds
    /// several ([`echo_in_file`]): the EchoNumber written.
    pub file_echo: Option<i64>,
}

/// The echo number in Siemens ICE dimensions (`X_2_1_1_1_1_1_1_1_1_1_1_629`: coil, echo, ...).
fn ice_echo(ice: &str) -> Option<i64> {
    ice.split('_').nth(1)?.trim().parse().ok()
}

/// The echo of frame `frame` of a multi-frame file whose frames have `echo_times`: echoes
/// numbered from 1 in the order they first appear, as dcm2niix numbers the volumes it splits
/// out of one file. `None` when the file holds one echo time.
pub fn echo_in_file(echo_times: &[Option<f64>], frame: usize) -> Option<i64> {
    let mut distinct: Vec<f64> = Vec::new();
    for time in echo_times.iter().flatten() {
        if !distinct.contains(time) {
            distinct.push(*time);
        }
    }
    let wanted = (*echo_times.get(frame)?)?;
    let rank = distinct.iter().position(|t| *t == wanted)?;
    (distinct.len() > 1).then_some(rank as i64 + 1)
}

/// A sidecar: keys in dcm2niix's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sidecar {
    entries: Vec<(&'static str, Value)>,
}

impl Sidecar {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.iter().map(|(k, _)| *k)
    }

    /// The entries as a JSON object (with serde_json's default map the keys come out sorted;
    /// use [`Sidecar::to_json_string`] to keep dcm2niix's order).
    pub fn to_map(&self) -> Map<String, Value> {
        self.entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    /// The JSON text in dcm2niix's key order: one key per line, tab-indented, newline-ended.
    pub fn to_json_string(&self) -> String {
        let mut out = String::from("{\n");
        for (i, (k, v)) in self.entries.iter().enumerate() {
            let sep = if i + 1 < self.entries.len() { "," } else { "" };
            out.push_str(&format!("\t{}: {v}{sep}\n", Value::from(*k)));
        }
        out.push_str("}\n");
        out
    }

    fn put(&mut self, key: &'static str, value: impl Into<Value>) {
        self.entries.push((key, value.into()));
    }

    fn put_text(&mut self, key: &'static str, value: Option<String>) {
        if let Some(v) = value {
            self.put(key, v);
        }
    }

    /// A number dcm2niix writes only when positive, as its `%g` text reads back.
    fn put_positive(&mut self, key: &'static str, value: Option<f64>) {
        if let Some(v) = value.filter(|v| *v > 0.0 && v.is_finite()) {
            self.put(key, number(v));
        }
    }
}

/// Builds the sidecar of one volume.
pub fn sidecar(input: &SidecarInput) -> Sidecar {
    let mut s = Sidecar::default();
    let Some(first) = input.first else {
        return s;
    };
    let l = Lookup::new(first, input.first_frame);
    let vendor = Vendor::of(&first);
    let siemens = Siemens::read(&first, vendor);
    let mr = l.text(tags::MODALITY).as_deref() == Some("MR");

    if let Some(m) = l
        .text(tags::MODALITY)
        .filter(|m| ["CR", "CT", "MR", "PT", "US"].contains(&m.as_str()))
    {
        s.put("Modality", m);
    }
    s.put_positive(
        "MagneticFieldStrength",
        l.float(tags::MAGNETIC_FIELD_STRENGTH),
    );
    let plausible = |f: &f64| *f > 0.0 && *f < 9e6;
    let frequency = l.float(tags::IMAGING_FREQUENCY).filter(plausible);
    if let Some(f) = frequency.or_else(|| l.float(tags::TRANSMITTER_FREQUENCY).filter(plausible)) {
        s.put("ImagingFrequency", f);
    }
    if let Some(name) = vendor.bids_name() {
        s.put("Manufacturer", name);
    }
    for (key, tag) in [
        ("ManufacturersModelName", tags::MANUFACTURER_MODEL_NAME),
        ("InstitutionName", tags::INSTITUTION_NAME),
        (
            "InstitutionalDepartmentName",
            tags::INSTITUTIONAL_DEPARTMENT_NAME,
        ),
        ("InstitutionAddress", tags::INSTITUTION_ADDRESS),
        ("DeviceSerialNumber", tags::DEVICE_SERIAL_NUMBER),
        ("StationName", tags::STATION_NAME),
        ("BodyPart", tags::BODY_PART_EXAMINED),
        ("PatientPosition", tags::PATIENT_POSITION),
        (
            "ProcedureStepDescription",
            tags::PERFORMED_PROCEDURE_STEP_DESCRIPTION,
        ),
        ("SoftwareVersions", tags::SOFTWARE_VERSIONS),
    ] {
        s.put_text(key, l.text(tag));
    }
    let acquisition_type = l
        .text(tags::MR_ACQUISITION_TYPE)
        .map(|t| t.to_ascii_uppercase());
    let is_3d = acquisition_type
        .as_deref()
        .is_some_and(|t| t.starts_with("3D"));
    if let Some(t) = acquisition_type
        .as_deref()
        .filter(|t| t.starts_with("2D") || t.starts_with("3D"))
    {
        s.put("MRAcquisitionType", &t[..2]);
    }
    s.put_text("StudyDescription", l.text(tags::STUDY_DESCRIPTION));
    s.put_text("SeriesDescription", l.text(tags::SERIES_DESCRIPTION));
    s.put_text(
        "ProtocolName",
        l.text(tags::PROTOCOL_NAME)
            .or_else(|| l.text(tags::SERIES_DESCRIPTION))
            .or_else(|| {
                // SequenceName varies per volume on Siemens (*ep_b1000#2): not a name there.
                (vendor != Vendor::Siemens)
                    .then(|| l.text(tags::SEQUENCE_NAME))
                    .flatten()
            })
            .or_else(|| siemens.protocol_name()),
    );
    // Siemens XA enhanced objects keep these three in private (0021,105A/B/C).
    for (key, tag, private) in [
        ("ScanningSequence", tags::SCANNING_SEQUENCE, 0x105A),
        ("SequenceVariant", tags::SEQUENCE_VARIANT, 0x105B),
        ("ScanOptions", tags::SCAN_OPTIONS, 0x105C),
    ] {
        let siemens_private = || {
            (vendor == Vendor::Siemens)
                .then(|| l.text(Tag(0x0021, private)))
                .flatten()
        };
        s.put_text(key, l.top_text(tag).or_else(siemens_private));
    }
    s.put_text("SequenceName", l.top_text(tags::SEQUENCE_NAME));
    // GE names its pulse sequence in (0019,109C) ("epi", "epiRT").
    let ge_sequence = || {
        (vendor == Vendor::Ge)
            .then(|| l.text(Tag(0x0019, 0x109C)))
            .flatten()
    };
    s.put_text(
        "PulseSequenceName",
        l.top_text(tags::PULSE_SEQUENCE_NAME).or_else(ge_sequence),
    );
    let image_type = ImageType::read(&l, vendor);
    if !image_type.values.is_empty() {
        s.put("ImageType", image_type.values.clone());
    }
    if image_type.has("_DIS2D") || image_type.has("_DIS3D") {
        s.put("NonlinearGradientCorrection", true);
    }
    if image_type.has("_ND") {
        s.put("NonlinearGradientCorrection", false);
    }
    if image_type.joined.contains("DERIVED") {
        s.put("RawImage", false);
    }
    if let Some(n) = l.int(tags::SERIES_NUMBER).filter(|n| *n > 0) {
        s.put("SeriesNumber", n);
    }
    s.put_text("AcquisitionTime", timing::acquisition_time(&l));
    if let Some(n) = l.int(tags::ACQUISITION_NUMBER).filter(|n| *n > 0) {
        s.put("AcquisitionNumber", n);
    }
    s.put_text("ImageComments", l.text(tags::IMAGE_COMMENTS));
    s.put_positive("SliceThickness", l.float(tags::SLICE_THICKNESS));
    s.put_positive(
        "SpacingBetweenSlices",
        l.float(tags::SPACING_BETWEEN_SLICES),
    );
    s.put_positive("SAR", l.float(tags::SAR));
    let mut echo_number = input
        .file_echo
        .or_else(|| l.int(tags::ECHO_NUMBERS))
        .unwrap_or(0);
    if vendor == Vendor::Siemens && echo_number <= 1 {
        // XA: the echo is the second field of the frame's ICE dimensions (0021,1106).
        echo_number = l
            .text(Tag(0x0021, 0x1106))
            .and_then(|ice| ice_echo(&ice))
            .unwrap_or(echo_number);
    }
    let multi_echo = input.multi_echo || input.file_echo.is_some();
    if echo_number > 1 || (multi_echo && echo_number > 0) {
        s.put("EchoNumber", echo_number);
    }
    let echo_time = l
        .float(tags::ECHO_TIME)
        .or_else(|| l.float(tags::EFFECTIVE_ECHO_TIME));
    s.put_positive("EchoTime", echo_time.map(|t| t / 1000.0));
    s.put_positive(
        "RepetitionTime",
        l.float(tags::REPETITION_TIME).map(|t| t / 1000.0),
    );
    if let Some(mt) = l.text(tags::MAGNETIZATION_TRANSFER) {
        s.put("MTState", !mt.contains("NONE"));
    }
    let variant = l.top_text(tags::SEQUENCE_VARIANT).unwrap_or_default();
    if variant.contains("\\SP") {
        s.put("SpoilingState", true);
    }
    let inversion = l
        .float(tags::INVERSION_TIME)
        .or_else(|| l.float(tags::INVERSION_TIMES));
    s.put_positive("InversionTime", inversion.map(|t| t / 1000.0));
    s.put_positive("FlipAngle", l.float(tags::FLIP_ANGLE));

    let phase_lines_dicom = phase_encoding_lines(&l);
    let mut accel = l
        .float(tags::PARALLEL_REDUCTION_FACTOR_IN_PLANE)
        .or_else(|| siemens_pat_factor(&l))
        .or_else(|| {
            (vendor == Vendor::Ge)
                .then(|| vendor::ge_asset_factor(&l))
                .flatten()
        })
        .unwrap_or(0.0);
    let echo_train = l.int(tags::ECHO_TRAIN_LENGTH).unwrap_or(0);
    let phase_steps = l
        .int(tags::NUMBER_OF_PHASE_ENCODING_STEPS)
        .or_else(|| l.int(tags::MR_ACQUISITION_PHASE_ENCODING_STEPS_IN_PLANE))
        .unwrap_or(0);
    let mut phase_lines = phase_lines_dicom;
    if let Some(asc) = &siemens.ascconv {
        siemens.ascconv_keys(&mut s, asc, mr);
        if phase_lines < 1 {
            phase_lines = asc_int(asc, "sKSpace.lPhaseEncodingLines").unwrap_or(0);
        }
        if let Some(r) = asc_int(asc, "sPat.lAccelFactPE").filter(|r| *r > 0) {
            accel = r as f64;
        }
    } else if vendor == Vendor::Siemens && !is_3d {
        // Without an ASCCONV block (XA enhanced), dcm2niix infers partial Fourier from the
        // echo train against the phase lines left after parallel imaging.
        let lines = if phase_lines > 0 {
            phase_lines
        } else {
            phase_steps
        };
        if lines > echo_train && echo_train > 1 {
            let mut pf = lines as f64;
            if accel > 1.0 {
                pf /= accel;
            }
            let pf = echo_train as f64 / pf;
            if pf < 1.0 {
                s.put("PartialFourier", number(pf));
            }
        }
    }

    let slice_times = timing::slice_timing(input, &l, siemens.image.as_ref(), is_3d);
    let multiband = slice_times.as_deref().map_or(1, timing::multiband_factor);
    if multiband > 1 && mr {
        s.put("MultibandAccelerationFactor", multiband);
    }
    s.put_positive(
        "PercentPhaseFOV",
        l.float(tags::PERCENT_PHASE_FIELD_OF_VIEW),
    );
    s.put_positive("PercentSampling", l.float(tags::PERCENT_SAMPLING));
    if echo_train > 1 {
        s.put("EchoTrainLength", echo_train);
    }
    if let Some(d) = l.text(tags::PARTIAL_FOURIER_DIRECTION) {
        let d = match d.chars().next() {
            Some('P') => Some("PHASE"),
            Some('F') => Some("FREQUENCY"),
            Some('S') => Some("SLICE_SELECT"),
            Some('C') => Some("COMBINATION"),
            _ => None,
        };
        if let Some(d) = d {
            s.put("PartialFourierDirection", d);
        }
    }
    if phase_steps > 0 {
        s.put("PhaseEncodingSteps", phase_steps);
    }
    if let Some(n) = l
        .int(tags::MR_ACQUISITION_FREQUENCY_ENCODING_STEPS)
        .filter(|n| *n > 0)
    {
        s.put("FrequencyEncodingSteps", n);
    }
    if let Some(n) = l
        .int(tags::MR_ACQUISITION_PHASE_ENCODING_STEPS_OUT_OF_PLANE)
        .filter(|n| *n > 0)
    {
        s.put("PhaseEncodingStepsOutOfPlane", n);
    }
    // Enhanced objects have no AcquisitionMatrix: recent dcm2niix releases (the XA30 Refs)
    // take MRAcquisitionPhaseEncodingStepsInPlane instead.
    if phase_lines < 1 {
        phase_lines = phase_steps;
    }
    if phase_lines > 0 && mr {
        s.put("AcquisitionMatrixPE", phase_lines);
    }
    let rc = phase_axis(&l);
    let [d1, d2, ..] = input.dims;
    let recon_pe = if d1 > 0 && d2 > 0 {
        match rc {
            _ if d1 == d2 => d2 as i64,
            Some('C') => d2 as i64,
            Some('R') => d1 as i64,
            _ => phase_lines,
        }
    } else {
        phase_lines
    };
    if mr && recon_pe > 0 {
        s.put("ReconMatrixPE", recon_pe);
    }
    let bw_pe = l
        .float(Tag(0x0019, 0x1028))
        .or_else(|| l.float(Tag(0x0021, 0x1153)))
        .filter(|b| *b > 0.0)
        .or_else(|| {
            siemens
                .image
                .as_ref()
                .and_then(CsaHeader::bandwidth_per_pixel_phase_encode)
        })
        .unwrap_or(0.0);
    s.put_positive("BandwidthPerPixelPhaseEncode", Some(bw_pe));
    if accel > 1.0 {
        s.put("ParallelReductionFactorInPlane", number(accel));
    }
    s.put_text(
        "ParallelAcquisitionTechnique",
        l.text(tags::PARALLEL_ACQUISITION_TECHNIQUE),
    );
    let mut effective_echo_spacing = 0.0;
    if recon_pe > 0 && bw_pe > 0.0 {
        effective_echo_spacing = 1.0 / (bw_pe * recon_pe as f64);
    }
    if vendor == Vendor::Ge
        && recon_pe > 1
        && let Some(ees) = vendor::ge_effective_echo_spacing(&l, phase_lines, accel)
    {
        effective_echo_spacing = ees;
    }
    s.put_positive("EffectiveEchoSpacing", Some(effective_echo_spacing));
    let mut true_factor = if accel > 1.0 { 1.0 / accel } else { 1.0 };
    // Siemens' BandwidthPerPixelPhaseEncode includes phase oversampling: undo it to get the
    // spacing the console reports.
    true_factor *= 1.0 + siemens.phase_oversampling();
    let derived = bw_pe * true_factor * recon_pe as f64;
    if derived != 0.0 {
        s.put_positive("DerivedVendorReportedEchoSpacing", Some(1.0 / derived));
    }
    if recon_pe > 0 && effective_echo_spacing > 0.0 {
        s.put(
            "TotalReadoutTime",
            number(effective_echo_spacing * (recon_pe as f64 - 1.0)),
        );
    }
    s.put_positive("PixelBandwidth", l.float(tags::PIXEL_BANDWIDTH));
    if vendor == Vendor::Siemens {
        let dwell = l
            .float(Tag(0x0019, 0x1018))
            .or_else(|| l.float(Tag(0x0021, 0x1142)))
            .or_else(|| {
                siemens
                    .image
                    .as_ref()
                    .and_then(|c| c.number("RealDwellTime"))
            });
        s.put_positive("DwellTime", dwell.map(|ns| ns.trunc() * 1e-9));
    }
    if !is_3d {
        let positive = siemens
            .image
            .as_ref()
            .and_then(CsaHeader::phase_encoding_direction_positive)
            .or_else(|| {
                l.int(Tag(0x0021, 0x111C)).and_then(|v| match v {
                    0 => Some(false),
                    1 => Some(true),
                    _ => None,
                })
            })
            .or_else(|| {
                // GE RX27+: RectilinearPhaseEncodeReordering LINEAR is dcm2niix's "flipped"
                // polarity, REVERSE_LINEAR "unflipped"; older GE keeps it in the binary
                // (0043,102A) header.
                let order = l.text(tags::RECTILINEAR_PHASE_ENCODE_REORDERING)?;
                match (vendor, order.chars().next()) {
                    (Vendor::Ge, Some('L')) => Some(false),
                    (Vendor::Ge, Some('R')) => Some(true),
                    _ => None,
                }
            })
            .or_else(|| {
                (vendor == Vendor::Ge)
                    .then(|| ge::phase_positive(&first))
                    .flatten()
            });
        match (rc, positive) {
            // Rows are stored flipped, so a positive COL direction is "j-".
            (Some('C'), Some(p)) => s.put("PhaseEncodingDirection", if p { "j-" } else { "j" }),
            (Some('R'), Some(p)) => s.put("PhaseEncodingDirection", if p { "i" } else { "i-" }),
            (Some('C'), None) => s.put("PhaseEncodingAxis", "j"),
            (Some('R'), None) => s.put("PhaseEncodingAxis", "i"),
            _ => {}
        }
    }
    if let Some(times) = slice_times {
        s.put(
            "SliceTiming",
            times.into_iter().map(number).collect::<Vec<_>>(),
        );
    }
    if let Some(iop) = l
        .floats(tags::IMAGE_ORIENTATION_PATIENT)
        .filter(|v| v.len() >= 6)
        && iop[..6].iter().any(|v| v.abs() > 1e-6)
    {
        let iop: Vec<Value> = iop[..6].iter().map(|v| number(*v)).collect();
        s.put("ImageOrientationPatientDICOM", iop);
    }
    match rc {
        Some('C') => s.put("InPlanePhaseEncodingDirectionDICOM", "COL"),
        Some('R') => s.put("InPlanePhaseEncodingDirectionDICOM", "ROW"),
        _ => {}
    }
    s.put("ConversionSoftware", "dicomprep");
    s.put("ConversionSoftwareVersion", env!("CARGO_PKG_VERSION"));
    s
}

/// A JSON number as dcm2niix's `%g` prints it (so `0.0004999960` becomes `0.000499996`).
pub(super) fn number(v: f64) -> Value {
    json!(round_g(v))
}

/// Phase-encoding lines from AcquisitionMatrix (0018,1310): its third value, else its fourth.
fn phase_encoding_lines(l: &Lookup) -> i64 {
    let m = l.floats(tags::ACQUISITION_MATRIX).unwrap_or_default();
    match m.as_slice() {
        [_, _, c, _, ..] if *c > 0.0 => *c as i64,
        [_, _, _, r, ..] if *r > 0.0 => *r as i64,
        _ => 0,
    }
}

/// In-plane phase-encoding axis (0018,1312): 'R' for ROW, 'C' for COL.
fn phase_axis(l: &Lookup) -> Option<char> {
    l.text(tags::IN_PLANE_PHASE_ENCODING_DIRECTION)
        .and_then(|s| s.chars().next())
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| matches!(c, 'R' | 'C'))
}

/// Siemens' PATModeText (0051,1011), "p2" or "p2s4": the in-plane factor after 'p'.
fn siemens_pat_factor(l: &Lookup) -> Option<f64> {
    let text = l.text(Tag(0x0051, 0x1011))?;
    let rest = &text[text.find(['p', 'P'])? + 1..];
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().ok().filter(|v: &f64| *v > 0.0)
}

#[cfg(test)]
mod tests;
