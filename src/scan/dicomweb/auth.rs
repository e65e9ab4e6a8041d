//! Credentials of a DICOMweb service, from the environment only: a bearer token
//! (`DICOMWEB_TOKEN`), basic auth (`DICOMWEB_USER` / `DICOMWEB_PASSWORD`), or, for Google Cloud
//! Healthcare URLs, Google application-default credentials through `object_store`'s GCP
//! credential chain (the one `gs://` buckets use). Secrets are never printed: `Debug` hides
//! them, and they travel only in the Authorization header, which the request log never shows.

use std::fmt;

use object_store::gcp::{GcpCredentialProvider, GoogleCloudStorageBuilder};

/// How requests to a DICOMweb service are authorised.
#[derive(Clone)]
pub enum Auth {
    /// No Authorization header.
    Anonymous,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic ...`.
    Basic { user: String, password: String },
    /// A Google OAuth token, refreshed by `object_store` before it expires.
    Google(GcpCredentialProvider),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Auth::Anonymous => "Anonymous",
            Auth::Bearer(_) => "Bearer(hidden)",
            Auth::Basic { .. } => "Basic(hidden)",
            Auth::Google(_) => "Google(application-default credentials)",
        })
    }
}

/// Which kind of credentials the environment gives for a service (pure: decided from the
/// variables and the service's host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSource {
    Anonymous,
    Token,
    Basic,
    Google,
}

/// The credentials the environment gives for `root_url`: `DICOMWEB_TOKEN` first, then
/// `DICOMWEB_USER` (with `DICOMWEB_PASSWORD`, empty when unset), then Google application-default
/// credentials for `healthcare.googleapis.com`, else none.
pub fn auth_source(environment: &[(String, String)], root_url: &str) -> AuthSource {
    let set = |name: &str| environment.iter().any(|(k, v)| k == name && !v.is_empty());
    let host = root_url
        .split_once("://")
        .map_or(root_url, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if set("DICOMWEB_TOKEN") {
        AuthSource::Token
    } else if set("DICOMWEB_USER") {
        AuthSource::Basic
    } else if host == "healthcare.googleapis.com" || host.ends_with(".healthcare.googleapis.com") {
        AuthSource::Google
    } else {
        AuthSource::Anonymous
    }
}

impl Auth {
    /// The credentials of the process environment for `root_url`.
    pub fn from_env(root_url: &str) -> Result<Auth, String> {
        let environment: Vec<(String, String)> = std::env::vars().collect();
        let value = |name: &str| {
            environment
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Ok(match auth_source(&environment, root_url) {
            AuthSource::Anonymous => Auth::Anonymous,
            AuthSource::Token => Auth::Bearer(value("DICOMWEB_TOKEN")),
            AuthSource::Basic => Auth::Basic {
                user: value("DICOMWEB_USER"),
                password: value("DICOMWEB_PASSWORD"),
            },
            AuthSource::Google => {
                // Only the credential chain is used; the bucket name is never contacted.
                let store = GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name("dicomprep-credentials")
                    .build()
                    .map_err(|e| format!("Google credentials: {e}"))?;
                Auth::Google(store.credentials().clone())
            }
        })
    }

    /// Adds the Authorization header to `request`.
    pub fn apply(
        &self,
        request: reqwest::blocking::RequestBuilder,
    ) -> Result<reqwest::blocking::RequestBuilder, String> {
        Ok(match self {
            Auth::Anonymous => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { user, password } => request.basic_auth(user, Some(password)),
            Auth::Google(provider) => {
                let credential = crate::store::bucket::runtime()
                    .block_on(provider.get_credential())
                    .map_err(|e| format!("cannot get a Google access token: {e}"))?;
                request.bearer_auth(&credential.bearer)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn token_then_basic_then_google_for_healthcare_hosts() {
        let google = "https://healthcare.googleapis.com/v1/projects/p/locations/l/datasets/d/dicomStores/s/dicomWeb";
        let both = env(&[("DICOMWEB_TOKEN", "t"), ("DICOMWEB_USER", "u")]);
        assert_eq!(auth_source(&both, "http://h"), AuthSource::Token);
        let basic = env(&[("DICOMWEB_USER", "u"), ("DICOMWEB_PASSWORD", "p")]);
        assert_eq!(auth_source(&basic, google), AuthSource::Basic);
        assert_eq!(auth_source(&env(&[]), google), AuthSource::Google);
        assert_eq!(
            auth_source(
                &env(&[("DICOMWEB_TOKEN", "")]),
                "http://127.0.0.1:8042/dicom-web"
            ),
            AuthSource::Anonymous
        );
        assert_eq!(
            auth_source(
                &env(&[]),
                "https://healthcare.googleapis.com.evil.example/x"
            ),
            AuthSource::Anonymous
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let shown = format!(
            "{:?} {:?}",
            Auth::Bearer("ZZTOKEN".into()),
            Auth::Basic {
                user: "ZZUSER".into(),
                password: "ZZPASS".into()
            }
        );
        assert!(!shown.contains("ZZ"), "{shown}");
    }
}
