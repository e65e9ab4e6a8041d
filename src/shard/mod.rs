//! Scale-out: one conversion split into shards that any array-job engine runs (Slurm job
//! arrays, Kubernetes Indexed Jobs, AWS Batch array jobs, Cloud Run jobs), then merged into
//! exactly what one `convert` writes. dicomprep schedules nothing: the engine places and
//! retries the tasks; the plan makes the work deterministic, each shard resumes like
//! `convert`, and the destination is all the tasks share.
//!
//! Not to be confused with [`crate::order::plan`], the *order* plan (series into ordered volumes).
//! The files under DEST (the shard plan's contract) are described in [`plan`].

pub mod balance;
pub mod build;
pub mod engine;
pub mod merge;
pub mod plan;

use crate::contract::keys::series_folder;
use plan::ShardHeader;

/// The folders under DEST that the outputs of shard `header` go to, one per series
/// (`<study>/<series>`, see [`crate::contract::keys`]): all a shard lists to resume, so that
/// the listings of all shards together cover the outputs once. (`--copy-dicom` copies are
/// written whenever their instance is read and never looked up.)
pub fn output_folders(header: &ShardHeader) -> Vec<String> {
    let mut folders: Vec<String> = header
        .series
        .iter()
        .map(|s| series_folder(&s.study_instance_uid, &s.series_instance_uid))
        .collect();
    folders.sort();
    folders.dedup();
    folders
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::plan::ShardSeries;

    #[test]
    fn a_shard_lists_the_folder_of_each_of_its_series() {
        let series = |study: &str, series: &str| ShardSeries {
            study_instance_uid: study.into(),
            series_instance_uid: series.into(),
            instances: 1,
            slices: 1,
        };
        let header = ShardHeader {
            plan_id: "p".into(),
            shard: 0,
            shards: 2,
            slices: 3,
            series: vec![
                series("1.2", "1.2.4"),
                series("1.2", "1.2.3"),
                series("", "../x"),
            ],
        };
        let folders = output_folders(&header);
        assert_eq!(folders.len(), 3);
        assert_eq!(folders[0], "1.2/1.2.3");
        assert_eq!(folders[1], "1.2/1.2.4");
        assert!(folders[2].starts_with("unknown/x"), "{}", folders[2]);
        let volume = crate::contract::keys::volume_prefix("1.2", "1.2.3", "0");
        assert!(volume.starts_with(&format!("{}/", folders[0])));
    }
}
