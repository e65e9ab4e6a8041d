//! GE's private facts as dcm2niix reads them (facts from its source, our code): the phase
//! encoding polarity of EPI from the binary UserDefinedData header (0043,102A), and slice
//! times estimated from the gzip-compressed Protocol Data Block (0025,101B), whose text holds
//! the slice order, the multiband factor and the group delay.

use dicom_core::Tag;
use dicom_dictionary_std::tags;

use crate::nifti::values;
use crate::scan::reader::{Dataset, gzip};

const USER_DEFINED_DATA: Tag = Tag(0x0043, 0x102A);
const PROTOCOL_DATA_BLOCK: Tag = Tag(0x0025, 0x101B);
/// DelayAfterSliceGroup (FL, seconds): present for epiRT (fMRI) series.
const GROUP_DELAY: Tag = Tag(0x0043, 0x107C);
const PULSE_SEQUENCE: Tag = Tag(0x0019, 0x109C);
const INTERNAL_PULSE_SEQUENCE: Tag = Tag(0x0019, 0x109E);

/// Whether the phase encoding runs in the positive direction, from the UserDefinedData
/// header of an EPI image: its polarity flag (bit 2 set: "flipped"), inverted when k-space is
/// read bottom-up. `None` for other images and unreadable headers.
pub(super) fn phase_positive(ds: &Dataset<'_>) -> Option<bool> {
    let header = ds.get(USER_DEFINED_DATA)?.bytes();
    let u16_at = |at: usize| Some(u16::from_le_bytes(header.get(at..at + 2)?.try_into().ok()?));
    let start = usize::from(u16_at(24)?);
    if header.len() < start + 916 {
        return None;
    }
    let version = f32::from_le_bytes(header.get(start..start + 4)?.try_into().ok()?);
    if !(5.0..=40.0).contains(&version) {
        return None;
    }
    // From format 25.002 on, the fields sit 0x4C bytes further and k-space's direction 0x8C
    // bytes nearer.
    let (fields, view_order) = if version >= 25.002 {
        (start + 0x4C, start + 0x4C + 0x394 - 0x8C)
    } else {
        (start, start + 0x394)
    };
    if u16_at(fields + 0x3A)? & 0x800 == 0 {
        return None; // not EPI
    }
    let mut flipped = u16_at(fields + 0x30)? & 0x0004 != 0;
    if u16_at(view_order)? == 2 {
        flipped = !flipped; // bottom-up
    }
    Some(!flipped)
}

/// Slice times in seconds of a GE EPI time series (`slices` per volume, `volumes` of them),
/// as dcm2niix estimates them from the Protocol Data Block and TR: evenly spread over the TR
/// less the group delay, in the interleaved or sequential order the block names, repeated per
/// multiband excitation. `None` when dcm2niix writes none (diffusion, variable delays, early
/// HyperBand, no block).
pub(super) fn slice_times(ds: &Dataset<'_>, slices: usize, volumes: usize) -> Option<Vec<f64>> {
    if slices < 2 || volumes < 2 {
        return None;
    }
    let block = ds.get(PROTOCOL_DATA_BLOCK)?.bytes();
    let length = u32::from_le_bytes(block.get(..4)?.try_into().ok()?) as usize;
    let text = gzip::gunzip(block.get(4..4 + length)?).ok()?;
    if text.starts_with(b"<?") {
        return None; // the XML block of DV24 is not read by dcm2niix either
    }
    let software = values::text(ds, tags::SOFTWARE_VERSIONS).unwrap_or_default();
    if software.len() < 10 {
        return None;
    }
    let protocol = ProtocolBlock { text: &text };
    let slice_order = protocol.digits("\nSLICEORDER");
    let multiband = protocol.digits("MBACCEL").unwrap_or(0).max(1) as usize;
    let iopt = protocol.quoted("IOPT");
    let mut block_delay = protocol.float("DELACQNOAV") * 1000.0;
    if iopt.contains("MPh") {
        if protocol.quoted("DELACQ") == "Minimum" {
            block_delay = 0.0;
        }
        if iopt.contains("MPhVar") {
            block_delay = -1.0;
        }
    }
    let mut tr = values::float(ds, tags::REPETITION_TIME)?;
    let tag_delay = values::float(ds, GROUP_DELAY).map(|s| s * 1000.0);
    let epi = epi_version(ds, tag_delay.is_some());
    let mut group_delay = tag_delay.unwrap_or(0.0);
    let interleaved = if epi >= 3 {
        true // ABCD's pepolar research sequences, as dcm2niix (experimental there)
    } else if epi == 1 || iopt.contains("FMRI") {
        slice_order != Some(0)
    } else if epi == 0 || iopt.contains("MPh") {
        if block_delay > 0.0 {
            tr += block_delay;
            group_delay = block_delay;
        }
        if block_delay < -0.5 {
            return None;
        }
        true
    } else {
        return None;
    };
    let (major, is_27r3) = software_version(&software)?;
    let times = estimate(
        multiband,
        slices,
        tr,
        interleaved,
        major,
        is_27r3,
        group_delay,
    )?;
    Some(times.iter().map(|ms| ms / 1000.0).collect())
}

/// dcm2niix's GE EPI kind: -1 not EPI, 0 multi-phase epi, 1 epiRT (fMRI), 2 epi2 (spin
/// echo), 3 pepolar; from the pulse sequence names, and epiRT whenever DelayAfterSliceGroup
/// is present.
fn epi_version(ds: &Dataset<'_>, has_group_delay: bool) -> i32 {
    let name = values::text(ds, PULSE_SEQUENCE).unwrap_or_default();
    let mut epi = if name.contains("epi_pepolar") {
        3
    } else if name.contains("epi2") {
        2
    } else if name.contains("epiRT") {
        1
    } else if name.contains("epi") {
        0
    } else {
        -1
    };
    let internal = values::text(ds, INTERNAL_PULSE_SEQUENCE).unwrap_or_default();
    if epi < 3 && internal == "EPI" && epi != 1 {
        epi = 0;
    }
    if has_group_delay {
        epi = 1;
    }
    epi
}

/// The major.minor version of GE's software and whether it is 27.0 R03 or later, from
/// SoftwareVersions ("27\LX\MR Software release:RX27.0_R02_1831.a", "28\LX\MR29.1_EA_2039.g",
/// "30\LX\SIGNA_LX1.MR30.0_R01_2236.d").
fn software_version(software: &str) -> Option<(f64, bool)> {
    let last = software.rsplit('\\').next()?;
    let release = last
        .rsplit_once(':')
        .map(|(_, r)| r)
        .or_else(|| last.split_once("SIGNA_LX1.").map(|(_, r)| r))
        .unwrap_or(last)
        .trim();
    // Two letters, major.minor, then _R0n (release n) or _EA (release 0).
    let rest = release.get(2..)?;
    let (major, rest) = rest.split_once('.')?;
    let major: i32 = major.parse().ok()?;
    let minor_digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let minor: i32 = minor_digits.parse().ok()?;
    let release_number = rest[minor_digits.len()..]
        .strip_prefix("_R")
        .map(|r| {
            let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<i32>().unwrap_or(0)
        })
        .unwrap_or(0);
    let version = f64::from(major) + 0.1 * f64::from(minor);
    Some((
        version,
        version >= 27.1 || (major == 27 && release_number >= 3),
    ))
}

/// Slice times in ms: excitations spread evenly over `tr - group_delay`, odd slices first when
/// interleaved, the pattern repeated for each multiband group.
fn estimate(
    multiband: usize,
    slices: usize,
    tr: f64,
    interleaved: bool,
    major: f64,
    is_27r3: bool,
    group_delay: f64,
) -> Option<Vec<f64>> {
    let mut excitations = slices.div_ceil(multiband);
    if multiband > 1 && major < 26.0 {
        return None; // early HyperBand
    }
    if multiband > 1 && !is_27r3 && excitations.is_multiple_of(2) {
        excitations += 1;
    }
    let per_slice = (tr - group_delay) / excitations as f64;
    let mut times: Vec<f64> = if interleaved {
        let odd = (excitations - 1) / 2;
        (0..excitations)
            .map(|i| {
                let rank = if i % 2 == 0 {
                    i / 2
                } else {
                    odd + i.div_ceil(2)
                };
                rank as f64 * per_slice
            })
            .collect()
    } else {
        (0..excitations).map(|i| i as f64 * per_slice).collect()
    };
    if multiband > 1 && is_27r3 && interleaved && excitations > 2 && excitations.is_multiple_of(2) {
        times.swap(excitations - 1, excitations - 3);
    }
    Some((0..slices).map(|i| times[i % excitations]).collect())
}

/// The text of a Protocol Data Block: `KEY value` lines, read as dcm2niix's `readKey*`.
struct ProtocolBlock<'a> {
    text: &'a [u8],
}

impl ProtocolBlock<'_> {
    /// The rest of the line after the first occurrence of `key`.
    fn line(&self, key: &str) -> Option<&[u8]> {
        let key = key.as_bytes();
        let at = self.text.windows(key.len()).position(|w| w == key)? + key.len();
        let rest = &self.text[at..];
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        Some(&rest[..end])
    }

    /// The digits of the key's line read as one integer.
    fn digits(&self, key: &str) -> Option<i64> {
        let line = self.line(key)?;
        Some(
            line.iter()
                .filter(|b| b.is_ascii_digit())
                .fold(0i64, |n, d| {
                    n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
                }),
        )
    }

    /// The digits, points and minus signs of the key's line read as a number (0 if none).
    fn float(&self, key: &str) -> f64 {
        let Some(line) = self.line(key) else {
            return 0.0;
        };
        let kept: String = line
            .iter()
            .filter(|b| b.is_ascii_digit() || **b == b'.' || **b == b'-')
            .map(|&b| b as char)
            .collect();
        kept.parse().unwrap_or(0.0)
    }

    /// The first quoted value of the key's line.
    fn quoted(&self, key: &str) -> String {
        let Some(line) = self.line(key) else {
            return String::new();
        };
        let mut parts = line.split(|&b| b == b'"');
        parts.next();
        parts
            .next()
            .map(|v| v.iter().map(|&b| b as char).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_times_put_odd_slices_first() {
        // dcm_qa_nih's GE epiRT series: 15 slices, TR 5000 ms (Ref: 0, 2.66667, 0.333333, ...).
        let t = estimate(1, 15, 5000.0, true, 26.0, false, 0.0).unwrap();
        assert!((t[1] - 2666.667).abs() < 1e-3 && (t[2] - 333.333).abs() < 1e-3);
        let sequential = estimate(1, 4, 400.0, false, 26.0, false, 0.0).unwrap();
        assert_eq!(sequential, vec![0.0, 100.0, 200.0, 300.0]);
        // Multiband 2 before 27 R03: an even count of excitations (4) gets one more.
        let mb = estimate(2, 8, 500.0, false, 26.0, false, 0.0).unwrap();
        assert_eq!(mb, vec![0.0, 100.0, 200.0, 300.0, 400.0, 0.0, 100.0, 200.0]);
        let mb = estimate(2, 8, 400.0, false, 27.0, true, 0.0).unwrap();
        assert_eq!(mb, vec![0.0, 100.0, 200.0, 300.0, 0.0, 100.0, 200.0, 300.0]);
        assert!(estimate(2, 8, 500.0, false, 25.0, false, 0.0).is_none());
    }

    #[test]
    fn software_versions_of_each_form() {
        assert_eq!(
            software_version("27\\LX\\MR Software release:DV26.0_R01_1725.a"),
            Some((26.0, false))
        );
        assert_eq!(
            software_version("27\\LX\\MR Software release:RX27.0_R03_1831.a"),
            Some((27.0, true))
        );
        assert_eq!(
            software_version("28\\LX\\MR29.1_EA_2039.g"),
            Some((29.1, true))
        );
        assert_eq!(
            software_version("30\\LX\\SIGNA_LX1.MR30.0_R01_2236.d"),
            Some((30.0, true))
        );
    }
}
