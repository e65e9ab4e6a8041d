//! NIfTI-1 volumes with their geometry, as dcm2niix writes them: which slices make a file
//! ([`stack`]), voxel types and placement ([`voxels`]), the voxel-to-world transform
//! ([`affine`]), the header ([`header`]) and the file's bytes ([`file`]); [`build`] puts
//! them together for one volume.

pub mod affine;
pub mod build;
pub mod file;
pub mod header;
pub mod stack;
pub mod voxels;
