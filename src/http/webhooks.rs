//! Webhooks (SPEC §11), all needing `admin`.

use super::{AppJson, AppPath};
use crate::auth::Principal;
use crate::domain::events::{self, NewWebhook};
use crate::error::AppResult;
use crate::meta::{AttemptRow, WebhookRow};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(test_webhook))
}

/// A webhook as the API shows it (never with its secret).
pub fn webhook_json(row: &WebhookRow) -> Value {
    json!({
        "webhookId": row.webhook_id,
        "url": row.url,
        "events": serde_json::from_str::<Value>(&row.events).unwrap_or_else(|_| json!([])),
        "description": row.description,
        "createdAt": row.created_at,
    })
}

pub fn attempt_json(a: &AttemptRow) -> Value {
    json!({
        "eventId": a.event_id,
        "type": a.event_type,
        "attempt": a.attempt,
        "statusCode": a.status_code,
        "error": a.error,
        "outcome": a.outcome,
        "at": a.at,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateWebhook {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/webhooks",
    tag = "webhooks",
    summary = "Create a webhook (secret shown once)",
    params(("account" = String, Path, description = "Account ID")),
    request_body = CreateWebhook,
    responses(
        (status = 200, description = "The webhook", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn create_webhook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<CreateWebhook>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let new = NewWebhook {
        url: body.url,
        events: body.events,
        description: body.description,
    };
    let (row, secret) = events::create(&state, &principal, &acc, new).await?;
    let mut out = webhook_json(&row);
    out["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/webhooks",
    tag = "webhooks",
    summary = "List webhooks",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Webhooks", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn list_webhooks(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let rows = events::list(&state, &principal, &acc).await?;
    let items: Vec<Value> = rows.iter().map(webhook_json).collect();
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/webhooks/{webhook_id}",
    tag = "webhooks",
    summary = "Delete a webhook",
    params(("account" = String, Path, description = "Account ID"), ("webhook_id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn delete_webhook(
    State(state): State<AppState>,
    AppPath((acc, id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<StatusCode> {
    events::delete(&state, &principal, &acc, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/webhooks/{webhook_id}/deliveries",
    tag = "webhooks",
    summary = "Recent deliveries",
    params(("account" = String, Path, description = "Account ID"), ("webhook_id" = String, Path)),
    responses(
        (status = 200, description = "Deliveries", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn list_deliveries(
    State(state): State<AppState>,
    AppPath((acc, id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let rows = events::attempts(&state, &principal, &acc, &id).await?;
    let items: Vec<Value> = rows.iter().map(attempt_json).collect();
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/webhooks/{webhook_id}/test",
    tag = "webhooks",
    summary = "Send a test event",
    params(("account" = String, Path, description = "Account ID"), ("webhook_id" = String, Path)),
    responses(
        (status = 200, description = "The delivery", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn test_webhook(
    State(state): State<AppState>,
    AppPath((acc, id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<(StatusCode, Json<Value>)> {
    let event_id = events::test(&state, &principal, &acc, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"eventId": event_id, "type": "webhook.test"})),
    ))
}
