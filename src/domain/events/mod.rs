//! Webhooks (SPEC §11): registering them, and what they are sent.
//!
//! Events are written by the metadata store in the transaction of the change
//! they report (`meta/webhooks.rs`: the outbox); [`deliver`] sends them.

pub mod deliver;

pub use deliver::{run, sign};

use crate::auth::keyring::Keyring;
use crate::auth::{secrets, Principal};
use crate::domain::keys::admin_account;
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, AttemptRow, MetaStore, WebhookRow};
use crate::outbound::Outbound;
use crate::state::AppState;
use base64::Engine;
use serde_json::json;

/// Every event type a webhook may ask for (`"*"`: all of them).
pub const EVENT_TYPES: &[&str] = &[
    "file.created",
    "file.deleted",
    "folder.updated",
    "webhook.test",
];

/// Random bytes in a webhook secret (SPEC §11: 24 or more).
const SECRET_BYTES: usize = 32;
/// Longest description kept.
const MAX_DESCRIPTION: usize = 1000;
/// Attempts `GET …/deliveries` lists.
const ATTEMPTS_LISTED: i64 = 100;

/// What `POST …/webhooks` asks for.
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// The event types asked for, checked, without repeats.
pub fn check_events(events: &[String]) -> AppResult<Vec<String>> {
    let suggestion = || {
        format!(
            "Use one or more of {}, or [\"*\"] for all of them.",
            EVENT_TYPES.join(", ")
        )
    };
    if events.is_empty() {
        return Err(AppError::invalid_request(
            "events is empty: the webhook would receive nothing.",
            suggestion(),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if e != "*" && !EVENT_TYPES.contains(&e.as_str()) {
            return Err(AppError::invalid_request(
                format!("Unknown event type {e:?}."),
                suggestion(),
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// A new `whsec_` secret.
fn new_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Registers a webhook (`admin` needed); returns it with its secret (shown once).
pub async fn create(
    state: &AppState,
    principal: &Principal,
    acc: &str,
    new: NewWebhook,
) -> AppResult<(WebhookRow, String)> {
    admin_account(state, principal, acc).await?;
    register(
        state.meta.as_ref(),
        state.master_key(),
        &state.outbound,
        acc,
        new,
    )
    .await
}

/// Registers a webhook of account `acc` (the routes and the CLI): checks the
/// event types and the URL (SPEC §5.7's address rules), seals a new secret.
pub async fn register(
    meta: &dyn MetaStore,
    keys: &Keyring,
    outbound: &Outbound,
    acc: &str,
    new: NewWebhook,
) -> AppResult<(WebhookRow, String)> {
    let events = check_events(&new.events)?;
    let description = new.description.unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(AppError::invalid_request(
            format!("description is over {MAX_DESCRIPTION} characters."),
            "Shorten the description.",
        ));
    }
    let url = outbound.check_now(&new.url).await?;
    let secret = new_secret();
    let row = WebhookRow {
        webhook_id: crate::auth::keys::random_base58(16),
        account_id: acc.to_string(),
        url: url.to_string(),
        events: serde_json::to_string(&events).map_err(AppError::internal)?,
        description,
        secret_enc: secrets::seal(keys, &secret),
        created_at: now_ms(),
    };
    meta.insert_webhook(&row).await?;
    Ok((row, secret))
}

pub async fn list(
    state: &AppState,
    principal: &Principal,
    acc: &str,
) -> AppResult<Vec<WebhookRow>> {
    admin_account(state, principal, acc).await?;
    state.meta.list_webhooks(acc).await
}

async fn get(
    state: &AppState,
    principal: &Principal,
    acc: &str,
    id: &str,
) -> AppResult<WebhookRow> {
    admin_account(state, principal, acc).await?;
    state
        .meta
        .get_webhook(acc, id)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: format!("Webhook {id}"),
        })
}

/// Removes a webhook; its pending deliveries are dropped with it.
pub async fn delete(state: &AppState, principal: &Principal, acc: &str, id: &str) -> AppResult<()> {
    admin_account(state, principal, acc).await?;
    if !state.meta.delete_webhook(acc, id).await? {
        return Err(AppError::NotFound {
            what: format!("Webhook {id}"),
        });
    }
    Ok(())
}

/// The webhook's latest delivery attempts, newest first.
pub async fn attempts(
    state: &AppState,
    principal: &Principal,
    acc: &str,
    id: &str,
) -> AppResult<Vec<AttemptRow>> {
    get(state, principal, acc, id).await?;
    state.meta.list_attempts(acc, id, ATTEMPTS_LISTED).await
}

/// Queues a `webhook.test` event for this webhook only; returns its id.
pub async fn test(
    state: &AppState,
    principal: &Principal,
    acc: &str,
    id: &str,
) -> AppResult<String> {
    let hook = get(state, principal, acc, id).await?;
    let data = json!({"accountId": acc, "webhookId": id}).to_string();
    state
        .meta
        .enqueue_for(&hook, "webhook.test", &data, now_ms())
        .await
}
