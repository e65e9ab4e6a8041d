//! Flags of `dicomprep index` and `dicomprep query`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::common::{ScanCommon, parse_location};
use crate::catalog::refresh::DEFAULT_BATCH;
use crate::store::Location;

/// Flags of `dicomprep index`.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Folder (scanned recursively), single file, or bucket prefix (s3://, gs://, az://,
    /// https, file://) to index.
    #[arg(value_parser = parse_location)]
    pub src: Location,

    /// The SQLite index file: created when missing, else refreshed (only new and changed
    /// inputs are read; rows of inputs that are gone are deleted).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,

    /// Inputs read and written per transaction: a killed run keeps every finished batch.
    #[arg(long, default_value_t = DEFAULT_BATCH, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,

    #[command(flatten)]
    pub common: ScanCommon,
}

/// Flags of `dicomprep query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQLite index file written by `dicomprep index` (opened read-only).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,

    /// One SQL statement, e.g. "SELECT modality, COUNT(DISTINCT series_instance_uid) FROM
    /// instances GROUP BY modality". Tables: instances, frames, inputs, meta.
    pub sql: String,

    /// Output format: an aligned table, CSV with a header line, or a JSON array of objects.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    pub format: QueryFormat,
}

/// Output formats of `dicomprep query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    Table,
    Csv,
    Json,
}
