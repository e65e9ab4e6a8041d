//! Object storage: local folders and S3, GCS and Azure buckets behind one blocking facade over
//! `object_store`.

pub mod location;

pub use location::{Location, LocationError, Scheme};
