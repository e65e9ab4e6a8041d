//! Grouping scanned instances into series (StudyInstanceUID + SeriesInstanceUID). Pure code.

use std::collections::BTreeMap;

use super::slide::is_slide;
use crate::scan::{InstanceHeader, LabelClass};

/// The instances of one series, as indices into the scanned instances (in source order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesGroup {
    /// Empty when the instances have no StudyInstanceUID.
    pub study_instance_uid: String,
    /// Empty when the instances have no SeriesInstanceUID.
    pub series_instance_uid: String,
    pub members: Vec<usize>,
}

/// Groups instances by study and series (labels and slides left out), ordered by StudyInstanceUID, then SeriesNumber
/// (missing last), then SeriesInstanceUID.
pub fn group_series(instances: &[InstanceHeader]) -> Vec<SeriesGroup> {
    let mut groups: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, header) in instances.iter().enumerate() {
        // Segmentations and structure sets are labels of other series, never series of their
        // own; slides are pyramids of tiles, never slices (see [`super::slide`]).
        if LabelClass::of(header.sop_class_uid.as_deref()).is_some() || is_slide(header) {
            continue;
        }
        let study = header.study_instance_uid.as_deref().unwrap_or("");
        let series = header.series_instance_uid.as_deref().unwrap_or("");
        groups.entry((study, series)).or_default().push(i);
    }
    let series_number = |members: &[usize]| {
        members
            .iter()
            .filter_map(|&i| instances[i].series_number)
            .min()
    };
    let mut series: Vec<SeriesGroup> = groups
        .into_iter()
        .map(|((study, series), members)| SeriesGroup {
            study_instance_uid: study.to_string(),
            series_instance_uid: series.to_string(),
            members,
        })
        .collect();
    series.sort_by(|a, b| {
        a.study_instance_uid
            .cmp(&b.study_instance_uid)
            .then_with(
                || match (series_number(&a.members), series_number(&b.members)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                },
            )
            .then_with(|| a.series_instance_uid.cmp(&b.series_instance_uid))
    });
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(study: &str, series: &str, number: Option<i64>) -> InstanceHeader {
        InstanceHeader {
            study_instance_uid: Some(study.into()),
            series_instance_uid: Some(series.into()),
            series_number: number,
            ..Default::default()
        }
    }

    #[test]
    fn groups_by_study_and_series_ordered_by_series_number() {
        let instances = [
            instance("1.2", "1.2.9", Some(2)),
            instance("1.2", "1.2.8", Some(10)),
            instance("1.2", "1.2.9", Some(2)),
            instance("1.1", "1.1.5", None),
            instance("1.2", "1.2.7", None),
        ];
        let groups = group_series(&instances);
        let keys: Vec<_> = groups
            .iter()
            .map(|g| g.series_instance_uid.as_str())
            .collect();
        assert_eq!(keys, ["1.1.5", "1.2.9", "1.2.8", "1.2.7"]);
        assert_eq!(groups[1].members, [0, 2]);
    }

    #[test]
    fn the_same_series_uid_in_two_studies_is_two_series() {
        let instances = [instance("1", "9", None), instance("2", "9", None)];
        assert_eq!(group_series(&instances).len(), 2);
    }
}
