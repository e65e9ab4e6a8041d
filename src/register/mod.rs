//! Registration clients: send payloads to annotation platforms over HTTP (blocking, with
//! bounded retries), keeping a result file so a re-run sends only what is left.
//!
//! - [`darwin`]: V7 Darwin `register_existing[_readonly]`, batches of at most 10 items,
//!   `blocked_items` per item, and a dry run that checks every referenced key exists.
//! - [`darwin_annotations`]: a conversion's Darwin label files imported into the registered
//!   items, classes created in the labels' colours.
//! - [`bisque`]: BisQue image uploads (`import/transfer`) and the dataset that lists them.
//!
//! Secrets come from the environment and never appear in messages or result files.

pub mod bisque;
pub mod darwin;
pub mod darwin_annotations;
pub mod http;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a registration stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// A secret the command needs is not set.
    #[error("{var} is not set; export it with your {what} (it is read from the environment only)")]
    MissingSecret {
        var: &'static str,
        what: &'static str,
    },
    /// An input file cannot be used.
    #[error("cannot use {}: {reason}", path.display())]
    Input { path: PathBuf, reason: String },
    /// The payload is not what the endpoint takes.
    #[error("invalid payload: {0}")]
    Payload(String),
    /// The result file cannot be written.
    #[error("cannot write result file {}: {source}", path.display())]
    Result {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The server could not be reached or its answer not read.
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    /// The server refused a request (not a retryable status).
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// Retries ran out.
    #[error(
        "{url}: gave up after {attempts} attempts (last: {last}); run the command again later: the result file keeps what was done"
    )]
    GaveUp {
        url: String,
        attempts: u32,
        last: String,
    },
    /// Dry run: keys the payload references are missing.
    #[error("{missing} of {checked} referenced keys are missing (first: {first})")]
    MissingKeys {
        missing: usize,
        checked: usize,
        first: String,
    },
}

/// Reads a JSON file (`None` when it does not exist).
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, RegisterError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(RegisterError::Input {
                path: path.to_path_buf(),
                reason: err.to_string(),
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|err| RegisterError::Input {
            path: path.to_path_buf(),
            reason: format!("not the expected JSON: {err}"),
        })
}

/// Writes `value` as JSON to `path` atomically (a `.part` file renamed over it).
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), RegisterError> {
    let fail = |source| RegisterError::Result {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|err| fail(err.into()))?;
    bytes.push(b'\n');
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    std::fs::write(&part, bytes).map_err(fail)?;
    std::fs::rename(&part, path).map_err(fail)
}

/// A body excerpt for error messages (servers may answer with whole HTML pages).
pub(crate) fn excerpt(body: &str) -> String {
    const MAX: usize = 500;
    match body.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &body[..end]),
        None => body.to_string(),
    }
}
