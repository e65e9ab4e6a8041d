//! A scanned and ordered source, kept on the Rust side so that its volumes can be read without
//! scanning again: into a NumPy array the Python layer allocates (filled in place, without the
//! GIL), or into the NIfTI writer's file.

use std::path::PathBuf;

use dicomprep::cli::progress::TerminalProgress;
use dicomprep::contract::order_report::OrderReport;
use dicomprep::convert::stack_reader::{SliceOrder, StackReader, find_stack};
use dicomprep::nifti::array::{ArrayLayout, Values};
use dicomprep::nifti::header::DataType;
use dicomprep::order::Rule;
use dicomprep::scan::source::Source;
use dicomprep::scan::{InstanceHeader, ScanReport};
use pyo3::prelude::*;
use serde_json::json;

use crate::errors::{OutputError, VolumeError};

/// A source scanned and ordered by `dicomprep.order`.
#[pyclass(frozen, module = "dicomprep._native")]
pub struct Scanned {
    source: Source,
    scan: ScanReport,
    rule: Rule,
    report: String,
}

impl Scanned {
    pub fn new(source: Source, scan: ScanReport, rule: Rule, report: OrderReport) -> Scanned {
        Scanned {
            source,
            scan,
            rule,
            report: serde_json::to_string(&report).unwrap_or_default(),
        }
    }

    /// The reader of the stack of `series_uid` (or of its volume `volume`), its slices in
    /// `order`.
    fn reader(
        &self,
        series_uid: &str,
        volume: Option<&str>,
        order: SliceOrder,
    ) -> PyResult<StackReader<'_>> {
        let instances = &self.scan.instances;
        let stack = find_stack(instances, self.rule, series_uid, volume, order)
            .map_err(VolumeError::new_err)?;
        StackReader::new(&self.source, instances, stack).map_err(VolumeError::new_err)
    }
}

#[pymethods]
impl Scanned {
    /// The order report (the JSON of `dicomprep order`).
    fn report(&self) -> String {
        self.report.clone()
    }

    /// Reads the stack of `series_uid` (or its volume `volume`) into the array that
    /// `allocate(shape, dtype)` returns as `(array, address)`, with a progress bar when
    /// `progress`; returns the array and its description as JSON (dtype, slope, intercept,
    /// affine, spacing, frames).
    #[pyo3(signature = (series_uid, volume, rescale, allocate, progress = false))]
    fn read_volume(
        &self,
        py: Python<'_>,
        series_uid: &str,
        volume: Option<&str>,
        rescale: bool,
        allocate: Bound<'_, PyAny>,
        progress: bool,
    ) -> PyResult<(Py<PyAny>, String)> {
        let values = if rescale {
            Values::Rescaled
        } else {
            Values::Stored
        };
        let (reader, array) = py.detach(|| {
            let reader = self.reader(series_uid, volume, SliceOrder::Report)?;
            let array = reader.array_layout(values);
            Ok::<_, PyErr>((reader, array))
        })?;
        let description = describe(&reader, &array, &self.scan.instances);
        let (buffer, address): (Py<PyAny>, usize) = allocate
            .call1((array.shape.clone(), dtype(array.storage.datatype)))?
            .extract()?;
        let length = array.bytes();
        py.detach(|| {
            // SAFETY: `allocate` made a C-contiguous array of `length` bytes at `address`, and
            // `buffer` holds it alive until this call returns; nothing else writes it meanwhile.
            let out = unsafe { std::slice::from_raw_parts_mut(address as *mut u8, length) };
            let bar = TerminalProgress::new("read", reader.frames_to_decode(), progress);
            let read = reader.read_into(&array, out, &bar);
            bar.finish();
            read.map_err(VolumeError::new_err)
        })?;
        Ok((buffer, description))
    }

    /// Writes the NIfTI file the writer makes of the stack to `path` (gzip-compressed when
    /// `gzip`), atomically.
    fn write_nifti(
        &self,
        py: Python<'_>,
        series_uid: &str,
        volume: Option<&str>,
        path: PathBuf,
        gzip: bool,
    ) -> PyResult<()> {
        py.detach(|| {
            let bytes = self
                .reader(series_uid, volume, SliceOrder::Writer)?
                .nifti(gzip)
                .map_err(VolumeError::new_err)?;
            let partial = path.with_extension("partial");
            std::fs::write(&partial, bytes)
                .and_then(|()| std::fs::rename(&partial, &path))
                .map_err(|e| OutputError::new_err(format!("cannot write {}: {e}", path.display())))
        })
    }
}

/// NumPy's name of the type of `datatype`'s voxels (colour: one byte per sample).
fn dtype(datatype: DataType) -> &'static str {
    match datatype {
        DataType::Uint8 | DataType::Rgb24 => "|u1",
        DataType::Int8 => "|i1",
        DataType::Int16 => "<i2",
        DataType::Uint16 => "<u2",
        DataType::Int32 => "<i4",
        DataType::Uint32 => "<u4",
        DataType::Float32 => "<f4",
    }
}

/// The description of the array as JSON: type, scaling, geometry and each slice's source.
fn describe(reader: &StackReader<'_>, array: &ArrayLayout, instances: &[InstanceHeader]) -> String {
    let frames: Vec<serde_json::Value> = reader
        .slice_sources()
        .into_iter()
        .map(|s| {
            let header = &instances[s.instance];
            json!({
                "path": header.path,
                "frame": s.frame,
                "sop_instance_uid": header.sop_instance_uid,
            })
        })
        .collect();
    let mut affine: Vec<Vec<f64>> = array.affine.rows().iter().map(|r| r.to_vec()).collect();
    affine.push(vec![0.0, 0.0, 0.0, 1.0]);
    json!({
        "dtype": dtype(array.storage.datatype),
        "slope": array.storage.slope,
        "intercept": array.storage.intercept,
        "affine": affine,
        "spacing": array.spacing,
        "frames": frames,
    })
    .to_string()
}
