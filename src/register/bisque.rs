//! BisQue registration (bisque-upload-via-python): each image is uploaded with a multipart
//! POST (field `file`) to `BASE/import/transfer` with HTTP basic auth, the resource URI is read
//! from the XML answer, and a dataset listing the URIs is created with a POST of the dataset
//! XML (`Content-Type: text/xml`) to `BASE/data_service/dataset`.

use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::http::send;
use super::{RegisterError, excerpt, write_json};
use crate::payload::bisque::{BisquePlan, dataset_xml, resource_uri};
use crate::store::RequestObserver;
use crate::store::retry::RetryPolicy;

/// Environment variable holding the password.
pub const PASSWORD_VAR: &str = "BISQUE_PASSWORD";

/// Where and as whom to upload.
#[derive(Debug, Clone)]
pub struct BisqueTarget {
    /// Server base URL (`https://bisque.example.org`).
    pub base_url: String,
    pub user: String,
    pub retry: RetryPolicy,
    /// Hears every request (`--debug-requests`).
    pub log: Option<Arc<dyn RequestObserver>>,
}

/// What the result file records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BisqueResult {
    /// Uploaded images: key and resource URI (never uploaded again).
    pub uploaded: Vec<Uploaded>,
    /// The dataset made of every uploaded image, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_uri: Option<String>,
}

/// One uploaded image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Uploaded {
    pub key: String,
    pub uri: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BisqueOutcome {
    /// Images uploaded in this run.
    pub uploaded: usize,
    /// Images the result file lists as uploaded already.
    pub already: usize,
    /// The dataset created in this run.
    pub dataset_uri: Option<String>,
}

/// Uploads the images of `plan` (read from `root`, the destination folder) not yet in
/// `result`, then creates the dataset when anything new was uploaded or none exists yet.
pub fn register_bisque(
    plan: &BisquePlan,
    root: &Path,
    target: &BisqueTarget,
    password: &str,
    result: &mut BisqueResult,
    result_path: Option<&Path>,
    notify: &mut dyn FnMut(&str),
) -> Result<BisqueOutcome, RegisterError> {
    let base = target.base_url.trim_end_matches('/');
    let client = super::http::client(&target.retry)?;
    let save = |result: &BisqueResult| match result_path {
        Some(path) => write_json(path, result),
        None => Ok(()),
    };
    let mut outcome = BisqueOutcome::default();
    let upload_url = format!("{base}/import/transfer");
    for image in &plan.images {
        if result.uploaded.iter().any(|u| u.key == image.key) {
            outcome.already += 1;
            continue;
        }
        let path = root.join(&image.key);
        let bytes = std::fs::read(&path).map_err(|err| RegisterError::Input {
            path: path.clone(),
            reason: format!("{err} (is --manifest the one of this destination folder?)"),
        })?;
        let boundary = format!(
            "dicomprep-{:016x}",
            std::collections::hash_map::RandomState::new().hash_one(&image.key)
        );
        let body = multipart(&boundary, &image.file_name, &bytes);
        let make = || {
            client
                .post(&upload_url)
                .basic_auth(&target.user, Some(password))
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body.clone())
        };
        let reply = send(
            &upload_url,
            &make,
            &target.retry,
            target.log.as_deref(),
            notify,
        )?;
        let uri = accepted(&upload_url, reply.status, &reply.body)?;
        result.uploaded.push(Uploaded {
            key: image.key.clone(),
            uri,
        });
        outcome.uploaded += 1;
        save(result)?;
    }
    if outcome.uploaded > 0 || result.dataset_uri.is_none() {
        let dataset_url = format!("{base}/data_service/dataset");
        let uris: Vec<String> = plan
            .images
            .iter()
            .filter_map(|image| {
                let uploaded = result.uploaded.iter().find(|u| u.key == image.key)?;
                Some(uploaded.uri.clone())
            })
            .collect();
        let xml = dataset_xml(&plan.dataset, &uris);
        let make = || {
            client
                .post(&dataset_url)
                .basic_auth(&target.user, Some(password))
                .header("Content-Type", "text/xml")
                .body(xml.clone())
        };
        let reply = send(
            &dataset_url,
            &make,
            &target.retry,
            target.log.as_deref(),
            notify,
        )?;
        let uri = accepted(&dataset_url, reply.status, &reply.body)?;
        result.dataset_uri = Some(uri.clone());
        outcome.dataset_uri = Some(uri);
        save(result)?;
    }
    Ok(outcome)
}

/// The resource URI of a successful answer.
fn accepted(url: &str, status: u16, body: &str) -> Result<String, RegisterError> {
    if !(200..300).contains(&status) {
        return Err(RegisterError::Status {
            url: url.to_string(),
            status,
            body: excerpt(body),
        });
    }
    resource_uri(body).ok_or_else(|| RegisterError::Http {
        url: url.to_string(),
        reason: format!("no resource uri in the answer: {}", excerpt(body)),
    })
}

/// A `multipart/form-data` body with one file field named `file`.
fn multipart(boundary: &str, file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let name = file_name.replace(['"', '\r', '\n'], "_");
    let content_type = if name.ends_with(".png") {
        "image/png"
    } else {
        "application/octet-stream"
    };
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_body_has_one_file_part() {
        let body = multipart("B", "a\"b.png", b"\x89PNG");
        assert_eq!(
            body,
            b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a_b.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--B--\r\n"
        );
    }

    #[test]
    fn failures_name_the_url_and_status() {
        let err = accepted("http://h/import/transfer", 401, "denied").unwrap_err();
        assert_eq!(
            err.to_string(),
            "http://h/import/transfer: HTTP 401: denied"
        );
        let err = accepted("http://h/x", 200, "<resource/>").unwrap_err();
        assert!(err.to_string().contains("no resource uri"), "{err}");
        assert_eq!(
            accepted("u", 200, "<dataset uri=\"http://h/data_service/00-d\"/>").unwrap(),
            "http://h/data_service/00-d"
        );
    }
}
