//! `/metrics` (Prometheus text format: requests and latency per route and status) and
//! `/healthz`. Hand-rolled counters: a few dozen routes need no exporter crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<(String, String), RouteStats>>,
}

#[derive(Default, Clone)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    /// Cumulative counts per bucket of [`BUCKETS`].
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        // A poisoned lock only means another request panicked mid-update; counts stay usable.
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let stats = routes.entry((method.to_owned(), route.to_owned())).or_default();
        *stats.by_status.entry(status).or_default() += 1;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                stats.buckets[i] += 1;
            }
        }
        stats.count += 1;
        stats.sum_seconds += seconds;
    }

    /// The Prometheus text exposition of every route seen so far.
    pub fn render(&self) -> String {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out = String::new();
        out.push_str("# HELP rdt_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE rdt_http_requests_total counter\n");
        for ((method, route), s) in &routes {
            for (status, n) in &s.by_status {
                let _ = writeln!(
                    out,
                    "rdt_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP rdt_http_request_duration_seconds Time to the response head, by route.\n");
        out.push_str("# TYPE rdt_http_request_duration_seconds histogram\n");
        for ((method, route), s) in &routes {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (le, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(out, "rdt_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}");
            }
            let _ = writeln!(out, "rdt_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "rdt_http_request_duration_seconds_sum{{{labels}}} {}", s.sum_seconds);
            let _ = writeln!(out, "rdt_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
        out
    }
}

/// Times every request under its route pattern (`/patients/{id}`, not the id, so
/// label sets stay bounded).
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or("unmatched".into());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    state.metrics().observe(&method, &route, res.status().as_u16(), start.elapsed().as_secs_f64());
    res
}

pub async fn metrics_show(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics().render()).into_response()
}

/// Liveness and readiness: the journey store answers. Public, so it says nothing about
/// the data (no counts) and reads no table.
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => "ok\n".into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_counts_add_up() {
        let m = Metrics::default();
        m.observe("GET", "/patients/{id}", 200, 0.004);
        m.observe("GET", "/patients/{id}", 200, 0.2);
        m.observe("GET", "/patients/{id}", 404, 20.0);
        let text = m.render();
        assert!(text.contains("rdt_http_requests_total{method=\"GET\",route=\"/patients/{id}\",status=\"200\"} 2"));
        assert!(text.contains("status=\"404\"} 1"));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.25\"} 2"));
        assert!(text.contains("le=\"10\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 3"));
    }
}
