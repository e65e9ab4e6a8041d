//! Errors that stop a run (per-file problems are [`crate::contract::FileIssue`]s instead).

use std::path::PathBuf;

/// A failure that ends the run: the source or an output cannot be used at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source folder or file cannot be read.
    #[error("cannot read source {}: {source} (check that the path exists and is readable)", path.display())]
    Source {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A bucket (or the local folder behind a URL) cannot be reached or listed.
    #[error(
        "cannot use {location}: {reason} (check the URL, the credentials in the environment, and --anonymous)"
    )]
    Store { location: String, reason: String },
    /// An output file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An input file (manifest, payload) cannot be used.
    #[error("cannot use {}: {reason}", path.display())]
    Input { path: PathBuf, reason: String },
    /// A payload cannot be built from the manifest.
    #[error("{}: {source}", path.display())]
    Payload {
        path: PathBuf,
        source: crate::payload::PayloadError,
    },
    /// The header index cannot be used, or a `--where` condition or query is invalid.
    #[error("{0}")]
    Catalog(#[from] crate::catalog::CatalogError),
    /// A registration failed.
    #[error(transparent)]
    Register(#[from] crate::register::RegisterError),
}

impl Error {
    /// The process exit code: 2 for a usage error (an invalid `--where` condition or query,
    /// like an invalid flag), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Catalog(crate::catalog::CatalogError::BadQuery { .. }) => 2,
            _ => 1,
        }
    }
}
