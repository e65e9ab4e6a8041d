//! Building an `object_store` client for a [`Location`]: credentials from each cloud's standard
//! environment variables and files, anonymous access for public buckets, retries and timeouts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};

use super::request_log::{LoggingConnector, RequestObserver};
use super::{Location, Scheme};

/// Whether requests are signed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Anonymous {
    /// Anonymous when no credentials are configured (public buckets such as IDC's).
    #[default]
    Auto,
    /// Always unsigned requests.
    Yes,
    /// Always signed (credentials must be found, e.g. an instance role).
    No,
}

/// How to reach a store.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub anonymous: Anonymous,
    /// Give up on a request after this many retries...
    pub max_retries: usize,
    /// ...or after retrying for this long.
    pub retry_timeout: Duration,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Hears of every HTTP request (`--debug-requests`); `None`: no log.
    pub observer: Option<Arc<dyn RequestObserver>>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            anonymous: Anonymous::Auto,
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
            request_timeout: Duration::from_secs(60),
            observer: None,
        }
    }
}

/// Why a store cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("cannot open {location}: {reason}")]
pub struct ConnectError {
    pub location: String,
    pub reason: String,
}

/// A client for the bucket of `location` (keys are bucket keys; the prefix is not applied).
/// Local folders are created when `create` is set.
pub fn connect(
    location: &Location,
    options: &ConnectOptions,
    create: bool,
) -> Result<Arc<dyn ObjectStore>, ConnectError> {
    let fail = |reason: String| ConnectError {
        location: location.to_string(),
        reason,
    };
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            base: 2.0,
        },
        max_retries: options.max_retries,
        retry_timeout: options.retry_timeout,
    };
    // Timeouts go in as configuration keys: a whole `ClientOptions` would replace what the
    // environment set (e.g. AWS_ALLOW_HTTP).
    let timeout = format!("{}s", options.request_timeout.as_secs().max(1));
    let connect_timeout = "10s";
    let environment: Vec<(String, String)> = std::env::vars().collect();
    let anonymous = match options.anonymous {
        Anonymous::Yes => true,
        Anonymous::No => false,
        Anonymous::Auto => !credentials_configured(location.scheme, &environment, home()),
    };
    let logging = options.observer.clone().map(LoggingConnector::new);
    let store: Arc<dyn ObjectStore> = match location.scheme {
        Scheme::File => {
            let path = PathBuf::from(&location.bucket);
            if create {
                std::fs::create_dir_all(&path).map_err(|e| fail(e.to_string()))?;
            }
            Arc::new(LocalFileSystem::new_with_prefix(&path).map_err(|e| fail(e.to_string()))?)
        }
        Scheme::Memory => Arc::new(InMemory::new()),
        Scheme::Dicomweb => {
            return Err(fail(
                "a DICOMweb service is a source only, not an object store".into(),
            ));
        }
        Scheme::S3 => {
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(&location.bucket)
                .with_retry(retry)
                .with_config(
                    AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                    &timeout,
                )
                .with_config(
                    AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                    connect_timeout,
                )
                .with_skip_signature(anonymous);
            if let Some((key, secret)) = aws_profile_credentials(&environment, home())
                && !has(&environment, "AWS_ACCESS_KEY_ID")
            {
                builder = builder
                    .with_access_key_id(key)
                    .with_secret_access_key(secret);
            }
            if let Some(region) = &location.region {
                builder = builder.with_region(region);
            } else if !has(&environment, "AWS_REGION") && !has(&environment, "AWS_DEFAULT_REGION") {
                builder = builder.with_region("us-east-1");
            }
            if let Some(connector) = &logging {
                builder = builder.with_http_connector(connector.clone());
            }
            Arc::new(builder.build().map_err(|e| fail(e.to_string()))?)
        }
        Scheme::Gs => {
            let mut builder = GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(&location.bucket)
                .with_retry(retry)
                .with_config(GoogleConfigKey::Client(ClientConfigKey::Timeout), &timeout)
                .with_config(
                    GoogleConfigKey::Client(ClientConfigKey::ConnectTimeout),
                    connect_timeout,
                )
                .with_skip_signature(anonymous);
            if let Some(connector) = &logging {
                builder = builder.with_http_connector(connector.clone());
            }
            Arc::new(builder.build().map_err(|e| fail(e.to_string()))?)
        }
        Scheme::Az => {
            let mut builder = MicrosoftAzureBuilder::from_env()
                .with_container_name(&location.bucket)
                .with_retry(retry)
                .with_config(AzureConfigKey::Client(ClientConfigKey::Timeout), &timeout)
                .with_config(
                    AzureConfigKey::Client(ClientConfigKey::ConnectTimeout),
                    connect_timeout,
                )
                .with_skip_signature(anonymous);
            if let Some(account) = &location.account {
                builder = builder.with_account(account);
            }
            if let Some(connector) = &logging {
                builder = builder.with_http_connector(connector.clone());
            }
            Arc::new(builder.build().map_err(|e| fail(e.to_string()))?)
        }
    };
    Ok(store)
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn has(environment: &[(String, String)], name: &str) -> bool {
    environment.iter().any(|(k, v)| k == name && !v.is_empty())
}

/// Whether any credential source of the cloud is configured: its environment variables, its
/// standard credential files, or an emulator setting.
pub fn credentials_configured(
    scheme: Scheme,
    environment: &[(String, String)],
    home: Option<PathBuf>,
) -> bool {
    let any = |names: &[&str]| names.iter().any(|n| has(environment, n));
    let file = |relative: &str| home.as_ref().is_some_and(|h| h.join(relative).is_file());
    match scheme {
        Scheme::File | Scheme::Memory | Scheme::Dicomweb => true,
        Scheme::S3 => {
            any(&[
                "AWS_ACCESS_KEY_ID",
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            ]) || aws_profile_credentials(environment, home.clone()).is_some()
        }
        Scheme::Gs => {
            any(&[
                "GOOGLE_SERVICE_ACCOUNT",
                "GOOGLE_SERVICE_ACCOUNT_PATH",
                "GOOGLE_SERVICE_ACCOUNT_KEY",
                "GOOGLE_APPLICATION_CREDENTIALS",
            ]) || file(".config/gcloud/application_default_credentials.json")
        }
        Scheme::Az => any(&[
            "AZURE_STORAGE_ACCOUNT_KEY",
            "AZURE_STORAGE_ACCESS_KEY",
            "AZURE_STORAGE_MASTER_KEY",
            "AZURE_STORAGE_SAS_KEY",
            "AZURE_STORAGE_TOKEN",
            "AZURE_CLIENT_SECRET",
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_STORAGE_USE_EMULATOR",
            "AZURE_USE_AZURE_CLI",
        ]),
    }
}

/// The access key pair of the AWS profile (`AWS_PROFILE`, else `default`) in the shared
/// credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`).
fn aws_profile_credentials(
    environment: &[(String, String)],
    home: Option<PathBuf>,
) -> Option<(String, String)> {
    let value = |name: &str| {
        environment
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let path = value("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".aws/credentials")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let profile = value("AWS_PROFILE").unwrap_or_else(|| "default".into());
    profile_keys(&text, &profile)
}

/// `aws_access_key_id` and `aws_secret_access_key` of `[profile]` in an AWS credentials file.
fn profile_keys(text: &str, profile: &str) -> Option<(String, String)> {
    let mut in_profile = false;
    let (mut key, mut secret) = (None, None);
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
        } else if in_profile && let Some((name, value)) = line.split_once('=') {
            match name.trim() {
                "aws_access_key_id" => key = Some(value.trim().to_string()),
                "aws_secret_access_key" => secret = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    Some((key?, secret?))
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
    fn no_credentials_means_anonymous() {
        for scheme in [Scheme::S3, Scheme::Gs, Scheme::Az] {
            assert!(!credentials_configured(scheme, &env(&[]), None));
        }
        assert!(credentials_configured(
            Scheme::S3,
            &env(&[("AWS_ACCESS_KEY_ID", "k")]),
            None
        ));
        assert!(!credentials_configured(
            Scheme::S3,
            &env(&[("AWS_ACCESS_KEY_ID", "")]),
            None
        ));
        assert!(credentials_configured(
            Scheme::Gs,
            &env(&[("GOOGLE_APPLICATION_CREDENTIALS", "/k.json")]),
            None
        ));
        assert!(credentials_configured(
            Scheme::Az,
            &env(&[("AZURE_STORAGE_USE_EMULATOR", "true")]),
            None
        ));
    }

    #[test]
    fn aws_credentials_file_profiles() {
        let text = "[default]\naws_access_key_id = AK\naws_secret_access_key=SK\n\n[other]\naws_access_key_id=O\naws_secret_access_key=OS\n";
        assert_eq!(
            profile_keys(text, "default"),
            Some(("AK".into(), "SK".into()))
        );
        assert_eq!(profile_keys(text, "other"), Some(("O".into(), "OS".into())));
        assert_eq!(profile_keys(text, "missing"), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".aws")).unwrap();
        std::fs::write(dir.path().join(".aws/credentials"), text).unwrap();
        let home = Some(dir.path().to_path_buf());
        assert!(credentials_configured(Scheme::S3, &env(&[]), home.clone()));
        assert_eq!(
            aws_profile_credentials(&env(&[("AWS_PROFILE", "other")]), home),
            Some(("O".into(), "OS".into()))
        );
    }

    #[test]
    fn gcs_and_azure_clients_build_from_urls_alone() {
        let options = ConnectOptions {
            anonymous: Anonymous::Yes,
            ..ConnectOptions::default()
        };
        for url in [
            "gs://idc-open-data/x",
            "https://acct.blob.core.windows.net/c/p",
            "s3://idc-open-data",
        ] {
            let location = Location::parse(url).unwrap();
            connect(&location, &options, false).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
    }
}
