//! The upload hook (SPEC §11): `PUT|GET|DELETE /v2/accounts/{acc}/upload_hook`,
//! all needing `admin`.

use super::openapi::Metadata;
use super::{AppJson, AppPath};
use crate::auth::Principal;
use crate::domain::upload_hook::{self, TestOutcome};
use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
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

/// The upload hook: its signing secret only in the answer that sets it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Hook {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// Milliseconds since the epoch.
    created_at: i64,
}

/// What the hook answered a test call.
#[derive(Serialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "lowercase")]
enum HookTest {
    /// A 2xx, with what it would change (null: nothing).
    Allowed {
        #[serde(rename = "filePath")]
        file_path: Option<String>,
        metadata: Option<Metadata>,
        tags: Option<Vec<String>>,
    },
    /// A 4xx: the upload would be refused with this status and message.
    Rejected { status: u16, message: String },
    /// No usable answer: uploads would get 503 `upload_hook_unavailable`.
    Unavailable { message: String },
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
        (status = 200, description = "The hook", body = Hook),
        super::responses::Common
    ),
)]
async fn set_hook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<SetHook>,
) -> AppResult<Json<Hook>> {
    let (row, secret) = upload_hook::set(&state, &principal, &acc, &body.url).await?;
    Ok(Json(Hook {
        url: row.url,
        secret: Some(secret),
        created_at: row.created_at,
    }))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/upload_hook",
    tag = "webhooks",
    summary = "The upload hook",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "The hook", body = Hook),
        super::responses::Common
    ),
)]
async fn get_hook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Hook>> {
    let row = upload_hook::get(&state, &principal, &acc).await?;
    Ok(Json(Hook {
        url: row.url,
        secret: None,
        created_at: row.created_at,
    }))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/upload_hook",
    tag = "webhooks",
    summary = "Remove the upload hook",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 204, description = "Removed"),
        super::responses::Common
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
        (status = 200, description = "What the hook answered", body = HookTest),
        super::responses::Common,
        (status = 404, description = "The account has no upload hook", body = super::openapi::ErrorBody)
    ),
)]
async fn test_hook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<HookTest>> {
    Ok(Json(
        match upload_hook::test(&state, &principal, &acc).await? {
            TestOutcome::Allowed(c) => HookTest::Allowed {
                file_path: c.path,
                metadata: c.metadata.map(Metadata),
                tags: c.tags,
            },
            TestOutcome::Rejected { status, message } => HookTest::Rejected { status, message },
            TestOutcome::Unavailable { reason } => HookTest::Unavailable { message: reason },
        },
    ))
}
