//! `GET /healthz` (alive), `GET /readyz` (database and object store reachable)
//! and `GET /metrics` (Prometheus text).

use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
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
        (status = 200, description = "Alive", body = Object)
    ),
    security(()),
)]
async fn get_health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    summary = "Readiness (database and store reachable)",
    responses(
        (status = 200, description = "Ready", body = Object),
        (status = 503, description = "Unavailable", body = super::openapi::ErrorBody)
    ),
    security(()),
)]
async fn get_ready(State(state): State<AppState>) -> AppResult<Json<Value>> {
    state.meta.ping().await?;
    state.blobs.ping().await?;
    Ok(Json(json!({
        "status": "ready",
        "database": state.meta.backend(),
        "storage": state.blobs.describe(),
    })))
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
