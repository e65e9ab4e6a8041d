//! DICOMweb services as a source (Orthanc, dcm4chee, Google Cloud Healthcare, IDC): QIDO-RS
//! finds the series, one WADO-RS `metadata` request per series gives every header (no pixels),
//! and instances are retrieved, as stored, only to render them.
//!
//! Inputs are named by [`json::instance_path`], a path relative to the service root that is
//! also the instance's WADO-RS URL: `studies/{study}/series/{series}/instances/{sop}`.

pub mod auth;
pub mod client;
pub mod json;
pub mod multipart;

use rayon::prelude::*;
use serde_json::Value;

use crate::Progress;
use crate::contract::FileIssue;
use crate::scan::{ScanOutcome, ScanReport};
use crate::store::{ConnectOptions, IoStats, Location};
use auth::Auth;
use client::Client;

/// QIDO-RS results asked for per request (servers cap pages: Google at 5,000 series).
const PAGE: usize = 1000;

/// One series of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRef {
    pub study: String,
    pub series: String,
}

impl SeriesRef {
    /// `studies/{study}/series/{series}`, relative to the service root.
    pub fn path(&self) -> String {
        format!("studies/{}/series/{}", self.study, self.series)
    }
}

/// A DICOMweb service, narrowed to what the source URL names.
#[derive(Debug)]
pub struct Dicomweb {
    location: Location,
    client: Client,
    concurrency: usize,
}

impl Dicomweb {
    /// A client for the service at `location` (a [`crate::store::Scheme::Dicomweb`] location),
    /// with credentials from the environment and `concurrency` requests in flight at most.
    pub fn open(
        location: &Location,
        options: &ConnectOptions,
        concurrency: usize,
    ) -> Result<Dicomweb, String> {
        let auth = Auth::from_env(&location.bucket)?;
        Ok(Dicomweb {
            location: location.clone(),
            client: Client::new(auth, options, concurrency)?,
            concurrency: concurrency.max(1),
        })
    }

    /// The source URL.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Requests and bytes so far.
    pub fn stats(&self) -> &IoStats {
        self.client.stats()
    }

    /// The URL of `relative` (a path below the service root).
    pub fn url(&self, relative: &str) -> String {
        format!(
            "{}/{}",
            self.location.bucket,
            relative.trim_start_matches('/')
        )
    }

    /// The series the source URL names: every series of every study QIDO-RS finds (the URL's
    /// query parameters go to the first search), of one study, or one series. A study or
    /// series the server does not have is an error naming it.
    pub fn list_series(&self) -> Result<Vec<SeriesRef>, String> {
        let parts: Vec<&str> = self.location.prefix.split('/').collect();
        match parts.as_slice() {
            ["studies", study, "series", series] => {
                let search = format!("studies/{study}/series?SeriesInstanceUID={series}");
                if self.search(&search, false)?.is_empty() {
                    self.check_study(study)?;
                    return Err(format!(
                        "no series {series} in study {study} on this server"
                    ));
                }
                Ok(vec![SeriesRef {
                    study: study.to_string(),
                    series: series.to_string(),
                }])
            }
            ["studies", study] => {
                let series = self.series_of(study, true)?;
                if series.is_empty() {
                    self.check_study(study)?;
                }
                Ok(series)
            }
            _ => {
                let studies = self.search("studies", true)?;
                let mut all = Vec::new();
                for study in uids(&studies, "0020000D") {
                    all.extend(self.series_of(&study, false)?);
                }
                Ok(all)
            }
        }
    }

    /// Fails naming `study` when the server does not have it.
    fn check_study(&self, study: &str) -> Result<(), String> {
        if self
            .search(&format!("studies?StudyInstanceUID={study}"), false)?
            .is_empty()
        {
            return Err(format!("no study {study} on this server"));
        }
        Ok(())
    }

    fn series_of(&self, study: &str, with_query: bool) -> Result<Vec<SeriesRef>, String> {
        let found = self.search(&format!("studies/{study}/series"), with_query)?;
        Ok(uids(&found, "0020000E")
            .into_iter()
            .map(|series| SeriesRef {
                study: study.to_string(),
                series,
            })
            .collect())
    }

    /// Every result of a QIDO-RS search (`relative` may carry parameters), page by page;
    /// `with_query` adds the source URL's query parameters (then unpaged when they page).
    fn search(&self, relative: &str, with_query: bool) -> Result<Vec<Value>, String> {
        let mut url = self.url(relative);
        let query = self.location.query.as_deref().filter(|_| with_query);
        if let Some(query) = query {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(query);
        }
        let paged_by_user = query.is_some_and(|q| {
            q.split('&')
                .any(|p| p.starts_with("limit=") || p.starts_with("offset="))
        });
        let mut results = Vec::new();
        loop {
            let page_url = if paged_by_user {
                url.clone()
            } else {
                let joiner = if url.contains('?') { '&' } else { '?' };
                format!("{url}{joiner}limit={PAGE}&offset={}", results.len())
            };
            let answer = self
                .client
                .get_json(&page_url)
                .map_err(|e| format!("search {}: {e}", self.url(relative)))?;
            let page = match answer {
                // A 404 on a search finds nothing (some servers answer so for a missing study).
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(page)) => page,
                Some(_) => {
                    return Err(format!(
                        "search {}: the answer is not a JSON array",
                        self.url(relative)
                    ));
                }
            };
            let full = page.len() == PAGE;
            results.extend(page);
            if paged_by_user || !full {
                return Ok(results);
            }
        }
    }

    /// Reads the metadata of every series, `concurrency` requests in flight: the same report a
    /// file scan makes, instances sorted by path. A series whose metadata cannot be had is
    /// one failed input named by its path.
    pub fn scan(&self, series: &[SeriesRef], progress: &dyn Progress) -> ScanReport {
        let scan = || -> Vec<ScanOutcome> {
            series
                .par_iter()
                .flat_map_iter(|one| {
                    let outcomes = self.scan_series(one);
                    progress.advance(1);
                    outcomes
                })
                .collect()
        };
        let mut outcomes = crate::scan::in_pool(self.concurrency, scan);
        outcomes.sort_by(|a, b| a.path().cmp(b.path()));
        crate::scan::collect(outcomes)
    }

    fn scan_series(&self, series: &SeriesRef) -> Vec<ScanOutcome> {
        let path = series.path();
        let failed = |reason: String| {
            vec![ScanOutcome::Failed(FileIssue {
                path: path.clone(),
                reason,
            })]
        };
        match self.client.get_json(&self.url(&format!("{path}/metadata"))) {
            Ok(Some(metadata)) => {
                json::decode_series(&metadata, &series.study, &series.series).unwrap_or_else(failed)
            }
            Ok(None) => failed("the server has no metadata for this series (404)".into()),
            Err(reason) => failed(format!("metadata: {reason}")),
        }
    }

    /// The stored bytes of the instance at `relative` (an [`json::instance_path`]), checked
    /// to be a DICOM file.
    pub fn retrieve(&self, relative: &str) -> Result<Vec<u8>, String> {
        let url = self.url(relative);
        let bytes = self
            .client
            .get_instance(&url)?
            .ok_or_else(|| "the server has no such instance (404)".to_string())?;
        if bytes.get(128..132) != Some(b"DICM".as_slice()) {
            return Err(format!(
                "the retrieved part ({} bytes) is not a DICOM file (no DICM marker at byte 128)",
                bytes.len()
            ));
        }
        Ok(bytes)
    }
}

/// A frame as retrieved: its bytes and the transfer syntax its part names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrievedFrame {
    /// The part's `transfer-syntax` parameter, else what its media type implies; `None` when
    /// neither says.
    pub transfer_syntax: Option<String>,
    pub bytes: Vec<u8>,
}

impl Dicomweb {
    /// Frames `frames` (1-based, as WADO-RS numbers them) of the instance at `relative`, as
    /// stored, in one request.
    pub fn retrieve_frames(
        &self,
        relative: &str,
        frames: &[u32],
    ) -> Result<Vec<RetrievedFrame>, String> {
        let list: Vec<String> = frames.iter().map(u32::to_string).collect();
        let url = format!("{}/frames/{}", self.url(relative), list.join(","));
        let parts = self
            .client
            .get_frames(&url)?
            .ok_or_else(|| "the server has no such instance or frame (404)".to_string())?;
        if parts.len() != frames.len() {
            return Err(format!(
                "asked for {} frames, the answer holds {}",
                frames.len(),
                parts.len()
            ));
        }
        Ok(parts
            .into_iter()
            .map(|part| RetrievedFrame {
                transfer_syntax: part.content_type.as_deref().and_then(frame_syntax),
                bytes: part.body,
            })
            .collect())
    }
}

/// The transfer syntax a frame part's Content-Type names (`transfer-syntax=`), else the one
/// its media type stands for (PS3.18 8.7.3.5: octet-stream is Explicit VR Little Endian).
fn frame_syntax(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';').map(str::trim);
    let media = params.next()?.to_ascii_lowercase();
    let named = params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("transfer-syntax"))
            .then(|| value.trim().trim_matches('"').to_string())
    });
    if named.as_deref().is_some_and(|s| s != "*" && !s.is_empty()) {
        return named;
    }
    let implied = match media.as_str() {
        "application/octet-stream" => "1.2.840.10008.1.2.1",
        "image/jpeg" => "1.2.840.10008.1.2.4.50",
        "image/jls" | "image/x-jls" => "1.2.840.10008.1.2.4.80",
        "image/jp2" | "image/jpx" => "1.2.840.10008.1.2.4.90",
        _ => return None,
    };
    Some(implied.to_string())
}

/// The first values of attribute `key` in QIDO-RS results, valid UIDs only.
fn uids(results: &[Value], key: &str) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| r.get(key)?.get("Value")?.get(0)?.as_str())
        .filter(|uid| crate::contract::keys::safe_uid(uid) == *uid)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_parts_name_their_transfer_syntax() {
        assert_eq!(
            frame_syntax("image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.51").as_deref(),
            Some("1.2.840.10008.1.2.4.51")
        );
        assert_eq!(
            frame_syntax("application/octet-stream").as_deref(),
            Some("1.2.840.10008.1.2.1")
        );
        assert_eq!(
            frame_syntax("image/jp2;transfer-syntax=\"1.2.840.10008.1.2.4.91\"").as_deref(),
            Some("1.2.840.10008.1.2.4.91")
        );
        assert_eq!(frame_syntax("text/plain"), None);
    }
}
