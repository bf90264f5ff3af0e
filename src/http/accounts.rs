//! Account limits, quotas and usage (SPEC §12): `GET|PUT
//! /v2/accounts/{acc}/limits` (admin) and `GET /v2/accounts/{acc}/usage`.

use super::{AppJson, AppPath};
use crate::auth::Principal;
use crate::domain::quotas::{self, Effective};
use crate::error::AppResult;
use crate::meta::{Account, AccountLimits};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_limits, put_limits))
        .routes(routes!(get_usage))
        .routes(routes!(get_usage_daily))
}

/// The account's own settings; null is the default (the server's maximum
/// file size, any type; no quota, or the sandbox quota on a sandbox account).
fn limits_json(a: &Account) -> Value {
    json!({
        "maxFileSize": a.max_file_size,
        "allowedMime": a.allowed_mime,
        "maxStorageBytes": a.max_storage_bytes,
        "maxFiles": a.max_files,
    })
}

/// What uploads meet now; null is unlimited.
fn effective_json(e: &Effective) -> Value {
    json!({
        "maxFileSize": e.max_file_size,
        "allowedMime": e.allowed_mime,
        "maxStorageBytes": e.max_storage_bytes,
        "maxFiles": e.max_files,
    })
}

/// `PUT …/limits`: every field, a missing one being null (the default).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LimitsBody {
    #[serde(default)]
    max_file_size: Option<i64>,
    #[serde(default)]
    allowed_mime: Option<String>,
    #[serde(default)]
    max_storage_bytes: Option<i64>,
    #[serde(default)]
    max_files: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/limits",
    tag = "accounts",
    summary = "The account's limits",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Limits", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn get_limits(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let account = quotas::get_limits(&state, &principal, &acc).await?;
    Ok(Json(limits_json(&account)))
}

#[utoipa::path(
    put,
    path = "/v2/accounts/{account}/limits",
    tag = "accounts",
    summary = "Set the account's limits",
    params(("account" = String, Path, description = "Account ID")),
    request_body = LimitsBody,
    responses(
        (status = 200, description = "Limits", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn put_limits(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<LimitsBody>,
) -> AppResult<Json<Value>> {
    let limits = AccountLimits {
        max_file_size: body.max_file_size,
        allowed_mime: body.allowed_mime,
        max_storage_bytes: body.max_storage_bytes,
        max_files: body.max_files,
    };
    let account = quotas::put_limits(&state, &principal, &acc, limits).await?;
    Ok(Json(limits_json(&account)))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/usage",
    tag = "accounts",
    summary = "The account's usage",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Usage", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn get_usage(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let (row, effective) = quotas::usage(&state, &principal, &acc).await?;
    Ok(Json(json!({
        "files": row.files,
        "versions": row.versions,
        "bytes": row.bytes,
        "storedBytes": row.stored_bytes,
        "limits": effective_json(&effective),
    })))
}

#[derive(Deserialize)]
struct DailyQuery {
    days: Option<i64>,
}

/// `{items: [{date, uploads, bytesIn, bytesOut, transformations, requests}]}`,
/// oldest day first (UTC dates).
#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/usage/daily",
    tag = "accounts",
    summary = "Activity per day (stowage's own)",
    params(("account" = String, Path, description = "Account ID"), ("days" = Option<u32>, Query, description = "Days back from today (default 30)")),
    responses(
        (status = 200, description = "Activity per day (stowage's own)", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn get_usage_daily(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    super::AppQuery(q): super::AppQuery<DailyQuery>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let rows = crate::domain::daily::usage_daily(&state, &principal, &acc, q.days).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let date = chrono::DateTime::from_timestamp(r.day * 86_400, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            json!({
                "date": date,
                "uploads": r.uploads,
                "bytesIn": r.bytes_in,
                "bytesOut": r.bytes_out,
                "transformations": r.transformations,
                "requests": r.requests,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}
