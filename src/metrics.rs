//! Prometheus metrics (SPEC §9): requests by route and status, latency
//! histograms, bytes in and out, uploads in flight, cache hit ratio.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
/// foldhash: these maps are read on every request, and SipHash showed in
/// its profile (docs/performance.md).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

pub const REQUESTS: &str = "stowage_http_requests_total";
pub const LATENCY: &str = "stowage_http_request_duration_seconds";
pub const BYTES_IN: &str = "stowage_bytes_in_total";
pub const BYTES_OUT: &str = "stowage_bytes_out_total";
pub const UPLOADS_IN_FLIGHT: &str = "stowage_uploads_in_flight";
pub const CACHE_LOOKUPS: &str = "stowage_cache_lookups_total";
pub const DIGEST_PENDING: &str = "stowage_digest_pending_files";
pub const DIGEST_HASHED_BYTES: &str = "stowage_digest_hashed_bytes_total";
pub const WEBHOOK_ATTEMPTS: &str = "stowage_webhook_attempts_total";
pub const WEBHOOK_PENDING: &str = "stowage_webhook_pending_deliveries";
pub const WEBHOOK_OLDEST: &str = "stowage_webhook_oldest_pending_seconds";
pub const TUS_CHECKPOINTS: &str = "stowage_tus_checkpoints_total";

/// The process-wide recorder (installed once; every server in the process
/// shares it, which only matters to tests).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(LATENCY.to_string()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    10.0, 60.0,
                ],
            )
            .expect("static buckets")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        describe();
        start_upkeep(handle.clone());
        handle
    })
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Histograms keep every sample until upkeep drains them into their buckets
/// (without it memory grows with every request). It runs on a thread of its
/// own, once a second: measured 0.2–0.34 ms per second of samples at ~37 000
/// requests/s, so on a runtime worker every 5 s it held that worker's
/// queued requests for 1–2 ms (docs/performance.md, the tail).
fn start_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread; latency samples accumulate");
    }
}

fn describe() {
    metrics::describe_counter!(REQUESTS, "HTTP requests by route, method and status");
    metrics::describe_histogram!(LATENCY, "HTTP request latency until the response head");
    metrics::describe_counter!(BYTES_IN, "Bytes of uploaded files stored");
    metrics::describe_counter!(
        BYTES_OUT,
        "Bytes of response bodies announced by Content-Length"
    );
    metrics::describe_gauge!(UPLOADS_IN_FLIGHT, "Uploads currently streaming");
    metrics::describe_counter!(
        TUS_CHECKPOINTS,
        "tus offsets recorded in the middle of a PATCH (durable bytes)"
    );
    metrics::describe_counter!(
        CACHE_LOOKUPS,
        "Cache lookups by cache and result (hit|miss)"
    );
    metrics::describe_gauge!(
        DIGEST_PENDING,
        "Stored objects whose whole-file SHA-256 the digest pass has not read yet"
    );
    metrics::describe_counter!(
        DIGEST_HASHED_BYTES,
        "Bytes read and hashed by the background digest pass"
    );
    metrics::describe_counter!(
        WEBHOOK_ATTEMPTS,
        "Webhook delivery attempts by outcome (delivered|retrying|failed)"
    );
    metrics::describe_gauge!(
        WEBHOOK_PENDING,
        "Webhook deliveries not delivered or failed yet"
    );
    metrics::describe_gauge!(
        WEBHOOK_OLDEST,
        "Age of the oldest event with a pending webhook delivery"
    );
}

/// Route templates as `&'static str`: there are a few dozen, so each is leaked
/// once and every request's labels are then static (no allocation).
fn route_label(route: Option<&MatchedPath>) -> &'static str {
    static ROUTES: OnceLock<RwLock<HashMap<String, &'static str>>> = OnceLock::new();
    let Some(route) = route.map(MatchedPath::as_str) else {
        return "unmatched";
    };
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(r) = routes.read().unwrap_or_else(|e| e.into_inner()).get(route) {
        return r;
    }
    let mut w = routes.write().unwrap_or_else(|e| e.into_inner());
    w.entry(route.to_string())
        .or_insert_with(|| Box::leak(route.to_string().into_boxed_str()))
}

/// A status code as a `&'static str` label (interned once per code).
fn status_label(code: u16) -> &'static str {
    static CODES: OnceLock<RwLock<HashMap<u16, &'static str>>> = OnceLock::new();
    let codes = CODES.get_or_init(Default::default);
    if let Some(c) = codes.read().unwrap_or_else(|e| e.into_inner()).get(&code) {
        return c;
    }
    let mut w = codes.write().unwrap_or_else(|e| e.into_inner());
    w.entry(code)
        .or_insert_with(|| Box::leak(code.to_string().into_boxed_str()))
}

/// The method as a label: the standard ones by name, anything else `other`
/// (a made-up method must not create a new series per request).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The request counter and latency histogram of one (route, method, status),
/// looked up in the recorder once and then kept: the recorder's own lookup
/// hashes the name and every label on each call.
fn series(
    route: &'static str,
    method: &'static str,
    code: u16,
) -> (metrics::Counter, metrics::Histogram) {
    type Key = (usize, usize, u16);
    static SERIES: OnceLock<RwLock<HashMap<Key, (metrics::Counter, metrics::Histogram)>>> =
        OnceLock::new();
    // Labels are interned `&'static str`s: their addresses name them.
    let key = (route.as_ptr() as usize, method.as_ptr() as usize, code);
    let all = SERIES.get_or_init(Default::default);
    if let Some(s) = all.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return s.clone();
    }
    let status = status_label(code);
    handle(); // the recorder exists before a handle is kept
    let made = (
        metrics::counter!(REQUESTS, "route" => route, "method" => method, "status" => status),
        metrics::histogram!(LATENCY, "route" => route, "method" => method),
    );
    let mut w = all.write().unwrap_or_else(|e| e.into_inner());
    w.entry(key).or_insert(made).clone()
}

/// Middleware: counts and times every request by its route template.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = route_label(req.extensions().get::<MatchedPath>());
    let method = method_label(req.method());
    let resp = next.run(req).await;
    let (requests, latency) = series(route, method, resp.status().as_u16());
    requests.increment(1);
    latency.record(start.elapsed().as_secs_f64());
    if let Some(len) = resp
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        static OUT: OnceLock<metrics::Counter> = OnceLock::new();
        OUT.get_or_init(|| {
            handle(); // the recorder exists before a handle is kept
            metrics::counter!(BYTES_OUT)
        })
        .increment(len);
    }
    resp
}

/// The caches whose lookups are counted (`stowage_cache_lookups_total{cache}`).
#[derive(Clone, Copy, Debug)]
pub enum Cache {
    Keys,
    Files,
    Bytes,
    Derived,
}

impl Cache {
    const ALL: [Cache; 4] = [Cache::Keys, Cache::Files, Cache::Bytes, Cache::Derived];

    fn label(self) -> &'static str {
        match self {
            Cache::Keys => "keys",
            Cache::Files => "files",
            Cache::Bytes => "bytes",
            Cache::Derived => "derived",
        }
    }
}

/// Counts one lookup in a cache. The counters are looked up in the recorder
/// once (a lookup hashes the name and labels: ~1 000 instructions a call).
pub fn cache_lookup(cache: Cache, hit: bool) {
    static COUNTERS: OnceLock<Vec<metrics::Counter>> = OnceLock::new();
    let all = COUNTERS.get_or_init(|| {
        handle(); // the recorder exists before a handle is kept
        Cache::ALL
            .iter()
            .flat_map(|c| {
                [true, false].map(|hit| {
                    let result = if hit { "hit" } else { "miss" };
                    metrics::counter!(CACHE_LOOKUPS, "cache" => c.label(), "result" => result)
                })
            })
            .collect()
    });
    all[cache as usize * 2 + usize::from(!hit)].increment(1);
}

/// Keeps `stowage_uploads_in_flight` up while alive.
pub struct InFlight;

impl InFlight {
    pub fn start() -> InFlight {
        metrics::gauge!(UPLOADS_IN_FLIGHT).increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(UPLOADS_IN_FLIGHT).decrement(1.0);
    }
}
