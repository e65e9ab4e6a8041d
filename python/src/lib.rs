//! `dicomprep._native`: the Rust side of the Python package. Each function takes the command
//! line of the dicomprep command it stands for (the Python layer builds it from keyword
//! arguments, so the options are the CLI's), releases the GIL while the library works, and
//! returns JSON or values; errors become the exceptions of the `dicomprep.Error` hierarchy
//! with the CLI's messages.

mod calls;
mod errors;
mod volume;

use pyo3::prelude::*;

/// mimalloc, as the command uses: each slice's file (hundreds of KB) is read into a buffer and
/// freed, which glibc's malloc serves from fresh mmap'd pages, faulted in and zeroed each time
/// (measured: reading 1,000 512x512 slices spent over half its time zeroing pages).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The module: its functions, the scanned-source class and the exceptions.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(calls::main, m)?)?;
    m.add_function(wrap_pyfunction!(calls::scan, m)?)?;
    m.add_function(wrap_pyfunction!(calls::order, m)?)?;
    m.add_function(wrap_pyfunction!(calls::convert, m)?)?;
    m.add_function(wrap_pyfunction!(calls::query, m)?)?;
    m.add_class::<volume::Scanned>()?;
    errors::add(m)
}
