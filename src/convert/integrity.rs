//! The one rule the manifest obeys: it names no key that is not there. Every key an item names
//! must have been written or kept in this run, with the size the manifest records; an item
//! that breaks the rule is left out and its inputs reported as failed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::contract::manifest::Item;

/// What this run knows to be under the destination: every key written or kept, with its size.
#[derive(Debug, Default)]
pub struct Ledger {
    present: Mutex<HashMap<String, u64>>,
}

impl Ledger {
    /// `key` holds `size` bytes (written now, or kept from an earlier run).
    pub fn record(&self, key: &str, size: u64) {
        if let Ok(mut present) = self.present.lock() {
            present.insert(key.to_owned(), size);
        }
    }

    /// The keys present once the writes that failed (key → error) are taken out.
    pub fn settle(self, failed: &BTreeMap<String, String>) -> HashMap<String, u64> {
        let mut present = self.present.into_inner().unwrap_or_else(|e| e.into_inner());
        for key in failed.keys() {
            present.remove(key);
        }
        present
    }
}

/// Why an item breaks the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub reason: String,
    /// The key's write was attempted and failed (an upload error), as opposed to never made.
    pub write_failed: bool,
}

/// Why `item` breaks the rule, if it does: the first key it names that is missing (with the
/// error its write failed with, from `failed`) or whose size differs from the recorded one.
/// `describe` turns a key into a location for the message.
pub fn violation(
    item: &Item,
    present: &HashMap<String, u64>,
    failed: &BTreeMap<String, String>,
    describe: impl Fn(&str) -> String,
) -> Option<Violation> {
    item.named_keys().into_iter().find_map(|named| {
        let at = || describe(named.key);
        let reason = match (present.get(named.key), named.size) {
            (None, _) => match failed.get(named.key) {
                Some(error) => {
                    return Some(Violation {
                        reason: format!("upload of {} failed: {error}", at()),
                        write_failed: true,
                    });
                }
                None => format!("{} was not written", at()),
            },
            (Some(&size), Some(recorded)) if size != recorded => {
                format!("{} holds {size} bytes where {recorded} were recorded", at())
            }
            _ => return None,
        };
        Some(Violation {
            reason,
            write_failed: false,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::manifest::{FrameEntry, ItemKind, VideoEntry};

    fn video_item() -> Item {
        let frame = |i: u32| FrameEntry {
            path: format!("in/{i}.dcm"),
            frame: 0,
            hq_key: format!("v/frames/hq/{i}.png"),
            lq_key: Some(format!("v/frames/lq/{i}.jpg")),
            width: 4,
            height: 4,
            hq_bytes: 100 + u64::from(i),
            lq_bytes: Some(50),
            sop_instance_uid: None,
        };
        Item {
            name: "v.mp4".into(),
            series_name: None,
            kind: ItemKind::Video,
            study_instance_uid: "1".into(),
            series_instance_uid: "2".into(),
            volume: "0".into(),
            series_number: None,
            series_description: None,
            modality: None,
            width: 4,
            height: 4,
            storage_key: "v/video.mp4".into(),
            thumbnail_key: "v/thumbnail.jpg".into(),
            thumbnail_bytes: Some(30),
            frames: vec![frame(0), frame(1)],
            video: Some(VideoEntry {
                fps: 10,
                frame_count: 2,
                duration: 0.2,
                width: 4,
                height: 4,
                file_size: 900,
                mime_type: "video/mp4".into(),
                codec: "h264".into(),
            }),
            window: None,
            hls: None,
            contact_sheet: None,
            nifti: None,
            labels: Vec::new(),
            label_sheet: None,
            crop: None,
            burned_in: None,
            slide: None,
        }
    }

    fn everything(item: &Item) -> HashMap<String, u64> {
        item.named_keys()
            .iter()
            .map(|k| (k.key.to_owned(), k.size.unwrap_or(1)))
            .collect()
    }

    #[test]
    fn an_item_whose_keys_are_all_there_passes() {
        let item = video_item();
        assert_eq!(item.named_keys().len(), 6);
        let none = BTreeMap::new();
        assert_eq!(
            violation(&item, &everything(&item), &none, str::to_owned),
            None
        );
    }

    #[test]
    fn a_missing_thumbnail_fails_the_item() {
        let item = video_item();
        let mut present = everything(&item);
        present.remove("v/thumbnail.jpg");
        let none = BTreeMap::new();
        let found = violation(&item, &present, &none, |k| format!("out/{k}")).unwrap();
        assert_eq!(found.reason, "out/v/thumbnail.jpg was not written");
        assert!(!found.write_failed);
    }

    #[test]
    fn a_size_other_than_the_recorded_one_fails_the_item() {
        let item = video_item();
        let mut present = everything(&item);
        present.insert("v/frames/hq/1.png".into(), 7);
        let found = violation(&item, &present, &BTreeMap::new(), str::to_owned).unwrap();
        assert_eq!(
            found.reason,
            "v/frames/hq/1.png holds 7 bytes where 101 were recorded"
        );
    }

    #[test]
    fn a_failed_upload_is_named_with_its_error() {
        let item = video_item();
        let failed = BTreeMap::from([("v/video.mp4".to_owned(), "503 SlowDown".to_owned())]);
        let ledger = Ledger::default();
        for key in item.named_keys() {
            ledger.record(key.key, key.size.unwrap_or(1));
        }
        let present = ledger.settle(&failed);
        let found = violation(&item, &present, &failed, str::to_owned).unwrap();
        assert_eq!(found.reason, "upload of v/video.mp4 failed: 503 SlowDown");
        assert!(found.write_failed);
    }

    #[test]
    fn a_video_item_without_mp4_names_no_video_key() {
        let mut item = video_item();
        item.video = None;
        assert!(item.named_keys().iter().all(|k| k.key != "v/video.mp4"));
        let mut present = everything(&item);
        present.remove("v/video.mp4");
        assert_eq!(
            violation(&item, &present, &BTreeMap::new(), str::to_owned),
            None
        );
    }
}
