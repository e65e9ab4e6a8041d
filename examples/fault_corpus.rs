//! Writes the hostile-input corpus (see `dicomprep::synth::faults`) made from `test-data/`:
//! deterministic by seed, never to be committed.
//!
//! ```text
//! cargo run --example fault_corpus -- --out target/faults --seed 1 --count 300
//! dicomprep scan target/faults; dicomprep order target/faults
//! dicomprep convert target/faults target/faults-out
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dicomprep::synth::faults::{corpus, load_templates, write_corpus};

/// Generate K broken, odd and non-DICOM files from the real files of test-data/.
#[derive(Debug, Parser)]
struct Args {
    /// Folder to write the corpus into (created).
    #[arg(long)]
    out: PathBuf,
    /// Seed: the same seed and count give the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of files (the fixed cases are always included).
    #[arg(long, default_value_t = 300)]
    count: usize,
    /// The project's test-data folder, where the templates are read from.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/test-data"))]
    test_data: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = load_templates(&args.test_data).and_then(|templates| {
        let files = corpus(&templates, args.seed, args.count);
        write_corpus(&args.out, &files).map(|()| files.len())
    });
    match result {
        Ok(n) => {
            eprintln!("{n} files written to {}", args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fault_corpus: {e}");
            ExitCode::FAILURE
        }
    }
}
