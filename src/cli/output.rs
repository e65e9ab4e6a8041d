//! Writing results: scan records as JSON Lines, the order report as JSON or TSV, atomically.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::contract::order_report::OrderReport;
use crate::error::Error;
use crate::scan::InstanceHeader;

/// Writes `instances` as JSON Lines, one record per instance.
pub fn write_scan_jsonl(out: &mut dyn Write, instances: &[InstanceHeader]) -> io::Result<()> {
    for instance in instances {
        serde_json::to_writer(&mut *out, instance)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Writes the order report as pretty JSON (or one line when `compact`).
pub fn write_order_json(
    out: &mut dyn Write,
    report: &OrderReport,
    compact: bool,
) -> io::Result<()> {
    if compact {
        serde_json::to_writer(&mut *out, report)?;
    } else {
        serde_json::to_writer_pretty(&mut *out, report)?;
    }
    out.write_all(b"\n")
}

/// Column names of the TSV form of the order report.
pub const TSV_COLUMNS: [&str; 12] = [
    "status",
    "path",
    "frame",
    "study_instance_uid",
    "series_instance_uid",
    "series_number",
    "volume_id",
    "slice_index",
    "instance_number",
    "position",
    "split_reason",
    "reason",
];

/// Writes the order report as TSV: one row per slice in order (`status` = `slice`), then one
/// per skipped and failed file. Tabs and newlines inside values become spaces.
pub fn write_order_tsv(out: &mut dyn Write, report: &OrderReport) -> io::Result<()> {
    writeln!(out, "{}", TSV_COLUMNS.join("\t"))?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for series in &report.series {
        for volume in &series.volumes {
            for (index, slice) in volume.slices.iter().enumerate() {
                let row = [
                    "slice".to_string(),
                    slice.path.clone(),
                    slice.frame.to_string(),
                    series.study_instance_uid.clone(),
                    series.series_instance_uid.clone(),
                    opt(series.series_number.map(|n| n.to_string())),
                    volume.id.clone(),
                    index.to_string(),
                    opt(slice.instance_number.map(|n| n.to_string())),
                    opt(slice.position.map(|p| p.to_string())),
                    opt(volume.split_reason.clone()),
                    String::new(),
                ];
                write_row(out, &row)?;
            }
        }
    }
    for (status, issues) in [("skipped", &report.skipped), ("failed", &report.failed)] {
        for issue in issues {
            let mut row: [String; 12] = Default::default();
            row[0] = status.to_string();
            row[1] = issue.path.clone();
            row[11] = issue.reason.clone();
            write_row(out, &row)?;
        }
    }
    Ok(())
}

fn write_row(out: &mut dyn Write, row: &[String]) -> io::Result<()> {
    let cells: Vec<String> = row
        .iter()
        .map(|c| c.replace(['\t', '\n', '\r'], " "))
        .collect();
    writeln!(out, "{}", cells.join("\t"))
}

/// Runs `write` against `path` atomically (a temporary file beside it, renamed when complete),
/// or against stdout when `path` is `None` or `-`.
pub fn write_to(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Error> {
    match path {
        None => write_stdout(write),
        Some(p) if p == Path::new("-") => write_stdout(write),
        // A device or pipe (`-o /dev/null`, `-o >(gzip)`) is written in place: renaming a
        // temporary file over it would replace the device node with a regular file.
        Some(path) if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) => {
            write_in_place(path, write)
        }
        Some(path) => write_atomically(path, write),
    }
}

fn write_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), Error> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Error::Output {
            path: PathBuf::from("<stdout>"),
            source,
        }),
    }
}

fn write_in_place(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Error> {
    let error = |source| Error::Output {
        path: path.to_path_buf(),
        source,
    };
    let mut out = BufWriter::new(File::options().write(true).open(path).map_err(error)?);
    write(&mut out).and_then(|()| out.flush()).map_err(error)
}

fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Error> {
    let error = |source| Error::Output {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}.part", std::process::id()));
    let result = (|| {
        let mut out = BufWriter::new(File::create(&temporary)?);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_to(Some(&path), |out| out.write_all(b"{}")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn devices_are_written_in_place_never_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let null = Path::new("/dev/null");
        if !std::fs::metadata(null).is_ok_and(|m| m.file_type().is_char_device()) {
            return; // no /dev/null to check against on this system
        }
        write_to(Some(null), |out| out.write_all(b"discarded")).unwrap();
        assert!(
            std::fs::metadata(null)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn failed_write_keeps_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        std::fs::write(&path, b"old").unwrap();
        let err = write_to(Some(&path), |out| {
            out.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("out.json"));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
