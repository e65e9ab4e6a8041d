//! Scale-out: one conversion split into shards that any array-job engine runs (Slurm job
//! arrays, Kubernetes Indexed Jobs, AWS Batch array jobs, Cloud Run jobs), then merged into
//! exactly what one `convert` writes. dicomprep schedules nothing: the engine places and
//! retries the tasks; the plan makes the work deterministic, each shard resumes like
//! `convert`, and the destination is all the tasks share.
//!
//! Not to be confused with [`crate::plan`], the *order* plan (series into ordered volumes).
//! The files under DEST are described in [`crate::contract::shard_plan`].

pub mod balance;
pub mod build;
pub mod engine;
pub mod merge;
