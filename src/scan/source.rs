//! Sources of DICOM files: a local folder (or one file), a bucket prefix, or a DICOMweb
//! service. Listing, and opening one file for rendering.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use bytes::Bytes;

use crate::contract::FileIssue;
use crate::error::Error;
use crate::scan::dicomweb::Dicomweb;
use crate::store::{Bucket, Location};

/// Where the files of a run are read from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A local folder, or a single file; names are relative to `base`, the folder (the file's
    /// parent for a single file).
    Local { root: PathBuf, base: PathBuf },
    /// Objects under a bucket prefix; names are keys relative to the prefix.
    Bucket(Bucket),
    /// Instances of a DICOMweb service; names are `studies/{uid}/series/{uid}/instances/{uid}`,
    /// relative to the service root.
    Dicomweb(std::sync::Arc<Dicomweb>),
}

impl Source {
    /// The local source at `root` (a folder or a single file).
    pub fn local(root: &Path) -> Source {
        let base = match root.parent() {
            Some(parent) if root.is_file() => parent,
            _ => root,
        };
        Source::Local {
            root: root.to_path_buf(),
            base: base.to_path_buf(),
        }
    }

    /// Where the source's names are relative to: the folder (a single file's parent), or the
    /// bucket prefix.
    pub fn location(&self) -> Location {
        match self {
            Source::Local { base, .. } => Location::local(base.clone()),
            Source::Bucket(bucket) => bucket.location().clone(),
            Source::Dicomweb(service) => service.location().clone(),
        }
    }

    /// The path of the file named `relative`, for a local source.
    pub fn local_path(&self, relative: &str) -> Option<PathBuf> {
        match self {
            Source::Local { base, .. } => Some(base.join(relative)),
            _ => None,
        }
    }

    /// The whole file named `relative`: read from disk, fetched from a bucket (or its object
    /// cache), or retrieved from a DICOMweb service as stored.
    pub fn read(&self, relative: &str) -> Result<Bytes, String> {
        match self {
            Source::Local { base, .. } => std::fs::read(base.join(relative))
                .map(Bytes::from)
                .map_err(|e| format!("cannot read: {e}")),
            Source::Bucket(bucket) => bucket
                .get_object(relative)?
                .ok_or_else(|| format!("{} is gone", bucket.describe(relative))),
            Source::Dicomweb(service) => service.retrieve(relative).map(Bytes::from),
        }
    }
}

/// One file to scan: where to open it and how to name it in reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Path relative to the source root with `/` separators (the file name when the source is
    /// a single file).
    pub relative: String,
}

/// What a listing found: files to scan, and entries that could not be listed.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<SourceFile>,
    pub unreadable: Vec<FileIssue>,
}

/// Lists every regular file under `root` (recursively, following symlinks, sorted by name), or
/// `root` itself when it is a file. Entries that cannot be read are reported, not fatal.
pub fn list_local(root: &Path) -> Result<Listing, Error> {
    let metadata = std::fs::metadata(root).map_err(|source| Error::Source {
        path: root.to_path_buf(),
        source,
    })?;
    let mut listing = Listing::default();
    if metadata.is_file() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        listing.files.push(SourceFile {
            path: root.to_path_buf(),
            relative: name,
        });
        return Ok(listing);
    }
    for entry in WalkDir::new(root).follow_links(true).sort_by_file_name() {
        match entry {
            Ok(entry) if entry.file_type().is_file() => {
                let relative = relative_name(root, entry.path());
                listing.files.push(SourceFile {
                    path: entry.into_path(),
                    relative,
                });
            }
            Ok(_) => {}
            Err(err) => {
                let path = err
                    .path()
                    .map(|p| relative_name(root, p))
                    .unwrap_or_default();
                let reason = match err.io_error() {
                    Some(io) => format!("cannot list: {io}"),
                    None => format!("cannot list: {err}"),
                };
                listing.unreadable.push(FileIssue { path, reason });
            }
        }
    }
    Ok(listing)
}

/// `path` relative to `root`, components joined with `/`.
fn relative_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<_> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_nested_files_with_slash_relative_names_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        std::fs::write(dir.path().join("b/c/x.dcm"), b"").unwrap();
        std::fs::write(dir.path().join("a.dcm"), b"").unwrap();
        let listing = list_local(dir.path()).unwrap();
        let names: Vec<_> = listing.files.iter().map(|f| f.relative.as_str()).collect();
        assert_eq!(names, ["a.dcm", "b/c/x.dcm"]);
        assert!(listing.unreadable.is_empty());
    }

    #[test]
    fn a_single_file_is_its_own_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("one.dcm");
        std::fs::write(&file, b"").unwrap();
        let listing = list_local(&file).unwrap();
        assert_eq!(listing.files[0].relative, "one.dcm");
    }

    #[test]
    fn a_missing_source_is_a_run_error() {
        let err = list_local(Path::new("/nonexistent/dicomprep")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/dicomprep"));
    }
}
