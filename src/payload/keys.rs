//! Storage keys and object URLs of manifest keys, per cloud.
//!
//! Darwin storage keys (darwin-external-storage-registration, `storage_key`): for S3 and GCS
//! the key without the bucket name, for Azure the container name first, never a leading slash.
//! Encord object URLs (encord-private-cloud-upload, "Helpful Scripts"): S3 virtual-hosted
//! `https://<bucket>.s3.<region>.amazonaws.com/<key>`, GCS `gs://<bucket>/<key>`, Azure
//! `https://<account>.blob.core.windows.net/<container>/<key>`.

use super::PayloadError;
use crate::store::{Location, Scheme};

/// The form of Encord object URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UrlStyle {
    /// S3 virtual-hosted https (AWS's recommended form), `gs://` for GCS, blob https for Azure.
    #[default]
    Default,
    /// Path-style https: `https://s3.<region>.amazonaws.com/<bucket>/<key>`,
    /// `https://storage.cloud.google.com/<bucket>/<key>`; Azure as by default.
    Path,
    /// Protocol URLs: `s3://<bucket>/<key>`, `gs://<bucket>/<key>`; Azure as by default (it
    /// has no protocol form).
    Protocol,
}

/// The Darwin `storage_key` of `relative` (a key relative to `location`).
///
/// A local folder (or in-memory store) gives the key relative to it: right when the folder's
/// contents are copied to the root of the bucket Darwin reads.
pub fn darwin_storage_key(location: &Location, relative: &str) -> String {
    let key = location.bucket_key(relative);
    let key = match location.scheme {
        Scheme::Az => format!("{}/{key}", location.bucket),
        Scheme::S3 | Scheme::Gs | Scheme::File | Scheme::Memory | Scheme::Dicomweb => key,
    };
    key.trim_start_matches('/').to_string()
}

/// The object key inside the bucket of `location` that a Darwin `storage_key` names: the
/// inverse of [`darwin_storage_key`] (for Azure, the leading container name is removed).
pub fn bucket_key_of_darwin_key<'a>(location: &Location, key: &'a str) -> Result<&'a str, String> {
    match location.scheme {
        Scheme::Az => key
            .strip_prefix(location.bucket.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| {
                format!(
                    "Azure storage keys start with the container name, {:?}",
                    location.bucket
                )
            }),
        Scheme::S3 | Scheme::Gs | Scheme::File | Scheme::Memory | Scheme::Dicomweb => Ok(key),
    }
}

/// The Encord object URL of `relative` (a key relative to `location`).
pub fn encord_object_url(
    location: &Location,
    relative: &str,
    style: UrlStyle,
) -> Result<String, PayloadError> {
    let fail = |reason: &str| PayloadError::Location {
        target: "Encord object URLs",
        location: location.to_string(),
        reason: reason.to_string(),
    };
    let key = encode_key(&location.bucket_key(relative));
    let bucket = &location.bucket;
    match (location.scheme, style) {
        (Scheme::S3, UrlStyle::Protocol) => Ok(format!("s3://{bucket}/{key}")),
        (Scheme::S3, style) => {
            let region = location.region.as_deref().ok_or_else(|| {
                fail("the S3 region is unknown; give the bucket as https://BUCKET.s3.REGION.amazonaws.com/PREFIX, or use --integration-url-style protocol")
            })?;
            Ok(match style {
                UrlStyle::Path => format!("https://s3.{region}.amazonaws.com/{bucket}/{key}"),
                _ => format!("https://{bucket}.s3.{region}.amazonaws.com/{key}"),
            })
        }
        (Scheme::Gs, UrlStyle::Path) => {
            Ok(format!("https://storage.cloud.google.com/{bucket}/{key}"))
        }
        (Scheme::Gs, _) => Ok(format!("gs://{bucket}/{key}")),
        (Scheme::Az, _) => {
            let account = location.account.as_deref().ok_or_else(|| {
                fail("the Azure storage account is unknown; give the container as https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX")
            })?;
            Ok(format!(
                "https://{account}.blob.core.windows.net/{bucket}/{key}"
            ))
        }
        (Scheme::Dicomweb, _) => Err(fail(
            "a DICOMweb service has no object URLs; convert with --copy-dicom to keep the DICOM instances in the destination",
        )),
        (Scheme::File | Scheme::Memory, _) => Err(fail(
            "Encord reads object URLs from a bucket; copy the folder to S3, GCS or Azure and pass --destination (or --source) with its URL",
        )),
    }
}

/// Percent-encodes what a URL path may not hold (whitespace, `%`, `?`, `#`, non-ASCII...);
/// RFC 3986 path characters (`/`, unreserved, sub-delims, `:`, `@`) are kept as they are.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(url: &str) -> Location {
        Location::parse(url).unwrap()
    }

    #[test]
    fn darwin_keys_follow_the_per_cloud_rule_of_the_document() {
        // The document's own examples.
        assert_eq!(
            darwin_storage_key(
                &at("s3://example-bucket/darwin/sub_folder"),
                "example_image.jpg"
            ),
            "darwin/sub_folder/example_image.jpg"
        );
        assert_eq!(
            darwin_storage_key(
                &at("gs://example-bucket/darwin/sub_folder"),
                "example_image.jpg"
            ),
            "darwin/sub_folder/example_image.jpg"
        );
        assert_eq!(
            darwin_storage_key(
                &at("https://myaccount.blob.core.windows.net/mycontainer/sub_folder"),
                "myblob.jpg"
            ),
            "mycontainer/sub_folder/myblob.jpg"
        );
        // Never a leading slash, also at the bucket root or for local folders.
        assert_eq!(darwin_storage_key(&at("s3://b"), "/a.png"), "a.png");
        assert_eq!(darwin_storage_key(&at("/tmp/out"), "x/a.png"), "x/a.png");
        assert_eq!(darwin_storage_key(&at("az://c"), "a.png"), "c/a.png");
    }

    #[test]
    fn darwin_keys_map_back_to_bucket_keys() {
        for url in ["s3://b/p", "gs://b/p", "az://cont/p"] {
            let location = at(url);
            let key = darwin_storage_key(&location, "x/y.png");
            assert_eq!(bucket_key_of_darwin_key(&location, &key), Ok("p/x/y.png"));
        }
        let err = bucket_key_of_darwin_key(&at("az://cont"), "other/x.png").unwrap_err();
        assert!(err.contains("\"cont\""), "{err}");
    }

    #[test]
    fn encord_urls_per_cloud_and_style() {
        let s3 = at("https://cord-dev.s3.eu-west-2.amazonaws.com/food");
        let url = |loc: &Location, style| encord_object_url(loc, "Image1.png", style).unwrap();
        assert_eq!(
            url(&s3, UrlStyle::Default),
            "https://cord-dev.s3.eu-west-2.amazonaws.com/food/Image1.png"
        );
        assert_eq!(
            url(&s3, UrlStyle::Path),
            "https://s3.eu-west-2.amazonaws.com/cord-dev/food/Image1.png"
        );
        assert_eq!(
            url(&s3, UrlStyle::Protocol),
            "s3://cord-dev/food/Image1.png"
        );
        let gs = at("gs://example-url");
        assert_eq!(url(&gs, UrlStyle::Default), "gs://example-url/Image1.png");
        assert_eq!(
            url(&gs, UrlStyle::Path),
            "https://storage.cloud.google.com/example-url/Image1.png"
        );
        let az = at("https://myaccount.blob.core.windows.net/mycontainer/myblobs");
        for style in [UrlStyle::Default, UrlStyle::Path, UrlStyle::Protocol] {
            assert_eq!(
                url(&az, style),
                "https://myaccount.blob.core.windows.net/mycontainer/myblobs/Image1.png"
            );
        }
    }

    #[test]
    fn encord_urls_have_no_whitespace_and_unusable_locations_say_what_to_do() {
        let gs = at("gs://b");
        assert_eq!(
            encord_object_url(&gs, "a b/c+(1)%?.png", UrlStyle::Default).unwrap(),
            "gs://b/a%20b/c+(1)%25%3F.png"
        );
        for (loc, hint) in [
            (at("s3://b/p"), "REGION"),
            (at("az://c/p"), "ACCOUNT"),
            (at("/tmp/out"), "--destination"),
        ] {
            let err = encord_object_url(&loc, "k", UrlStyle::Default).unwrap_err();
            assert!(err.to_string().contains(hint), "{err}");
        }
    }
}
