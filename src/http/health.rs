//! `GET /healthz` (alive), `GET /readyz` (database and object store reachable)
//! and `GET /metrics` (Prometheus text).

use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_health))
        .routes(routes!(get_ready))
        .routes(routes!(get_metrics))
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    summary = "Liveness",
    responses(
        (status = 200, description = "Alive", body = Health)
    ),
    security(()),
)]
async fn get_health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `{"status": "ok"}`.
#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok`.
    status: &'static str,
}

/// The node is ready, and what it runs on.
#[derive(Serialize, ToSchema)]
struct Ready {
    /// `ready`.
    status: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// The object store, without credentials.
    storage: String,
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    summary = "Readiness (database and store reachable)",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Unavailable", body = super::openapi::ErrorBody)
    ),
    security(()),
)]
async fn get_ready(State(state): State<AppState>) -> AppResult<Json<Ready>> {
    state.meta.ping().await?;
    state.blobs.ping().await?;
    Ok(Json(Ready {
        status: "ready",
        database: state.meta.backend(),
        storage: state.blobs.describe().to_string(),
    }))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "Metrics", body = String, content_type = "text/plain")
    ),
    security(()),
)]
async fn get_metrics() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::handle().render(),
    )
}
