//! The exceptions: `Error` and one subclass per kind of failure, each with the CLI's message.

use dicomprep::catalog::CatalogError;
use dicomprep::error::Error as CoreError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _native,
    Error,
    PyException,
    "Base class of every dicomprep error."
);
create_exception!(
    _native,
    UsageError,
    Error,
    "An invalid option, SQL query or --where condition (the CLI's exit code 2)."
);
create_exception!(
    _native,
    SourceError,
    Error,
    "The source (folder, bucket, DICOMweb service, index) cannot be read or reached."
);
create_exception!(_native, OutputError, Error, "An output cannot be written.");
create_exception!(
    _native,
    InputError,
    Error,
    "An input file (manifest, plan) cannot be used."
);
create_exception!(
    _native,
    VolumeError,
    Error,
    "A series or volume cannot be found, or its slices cannot make one volume."
);

/// Adds the exception classes to the module.
pub fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("SourceError", py.get_type::<SourceError>())?;
    m.add("OutputError", py.get_type::<OutputError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("VolumeError", py.get_type::<VolumeError>())?;
    Ok(())
}

/// The exception of a library error.
pub fn to_py(error: CoreError) -> PyErr {
    let message = error.to_string();
    match error {
        CoreError::Catalog(CatalogError::BadQuery { .. }) => UsageError::new_err(message),
        CoreError::Source { .. } | CoreError::Store { .. } | CoreError::Catalog(_) => {
            SourceError::new_err(message)
        }
        CoreError::Output { .. } => OutputError::new_err(message),
        CoreError::Input { .. } | CoreError::Payload { .. } => InputError::new_err(message),
        _ => Error::new_err(message),
    }
}

/// The exception of a command line clap rejects (its message, without the usage lines).
pub fn usage(error: clap::Error) -> PyErr {
    let text = error.to_string();
    let first = text.lines().next().unwrap_or("invalid options");
    UsageError::new_err(first.trim_start_matches("error: ").to_string())
}
