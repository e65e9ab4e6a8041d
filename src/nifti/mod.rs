//! NIfTI conventions shared with dcm2niix: diffusion gradients (.bval/.bvec) and the BIDS
//! JSON sidecar.

pub mod diffusion;
pub mod sidecar;
mod values;

pub use values::{Vendor, format_g, round_g};
