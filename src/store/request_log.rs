//! The request log (`--debug-requests`): every HTTP request `object_store` sends to a bucket
//! and every request of the registration clients ([`crate::register::http`]), each retry
//! attempt included, seen at the HTTP client, with its method, URL, byte range, status, bytes
//! and time. Never credentials: headers are not recorded (signatures and tokens
//! travel there), and query parameters other than the harmless ones the stores' APIs use for
//! listing are replaced by `REDACTED` (SAS tokens, pre-signed URLs).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpRequest, HttpResponse, HttpService, ReqwestConnector,
};

/// One request as the log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// The URL with credentials removed (see [`redact_url`]).
    pub url: String,
    /// The Range header, when there is one (`bytes=0-65535`).
    pub range: Option<String>,
    /// The HTTP status; `None` when no answer came (the error kind is in `error`).
    pub status: Option<u16>,
    /// Bytes sent (PUT, POST) or announced in the answer (Content-Length).
    pub bytes: u64,
    /// Milliseconds until the answer's headers arrived.
    pub millis: u64,
    /// 0 for the first attempt; n for the n-th repeat of the same method, URL and range.
    pub retry: u32,
    /// What went wrong without an answer (connect, timeout...).
    pub error: Option<String>,
}

impl fmt::Display for RequestRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.url)?;
        if let Some(range) = &self.range {
            write!(f, " range={range}")?;
        }
        match (self.status, &self.error) {
            (Some(status), _) => write!(f, " status={status}")?,
            (None, Some(error)) => write!(f, " error={error}")?,
            (None, None) => {}
        }
        write!(
            f,
            " bytes={} ms={} retry={}",
            self.bytes, self.millis, self.retry
        )
    }
}

impl RequestRecord {
    /// The record of one attempt: `url` is redacted here; `bytes` are those sent when a body
    /// was sent, else those announced in the answer; `answer` is the status and announced
    /// length, or what went wrong without an answer.
    pub fn new(
        method: &str,
        url: &str,
        range: Option<String>,
        sent: u64,
        retry: u32,
        millis: u64,
        answer: Result<(u16, Option<u64>), String>,
    ) -> RequestRecord {
        let (status, bytes, error) = match answer {
            Ok((status, announced)) => {
                let bytes = if sent > 0 {
                    sent
                } else {
                    announced.unwrap_or(0)
                };
                (Some(status), bytes, None)
            }
            Err(error) => (None, sent, Some(error)),
        };
        RequestRecord {
            method: method.to_string(),
            url: redact_url(url),
            range,
            status,
            bytes,
            millis,
            retry,
            error,
        }
    }
}

/// Receives every request made (the command line prints them).
pub trait RequestObserver: Send + Sync + fmt::Debug {
    fn request(&self, record: &RequestRecord);
}

/// Query parameters kept as they are: listing and multipart parameters of the three APIs,
/// and QIDO-RS paging (search values, which may name anything, are redacted).
/// Every other value (SAS `sig`, `se`, `sp`…, `X-Amz-Signature`, `X-Amz-Credential`,
/// `X-Amz-Security-Token`, `X-Goog-Signature`, tokens) becomes `REDACTED`.
const KEPT_PARAMETERS: &[&str] = &[
    "list-type",
    "prefix",
    "delimiter",
    "continuation-token",
    "start-after",
    "max-keys",
    "encoding-type",
    "fetch-owner",
    "restype",
    "comp",
    "marker",
    "maxresults",
    "include",
    "uploadId",
    "uploads",
    "partNumber",
    "blockid",
    "alt",
    "pageToken",
    "maxResults",
    "uploadType",
    "name",
    // QIDO-RS paging
    "limit",
    "offset",
];

/// `url` without user information and with every query value outside [`KEPT_PARAMETERS`]
/// replaced by `REDACTED`.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => base.to_string(),
    };
    let Some(query) = query else {
        return base;
    };
    let parameters: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if KEPT_PARAMETERS.contains(&name) => format!("{name}={value}"),
            Some((name, _)) => format!("{name}=REDACTED"),
            None if KEPT_PARAMETERS.contains(&pair) => pair.to_string(),
            None => "REDACTED".to_string(),
        })
        .collect();
    format!("{base}?{}", parameters.join("&"))
}

/// An `object_store` HTTP connector that reports every request to an observer.
#[derive(Debug, Clone)]
pub struct LoggingConnector {
    observer: Arc<dyn RequestObserver>,
}

impl LoggingConnector {
    pub fn new(observer: Arc<dyn RequestObserver>) -> Self {
        LoggingConnector { observer }
    }
}

impl HttpConnector for LoggingConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(LoggingService {
            inner,
            observer: self.observer.clone(),
            attempts: Arc::default(),
        }))
    }
}

#[derive(Debug)]
struct LoggingService {
    inner: HttpClient,
    observer: Arc<dyn RequestObserver>,
    /// Requests seen so far, by method, URL and range: a repeat is a retry.
    attempts: Arc<Mutex<HashMap<String, u32>>>,
}

#[async_trait]
impl HttpService for LoggingService {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let method = request.method().as_str().to_string();
        let url = request.uri().to_string();
        let range = request
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let sent = request.body().content_length() as u64;
        let retry = {
            let key = format!("{method} {} {range:?}", redact_url(&url));
            let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
            let seen = attempts.entry(key).or_insert(0);
            *seen += 1;
            *seen - 1
        };
        let started = Instant::now();
        let result = self.inner.execute(request).await;
        let millis = started.elapsed().as_millis() as u64;
        let answer = match &result {
            Ok(response) => {
                let announced = response
                    .headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                Ok((response.status().as_u16(), announced))
            }
            Err(err) => Err(format!("{:?}", err.kind())),
        };
        let record = RequestRecord::new(&method, &url, range, sent, retry, millis, answer);
        self.observer.request(&record);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_user_information_and_credential_parameters() {
        let sas = "https://acct.blob.core.windows.net/c/k.dcm?sv=2022-11-02&sp=r&se=2030-01-01&sig=ZZPLANTEDSIG%3D";
        assert_eq!(
            redact_url(sas),
            "https://acct.blob.core.windows.net/c/k.dcm?sv=REDACTED&sp=REDACTED&se=REDACTED&sig=REDACTED"
        );
        let presigned = "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAZZ%2F&X-Amz-Signature=ZZSIG&X-Amz-Security-Token=ZZTOKEN";
        let redacted = redact_url(presigned);
        assert!(!redacted.contains("ZZ"), "{redacted}");
        assert_eq!(
            redact_url("http://user:ZZPASS@127.0.0.1:9000/b?list-type=2&prefix=in%2F"),
            "http://127.0.0.1:9000/b?list-type=2&prefix=in%2F"
        );
        assert_eq!(redact_url("https://h/b/k"), "https://h/b/k");
    }

    #[test]
    fn records_print_on_one_line() {
        let record = RequestRecord {
            method: "GET".into(),
            url: "https://h/b/k".into(),
            range: Some("bytes=0-65535".into()),
            status: Some(206),
            bytes: 65536,
            millis: 3,
            retry: 0,
            error: None,
        };
        assert_eq!(
            record.to_string(),
            "GET https://h/b/k range=bytes=0-65535 status=206 bytes=65536 ms=3 retry=0"
        );
    }
}
