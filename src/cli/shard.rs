//! Flags of `dicomprep plan` and `dicomprep merge` (the shards of `convert --plan` are in
//! [`super::convert`]).

use clap::Args;

use super::common::{Quiet, ScanCommon, SelectArgs, StoreArgs, parse_location};
use super::convert::{OutputArgs, RenderArgs};
use crate::store::Location;

/// Flags of `dicomprep plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Folder, single file or bucket prefix to convert (as for `convert`).
    #[arg(value_parser = parse_location)]
    pub src: Location,

    /// Destination of the conversion; the plan is written under DEST/shards/.
    #[arg(long, short, value_name = "DEST", value_parser = parse_location)]
    pub dest: Location,

    /// Number of shards (array tasks). Whole series go to one shard, largest first onto the
    /// least loaded, so shards hold about the same number of slices.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub shards: u32,

    #[command(flatten)]
    pub render: RenderArgs,

    #[command(flatten)]
    pub outputs: OutputArgs,

    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub common: ScanCommon,
}

/// Flags of `dicomprep merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The DEST a plan was written to and its shards converted into.
    #[arg(value_parser = parse_location)]
    pub dest: Location,

    /// Worker threads for the report page [default: one per core].
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,

    /// Also print every skipped file with its reason.
    #[arg(long, short)]
    pub verbose: bool,

    #[command(flatten)]
    pub quiet: Quiet,

    /// Requests in flight at once against a bucket (listing, writing the results).
    #[arg(long, default_value_t = 64, value_name = "N", help_heading = "Buckets")]
    pub concurrency: usize,

    #[command(flatten)]
    pub store: StoreArgs,
}
