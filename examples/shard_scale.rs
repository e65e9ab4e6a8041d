//! Balance and scale figures of `dicomprep plan` without pixels: series sizes drawn from an
//! IDC-like distribution (many one-slice and short series, a long tail of 1,000+ slice ones),
//! balanced onto shards by the plan's rule; then wall-time estimates for 50 million slices.
//!
//! ```text
//! cargo run --release --example shard_scale -- --series 1000000 --shards 1000 --slice-ms 2.6
//! ```
//! `--slice-ms` is the measured cost of one slice on one worker (wall ms per slice of one
//! single-threaded `convert`); the estimates add nothing for listing or uploads.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use dicomprep::shard::balance::{SeriesLoad, balance, shard_loads};

/// Balance N generated series onto shards and estimate 50M-slice wall times.
#[derive(Debug, Parser)]
struct Args {
    /// Series to generate.
    #[arg(long, default_value_t = 1_000_000)]
    series: usize,
    /// Shards to balance them onto.
    #[arg(long, default_value_t = 1_000)]
    shards: usize,
    /// Wall milliseconds per slice on one worker, for the estimates.
    #[arg(long, default_value_t = 2.6)]
    slice_ms: f64,
    /// Seed of the size distribution.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// splitmix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Log-uniform integer in [low, high].
    fn log_uniform(&mut self, low: f64, high: f64) -> u64 {
        (low * (high / low).powf(self.unit())).round() as u64
    }
}

/// An IDC-like series size: 35% one slice (CR, DX, SR-like), 25% short (2-60, MR localisers,
/// DWI), 25% 60-300 (MR, CT), 12% 300-1,000 (thin CT), 3% 1,000-6,000 (the long tail).
fn series_size(rng: &mut Rng) -> u64 {
    match rng.unit() {
        p if p < 0.35 => 1,
        p if p < 0.60 => rng.log_uniform(2.0, 60.0),
        p if p < 0.85 => rng.log_uniform(60.0, 300.0),
        p if p < 0.97 => rng.log_uniform(300.0, 1_000.0),
        _ => rng.log_uniform(1_000.0, 6_000.0),
    }
}

/// Series whose sizes add up to `slices` (or `count` series when given).
fn generate(rng: &mut Rng, count: Option<usize>, slices: u64) -> Vec<SeriesLoad<(String, String)>> {
    let mut series = Vec::new();
    let mut total = 0;
    while count.map_or(total < slices, |c| series.len() < c) {
        let size = series_size(rng);
        let i = series.len();
        let key = (
            format!("1.2.826.0.1.3680043.8.498.{}", i / 4),
            format!("1.2.826.0.1.3680043.8.498.{i}.1"),
        );
        series.push(SeriesLoad { key, slices: size });
        total += size;
    }
    series
}

/// Peak resident memory of this process (VmHWM), in MB.
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

fn report(series: &[SeriesLoad<(String, String)>], shards: usize) -> (u64, f64) {
    let started = Instant::now();
    let assignment = balance(series, shards);
    let seconds = started.elapsed().as_secs_f64();
    let loads = shard_loads(series, &assignment, shards);
    let total: u64 = loads.iter().sum();
    let largest = loads.iter().copied().max().unwrap_or(0);
    let mean = total as f64 / shards as f64;
    println!(
        "{} series, {total} slices onto {shards} shards in {seconds:.2} s: largest {largest}, mean {mean:.0}, largest/mean {:.4}",
        series.len(),
        largest as f64 / mean
    );
    (largest, seconds)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut rng = Rng(args.seed);
    let started = Instant::now();
    let series = generate(&mut rng, Some(args.series), 0);
    let largest_series = series.iter().map(|s| s.slices).max().unwrap_or(0);
    println!(
        "generated {} series in {:.2} s (largest series {largest_series} slices)",
        series.len(),
        started.elapsed().as_secs_f64()
    );
    report(&series, args.shards);
    println!("peak memory {:.0} MB", peak_mb());
    drop(series);

    const FIFTY_MILLION: u64 = 50_000_000;
    let series = generate(&mut rng, None, FIFTY_MILLION);
    for workers in [100, 1_000] {
        let (largest, _) = report(&series, workers);
        let hours = largest as f64 * args.slice_ms / 1000.0 / 3600.0;
        println!(
            "  50M slices on {workers} workers at {} ms/slice: {hours:.2} h ({:.0} min) for the largest shard",
            args.slice_ms,
            hours * 60.0
        );
    }
    ExitCode::SUCCESS
}
