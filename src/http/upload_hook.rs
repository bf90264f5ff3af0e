//! The upload hook (SPEC §11): `PUT|GET|DELETE /v2/accounts/{acc}/upload_hook`,
//! all needing `admin`.

use super::{AppJson, AppPath};
use crate::auth::Principal;
use crate::domain::upload_hook::{self, TestOutcome};
use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_hook, set_hook, delete_hook))
        .routes(routes!(test_hook))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SetHook {
    url: String,
}

/// `{url, secret}`: the secret is shown in this answer only.
#[utoipa::path(
    put,
    path = "/v2/accounts/{account}/upload_hook",
    tag = "webhooks",
    summary = "Set the upload hook (secret shown once)",
    params(("account" = String, Path, description = "Account ID")),
    request_body = SetHook,
    responses(
        (status = 200, description = "The hook", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
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

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/upload_hook",
    tag = "webhooks",
    summary = "The upload hook",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "The hook", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn get_hook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let row = upload_hook::get(&state, &principal, &acc).await?;
    Ok(Json(json!({"url": row.url, "createdAt": row.created_at})))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/upload_hook",
    tag = "webhooks",
    summary = "Remove the upload hook",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn delete_hook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<StatusCode> {
    upload_hook::remove(&state, &principal, &acc).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{outcome: "allowed", filePath?, metadata?, tags?}`, `{outcome:
/// "rejected", status, message}` or `{outcome: "unavailable", message}`:
/// the hook is called as for an upload of `/upload-hook-test.txt` (0 bytes,
/// metadata `{"stowageTest": true}`); nothing is uploaded.
#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/upload_hook/test",
    tag = "webhooks",
    summary = "Call the upload hook with a test upload (stowage's own)",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "What the hook answered", body = Object),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "The account has no upload hook", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn test_hook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    Ok(Json(
        match upload_hook::test(&state, &principal, &acc).await? {
            TestOutcome::Allowed(c) => json!({
                "outcome": "allowed",
                "filePath": c.path,
                "metadata": c.metadata,
                "tags": c.tags,
            }),
            TestOutcome::Rejected { status, message } => {
                json!({"outcome": "rejected", "status": status, "message": message})
            }
            TestOutcome::Unavailable { reason } => {
                json!({"outcome": "unavailable", "message": reason})
            }
        },
    ))
}
