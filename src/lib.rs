//! dicomprep: turn folders of DICOM into what annotation platforms and other non-DICOM targets
//! can read.
//!
//! The pipeline is a chain of stages exchanging plain structs, each importing only the stages
//! before it and the shared foundations ([`contract`], [`store`], [`error`], [`progress`],
//! [`naming`]):
//!
//! 1. [`scan`]: sources ([`scan::source`]: folders, buckets, [`scan::dicomweb`]) and headers
//!    read in parallel, never pixels; [`catalog`] keeps them in an SQLite index that `--where`
//!    selects from;
//! 2. [`order`]: series grouped, split into volumes, slices ordered, diagnostics, and the
//!    [`contract::order_report::OrderReport`] contract assembled ([`order::plan`]); pure code;
//! 3. [`render`] (pixels to 8-bit images), [`encode`] (PNG, JPEG, H.264), [`nifti`]
//!    (volumes with their geometry), [`labels`] (SEG and RTSTRUCT placed on the images);
//! 4. [`convert`]: the run that drives them and writes every output under deterministic
//!    keys ([`contract::keys`]), with its [`page`]; [`shard`] splits it over an array job;
//! 5. [`payload`] and [`register`]: the platforms' registration bodies and clients.
//!
//! [`cli`] is the command line over all of it; [`synth`] generates test studies.
//!
//! ```no_run
//! use dicomprep::{NoProgress, order::Rule, order::plan::{OrderOptions, plan_order}};
//!
//! let scan = dicomprep::scan_source(std::path::Path::new("study/"), &NoProgress)?;
//! let report = plan_order(&scan, "study/", OrderOptions::new(Rule::Darwin));
//! println!("{} series, {} slices", report.series.len(), report.slice_count());
//! # Ok::<(), dicomprep::error::Error>(())
//! ```

pub mod catalog;
pub mod cli;
pub mod contract;
pub mod convert;
pub mod encode;
pub mod error;
pub mod labels;
pub mod naming;
pub mod nifti;
pub mod order;
pub mod page;
pub mod payload;
pub mod progress;
pub mod register;
pub mod render;
pub mod scan;
pub mod shard;
pub mod store;
pub mod synth;

use std::path::Path;

pub use progress::{NoProgress, Progress};

use error::Error;
use scan::ScanReport;

/// Lists and scans a local source (folder or single file) with the default number of reader
/// threads; files that cannot even be listed are reported as failed.
pub fn scan_source(root: &Path, progress: &dyn Progress) -> Result<ScanReport, Error> {
    let listing = scan::source::list_local(root)?;
    let mut report = scan::scan_files(
        &listing.files,
        scan::default_io_threads(listing.files.len(), |i| &listing.files[i].path),
        progress,
    );
    report.failed.extend(listing.unreadable);
    Ok(report)
}
