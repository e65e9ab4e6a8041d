//! What V7 Darwin's two registration bodies share: the request envelope and item folders.

use serde::{Deserialize, Serialize};

use super::PathFrom;
use crate::contract::manifest::Item;

/// A registration request body: `{items, dataset_slug, storage_slug, options?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DarwinPayload<I> {
    pub items: Vec<I>,
    pub dataset_slug: String,
    pub storage_slug: String,
    /// Read-write only: `{"ignore_dicom_layout": true}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<DarwinOptions>,
}

/// The `options` of a read-write registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DarwinOptions {
    pub ignore_dicom_layout: bool,
}

/// The dataset folder (`path`) of an item made from `item`.
pub fn item_path(item: &Item, path_from: PathFrom) -> String {
    match path_from {
        PathFrom::None => "/".to_string(),
        PathFrom::Study => format!("/{}", item.study_instance_uid),
        PathFrom::Series => format!("/{}/{}", item.study_instance_uid, item.series_instance_uid),
    }
}

/// The dataset folder of an item spanning a whole study (`--slots`): series folders would
/// split it, so `series` places it like `study`.
pub fn study_path(item: &Item, path_from: PathFrom) -> String {
    match path_from {
        PathFrom::None => item_path(item, PathFrom::None),
        PathFrom::Study | PathFrom::Series => item_path(item, PathFrom::Study),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::testing::image;

    #[test]
    fn paths_from_study_and_series() {
        let item = image("1.2", "1.2.3", 0, 1, 1);
        assert_eq!(item_path(&item, PathFrom::None), "/");
        assert_eq!(item_path(&item, PathFrom::Study), "/1.2");
        assert_eq!(item_path(&item, PathFrom::Series), "/1.2/1.2.3");
        assert_eq!(study_path(&item, PathFrom::Series), "/1.2");
        assert_eq!(study_path(&item, PathFrom::None), "/");
    }
}
