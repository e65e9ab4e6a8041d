//! Synthetic large studies for benchmarks, made from a real template file.
//!
//! Every slice is the template's header with new UIDs, InstanceNumber, SliceLocation and
//! ImagePositionPatient, followed by the template's own Pixel Data bytes. File names are opaque
//! and random (deterministic by seed), so the order can only come from the headers. The ground
//! truth order is written beside the data, never inside it.

use std::fs;
use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use rayon::prelude::*;
use serde::Serialize;

use crate::render::decode::{DicomImage, Samples};
use crate::scan::reader::{Input, read_header};

pub mod faults;

/// How generated files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// All files in one folder: `<uuid>.dcm`.
    #[default]
    Flat,
    /// Imaging Data Commons style: `<series_uuid>/<instance_uuid>.dcm`.
    SeriesFolders,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// A real single-frame DICOM file (not Deflated) whose header and pixels are reused.
    pub template: PathBuf,
    /// Folder to write into (created).
    pub out: PathBuf,
    pub slices: usize,
    pub series: usize,
    pub layout: Layout,
    pub seed: u64,
}

/// The true order of a generated study, written to `<out>.truth.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroundTruth {
    pub seed: u64,
    pub series: Vec<TruthSeries>,
}

/// One generated series: its UID and its files (relative to the study folder) in slice order.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthSeries {
    pub series_instance_uid: String,
    pub series_number: i64,
    pub paths: Vec<String>,
}

/// Error of the generator, naming the file involved.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct SynthError {
    pub path: String,
    pub reason: String,
}

/// A slice to write: where, and the values that place it.
struct Plan {
    path: String,
    series: usize,
    instance_number: i64,
    z: f64,
    sop_instance_uid: String,
}

/// Generates the study and writes its ground truth beside it; returns the truth.
pub fn generate(options: &SynthOptions) -> Result<GroundTruth, SynthError> {
    let fail = |path: &Path, reason: String| SynthError {
        path: path.display().to_string(),
        reason,
    };
    fs::create_dir_all(&options.out).map_err(|e| fail(&options.out, e.to_string()))?;
    let template =
        native_template(&options.template, &options.out).map_err(|e| fail(&options.template, e))?;
    let bytes = fs::read(&template).map_err(|e| fail(&template, e.to_string()))?;
    let mut inflate = Vec::new();
    let input = Input {
        bytes: &bytes,
        file_size: bytes.len() as u64,
    };
    let pixel = match read_header(input, &mut inflate) {
        Ok(raw) => raw
            .pixel_data
            .ok_or_else(|| fail(&template, "template has no pixel data".into()))?,
        Err(err) => return Err(fail(&template, err.to_string())),
    };
    let pixel_tail = &bytes[pixel.offset as usize..];
    let header = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(&template)
        .map_err(|e| fail(&template, e.to_string()))?;

    let series_count = options.series.max(1);
    let mut rng = SplitMix64(options.seed);
    let study_uid = uid(&mut rng);
    let series_uids: Vec<String> = (0..series_count).map(|_| uid(&mut rng)).collect();
    let series_folders: Vec<String> = (0..series_count).map(|_| uuid(&mut rng)).collect();
    let spacing = 1.25;

    let plans: Vec<Plan> = (0..options.slices)
        .map(|i| {
            let series = i % series_count;
            let index = i / series_count;
            let name = format!("{}.dcm", uuid(&mut rng));
            let path = match options.layout {
                Layout::Flat => name,
                Layout::SeriesFolders => format!("{}/{name}", series_folders[series]),
            };
            Plan {
                path,
                series,
                instance_number: index as i64 + 1,
                z: -(index as f64) * spacing,
                sop_instance_uid: uid(&mut rng),
            }
        })
        .collect();

    if options.layout == Layout::SeriesFolders {
        for folder in &series_folders {
            let dir = options.out.join(folder);
            fs::create_dir_all(&dir).map_err(|e| fail(&dir, e.to_string()))?;
        }
    }
    plans.par_iter().try_for_each(|plan| {
        let mut object = header.clone();
        let text = |tag, vr, value: String| DataElement::new(tag, vr, PrimitiveValue::from(value));
        object.put(text(tags::STUDY_INSTANCE_UID, VR::UI, study_uid.clone()));
        object.put(text(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            series_uids[plan.series].clone(),
        ));
        object.put(text(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            plan.sop_instance_uid.clone(),
        ));
        object.put(text(
            tags::SERIES_NUMBER,
            VR::IS,
            (plan.series + 1).to_string(),
        ));
        object.put(text(
            tags::INSTANCE_NUMBER,
            VR::IS,
            plan.instance_number.to_string(),
        ));
        object.put(text(tags::SLICE_LOCATION, VR::DS, format!("{}", plan.z)));
        object.put(text(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            format!("-250\\-250\\{}", plan.z),
        ));
        object.put(text(
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            "1\\0\\0\\0\\1\\0".into(),
        ));
        object.update_meta(|meta| {
            meta.media_storage_sop_instance_uid = plan.sop_instance_uid.clone()
        });
        let mut out = Vec::with_capacity(pixel_tail.len() + 4096);
        object
            .write_all(&mut out)
            .map_err(|e| fail(Path::new(&plan.path), e.to_string()))?;
        out.extend_from_slice(pixel_tail);
        let path = options.out.join(&plan.path);
        fs::write(&path, out).map_err(|e| fail(&path, e.to_string()))
    })?;

    let mut truth_series: Vec<TruthSeries> = series_uids
        .iter()
        .enumerate()
        .map(|(s, uid)| TruthSeries {
            series_instance_uid: uid.clone(),
            series_number: s as i64 + 1,
            paths: Vec::new(),
        })
        .collect();
    for plan in &plans {
        truth_series[plan.series].paths.push(plan.path.clone());
    }
    let truth = GroundTruth {
        seed: options.seed,
        series: truth_series,
    };
    let truth_path = truth_path(&options.out);
    let json = serde_json::to_vec_pretty(&truth).map_err(|e| fail(&truth_path, e.to_string()))?;
    fs::write(&truth_path, json).map_err(|e| fail(&truth_path, e.to_string()))?;
    Ok(truth)
}

const NATIVE_SYNTAXES: [&str; 3] = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
];

/// The template as a file in a native transfer syntax: the file itself when it is one, else a
/// copy with its (grey, single-frame) pixels decoded once and stored as Explicit VR Little
/// Endian beside the study (`<out>.template.dcm`), so real compressed CT slices can serve.
fn native_template(path: &Path, out: &Path) -> Result<PathBuf, String> {
    let mut object = dicom_object::open_file(path).map_err(|e| e.to_string())?;
    let syntax = object.meta().transfer_syntax().trim_end_matches('\0');
    if NATIVE_SYNTAXES.contains(&syntax) {
        return Ok(path.to_path_buf());
    }
    let image = DicomImage::open(path).map_err(|e| e.to_string())?;
    let Samples::Grey(values) = image.frame(0).map_err(|e| e.to_string())?.samples else {
        return Err("only grey templates can be decoded to a native transfer syntax".into());
    };
    // Two's complement u16 words hold signed samples too; BitsStored is kept.
    let words: Vec<u16> = values.to_vec().iter().map(|&v| v as u16).collect();
    let put = |object: &mut dicom_object::DefaultDicomObject, tag, vr, value| {
        object.put(DataElement::new(tag, vr, value));
    };
    put(
        &mut object,
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(words.into()),
    );
    put(
        &mut object,
        tags::BITS_ALLOCATED,
        VR::US,
        PrimitiveValue::from(16u16),
    );
    put(
        &mut object,
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("1"),
    );
    object.update_meta(|meta| meta.transfer_syntax = "1.2.840.10008.1.2.1".into());
    let native = out.with_extension("template.dcm");
    object.write_to_file(&native).map_err(|e| e.to_string())?;
    Ok(native)
}

/// Where the ground truth of a study generated into `out` is written: `<out>.truth.json`.
pub fn truth_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".truth.json");
    out.with_file_name(name)
}

/// A small, fast, deterministic generator (splitmix64); not for cryptography.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n` > 0; the slight modulo bias does not matter here).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random version-4 UUID string.
fn uuid(rng: &mut SplitMix64) -> String {
    let (hi, lo) = (rng.next(), rng.next());
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0xC << 60)) | (0x8 << 60);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// A random UID under the `2.25` (UUID-derived) root.
fn uid(rng: &mut SplitMix64) -> String {
    let value = (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> 2;
    format!("2.25.{value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_well_formed() {
        let mut a = SplitMix64(7);
        let mut b = SplitMix64(7);
        let (ua, ub) = (uuid(&mut a), uuid(&mut b));
        assert_eq!(ua, ub);
        assert_eq!(ua.len(), 36);
        assert_eq!(&ua[14..15], "4");
        let u = uid(&mut a);
        assert!(
            u.starts_with("2.25.") && u.len() <= 64 && u[5..].chars().all(|c| c.is_ascii_digit())
        );
    }

    #[test]
    fn truth_lies_beside_the_study() {
        assert_eq!(
            truth_path(Path::new("/tmp/study")),
            PathBuf::from("/tmp/study.truth.json")
        );
    }
}
