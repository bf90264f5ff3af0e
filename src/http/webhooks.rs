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
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(test_webhook))
}

/// A webhook as the API shows it: the signing secret only in the answer
/// to its creation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Webhook {
    webhook_id: String,
    url: String,
    /// The event types it receives (`file.uploaded`, …).
    events: Vec<String>,
    description: String,
    /// Milliseconds since the epoch.
    created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

/// An account's webhooks.
#[derive(Serialize, ToSchema)]
struct Webhooks {
    items: Vec<Webhook>,
}

fn webhook_json(row: &WebhookRow) -> Webhook {
    Webhook {
        webhook_id: row.webhook_id.clone(),
        url: row.url.clone(),
        events: serde_json::from_str(&row.events).unwrap_or_default(),
        description: row.description.clone(),
        created_at: row.created_at,
        secret: None,
    }
}

/// One delivery attempt of an event.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    event_id: String,
    #[serde(rename = "type")]
    event_type: String,
    attempt: i64,
    /// The receiver's answer, when it answered.
    status_code: Option<i64>,
    error: Option<String>,
    outcome: String,
    /// Milliseconds since the epoch.
    at: i64,
}

/// A webhook's recent deliveries.
#[derive(Serialize, ToSchema)]
struct Deliveries {
    items: Vec<Delivery>,
}

fn attempt_json(a: &AttemptRow) -> Delivery {
    Delivery {
        event_id: a.event_id.clone(),
        event_type: a.event_type.clone(),
        attempt: a.attempt,
        status_code: a.status_code,
        error: a.error.clone(),
        outcome: a.outcome.clone(),
        at: a.at,
    }
}

/// A test event, queued for delivery.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Queued {
    event_id: String,
    /// `webhook.test`.
    #[serde(rename = "type")]
    event_type: &'static str,
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
        (status = 201, description = "The webhook, with its secret (shown once)", body = Webhook),
        super::responses::Common
    ),
)]
async fn create_webhook(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<CreateWebhook>,
) -> AppResult<(StatusCode, Json<Webhook>)> {
    let new = NewWebhook {
        url: body.url,
        events: body.events,
        description: body.description,
    };
    let (row, secret) = events::create(&state, &principal, &acc, new).await?;
    let mut out = webhook_json(&row);
    out.secret = Some(secret);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/webhooks",
    tag = "webhooks",
    summary = "List webhooks",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Webhooks", body = Webhooks),
        super::responses::Common
    ),
)]
async fn list_webhooks(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Webhooks>> {
    let rows = events::list(&state, &principal, &acc).await?;
    let items = rows.iter().map(webhook_json).collect();
    Ok(Json(Webhooks { items }))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/webhooks/{webhook_id}",
    tag = "webhooks",
    summary = "Delete a webhook",
    params(("account" = String, Path, description = "Account ID"), ("webhook_id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        super::responses::Common
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
        (status = 200, description = "Deliveries", body = Deliveries),
        super::responses::Common
    ),
)]
async fn list_deliveries(
    State(state): State<AppState>,
    AppPath((acc, id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<Json<Deliveries>> {
    let rows = events::attempts(&state, &principal, &acc, &id).await?;
    let items = rows.iter().map(attempt_json).collect();
    Ok(Json(Deliveries { items }))
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/webhooks/{webhook_id}/test",
    tag = "webhooks",
    summary = "Send a test event",
    params(("account" = String, Path, description = "Account ID"), ("webhook_id" = String, Path)),
    responses(
        (status = 202, description = "The test event, queued", body = Queued),
        super::responses::Common
    ),
)]
async fn test_webhook(
    State(state): State<AppState>,
    AppPath((acc, id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<(StatusCode, Json<Queued>)> {
    let event_id = events::test(&state, &principal, &acc, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            event_id,
            event_type: "webhook.test",
        }),
    ))
}
