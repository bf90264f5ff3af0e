//! stowage: a self-hosted upload and CDN server speaking the Bytescale HTTP API.
//!
//! `build_app` assembles the router; `server` opens the stores and runs it.

// `deny`, not `forbid`: a `forbid` cannot be lifted by an inner `allow`,
// and src/images/av1.rs (rav1d's C API, AVIF decoding) is the one module
// that needs it (`#[allow(unsafe_code)]` on its `mod` line).
#![deny(unsafe_code)]

pub mod auth;
pub mod blobs;
pub mod cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod faults;
pub mod http;
pub mod images;
pub mod master_key;
pub mod meta;
pub mod metrics;
pub mod outbound;
pub mod ratelimit;
pub mod server;
pub mod state;

#[cfg(test)]
mod proptests;

use axum::http::{Method, Uri};
use axum::Router;
use error::AppError;
use state::AppState;
use std::sync::Arc;

/// Every route, behind the edge (request id, tracing span, CORS, limits,
/// dashboard gate: `http/edge.rs`).
pub fn build_app(state: AppState) -> Router {
    let allowed = Arc::new(state.config.allowed_origins());
    let body_timeout = state.config.body_timeout;
    let (api, _) = http::openapi::api_routes().split_for_parts();
    let routes = api
        .route("/openapi.json", axum::routing::get(http::openapi::serve))
        .merge(http::dashboard::router())
        .fallback(route_not_found)
        .method_not_allowed_fallback(route_not_found)
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state.clone());
    let edge = http::edge::Edge {
        state,
        allowed,
        body_timeout,
    };
    // The edge runs before `routes` routes (the dashboard gate rewrites
    // `/dashboard/api/…` URLs), so it wraps them as a service.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn_with_state(edge, http::edge::edge))
}

async fn route_not_found(method: Method, uri: Uri) -> AppError {
    AppError::RouteNotFound {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}
