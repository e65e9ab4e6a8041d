//! Times in the sidecar: AcquisitionTime and SliceTiming.
//!
//! SliceTiming (seconds from the start of the volume, one per NIfTI slice) comes from, as in
//! dcm2niix: a Siemens mosaic's CSA MosaicRefAcqTimes (ms, tile order = NIfTI slice order);
//! else each slice's Siemens TimeAfterStart (0021,1104) (XA, seconds); else each slice's
//! AcquisitionTime (0008,0032) or FrameAcquisitionDateTime (0018,9074). Times are shifted so
//! the earliest is 0. Philips and GE DICOM carry no usable slice times (dcm2niix derives GE's
//! from the private protocol block, which is not done here), 3D acquisitions need none, and
//! times that are all equal or span more than the repetition time are dropped.

use crate::scan::reader::Dataset;
use dicom_core::Tag;
use dicom_dictionary_std::tags;

use super::SidecarInput;
use super::lookup::{Lookup, find};
use crate::nifti::values::{self, Vendor};
use crate::scan::csa::{self, CsaHeader};

/// Siemens TimeAfterStart, in seconds, per frame of XA images.
const TIME_AFTER_START: Tag = Tag(0x0021, 0x1104);

/// "HH:MM:SS.ffffff" of the first image, as dcm2niix prints it: seconds keep 5 decimals
/// (its `%+013.5f` step) and are printed with `%02.6f`, which does not zero-pad seconds below
/// 10 ("12:30:2.285000"; dcm2niix releases from 2026 pad them).
pub(super) fn acquisition_time(l: &Lookup) -> Option<String> {
    let raw = l
        .text(tags::ACQUISITION_TIME)
        .or_else(|| time_of_datetime(&l.text(tags::ACQUISITION_DATE_TIME)?))
        .or_else(|| time_of_datetime(&l.text(tags::FRAME_ACQUISITION_DATE_TIME)?))?;
    let seconds = seconds_of_day(&raw)?;
    let seconds = (seconds * 1e5).round() / 1e5;
    let h = (seconds / 3600.0).floor();
    let m = ((seconds - h * 3600.0) / 60.0).floor();
    let s = seconds - h * 3600.0 - m * 60.0;
    Some(format!("{:02}:{:02}:{:.6}", h as i64, m as i64, s.max(0.0)))
}

/// The time part of a DT value (YYYYMMDDHHMMSS.ffffff&zzzz).
fn time_of_datetime(dt: &str) -> Option<String> {
    let t = dt.get(8..)?;
    let end = t.find(['+', '-']).unwrap_or(t.len());
    (!t[..end].is_empty()).then(|| t[..end].to_string())
}

/// Seconds since midnight of a TM value (HHMMSS.ffffff; the older HH:MM:SS is accepted).
fn seconds_of_day(tm: &str) -> Option<f64> {
    let tm: String = tm.trim().chars().filter(|c| *c != ':').collect();
    let (whole, frac) = tm.split_once('.').unwrap_or((&tm, ""));
    if whole.len() < 2 || !whole.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let part = |r: std::ops::Range<usize>| {
        whole
            .get(r)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let frac: f64 = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse().ok()?
    };
    Some(part(0..2) * 3600.0 + part(2..4) * 60.0 + part(4..6) + frac)
}

/// SliceTiming in seconds, `None` when dcm2niix would write none.
/// The image CSA header elements slice timing reads (the others are stepped over).
const CSA_TIMES: &[&str] = &["MosaicRefAcqTimes", "ProtocolSliceNumber"];

pub(super) fn slice_timing(
    input: &SidecarInput,
    l: &Lookup,
    csa_image: Option<&CsaHeader>,
    is_3d: bool,
) -> Option<Vec<f64>> {
    let first = input.first?;
    let slices = input.dims[2];
    let modality = l.text(tags::MODALITY).unwrap_or_default();
    if is_3d || slices < 2 || modality == "CT" || modality == "PT" {
        return None;
    }
    match Vendor::of(&first) {
        Vendor::Philips => return None,
        Vendor::Ge => {
            let mut times = super::ge::slice_times(&first, slices, input.dims[3])?;
            if input.slices_reversed {
                times.reverse();
            }
            return Some(times);
        }
        _ => {}
    }
    let tr_ms = l.float(tags::REPETITION_TIME).unwrap_or(f64::INFINITY);
    let mosaic_times = |header: Option<&CsaHeader>| {
        header
            .map(CsaHeader::mosaic_ref_acq_times)
            .filter(|t| t.len() >= slices)
    };
    let ms = if input.mosaic_slices.unwrap_or(0) > 1 {
        let first_times = mosaic_times(csa_image)?;
        let second_header = input
            .second_slice_headers
            .first()
            .and_then(|d| csa::wanted_from_dataset(d, csa::Which::Image, CSA_TIMES));
        let second_times = mosaic_times(second_header.as_ref());
        let mut times = choose_mosaic_times(first_times, second_times, slices, tr_ms);
        // ProtocolSliceNumber > 1: Siemens numbered the tiles in reverse ("ImageNumbering"
        // reversed); dcm2niix then reverses the slices (nii_flipZ) and their times.
        if csa_image
            .and_then(|c| c.number("ProtocolSliceNumber"))
            .is_some_and(|n| n.round() > 1.0)
        {
            times[..slices].reverse();
        }
        times
    } else {
        if input.slice_headers.len() != slices {
            return None;
        }
        let times = |headers: &[Dataset<'_>]| {
            headers
                .iter()
                .map(|h| slice_time_ms(h))
                .collect::<Option<Vec<f64>>>()
        };
        // XA (times from TimeAfterStart): dcm2niix reads the second volume, whose times the
        // scanner reports more faithfully (its issue 875).
        let xa = input
            .slice_headers
            .iter()
            .all(|h| find(*h, TIME_AFTER_START, 3).is_some());
        let second = input.second_slice_headers.as_slice();
        match (xa && second.len() == slices)
            .then(|| times(second))
            .flatten()
        {
            Some(t) => t,
            None => times(&input.slice_headers)?,
        }
    };
    let ms = &ms[..slices];
    let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
    let shifted: Vec<f64> = ms.iter().map(|t| t - min).collect();
    plausible(&shifted, tr_ms).then(|| shifted.iter().map(|t| t / 1000.0).collect())
}

/// The first volume's mosaic times, unless they look wrong: not plausible, or spanning a
/// different range than the second volume's (dcm2niix's issues 870 and CMRR's first-volume
/// bug); then the second volume's, shifted to start at 0, if those are plausible.
fn choose_mosaic_times(
    first: Vec<f64>,
    second: Option<Vec<f64>>,
    slices: usize,
    tr_ms: f64,
) -> Vec<f64> {
    let range = |t: &[f64]| {
        let min = t.iter().copied().fold(f64::INFINITY, f64::min);
        let max = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        max - min
    };
    let Some(second) = second else {
        return first;
    };
    let same_range = (range(&first[..slices]) - range(&second[..slices])).abs() <= 1e-4;
    if plausible(&first[..slices], tr_ms) && same_range {
        return first;
    }
    let min = second[..slices]
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let shifted: Vec<f64> = second.iter().map(|t| t - min).collect();
    if plausible(&shifted[..slices], tr_ms) {
        shifted
    } else {
        first
    }
}

/// Slice times worth writing: not all equal, and within one repetition.
fn plausible(ms: &[f64], tr_ms: f64) -> bool {
    let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    min.is_finite() && max > min && max - min <= tr_ms
}

/// One slice's acquisition time in ms (relative to an arbitrary origin).
fn slice_time_ms(header: &Dataset<'_>) -> Option<f64> {
    if let Some(t) =
        find(*header, TIME_AFTER_START, 3).and_then(|d| values::float(&d, TIME_AFTER_START))
    {
        return Some(t * 1000.0);
    }
    if let Some(tm) = values::text(header, tags::ACQUISITION_TIME) {
        return seconds_of_day_as_dcm2niix(&tm).map(|s| s * 1000.0);
    }
    let holder = find(*header, tags::FRAME_ACQUISITION_DATE_TIME, 3)?;
    let tm = time_of_datetime(&values::text(&holder, tags::FRAME_ACQUISITION_DATE_TIME)?)?;
    seconds_of_day(&tm).map(|s| s * 1000.0)
}

/// Seconds since midnight of a TM value the way dcm2niix gets them for per-slice times: it
/// keeps HHMMSS.ffffff as one 32-bit float (so times are quantised to 1/64 s around 14:00),
/// then splits hours, minutes and seconds.
fn seconds_of_day_as_dcm2niix(tm: &str) -> Option<f64> {
    let tm: String = tm.trim().chars().filter(|c| *c != ':').collect();
    let packed = tm
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)?;
    let packed = ((packed as f32) as f64 * 1e5).round() / 1e5;
    let hours = (packed / 10000.0).floor();
    let minutes = ((packed - hours * 10000.0) / 100.0).floor();
    let seconds = packed - hours * 10000.0 - minutes * 100.0;
    Some(hours * 3600.0 + minutes * 60.0 + seconds)
}

/// Slices excited together with the first one (dcm2niix's multiband factor): how many slice
/// times equal the first.
pub(super) fn multiband_factor(times: &[f64]) -> usize {
    times
        .first()
        .map_or(1, |t0| times.iter().filter(|t| *t == t0).count())
}
