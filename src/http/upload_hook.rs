//! The upload hook (SPEC §11): `PUT|GET|DELETE /v2/accounts/{acc}/upload_hook`,
//! all needing `admin`.

use super::{AppJson, AppPath};
use crate::auth::Principal;
use crate::domain::upload_hook;
use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::put;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v2/accounts/{account}/upload_hook",
        put(set_hook).get(get_hook).delete(delete_hook),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetHook {
    url: String,
}

/// `{url, secret}`: the secret is shown in this answer only.
async fn set_hook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<SetHook>,
) -> AppResult<Json<Value>> {
    let (row, secret) = upload_hook::set(&state, &principal, &acc, &body.url).await?;
    Ok(Json(
        json!({"url": row.url, "secret": secret, "createdAt": row.created_at}),
    ))
}

async fn get_hook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let row = upload_hook::get(&state, &principal, &acc).await?;
    Ok(Json(json!({"url": row.url, "createdAt": row.created_at})))
}

async fn delete_hook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<StatusCode> {
    upload_hook::remove(&state, &principal, &acc).await?;
    Ok(StatusCode::NO_CONTENT)
}
