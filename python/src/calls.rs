//! The command-shaped calls: the whole CLI, and `scan`, `order`, `convert` and `query`
//! returning JSON instead of printing it.

use clap::Parser;
use dicomprep::catalog::{Catalog, QueryResult, instance_records};
use dicomprep::cli::run::convert::convert_manifest;
use dicomprep::cli::run::run;
use dicomprep::cli::run::scan::{order_report, order_scan, scan_report};
use dicomprep::cli::{Cli, Command, EXIT_ERROR, EXIT_SOME_FAILED};
use pyo3::prelude::*;
use serde_json::json;

use crate::errors::{UsageError, to_py, usage};
use crate::volume::Scanned;

/// The parsed command line `argv` (its first item is the program name).
pub fn parse(argv: Vec<String>) -> PyResult<Cli> {
    Cli::try_parse_from(argv).map_err(usage)
}

/// Runs the dicomprep command with `argv` (program name first) as the CLI does, printing what
/// it prints, and returns its exit code.
#[pyfunction]
pub fn main(py: Python<'_>, argv: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are "errors" that print to stdout and exit 0.
            let _ = error.print();
            return error.exit_code();
        }
    };
    if let Some(threads) = cli.command.threads() {
        // Only the first call of a process can size the pool; later ones keep it.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build_global();
    }
    py.detach(|| match run(&cli) {
        Ok(true) => 0,
        Ok(false) => i32::from(EXIT_SOME_FAILED),
        Err(error) => {
            eprintln!("error: {error}");
            i32::from(error.exit_code().max(EXIT_ERROR))
        }
    })
}

/// `dicomprep scan ARGS`: `{"columns", "rows", "skipped", "failed"}`, the rows as the index's
/// `instances` table holds them.
#[pyfunction]
pub fn scan(py: Python<'_>, argv: Vec<String>) -> PyResult<String> {
    let Command::Scan(args) = parse(argv)?.command else {
        return Err(UsageError::new_err("not a scan command line"));
    };
    py.detach(|| {
        let (report, _) = scan_report(&args).map_err(to_py)?;
        let QueryResult { columns, rows } = instance_records(&report.instances);
        Ok(json!({
            "columns": columns,
            "rows": rows,
            "skipped": report.skipped,
            "failed": report.failed,
        })
        .to_string())
    })
}

/// `dicomprep order ARGS`: the scanned source, holding the order report and able to read its
/// volumes.
#[pyfunction]
pub fn order(py: Python<'_>, argv: Vec<String>) -> PyResult<Scanned> {
    let Command::Order(args) = parse(argv)?.command else {
        return Err(UsageError::new_err("not an order command line"));
    };
    py.detach(|| {
        let (scan, source) = order_scan(&args).map_err(to_py)?;
        let report = order_report(&args, &scan);
        Ok(Scanned::new(source, scan, args.rule.into(), report))
    })
}

/// `dicomprep convert ARGS`: the manifest written, as JSON.
#[pyfunction]
pub fn convert(py: Python<'_>, argv: Vec<String>) -> PyResult<String> {
    let Command::Convert(args) = parse(argv)?.command else {
        return Err(UsageError::new_err("not a convert command line"));
    };
    py.detach(|| {
        let manifest = convert_manifest(&args).map_err(to_py)?;
        serde_json::to_string(&manifest).map_err(|e| UsageError::new_err(e.to_string()))
    })
}

/// One SQL statement on the index at `db`: `{"columns", "rows"}`.
#[pyfunction]
pub fn query(py: Python<'_>, db: std::path::PathBuf, sql: String) -> PyResult<String> {
    py.detach(|| {
        let catalog = Catalog::open_read_only(&db).map_err(|e| to_py(e.into()))?;
        let QueryResult { columns, rows } = catalog.query(&sql).map_err(|e| to_py(e.into()))?;
        Ok(json!({"columns": columns, "rows": rows}).to_string())
    })
}
