//! Webhooks (SPEC §11), all needing `admin`.

use super::{AppJson, AppPath};
use crate::auth::Principal;
use crate::domain::events::{self, NewWebhook};
use crate::error::AppResult;
use crate::meta::{AttemptRow, WebhookRow};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/accounts/{account}/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/v2/accounts/{account}/webhooks/{webhook_id}",
            delete(delete_webhook),
        )
        .route(
            "/v2/accounts/{account}/webhooks/{webhook_id}/deliveries",
            get(list_deliveries),
        )
        .route(
            "/v2/accounts/{account}/webhooks/{webhook_id}/test",
            post(test_webhook),
        )
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateWebhook {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

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

async fn list_webhooks(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let rows = events::list(&state, &principal, &acc).await?;
    let items: Vec<Value> = rows.iter().map(webhook_json).collect();
    Ok(Json(json!({ "items": items })))
}

async fn delete_webhook(
    State(state): State<AppState>,
    AppPath((acc, id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<StatusCode> {
    events::delete(&state, &principal, &acc, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_deliveries(
    State(state): State<AppState>,
    AppPath((acc, id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let rows = events::attempts(&state, &principal, &acc, &id).await?;
    let items: Vec<Value> = rows.iter().map(attempt_json).collect();
    Ok(Json(json!({ "items": items })))
}

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
