//! Benchmark of `--where` selections over a large header index (rows only, no DICOM files):
//! writes an index of N generated instances through the same code as `dicomprep index` (once;
//! an existing file is reused), prints its size per instance, then times typical selections
//! (the median of several runs each), as `order`/`convert --index --where` run them.
//!
//! ```text
//! cargo run --release --example index_select -- --db target/bench-data/index-1m.sqlite \
//!     --instances 1000000 [--cold]
//! ```
//! `--cold` (root only) empties the kernel's page cache before each run and opens the index
//! anew, so each selection reads the file from disk.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use dicomprep::catalog::{Catalog, Selection, Version};
use dicomprep::scan::{InstanceHeader, ScanReport};

/// Time `--where` selections over an index of N generated instances.
#[derive(Debug, Parser)]
struct Args {
    /// The index file (generated when missing).
    #[arg(long)]
    db: PathBuf,
    /// Instances to generate.
    #[arg(long, default_value_t = 1_000_000)]
    instances: usize,
    /// Instances per series.
    #[arg(long, default_value_t = 200)]
    per_series: usize,
    /// Timed runs per selection (the median is printed).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Before each run, empty the page cache (`/proc/sys/vm/drop_caches`: root only) and open
    /// the index anew: times from disk, not from memory.
    #[arg(long)]
    cold: bool,
}

/// Writes dirty pages out and empties the kernel's page cache.
fn drop_page_cache() -> std::io::Result<()> {
    std::process::Command::new("sync").status()?;
    std::fs::write("/proc/sys/vm/drop_caches", "1").map_err(|e| {
        std::io::Error::other(format!("--cold needs root: /proc/sys/vm/drop_caches: {e}"))
    })
}

/// Deterministic pseudo-random numbers (64-bit LCG), so every run builds the same index.
struct Lcg(u64);

impl Lcg {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        items[((self.0 >> 33) % items.len() as u64) as usize]
    }
}

/// One series' shared values.
struct SeriesValues {
    modality: &'static str,
    description: &'static str,
    body_part: &'static str,
    manufacturer: &'static str,
    thickness: f64,
    date: String,
}

fn series_values(rng: &mut Lcg, series: usize) -> SeriesValues {
    let modality = rng.pick(&["CT", "CT", "CT", "MR", "MR", "PT", "CR", "US"]);
    let description = match modality {
        "MR" => rng.pick(&[
            "AX FLAIR",
            "SAG T1 MPRAGE",
            "AX T2 FSE",
            "DWI",
            "COR FLAIR FS",
        ]),
        "CT" => rng.pick(&["CHEST 1.25mm", "ABD/PELVIS 5mm", "HEAD W/O", "CTA NECK"]),
        _ => rng.pick(&["WB PET AC", "PA CHEST", "LIVER US"]),
    };
    SeriesValues {
        modality,
        description,
        body_part: rng.pick(&["CHEST", "ABDOMEN", "HEAD", "NECK", "PELVIS"]),
        manufacturer: rng.pick(&["SIEMENS", "GE MEDICAL SYSTEMS", "Philips", "TOSHIBA"]),
        thickness: rng.pick(&[0.625, 1.0, 1.25, 2.5, 3.0, 5.0]),
        date: format!(
            "20{:02}{:02}{:02}",
            10 + series % 15,
            1 + series % 12,
            1 + series % 28
        ),
    }
}

fn instance(series: usize, number: usize, values: &SeriesValues) -> InstanceHeader {
    let uid = |kind: u32, n: usize| format!("1.2.826.0.1.3680043.8.498.{kind}.{n}");
    let z = number as f64 * values.thickness;
    InstanceHeader {
        path: format!("{}/{:06}.dcm", uid(1, series), number),
        file_size: 525_514,
        transfer_syntax: "1.2.840.10008.1.2.1".into(),
        sop_class_uid: Some("1.2.840.10008.5.1.4.1.1.2".into()),
        sop_instance_uid: Some(uid(3, series * 100_000 + number)),
        study_instance_uid: Some(uid(2, series / 4)),
        series_instance_uid: Some(uid(1, series)),
        modality: Some(values.modality.into()),
        series_number: Some((series % 20) as i64 + 1),
        study_date: Some(values.date.clone()),
        study_description: Some("SYNTHETIC STUDY".into()),
        protocol_name: Some(values.description.into()),
        body_part_examined: Some(values.body_part.into()),
        manufacturer: Some(values.manufacturer.into()),
        manufacturer_model_name: Some("MODEL".into()),
        series_description: Some(values.description.into()),
        instance_number: Some(number as i64 + 1),
        slice_location: Some(z),
        image_position_patient: Some([-250.0, -250.0, z]),
        image_orientation_patient: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
        pixel_spacing: Some([0.7, 0.7]),
        slice_thickness: Some(values.thickness),
        rows: Some(512),
        columns: Some(512),
        number_of_frames: 1,
        samples_per_pixel: Some(1),
        photometric_interpretation: Some("MONOCHROME2".into()),
        bits_allocated: Some(16),
        bits_stored: Some(12),
        pixel_representation: Some(0),
        rescale_slope: Some(1.0),
        rescale_intercept: Some(-1024.0),
        window_center: vec![40.0],
        window_width: vec![400.0],
        image_type: vec!["ORIGINAL".into(), "PRIMARY".into(), "AXIAL".into()],
        pixel_data_offset: 1214,
        ..InstanceHeader::default()
    }
}

fn generate(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut catalog = Catalog::open(&args.db, "generated")?;
    let mut rng = Lcg(1);
    let series_count = args.instances.div_ceil(args.per_series);
    let mut batch = ScanReport::default();
    let mut versions = HashMap::new();
    let mut written = 0;
    for series in 0..series_count {
        let values = series_values(&mut rng, series);
        for number in 0..args.per_series.min(args.instances - written) {
            let header = instance(series, number, &values);
            let version = Version {
                size: header.file_size,
                mtime_ns: None,
                etag: Some(format!("\"{series:x}-{number:x}\"")),
            };
            versions.insert(header.path.clone(), version);
            batch.instances.push(header);
            written += 1;
        }
        if batch.instances.len() >= 10_000 || written == args.instances {
            catalog.write(&batch, &versions)?;
            batch.instances.clear();
            versions.clear();
        }
    }
    eprintln!(
        "generated {written} instances in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    if !args.db.exists() {
        generate(args)?;
    }
    let mut catalog = Catalog::open_read_only(&args.db)?;
    let result = catalog.query("SELECT COUNT(*) FROM instances")?;
    let count: u64 = result.to_csv().lines().nth(1).unwrap_or("0").parse()?;
    let bytes = std::fs::metadata(&args.db)?.len();
    println!(
        "{}: {count} instances, {:.1} MB, {:.0} bytes per instance",
        args.db.display(),
        bytes as f64 / 1e6,
        bytes as f64 / count.max(1) as f64
    );
    let conditions = [
        "modality = 'CT' AND slice_thickness <= 1.5",
        "series_description LIKE '%FLAIR%'",
        "body_part_examined = 'HEAD' AND manufacturer = 'SIEMENS'",
        "study_date BETWEEN '20150101' AND '20151231'",
        "modality = 'MR' AND instance_number <= 10",
    ];
    let cache = if args.cold { "cold" } else { "warm" };
    println!(
        "{:<58} {:>9} {:>9} by",
        "--where",
        "selected",
        format!("ms {cache}")
    );
    for condition in conditions {
        let selection = Selection::new(condition);
        let mut times = Vec::new();
        let mut selected = 0;
        for _ in 0..args.runs.max(1) {
            if args.cold {
                drop_page_cache()?;
            }
            let started = Instant::now();
            if args.cold {
                catalog = Catalog::open_read_only(&args.db)?;
            }
            selected = catalog.select(&selection)?.len();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let by = if selection.by_series {
            "series"
        } else {
            "instance"
        };
        println!(
            "{condition:<58} {selected:>9} {:>9.1} {by}",
            times[times.len() / 2]
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
