//! How HTTP clients retry (the platforms' registration clients, DICOMweb sources): attempts,
//! backoff with jitter, `Retry-After`, and the time one attempt may take.

use std::hash::BuildHasher;
use std::time::Duration;

/// How long and how often to retry, and how long one attempt may take.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled each time.
    pub base_delay: Duration,
    /// Longest single wait (also caps `Retry-After`).
    pub max_delay: Duration,
    /// Longest total wait for one request.
    pub max_total: Duration,
    /// Timeout of one attempt (a stalled attempt is retried).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(300),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (1-based `attempt` just failed): `Retry-After`
    /// when the server gave one, else a random time up to `base * 2^(attempt-1)`.
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let delay = retry_after.unwrap_or_else(|| {
            let ceiling = self
                .base_delay
                .saturating_mul(1 << attempt.saturating_sub(1).min(16));
            let random = std::collections::hash_map::RandomState::new().hash_one(attempt);
            ceiling.mul_f64((random % 1000) as f64 / 1000.0)
        });
        delay.min(self.max_delay)
    }
}
