//! HTTP for DICOMweb: GETs with the service's credentials, at most `concurrency` in flight,
//! retried with exponential backoff on 429, 5xx, timeouts, resets and bodies cut short (within
//! `--retries` and `--retry-timeout`), each attempt reported to the request log.

use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};

use super::auth::Auth;
use super::multipart::{MultipartError, MultipartReader, Part};
use crate::store::request_log::redact_url;
use crate::store::retry::RetryPolicy;
use crate::store::{ConnectOptions, IoStats, RequestObserver, RequestRecord};

/// What WADO-RS retrieves are asked for: the stored Part 10 bytes, never transcoded.
pub const ACCEPT_DICOM: &str = "multipart/related; type=\"application/dicom\"; transfer-syntax=*";
/// What frame retrieves are asked for: each frame as stored (a codestream, or native samples).
pub const ACCEPT_FRAMES: &str =
    "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*";
/// What QIDO-RS searches and metadata are asked for.
pub const ACCEPT_JSON: &str = "application/dicom+json, application/json";
/// Largest instance accepted (bounds memory per worker).
const MAX_INSTANCE: u64 = 4 << 30;

/// Why one attempt failed.
#[derive(Debug)]
pub enum Failure {
    /// Worth another attempt (throttled, server error, transport failure).
    Transient(String),
    /// Another attempt would fail the same way.
    Final(String),
}

impl From<MultipartError> for Failure {
    fn from(err: MultipartError) -> Failure {
        match err {
            MultipartError::Io(_) => Failure::Transient(err.to_string()),
            MultipartError::Format(_) => Failure::Final(err.to_string()),
        }
    }
}

/// A DICOMweb HTTP client.
#[derive(Debug)]
pub struct Client {
    http: reqwest::blocking::Client,
    auth: Auth,
    policy: RetryPolicy,
    observer: Option<Arc<dyn RequestObserver>>,
    stats: Arc<IoStats>,
    slots: Slots,
}

impl Client {
    /// A client with `auth`, the retries and timeouts of `options`, and `concurrency` requests
    /// in flight at most.
    pub fn new(auth: Auth, options: &ConnectOptions, concurrency: usize) -> Result<Client, String> {
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!("dicomprep/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.request_timeout.min(Duration::from_secs(10)))
            .timeout(options.request_timeout)
            // Orthanc closes idle connections after 1 s: never reuse one that old.
            .pool_idle_timeout(Duration::from_millis(500))
            .build()
            .map_err(|e| e.to_string())?;
        let policy = RetryPolicy {
            max_attempts: u32::try_from(options.max_retries)
                .unwrap_or(u32::MAX)
                .saturating_add(1),
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_total: options.retry_timeout,
            request_timeout: options.request_timeout,
        };
        Ok(Client {
            http,
            auth,
            policy,
            observer: options.observer.clone(),
            stats: Arc::default(),
            slots: Slots::new(concurrency),
        })
    }

    /// Requests and bytes so far.
    pub fn stats(&self) -> &IoStats {
        &self.stats
    }

    /// GETs a JSON answer; `Ok(None)` for a 404.
    pub fn get_json(&self, url: &str) -> Result<Option<serde_json::Value>, String> {
        self.get(url, ACCEPT_JSON, |response| {
            let mut body = Vec::new();
            response
                .read_to_end(&mut body)
                .map_err(|e| Failure::Transient(format!("reading the answer failed: {e}")))?;
            self.stats
                .bytes_read
                .fetch_add(body.len() as u64, Ordering::Relaxed);
            serde_json::from_slice(&body)
                .map_err(|e| Failure::Final(format!("the answer is not JSON: {e}")))
        })
    }

    /// GETs one instance (a one-part multipart answer), read as it streams in.
    pub fn get_instance(&self, url: &str) -> Result<Option<Vec<u8>>, String> {
        self.get(url, ACCEPT_DICOM, |response| {
            let mut parts = multipart(response)?;
            let part = parts
                .next_part()?
                .ok_or_else(|| Failure::Final("the multipart answer holds no part".to_string()))?;
            self.stats
                .bytes_read
                .fetch_add(part.body.len() as u64, Ordering::Relaxed);
            Ok(part.body)
        })
    }

    /// GETs frames (a multipart answer, a part per frame, in the order asked).
    pub fn get_frames(&self, url: &str) -> Result<Option<Vec<Part>>, String> {
        self.get(url, ACCEPT_FRAMES, |response| {
            let mut reader = multipart(response)?;
            let mut parts = Vec::new();
            while let Some(part) = reader.next_part()? {
                self.stats
                    .bytes_read
                    .fetch_add(part.body.len() as u64, Ordering::Relaxed);
                parts.push(part);
            }
            Ok(parts)
        })
    }

    /// Sends a GET until `read` accepts a 2xx answer, the answer is final (404 gives `None`,
    /// other 4xx an error), or the retry policy gives up.
    fn get<T>(
        &self,
        url: &str,
        accept: &str,
        read: impl Fn(&mut Response) -> Result<T, Failure>,
    ) -> Result<Option<T>, String> {
        let shown = redact_url(url);
        let mut waited = Duration::ZERO;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (problem, retry_after) = match self.attempt(url, &shown, accept, attempt, &read) {
                Ok(found) => return Ok(found),
                Err((Failure::Final(reason), _)) => return Err(reason),
                Err((Failure::Transient(reason), retry_after)) => (reason, retry_after),
            };
            let delay = self.policy.delay(attempt, retry_after);
            if attempt >= self.policy.max_attempts || waited + delay > self.policy.max_total {
                return Err(format!("{problem} (gave up after {attempt} attempts)"));
            }
            std::thread::sleep(delay);
            waited += delay;
        }
    }

    /// One attempt, in a concurrency slot, logged.
    #[allow(clippy::type_complexity)]
    fn attempt<T>(
        &self,
        url: &str,
        shown: &str,
        accept: &str,
        attempt: u32,
        read: &impl Fn(&mut Response) -> Result<T, Failure>,
    ) -> Result<Option<T>, (Failure, Option<Duration>)> {
        let _slot = self.slots.acquire();
        let request = self
            .auth
            .apply(self.http.get(url).header(ACCEPT, accept))
            .map_err(|e| (Failure::Final(e), None))?;
        let started = Instant::now();
        let sent = request.send();
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut record = RequestRecord {
            method: "GET".into(),
            url: shown.to_string(),
            range: None,
            status: None,
            bytes: 0,
            millis: started.elapsed().as_millis() as u64,
            retry: attempt - 1,
            error: None,
        };
        let mut response = match sent {
            Ok(response) => response,
            Err(err) => {
                record.error = Some(transport_kind(&err).into());
                self.log(&record);
                return Err((
                    Failure::Transient(format!("{} ({})", transport_kind(&err), cause(&err))),
                    None,
                ));
            }
        };
        let status = response.status().as_u16();
        record.status = Some(status);
        record.bytes = response.content_length().unwrap_or(0);
        self.log(&record);
        match status {
            200..=299 => read(&mut response).map(Some).map_err(|f| (f, None)),
            404 => Ok(None),
            429 | 500..=599 => {
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Err((Failure::Transient(format!("HTTP {status}")), retry_after))
            }
            401 | 403 => Err((
                Failure::Final(format!(
                    "HTTP {status}: not authorised (set DICOMWEB_TOKEN, or DICOMWEB_USER and DICOMWEB_PASSWORD)"
                )),
                None,
            )),
            _ => Err((Failure::Final(format!("HTTP {status}")), None)),
        }
    }

    fn log(&self, record: &RequestRecord) {
        if let Some(observer) = &self.observer {
            observer.request(record);
        }
    }
}

/// A transport error's kind, for the log and messages.
/// The parts of a multipart answer, read as they stream in (each at most [`MAX_INSTANCE`]).
fn multipart(response: &mut Response) -> Result<MultipartReader<&mut Response>, Failure> {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok(MultipartReader::new(response, &content_type, MAX_INSTANCE)?)
}

fn transport_kind(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else if err.is_body() || err.is_decode() {
        "body"
    } else {
        "request"
    }
}

/// The innermost cause of a transport error, without the URL.
fn cause(err: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = err;
    while let Some(source) = last.source() {
        last = source;
    }
    last.to_string()
}

/// A counting semaphore for blocking threads: requests in flight.
#[derive(Debug)]
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(count: usize) -> Slots {
        Slots {
            free: Mutex::new(count.max(1)),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}
