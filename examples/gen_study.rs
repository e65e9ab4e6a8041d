//! Generates a large synthetic study from a real template for benchmarks (never commit output).
//!
//! ```text
//! cargo run --release --example gen_study -- --template test-data/.../CT.dcm \
//!     --out target/bench-data/ct10k --slices 10000 --series 4 --layout flat --seed 1
//! ```
//! The true slice order is written to `<out>.truth.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use dicomprep::synth::{Layout, SynthOptions, generate, truth_path};

/// Generate N slices in S series from a real DICOM template, with opaque random file names.
#[derive(Debug, Parser)]
struct Args {
    /// Real single-frame DICOM file whose header and pixel data every slice reuses.
    #[arg(long)]
    template: PathBuf,
    /// Folder to create the study in.
    #[arg(long)]
    out: PathBuf,
    /// Total number of slices.
    #[arg(long, default_value_t = 10_000)]
    slices: usize,
    /// Number of series the slices are spread over.
    #[arg(long, default_value_t = 1)]
    series: usize,
    /// `flat` (`<uuid>.dcm`) or `series` (`<series_uuid>/<uuid>.dcm`, as in IDC buckets).
    #[arg(long, value_enum, default_value_t = LayoutArg::Flat)]
    layout: LayoutArg,
    /// Seed: the same seed gives the same names, UIDs and order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LayoutArg {
    Flat,
    Series,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = SynthOptions {
        template: args.template,
        out: args.out.clone(),
        slices: args.slices,
        series: args.series,
        layout: match args.layout {
            LayoutArg::Flat => Layout::Flat,
            LayoutArg::Series => Layout::SeriesFolders,
        },
        seed: args.seed,
    };
    match generate(&options) {
        Ok(truth) => {
            eprintln!(
                "wrote {} slices in {} series to {} (truth: {})",
                args.slices,
                truth.series.len(),
                args.out.display(),
                truth_path(&args.out).display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
