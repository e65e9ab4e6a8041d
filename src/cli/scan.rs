//! Flags of `dicomprep scan` and `dicomprep order`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::common::{RuleArg, ScanCommon, SelectArgs, parse_location};
use crate::store::Location;

/// Flags of `dicomprep scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Folder (scanned recursively), single file, or bucket prefix (s3://, gs://, az://,
    /// https, file://) to scan.
    #[arg(value_parser = parse_location)]
    pub src: Location,

    /// Write the JSON Lines here instead of stdout (written atomically).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub common: ScanCommon,
}

/// Flags of `dicomprep order`.
#[derive(Debug, Args)]
pub struct OrderArgs {
    /// Folder (scanned recursively), single file, or bucket prefix (s3://, gs://, az://,
    /// https, file://) to order.
    #[arg(value_parser = parse_location)]
    pub src: Location,

    /// How slices are ordered within each volume.
    #[arg(long, value_enum, default_value_t = RuleArg::Darwin)]
    pub rule: RuleArg,

    /// Output format: the JSON contract, or TSV with one row per slice, skipped and failed file.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,

    /// Add ordering diagnostics per volume: whether InstanceNumber order agrees with spatial
    /// order, duplicated positions, slice spacing and gaps that suggest missing slices.
    #[arg(long)]
    pub explain: bool,

    /// Write JSON on one line instead of indented.
    #[arg(long)]
    pub compact: bool,

    /// Also write a static HTML page to FILE (atomically): per series and volume the facts,
    /// the ordering diagnostics in words and a plot of slice position against order index, then
    /// every skipped and failed file. Nothing is rendered. The JSON or TSV output is unchanged.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write the result here instead of stdout (written atomically).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub common: ScanCommon,
}

/// Output formats of `dicomprep order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Tsv,
}
