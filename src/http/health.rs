//! `GET /healthz` (alive), `GET /readyz` (database and object store reachable)
//! and `GET /metrics` (Prometheus text).

use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(get_health))
        .route("/readyz", get(get_ready))
        .route("/metrics", get(get_metrics))
}

async fn get_health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn get_ready(State(state): State<AppState>) -> AppResult<Json<Value>> {
    state.meta.ping().await?;
    state.blobs.ping().await?;
    Ok(Json(json!({
        "status": "ready",
        "database": state.meta.backend(),
        "storage": state.blobs.describe(),
    })))
}

async fn get_metrics() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::handle().render(),
    )
}
