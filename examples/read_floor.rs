//! The I/O floor for header scans: read the first 8 KiB of every file under a folder, in
//! parallel, and do nothing else. `scripts/compare-peers.sh` runs it beside the real tools.

use std::fs::File;
use std::io::Read;
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;
use walkdir::WalkDir;

fn main() -> ExitCode {
    let Some(root) = std::env::args_os().nth(1) else {
        eprintln!("usage: read_floor <folder>");
        return ExitCode::FAILURE;
    };
    let started = Instant::now();
    let files: Vec<_> = WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    let bytes: u64 = files
        .par_iter()
        .map_init(
            || vec![0u8; 8192],
            |buf, path| {
                File::open(path)
                    .and_then(|mut f| f.read(buf))
                    .map_or(0, |n| n as u64)
            },
        )
        .sum();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} files, {bytes} bytes in {seconds:.3} s: {:.0} files/s",
        files.len(),
        files.len() as f64 / seconds
    );
    ExitCode::SUCCESS
}
