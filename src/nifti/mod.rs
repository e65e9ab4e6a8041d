//! NIfTI-1 volumes with their geometry, as dcm2niix writes them: which slices make a file
//! ([`stack`]), voxel types and placement ([`voxels`]), the voxel-to-world transform
//! ([`affine`]), the header ([`header`]) and the file's bytes ([`file`]); [`build`] puts
//! them together for one volume, and [`array`](self::array) lays a stack out as an array
//! instead. Beside it: the BIDS JSON sidecar ([`sidecar`]) and the diffusion gradients
//! (.bval/.bvec, [`diffusion`]).

pub mod acquisition;
pub mod affine;
pub mod array;
pub mod build;
pub mod diffusion;
pub mod file;
pub mod header;
pub mod sidecar;
pub mod stack;
mod values;
pub mod voxels;

pub use values::{Vendor, format_g, round_g};
