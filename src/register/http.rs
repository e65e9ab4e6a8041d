//! Blocking HTTP with bounded retries: exponential backoff with full jitter on 429, 5xx and
//! connection failures, honouring `Retry-After` (seconds).

use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::RETRY_AFTER;

use super::RegisterError;
use crate::store::retry::RetryPolicy;
use crate::store::{RequestObserver, RequestRecord};

/// A finished exchange: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// A client with a user agent and the policy's timeout per attempt.
pub fn client(policy: &RetryPolicy) -> Result<Client, RegisterError> {
    Client::builder()
        .user_agent(concat!("dicomprep/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(policy.request_timeout.min(Duration::from_secs(30)))
        .timeout(policy.request_timeout)
        .build()
        .map_err(|source| RegisterError::Http {
            url: "(client setup)".into(),
            reason: source.to_string(),
        })
}

/// Sends the request `make` builds until it is answered with neither 429 nor 5xx, or the
/// policy gives up. `notify` hears of every retry, `log` (`--debug-requests`) of every
/// attempt. Other statuses are returned as they are.
pub fn send(
    url: &str,
    make: &dyn Fn() -> RequestBuilder,
    policy: &RetryPolicy,
    log: Option<&dyn RequestObserver>,
    notify: &mut dyn FnMut(&str),
) -> Result<Reply, RegisterError> {
    let mut waited = Duration::ZERO;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (problem, retry_after) = match execute(make(), attempt - 1, log) {
            Ok(response) => {
                let status = response.status().as_u16();
                if status != 429 && status < 500 {
                    let body = response.text().map_err(|source| RegisterError::Http {
                        url: url.to_string(),
                        reason: source.to_string(),
                    })?;
                    return Ok(Reply { status, body });
                }
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                (format!("HTTP {status}"), retry_after)
            }
            Err(err) => (without_url(&err), None),
        };
        let delay = policy.delay(attempt, retry_after);
        if attempt >= policy.max_attempts || waited + delay > policy.max_total {
            return Err(RegisterError::GaveUp {
                url: url.to_string(),
                attempts: attempt,
                last: problem,
            });
        }
        notify(&format!(
            "{url}: {problem}; retrying in {:.1} s (attempt {} of {})",
            delay.as_secs_f64(),
            attempt + 1,
            policy.max_attempts
        ));
        std::thread::sleep(delay);
        waited += delay;
    }
}

/// Sends one attempt, reporting it to `log` (never its headers, where credentials travel).
fn execute(
    builder: RequestBuilder,
    retry: u32,
    log: Option<&dyn RequestObserver>,
) -> reqwest::Result<Response> {
    let (client, request) = builder.build_split();
    let request = request?;
    let Some(log) = log else {
        return client.execute(request);
    };
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let sent = request
        .body()
        .and_then(|body| body.as_bytes())
        .map_or(0, |bytes| bytes.len() as u64);
    let started = Instant::now();
    let result = client.execute(request);
    let millis = started.elapsed().as_millis() as u64;
    let answer = match &result {
        Ok(response) => Ok((response.status().as_u16(), response.content_length())),
        // The kind only: reqwest's message holds the URL unredacted.
        Err(err) if err.is_timeout() => Err("Timeout".into()),
        Err(err) if err.is_connect() => Err("Connect".into()),
        Err(_) => Err("Request".into()),
    };
    log.request(&RequestRecord::new(
        &method, &url, None, sent, retry, millis, answer,
    ));
    result
}

/// A transport error's description (the URL is named by the caller).
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_and_respect_retry_after_and_caps() {
        let policy = RetryPolicy::default();
        for attempt in 1..=5 {
            let ceiling = Duration::from_millis(500) * (1 << (attempt - 1));
            for _ in 0..20 {
                assert!(policy.delay(attempt, None) <= ceiling);
            }
        }
        let delays: Vec<Duration> = (0..20).map(|_| policy.delay(4, None)).collect();
        assert!(delays.iter().any(|d| *d != delays[0]), "jitter varies");
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(30)
        );
        assert!(policy.delay(40, None) <= Duration::from_secs(30));
    }
}
