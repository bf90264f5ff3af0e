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
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_limits, put_limits))
        .routes(routes!(get_usage))
        .routes(routes!(get_usage_daily))
}

/// An account's limits (SPEC §12): as set (`GET|PUT …/limits`, null is
/// the default: the server's maximum file size, any type, no quota or the
/// sandbox quota), or in force (`usage.limits`, null is unlimited).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Limits {
    max_file_size: Option<i64>,
    allowed_mime: Option<String>,
    max_storage_bytes: Option<i64>,
    max_files: Option<i64>,
}

impl From<&Account> for Limits {
    fn from(a: &Account) -> Limits {
        Limits {
            max_file_size: a.max_file_size,
            allowed_mime: a.allowed_mime.clone(),
            max_storage_bytes: a.max_storage_bytes,
            max_files: a.max_files,
        }
    }
}

impl From<&Effective> for Limits {
    fn from(e: &Effective) -> Limits {
        Limits {
            max_file_size: i64::try_from(e.max_file_size).ok(),
            allowed_mime: e.allowed_mime.clone(),
            max_storage_bytes: e.max_storage_bytes,
            max_files: e.max_files,
        }
    }
}

/// `GET …/usage`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Usage {
    files: i64,
    versions: i64,
    /// The sum of every kept version's size.
    bytes: i64,
    /// After deduplication.
    stored_bytes: i64,
    limits: Limits,
}

/// One UTC day of activity.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Day {
    /// `YYYY-MM-DD`.
    date: String,
    uploads: i64,
    bytes_in: i64,
    bytes_out: i64,
    transformations: i64,
    requests: i64,
}

/// `GET …/usage/daily`, oldest day first.
#[derive(Serialize, ToSchema)]
struct Days {
    items: Vec<Day>,
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
        (status = 200, description = "Limits", body = Limits),
        super::responses::Common
    ),
)]
async fn get_limits(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Limits>> {
    let account = quotas::get_limits(&state, &principal, &acc).await?;
    Ok(Json(Limits::from(&account)))
}

#[utoipa::path(
    put,
    path = "/v2/accounts/{account}/limits",
    tag = "accounts",
    summary = "Set the account's limits",
    params(("account" = String, Path, description = "Account ID")),
    request_body = LimitsBody,
    responses(
        (status = 200, description = "Limits", body = Limits),
        super::responses::Common
    ),
)]
async fn put_limits(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<LimitsBody>,
) -> AppResult<Json<Limits>> {
    let limits = AccountLimits {
        max_file_size: body.max_file_size,
        allowed_mime: body.allowed_mime,
        max_storage_bytes: body.max_storage_bytes,
        max_files: body.max_files,
    };
    let account = quotas::put_limits(&state, &principal, &acc, limits).await?;
    Ok(Json(Limits::from(&account)))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/usage",
    tag = "accounts",
    summary = "The account's usage",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Usage", body = Usage),
        super::responses::Common
    ),
)]
async fn get_usage(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Usage>> {
    let (row, effective) = quotas::usage(&state, &principal, &acc).await?;
    Ok(Json(Usage {
        files: row.files,
        versions: row.versions,
        bytes: row.bytes,
        stored_bytes: row.stored_bytes,
        limits: Limits::from(&effective),
    }))
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
        (status = 200, description = "Activity per day (stowage's own)", body = Days),
        super::responses::Common
    ),
)]
async fn get_usage_daily(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    super::AppQuery(q): super::AppQuery<DailyQuery>,
    principal: Principal,
) -> AppResult<Json<Days>> {
    let rows = crate::domain::daily::usage_daily(&state, &principal, &acc, q.days).await?;
    let items = rows
        .iter()
        .map(|r| Day {
            date: chrono::DateTime::from_timestamp(r.day * 86_400, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            uploads: r.uploads,
            bytes_in: r.bytes_in,
            bytes_out: r.bytes_out,
            transformations: r.transformations,
            requests: r.requests,
        })
        .collect();
    Ok(Json(Days { items }))
}
