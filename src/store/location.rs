//! Where a source or destination lives: a local folder or a bucket prefix, parsed from what users
//! type or paste. Pure code.
//!
//! Accepted forms:
//! - plain paths and `file:///abs/path`;
//! - `s3://bucket/prefix`, `https://bucket.s3[.-]region.amazonaws.com/prefix`,
//!   `https://s3[.-]region.amazonaws.com/bucket/prefix` (and the forms without a region);
//! - `gs://bucket/prefix`, `https://storage.googleapis.com/bucket/prefix`,
//!   `https://storage.cloud.google.com/bucket/prefix`, `https://bucket.storage.googleapis.com/prefix`;
//! - `az://container/prefix` (account from `AZURE_STORAGE_ACCOUNT_NAME`),
//!   `https://account.blob.core.windows.net/container/prefix`, `azure://` like `az://`;
//! - `dicomweb+https://host/path/dicom-web` (and `dicomweb+http://`), optionally narrowed to
//!   `/studies/{uid}` or `/studies/{uid}/series/{uid}`, with QIDO-RS query parameters.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The kind of store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// A local folder.
    File,
    /// Amazon S3 or an S3-compatible server.
    S3,
    /// Google Cloud Storage.
    Gs,
    /// Azure Blob Storage.
    Az,
    /// An in-memory store (tests and library use).
    Memory,
    /// A DICOMweb service (QIDO-RS and WADO-RS): `bucket` is its root URL, `prefix` the
    /// narrowing to a study or series (`studies/{uid}[/series/{uid}]`).
    Dicomweb,
}

/// A parsed store location. Serialised into `manifest.json` (`source`, `destination`): the
/// payload builders derive bucket keys and object URLs from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub scheme: Scheme,
    /// Bucket (S3, GCS) or container (Azure); the folder for local locations.
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/` (empty for the root).
    pub prefix: String,
    /// Azure storage account, when the URL names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// S3 region, when the URL names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// DICOMweb: the QIDO-RS query parameters (`ModalitiesInStudy=CT&StudyDate=...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// Why a location string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot use location {input:?}: {reason}")]
pub struct LocationError {
    pub input: String,
    pub reason: String,
}

impl Location {
    /// Parses a path or URL (see the module documentation for the forms).
    pub fn parse(input: &str) -> Result<Location, LocationError> {
        let fail = |reason: &str| LocationError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let Some((scheme, rest)) = input.split_once("://") else {
            if input.is_empty() {
                return Err(fail("empty path"));
            }
            return Ok(Location::local(PathBuf::from(input)));
        };
        let scheme = scheme.to_ascii_lowercase();
        if let Some(http) = scheme.strip_prefix("dicomweb+") {
            // Never echo user information or query values (credentials, patient identifiers).
            return parse_dicomweb(http, rest).map_err(|reason| LocationError {
                input: super::request_log::redact_url(input),
                reason,
            });
        }
        let location = match scheme.as_str() {
            "file" => {
                if !rest.starts_with('/') {
                    return Err(fail("file URLs need an absolute path: file:///path"));
                }
                Location::local(PathBuf::from(percent_decode(rest)))
            }
            "s3" | "s3a" => bucket_and_prefix(Scheme::S3, rest),
            "gs" | "gcs" => bucket_and_prefix(Scheme::Gs, rest),
            "az" | "azure" => bucket_and_prefix(Scheme::Az, rest),
            "memory" => bucket_and_prefix(Scheme::Memory, rest),
            "http" | "https" => parse_https(rest).ok_or_else(|| {
                fail("not a recognised S3, GCS or Azure Blob URL; use s3://, gs://, az:// or a local path")
            })?,
            _ => {
                return Err(fail(
                    "unknown scheme; use s3://, gs://, az://, dicomweb+https://, file:// or a local path",
                ));
            }
        };
        if location.bucket.is_empty() {
            return Err(fail("no bucket or container name"));
        }
        if location.prefix.split('/').any(|part| part == "..") {
            return Err(fail("prefixes may not contain `..`"));
        }
        Ok(location)
    }

    /// A local folder.
    pub fn local(path: PathBuf) -> Location {
        Location {
            scheme: Scheme::File,
            bucket: path.to_string_lossy().into_owned(),
            prefix: String::new(),
            account: None,
            region: None,
            query: None,
        }
    }

    /// Whether this is a local folder.
    pub fn is_local(&self) -> bool {
        self.scheme == Scheme::File
    }

    /// The local folder of a `file` location.
    pub fn local_path(&self) -> Option<PathBuf> {
        self.is_local().then(|| PathBuf::from(&self.bucket))
    }

    /// The key of `relative` (a key under this location) in its bucket: prefix + `/` + key.
    pub fn bucket_key(&self, relative: &str) -> String {
        join_key(&self.prefix, relative)
    }

    /// This location extended by `relative` (a sub-folder or key).
    pub fn join(&self, relative: &str) -> Location {
        let mut joined = self.clone();
        if joined.is_local() {
            joined.bucket = PathBuf::from(&self.bucket)
                .join(relative)
                .to_string_lossy()
                .into_owned();
        } else {
            joined.prefix = join_key(&self.prefix, relative);
        }
        joined
    }
}

impl fmt::Display for Location {
    /// The canonical URL form (`s3://bucket/prefix`, a plain path for local folders).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::File => return f.write_str(&self.bucket),
            Scheme::S3 => "s3",
            Scheme::Gs => "gs",
            Scheme::Az => "az",
            Scheme::Memory => "memory",
            Scheme::Dicomweb => {
                write!(f, "dicomweb+{}", self.bucket)?;
                if !self.prefix.is_empty() {
                    write!(f, "/{}", self.prefix)?;
                }
                if let Some(query) = &self.query {
                    write!(f, "?{query}")?;
                }
                return Ok(());
            }
        };
        write!(f, "{scheme}://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// `prefix/key` without doubled or leading slashes.
pub fn join_key(prefix: &str, key: &str) -> String {
    let key = key.trim_start_matches('/');
    match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}/{key}"),
    }
}

/// `bucket/prefix/...` after a `scheme://`.
fn bucket_and_prefix(scheme: Scheme, rest: &str) -> Location {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    Location {
        scheme,
        bucket: bucket.to_string(),
        prefix: clean_prefix(prefix),
        account: None,
        region: None,
        query: None,
    }
}

/// The https forms of S3, GCS and Azure Blob URLs.
fn parse_https(rest: &str) -> Option<Location> {
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_ascii_lowercase();
    let path_style = |scheme: Scheme, region: Option<String>, account: Option<String>| {
        let mut location = bucket_and_prefix(scheme, path);
        location.region = region;
        location.account = account;
        location
    };
    if let Some(account) = host.strip_suffix(".blob.core.windows.net") {
        return Some(path_style(Scheme::Az, None, Some(account.to_string())));
    }
    if host == "storage.googleapis.com" || host == "storage.cloud.google.com" {
        return Some(path_style(Scheme::Gs, None, None));
    }
    if let Some(bucket) = host.strip_suffix(".storage.googleapis.com") {
        return Some(virtual_hosted(Scheme::Gs, bucket, None, path));
    }
    let s3_host = host.strip_suffix(".amazonaws.com")?;
    // s3.amazonaws.com, s3.region.amazonaws.com, s3-region.amazonaws.com: path style.
    if let Some(region) = s3_region(s3_host) {
        return Some(path_style(Scheme::S3, region, None));
    }
    // bucket.s3.amazonaws.com, bucket.s3.region.amazonaws.com, bucket.s3-region...: virtual.
    let (bucket, service) = s3_host.rsplit_once(".s3")?;
    let region = s3_region(&format!("s3{service}"))?;
    Some(virtual_hosted(Scheme::S3, bucket, region, path))
}

/// For an S3 service host (`s3`, `s3.region`, `s3-region`, `s3.dualstack.region`), the region
/// it names (`Some(None)` for the global endpoint); `None` when it is no S3 host.
fn s3_region(host: &str) -> Option<Option<String>> {
    let rest = host.strip_prefix("s3")?;
    if rest.is_empty() {
        return Some(None);
    }
    let region = rest
        .strip_prefix('.')
        .or_else(|| rest.strip_prefix('-'))?
        .trim_start_matches("dualstack.");
    (!region.is_empty() && !region.contains('.')).then(|| Some(region.to_string()))
}

fn virtual_hosted(scheme: Scheme, bucket: &str, region: Option<String>, path: &str) -> Location {
    Location {
        scheme,
        bucket: bucket.to_string(),
        prefix: clean_prefix(path),
        account: None,
        region,
        query: None,
    }
}

/// QIDO-RS parameters that would match on patient identifiers: refused, since the source URL
/// is recorded in manifests, indexes and logs.
const PATIENT_PARAMETERS: &[&str] = &[
    "patientname",
    "00100010",
    "patientid",
    "00100020",
    "patientbirthdate",
    "00100030",
    "accessionnumber",
    "00080050",
    "otherpatientids",
    "00101000",
];

/// `dicomweb+http(s)://host/root[/studies/{uid}[/series/{uid}]][?query]`, after `dicomweb+`.
fn parse_dicomweb(http: &str, rest: &str) -> Result<Location, String> {
    if http != "http" && http != "https" {
        return Err("DICOMweb URLs are dicomweb+https:// or dicomweb+http://".into());
    }
    let (address, query) = match rest.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (rest, None),
    };
    let address = address.split('#').next().unwrap_or_default();
    let (host, path) = address.split_once('/').unwrap_or((address, ""));
    if host.is_empty() {
        return Err("no host".into());
    }
    if host.contains('@') {
        return Err(
            "credentials do not go in the URL; set DICOMWEB_USER and DICOMWEB_PASSWORD, or DICOMWEB_TOKEN"
                .into(),
        );
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    // The narrowing is the tail `studies/{uid}` or `studies/{uid}/series/{uid}`.
    let narrowed = match parts.as_slice() {
        [.., "studies", _, "series", _] => 4,
        [.., "studies", _] => 2,
        [.., "studies"] => 1,
        _ => 0,
    };
    let (root, narrowing) = parts.split_at(parts.len() - narrowed);
    let narrowing = if narrowing == ["studies"] {
        &[][..]
    } else {
        narrowing
    };
    if narrowing.contains(&"..") || root.contains(&"..") {
        return Err("DICOMweb paths may not contain `..`".into());
    }
    let query = query.filter(|q| !q.is_empty());
    if let Some(query) = query {
        for pair in query.split('&') {
            let name = pair.split('=').next().unwrap_or_default();
            if PATIENT_PARAMETERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "the query parameter {name} names a patient identifier, which dicomprep never records; select by study, series, modality or date instead"
                ));
            }
        }
    }
    let mut root_url = format!("{http}://{host}");
    for part in root {
        root_url.push('/');
        root_url.push_str(part);
    }
    Ok(Location {
        scheme: Scheme::Dicomweb,
        bucket: root_url,
        prefix: narrowing.join("/"),
        account: None,
        region: None,
        query: query.map(str::to_string),
    })
}

/// A prefix without query, fragment, leading or trailing slashes, percent-decoded.
fn clean_prefix(prefix: &str) -> String {
    let prefix = prefix.split(['?', '#']).next().unwrap_or_default();
    percent_decode(prefix.trim_matches('/'))
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> (Scheme, String, String, Option<String>, Option<String>) {
        let l = Location::parse(input).unwrap();
        (l.scheme, l.bucket, l.prefix, l.region, l.account)
    }

    #[test]
    fn cloud_schemes_split_bucket_and_prefix() {
        assert_eq!(
            parsed("s3://idc-open-data/abc/"),
            (Scheme::S3, "idc-open-data".into(), "abc".into(), None, None)
        );
        assert_eq!(
            parsed("gs://idc-open-data"),
            (Scheme::Gs, "idc-open-data".into(), "".into(), None, None)
        );
        assert_eq!(
            parsed("az://container/a/b"),
            (Scheme::Az, "container".into(), "a/b".into(), None, None)
        );
    }

    #[test]
    fn pasted_https_forms() {
        assert_eq!(
            parsed("https://my-bucket.s3.eu-west-1.amazonaws.com/in/x%20y/"),
            (
                Scheme::S3,
                "my-bucket".into(),
                "in/x y".into(),
                Some("eu-west-1".into()),
                None
            )
        );
        assert_eq!(
            parsed("https://my-bucket.s3.amazonaws.com/in"),
            (Scheme::S3, "my-bucket".into(), "in".into(), None, None)
        );
        assert_eq!(
            parsed("https://s3.us-east-2.amazonaws.com/b/p"),
            (
                Scheme::S3,
                "b".into(),
                "p".into(),
                Some("us-east-2".into()),
                None
            )
        );
        assert_eq!(
            parsed("https://my.dotted.bucket.s3-us-west-2.amazonaws.com/p"),
            (
                Scheme::S3,
                "my.dotted.bucket".into(),
                "p".into(),
                Some("us-west-2".into()),
                None
            )
        );
        assert_eq!(
            parsed("https://storage.googleapis.com/idc-open-data/x?alt=media"),
            (Scheme::Gs, "idc-open-data".into(), "x".into(), None, None)
        );
        assert_eq!(
            parsed("https://storage.cloud.google.com/b/p"),
            (Scheme::Gs, "b".into(), "p".into(), None, None)
        );
        assert_eq!(
            parsed("https://acct.blob.core.windows.net/cont/p/q"),
            (
                Scheme::Az,
                "cont".into(),
                "p/q".into(),
                None,
                Some("acct".into())
            )
        );
    }

    #[test]
    fn local_forms() {
        let l = Location::parse("file:///data/in%20x").unwrap();
        assert_eq!(l.local_path(), Some(PathBuf::from("/data/in x")));
        let l = Location::parse("relative/dir").unwrap();
        assert_eq!(l.local_path(), Some(PathBuf::from("relative/dir")));
        assert_eq!(l.to_string(), "relative/dir");
    }

    #[test]
    fn unusable_locations_say_why() {
        for bad in [
            "ftp://x/y",
            "s3://",
            "file://relative",
            "https://example.com/x",
            "s3://b/../x",
            "",
        ] {
            let err = Location::parse(bad).unwrap_err();
            assert!(!err.reason.is_empty(), "{bad}");
            assert!(err.to_string().contains("cannot use location"), "{bad}");
        }
    }

    #[test]
    fn dicomweb_roots_narrowings_and_queries() {
        let l = Location::parse("dicomweb+http://127.0.0.1:8042/dicom-web").unwrap();
        assert_eq!(
            (
                l.scheme,
                l.bucket.as_str(),
                l.prefix.as_str(),
                l.query.clone()
            ),
            (
                Scheme::Dicomweb,
                "http://127.0.0.1:8042/dicom-web",
                "",
                None
            )
        );
        let url = "dicomweb+https://h/v1/projects/p/dicomWeb/studies/1.2/series/3.4";
        let l = Location::parse(url).unwrap();
        assert_eq!(l.bucket, "https://h/v1/projects/p/dicomWeb");
        assert_eq!(l.prefix, "studies/1.2/series/3.4");
        assert_eq!(l.to_string(), url);
        let url =
            "dicomweb+https://h/dicom-web/studies?ModalitiesInStudy=CT&StudyDate=20200101-20201231";
        let l = Location::parse(url).unwrap();
        assert_eq!(l.bucket, "https://h/dicom-web");
        assert_eq!(l.prefix, "");
        assert_eq!(
            l.query.as_deref(),
            Some("ModalitiesInStudy=CT&StudyDate=20200101-20201231")
        );
        let l = Location::parse("dicomweb+http://h/studies/1.2/").unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("http://h", "studies/1.2")
        );
        assert_eq!(l.to_string(), "dicomweb+http://h/studies/1.2");
    }

    #[test]
    fn dicomweb_urls_refuse_credentials_and_patient_queries() {
        for bad in [
            "dicomweb+https://u:p@h/dicom-web",
            "dicomweb+https://h/dicom-web?PatientID=123",
            "dicomweb+https://h/dicom-web?00100010=DOE",
            "dicomweb+ftp://h/x",
            "dicomweb+https:///x",
        ] {
            let err = Location::parse(bad).unwrap_err();
            let text = err.to_string();
            assert!(!text.contains("123") && !text.contains(":p@"), "{text}");
            assert!(!text.contains("DOE"), "{text}");
        }
    }

    #[test]
    fn keys_join_without_double_slashes() {
        let l = Location::parse("s3://b/out/").unwrap();
        assert_eq!(l.bucket_key("a/b.png"), "out/a/b.png");
        assert_eq!(l.to_string(), "s3://b/out");
        let root = Location::parse("s3://b").unwrap();
        assert_eq!(root.bucket_key("/a.png"), "a.png");
        assert_eq!(root.join("sub").to_string(), "s3://b/sub");
    }
}
