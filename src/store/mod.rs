//! Object storage: local folders and S3, GCS and Azure buckets behind one blocking facade over
//! `object_store`.

pub mod bucket;
pub mod cache;
pub mod connect;
pub mod large;
pub mod location;
pub mod request_log;
pub mod retry;

pub use bucket::{Bucket, FailedUpload, IoStats, ListedObject, ObjectInfo, Uploader};
pub use cache::ObjectCache;
pub use connect::{Anonymous, ConnectError, ConnectOptions};
pub use location::{Location, LocationError, Scheme};
pub use request_log::{RequestObserver, RequestRecord};

/// The Content-Type of an output, from its key's extension.
pub fn content_type(key: &str) -> &'static str {
    let extension = key.rsplit_once('.').map_or("", |(_, e)| e);
    match extension.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "mp4" => "video/mp4",
        "json" => "application/json",
        "csv" => "text/csv",
        "txt" => "text/plain",
        "m3u8" => "application/vnd.apple.mpegurl",
        "ts" => "video/mp2t",
        "dcm" => "application/dicom",
        _ => "application/octet-stream",
    }
}
