//! dicomprep: turn folders of DICOM into what annotation platforms and other non-DICOM targets
//! can read.
//!
//! The pipeline is a chain of small stages exchanging plain structs:
//! [`source`] lists files, [`scan`] reads headers only (never pixels) in parallel,
//! [`index`] groups series, [`split`] splits them into volumes, [`order`] orders slices,
//! [`plan`] assembles the [`contract::order_report::OrderReport`] contract, and [`output`] writes it.
//! Everything between the scan and the output is pure code. [`catalog`] keeps scanned headers
//! in an SQLite index (`dicomprep index`) that `--where` selects from.
//!
//! ```no_run
//! use dicomprep::{NoProgress, order::Rule, plan::{OrderOptions, plan_order}};
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
pub mod dicomweb;
pub mod encode;
pub mod error;
pub mod labels;
pub mod naming;
pub mod nifti;
pub mod order;
pub mod output;
pub mod page;
pub mod payload;
pub mod progress;
pub mod register;
pub mod render;
pub mod scan;
pub mod shard;
pub mod source;
pub mod store;
pub mod synth;

use std::path::Path;

pub use progress::{NoProgress, Progress};

use error::Error;
use scan::ScanReport;

/// Lists and scans a local source (folder or single file) with the default number of reader
/// threads; files that cannot even be listed are reported as failed.
pub fn scan_source(root: &Path, progress: &dyn Progress) -> Result<ScanReport, Error> {
    let listing = source::list_local(root)?;
    let mut report = scan::scan_files(&listing.files, scan::default_io_threads(), progress);
    report.failed.extend(listing.unreadable);
    Ok(report)
}
