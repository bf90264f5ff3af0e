//! stowage: a self-hosted upload and CDN server speaking the Bytescale HTTP API.
//!
//! `build_app` assembles the router; `server` opens the stores and runs it.

#![forbid(unsafe_code)]

pub mod auth;
pub mod blobs;
pub mod cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod images;
pub mod master_key;
pub mod meta;
pub mod metrics;
pub mod server;
pub mod state;

#[cfg(test)]
mod proptests;

use axum::http::{HeaderName, Method, Uri};
use axum::Router;
use error::AppError;
use state::AppState;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route, behind the request-id, tracing and CORS layers.
pub fn build_app(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
        let id = req
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!("http", request_id = %id, method = %req.method(), uri = %req.uri().path())
    });
    let allowed = Arc::new(state.config.allowed_origins());
    let body_timeout = state.config.body_timeout;
    let routes = Router::new()
        .merge(http::health::router())
        .merge(http::uploads::router())
        .merge(http::multipart::router())
        .merge(http::files::router())
        .merge(http::folders::router())
        .merge(http::keys::router())
        .merge(http::tokens::router())
        .merge(http::tus::router())
        .merge(http::imagekit::router())
        .merge(http::session::router())
        .merge(http::dashboard::router())
        .merge(http::cdn::router())
        .merge(http::images::router())
        .fallback(route_not_found)
        .method_not_allowed_fallback(route_not_found)
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state.clone());
    // The dashboard gate runs before routing: it rewrites `/dashboard/api/…`.
    http::dashboard::gate(state, routes)
        .layer(axum::middleware::from_fn_with_state(
            body_timeout,
            http::limits::body_timeout,
        ))
        .layer(axum::middleware::from_fn(http::limits::strict_utf8))
        .layer(axum::middleware::from_fn_with_state(
            allowed,
            http::cors::cors,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn route_not_found(method: Method, uri: Uri) -> AppError {
    AppError::RouteNotFound {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}
