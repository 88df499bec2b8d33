//! When a request is sent again: only requests that change nothing (GETs and read-only POSTs),
//! only after a connection error or a 429, 502, 503 or 504, with capped exponential backoff
//! and jitter, honouring `Retry-After` up to a cap, within a bounded number of attempts and a
//! total deadline. A request that creates or changes something is never sent twice.

use std::time::{Duration, Instant, SystemTime};

use backon::{ExponentialBuilder, Retryable};

use super::response::{HttpResponse, TransportError};

/// The statuses worth another attempt: rate limiting and gateway trouble.
pub const RETRY_STATUSES: [u16; 4] = [429, 502, 503, 504];

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: usize,
    /// First backoff; doubles each time.
    pub min_delay: Duration,
    /// Largest backoff between two attempts.
    pub max_delay: Duration,
    /// Longest `Retry-After` waited for; a longer one fails fast, telling when to retry.
    pub retry_after_cap: Duration,
    /// No attempt starts later than this after the first.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            retry_after_cap: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
        }
    }
}

/// One failed attempt, as the retry loop sees it.
enum Attempt {
    /// A status worth retrying; returned as is if retries run out.
    Status(HttpResponse),
    /// Nothing reached the vendor (connection refused, DNS): safe to try again.
    Connect(TransportError),
    /// Anything else: final.
    Final(TransportError),
}

impl Attempt {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Attempt::Status(r) => r.retry_after,
            _ => None,
        }
    }
}

/// Sends with `once` and retries per `policy`.
pub async fn with_retries<F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    once: F,
) -> Result<HttpResponse, TransportError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<HttpResponse, TransportError>>,
{
    let started = Instant::now();
    let mut once = once;
    let attempt = || {
        let fut = once();
        async move {
            match fut.await {
                Ok(r) if RETRY_STATUSES.contains(&r.status) => Err(Attempt::Status(r)),
                Ok(r) => Ok(r),
                Err(e @ TransportError::Connect { .. }) => Err(Attempt::Connect(e)),
                Err(e) => Err(Attempt::Final(e)),
            }
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_factor(2.0)
        .with_max_times(policy.max_retries)
        .with_jitter();
    let result = attempt
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e| !matches!(e, Attempt::Final(_)))
        .adjust(|e, backoff| {
            // `backoff` is None once the attempts are used up: a `Retry-After`, however short,
            // never buys more attempts than the policy allows.
            let next = backoff?;
            let delay = match e.retry_after() {
                Some(asked) if asked > policy.retry_after_cap => return None,
                Some(asked) => asked,
                None => next,
            };
            (started.elapsed() + delay <= policy.deadline).then_some(delay)
        })
        .notify(|e, delay| {
            let why = match e {
                Attempt::Status(r) => format!("HTTP {}", r.status),
                Attempt::Connect(t) | Attempt::Final(t) => t.to_string(),
            };
            tracing::info!("{what}: {why}; trying again in {} ms", delay.as_millis());
        })
        .await;
    match result {
        Ok(r) | Err(Attempt::Status(r)) => Ok(r),
        Err(Attempt::Connect(e) | Attempt::Final(e)) => Err(e),
    }
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::response::ResponseBody;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            retry_after_cap: Duration::from_secs(10),
            deadline: Duration::from_secs(5),
        }
    }

    fn status(s: u16) -> HttpResponse {
        HttpResponse {
            status: s,
            body: ResponseBody::Empty,
            location: None,
            retry_after: None,
        }
    }

    #[tokio::test]
    async fn retries_transient_statuses_then_succeeds() {
        let n = AtomicUsize::new(0);
        let r = with_retries(&fast(), "t", || {
            let i = n.fetch_add(1, Ordering::SeqCst);
            async move { Ok(status(if i < 2 { 503 } else { 200 })) }
        })
        .await
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn bounded_attempts_then_the_last_answer() {
        let n = AtomicUsize::new(0);
        let r = with_retries(&fast(), "t", || {
            n.fetch_add(1, Ordering::SeqCst);
            async { Ok(status(502)) }
        })
        .await
        .unwrap();
        assert_eq!(r.status, 502);
        assert_eq!(
            n.load(Ordering::SeqCst),
            4,
            "one attempt plus three retries"
        );
    }

    #[tokio::test]
    async fn never_retries_other_statuses_or_ambiguous_failures() {
        for s in [400, 401, 403, 404, 409, 422, 500] {
            let n = AtomicUsize::new(0);
            let r = with_retries(&fast(), "t", || {
                n.fetch_add(1, Ordering::SeqCst);
                async move { Ok(status(s)) }
            })
            .await
            .unwrap();
            assert_eq!((r.status, n.load(Ordering::SeqCst)), (s, 1));
        }
        let n = AtomicUsize::new(0);
        let e = with_retries(&fast(), "t", || {
            n.fetch_add(1, Ordering::SeqCst);
            async {
                Err(TransportError::Timeout {
                    host: "h".into(),
                    seconds: 1,
                })
            }
        })
        .await
        .unwrap_err();
        assert!(matches!(e, TransportError::Timeout { .. }));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn connection_errors_are_retried() {
        let n = AtomicUsize::new(0);
        let e = with_retries(&fast(), "t", || {
            n.fetch_add(1, Ordering::SeqCst);
            async {
                Err(TransportError::Connect {
                    host: "h".into(),
                    cause: "refused".into(),
                })
            }
        })
        .await
        .unwrap_err();
        assert!(matches!(e, TransportError::Connect { .. }));
        assert_eq!(n.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_long_retry_after_fails_fast() {
        let n = AtomicUsize::new(0);
        let started = Instant::now();
        let r = with_retries(&fast(), "t", || {
            n.fetch_add(1, Ordering::SeqCst);
            let mut r = status(429);
            r.retry_after = Some(Duration::from_secs(3600));
            async move { Ok(r) }
        })
        .await
        .unwrap();
        assert_eq!((r.status, n.load(Ordering::SeqCst)), (429, 1));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_short_retry_after_never_exceeds_the_budget() {
        for asked in [Duration::ZERO, Duration::from_millis(1)] {
            let n = AtomicUsize::new(0);
            let r = with_retries(&fast(), "t", || {
                n.fetch_add(1, Ordering::SeqCst);
                let mut r = status(429);
                r.retry_after = Some(asked);
                async move { Ok(r) }
            })
            .await
            .unwrap();
            assert_eq!((r.status, n.load(Ordering::SeqCst)), (429, 4), "{asked:?}");
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        let later = SystemTime::now() + Duration::from_secs(120);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            d <= Duration::from_secs(120) && d >= Duration::from_secs(110),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
