//! Operational figures in the Prometheus text exposition format (version 0.0.4), served at
//! `/metrics` by the HTTP transport.
//!
//! A tiny registry of its own rather than a metrics crate: five families with fixed, bounded
//! label sets (tool names come from the operation table, outcomes from our own error codes,
//! providers from the registry), so a few atomics and two small maps behind mutexes cover it,
//! and the exposition is one function. One registry per engine (not a process-wide static):
//! servers started side by side, as the tests do, count apart.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in seconds, of the vendor request latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default, Clone)]
struct Histogram {
    /// Per bucket (not cumulative); the last slot is `+Inf`.
    counts: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.counts[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

/// The server's counters, gauges and histograms.
#[derive(Default)]
pub struct Metrics {
    /// Tool calls by (tool, outcome): `ok` or an error code of ours.
    calls: Mutex<BTreeMap<(String, String), u64>>,
    /// Vendor request latency (each attempt) by provider.
    vendor: Mutex<BTreeMap<&'static str, Histogram>>,
    /// Vendor requests sent again after a transient failure, by provider.
    retries: Mutex<BTreeMap<&'static str, u64>>,
    /// 401 answers from a vendor, by provider.
    vendor_auth: Mutex<BTreeMap<&'static str, u64>>,
    /// HTTP requests refused for a missing or wrong bearer token.
    client_auth: AtomicU64,
    /// HTTP requests being served.
    in_flight: AtomicI64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Holds one HTTP request in the in-flight gauge until dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// One tool call ended: `outcome` is `ok` or an error code.
    pub fn call(&self, tool: &str, outcome: &str) {
        *lock(&self.calls)
            .entry((tool.to_string(), outcome.to_string()))
            .or_default() += 1;
    }

    /// One vendor request attempt took `took`; `status` is its HTTP status, if it got one.
    pub fn vendor_request(&self, provider: &'static str, took: Duration, status: Option<u16>) {
        lock(&self.vendor)
            .entry(provider)
            .or_default()
            .observe(took.as_secs_f64());
        if status == Some(401) {
            self.vendor_refusal(provider);
        }
    }

    /// A vendor refused the credential in an answer whose status is not 401 (BigID's 200
    /// `{"success": false}`).
    pub fn vendor_refusal(&self, provider: &'static str) {
        *lock(&self.vendor_auth).entry(provider).or_default() += 1;
    }

    /// `n` more attempts of one vendor request after transient failures.
    pub fn retries(&self, provider: &'static str, n: u64) {
        if n > 0 {
            *lock(&self.retries).entry(provider).or_default() += n;
        }
    }

    /// An HTTP request refused for its (missing, wrong) credential.
    pub fn client_auth_failure(&self) {
        self.client_auth.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an HTTP request as in flight until the guard is dropped.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Everything, in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP datasource_mcp_calls_total Tool calls by tool and outcome (ok or an error code).\n");
        out.push_str("# TYPE datasource_mcp_calls_total counter\n");
        for ((tool, outcome), n) in lock(&self.calls).iter() {
            let _ = writeln!(
                out,
                "datasource_mcp_calls_total{{tool=\"{}\",outcome=\"{}\"}} {n}",
                escape(tool),
                escape(outcome)
            );
        }
        out.push_str("# HELP datasource_mcp_vendor_request_duration_seconds Vendor HTTP requests (each attempt, token exchanges included) by provider.\n");
        out.push_str("# TYPE datasource_mcp_vendor_request_duration_seconds histogram\n");
        for (provider, h) in lock(&self.vendor).iter() {
            let mut cumulative = 0;
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(
                    out,
                    "datasource_mcp_vendor_request_duration_seconds_bucket{{provider=\"{provider}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "datasource_mcp_vendor_request_duration_seconds_bucket{{provider=\"{provider}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "datasource_mcp_vendor_request_duration_seconds_sum{{provider=\"{provider}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "datasource_mcp_vendor_request_duration_seconds_count{{provider=\"{provider}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP datasource_mcp_retries_total Vendor requests sent again after a transient failure (reads only), by provider.\n");
        out.push_str("# TYPE datasource_mcp_retries_total counter\n");
        for (provider, n) in lock(&self.retries).iter() {
            let _ = writeln!(
                out,
                "datasource_mcp_retries_total{{provider=\"{provider}\"}} {n}"
            );
        }
        out.push_str("# HELP datasource_mcp_auth_failures_total Refused credentials: source=\"client\" for HTTP requests without a valid bearer token, source=\"vendor\" for credentials a vendor refused (a 401, or a refusal with another status).\n");
        out.push_str("# TYPE datasource_mcp_auth_failures_total counter\n");
        let _ = writeln!(
            out,
            "datasource_mcp_auth_failures_total{{source=\"client\"}} {}",
            self.client_auth.load(Ordering::Relaxed)
        );
        for (provider, n) in lock(&self.vendor_auth).iter() {
            let _ = writeln!(
                out,
                "datasource_mcp_auth_failures_total{{source=\"vendor\",provider=\"{provider}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP datasource_mcp_in_flight_requests HTTP requests to /mcp being served.\n",
        );
        out.push_str("# TYPE datasource_mcp_in_flight_requests gauge\n");
        let _ = writeln!(
            out,
            "datasource_mcp_in_flight_requests {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        out
    }
}

/// A label value as the exposition format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::new();
        m.call("bigid_list_data_sources", "ok");
        m.call("bigid_list_data_sources", "ok");
        m.call("bigid_create_data_source", "INVALID_ARGUMENT");
        m.vendor_request("bigid", Duration::from_millis(20), Some(200));
        m.vendor_request("bigid", Duration::from_secs(40), Some(401));
        m.retries("pdc", 2);
        m.client_auth_failure();
        let _held = m.in_flight();
        let text = m.render();
        for line in [
            "datasource_mcp_calls_total{tool=\"bigid_list_data_sources\",outcome=\"ok\"} 2",
            "datasource_mcp_calls_total{tool=\"bigid_create_data_source\",outcome=\"INVALID_ARGUMENT\"} 1",
            "datasource_mcp_vendor_request_duration_seconds_bucket{provider=\"bigid\",le=\"0.01\"} 0",
            "datasource_mcp_vendor_request_duration_seconds_bucket{provider=\"bigid\",le=\"0.025\"} 1",
            "datasource_mcp_vendor_request_duration_seconds_bucket{provider=\"bigid\",le=\"30\"} 1",
            "datasource_mcp_vendor_request_duration_seconds_bucket{provider=\"bigid\",le=\"+Inf\"} 2",
            "datasource_mcp_vendor_request_duration_seconds_count{provider=\"bigid\"} 2",
            "datasource_mcp_retries_total{provider=\"pdc\"} 2",
            "datasource_mcp_auth_failures_total{source=\"client\"} 1",
            "datasource_mcp_auth_failures_total{source=\"vendor\",provider=\"bigid\"} 1",
            "datasource_mcp_in_flight_requests 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        drop(_held);
        assert!(m.render().contains("datasource_mcp_in_flight_requests 0\n"));
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
