//! The upload hook (SPEC §11), a blocking check like tusd's `pre-create`:
//! before an upload's bytes are read, [`crate::domain::plan::plan`] POSTs a
//! signed `upload.authorize` event to the account's hook URL. 2xx allows
//! (its JSON may set `filePath`, `metadata`, `tags`, then checked as usual),
//! 4xx refuses (403 `upload_rejected` with its `message`), no answer in 5 s
//! or a 5xx is 503 `upload_hook_unavailable`. Signed exactly as webhook
//! deliveries are (Standard Webhooks 1.0), with the hook's own secret.

use crate::auth::{secrets, Principal, Via};
use crate::domain::events::deliver::sign;
use crate::domain::keys::admin_account;
use crate::error::{AppError, AppResult, FetchError};
use crate::meta::{now_ms, UploadHookRow};
use crate::state::AppState;
use base64::Engine;
use serde_json::{json, Value};
use std::time::Duration;

/// How long the hook has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of its answer that is read.
const MAX_ANSWER: usize = 64 * 1024;

/// Sets the account's hook (`admin`); answers it with its new secret, shown
/// this once.
pub async fn set(
    state: &AppState,
    principal: &Principal,
    acc: &str,
    url: &str,
) -> AppResult<(UploadHookRow, String)> {
    admin_account(state, principal, acc).await?;
    let url = state.outbound.check_now(url).await?;
    let bytes: [u8; 32] = rand::random();
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    let row = UploadHookRow {
        account_id: acc.to_string(),
        url: url.to_string(),
        secret_enc: secrets::seal(state.master_key(), &secret),
        created_at: now_ms(),
    };
    state.meta.put_upload_hook(&row).await?;
    Ok((row, secret))
}

/// The account's hook (`admin`); 404 when it has none.
pub async fn get(state: &AppState, principal: &Principal, acc: &str) -> AppResult<UploadHookRow> {
    admin_account(state, principal, acc).await?;
    state.meta.get_upload_hook(acc).await?.ok_or_else(not_found)
}

/// Removes the account's hook (`admin`); 404 when it has none.
pub async fn remove(state: &AppState, principal: &Principal, acc: &str) -> AppResult<()> {
    admin_account(state, principal, acc).await?;
    match state.meta.delete_upload_hook(acc).await? {
        true => Ok(()),
        false => Err(not_found()),
    }
}

/// What the hook answered a test call.
#[derive(Debug)]
pub enum TestOutcome {
    /// A 2xx, with what it would change.
    Allowed(Changes),
    /// A 4xx: the upload would be refused with this message.
    Rejected { status: u16, message: String },
    /// No usable answer: uploads would get 503 `upload_hook_unavailable`.
    Unavailable { reason: String },
}

/// The path a test call asks about; nothing is uploaded there.
pub const TEST_PATH: &str = "/upload-hook-test.txt";

/// Calls the account's hook (`admin`; 404 without one) exactly as an upload
/// would, for an empty `text/plain` file at [`TEST_PATH`] by the caller with
/// the metadata `{"stowageTest": true}`, and reports what it answered.
/// Nothing is uploaded (the dashboard's "Test hook").
pub async fn test(state: &AppState, principal: &Principal, acc: &str) -> AppResult<TestOutcome> {
    get(state, principal, acc).await?;
    let metadata = json!({"stowageTest": true});
    let asked = Asked {
        account: acc,
        path: TEST_PATH,
        size: Some(0),
        mime: Some("text/plain"),
        original_file_name: Some("upload-hook-test.txt"),
        metadata: &metadata,
        tags: &[],
    };
    match authorize(state, principal, asked).await {
        Ok(changes) => Ok(TestOutcome::Allowed(changes)),
        Err(AppError::Fetch(FetchError::Rejected { status, message })) => {
            Ok(TestOutcome::Rejected { status, message })
        }
        Err(AppError::Fetch(FetchError::HookUnavailable { reason })) => {
            Ok(TestOutcome::Unavailable { reason })
        }
        Err(e) => Err(e),
    }
}

fn not_found() -> AppError {
    AppError::NotFound {
        what: "upload hook".into(),
    }
}

/// What the hook is asked about.
pub struct Asked<'a> {
    pub account: &'a str,
    pub path: &'a str,
    pub size: Option<u64>,
    pub mime: Option<&'a str>,
    pub original_file_name: Option<&'a str>,
    pub metadata: &'a Value,
    pub tags: &'a [String],
}

/// What a hook that allowed the upload changed.
#[derive(Debug, Default)]
pub struct Changes {
    pub path: Option<String>,
    pub metadata: Option<Value>,
    pub tags: Option<Vec<String>>,
}

/// Asks the account's hook, if it has one.
pub async fn authorize(
    state: &AppState,
    principal: &Principal,
    asked: Asked<'_>,
) -> AppResult<Changes> {
    // The operator's own bulk import (`stowage import`) is not the
    // application's to decide.
    if principal.is_operator() {
        return Ok(Changes::default());
    }
    let Some(hook) = state.meta.get_upload_hook(asked.account).await? else {
        return Ok(Changes::default());
    };
    let secret = secrets::open(state.master_key(), &hook.secret_enc)?;
    let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
    let now = chrono::Utc::now();
    let body = json!({
        "type": "upload.authorize",
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": {
            "accountId": asked.account,
            "filePath": asked.path,
            "size": asked.size,
            "mime": asked.mime,
            "originalFileName": asked.original_file_name,
            "metadata": asked.metadata,
            "tags": asked.tags,
            "principal": principal_json(principal),
        },
    })
    .to_string();
    let headers = [
        ("webhook-id", id.clone()),
        ("webhook-timestamp", now.timestamp().to_string()),
        (
            "webhook-signature",
            sign(&secret, &id, now.timestamp(), &body)?,
        ),
    ];
    let unavailable = |reason: String| AppError::Fetch(FetchError::HookUnavailable { reason });
    let answer = state
        .outbound
        .call(&hook.url, &headers, body, TIMEOUT, MAX_ANSWER)
        .await
        .map_err(unavailable)?;
    let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    match answer.status {
        200..=299 => changes(&parsed),
        status @ 400..=499 => Err(AppError::Fetch(FetchError::Rejected {
            message: rejection(&parsed),
            status,
        })),
        status => Err(unavailable(format!("it answered {status}"))),
    }
}

/// `{type: key|jwt|token|anonymous, keyId?, sub?}`.
fn principal_json(p: &Principal) -> Value {
    match &p.via {
        Via::ApiKey { key_id, .. } => json!({"type": "key", "keyId": key_id}),
        Via::Jwt { sub } => json!({"type": "jwt", "sub": sub}),
        Via::ApiKeyAndJwt { key_id, sub, .. } => {
            json!({"type": "jwt", "keyId": key_id, "sub": sub})
        }
        Via::UploadToken { .. } | Via::ClientToken => json!({"type": "token"}),
        Via::Anonymous | Via::Cookie | Via::SignedUrl | Via::Operator => {
            json!({"type": "anonymous"})
        }
    }
}

/// The answer's `message` (at most 500 characters), or a default.
fn rejection(answer: &Value) -> String {
    match answer["message"].as_str() {
        Some(m) if !m.trim().is_empty() => m.chars().take(500).collect(),
        _ => "no reason given".into(),
    }
}

/// A 2xx answer's changes; one of the wrong shape is refused (the hook
/// meant something the server cannot do).
fn changes(answer: &Value) -> AppResult<Changes> {
    let wrong = |field: &str, want: &str| {
        AppError::Fetch(FetchError::HookUnavailable {
            reason: format!("its answer's {field} is not {want}"),
        })
    };
    let mut out = Changes::default();
    if let Some(path) = answer.get("filePath").filter(|v| !v.is_null()) {
        out.path = Some(
            path.as_str()
                .ok_or_else(|| wrong("filePath", "a string"))?
                .into(),
        );
    }
    if let Some(m) = answer.get("metadata").filter(|v| !v.is_null()) {
        if !m.is_object() {
            return Err(wrong("metadata", "an object"));
        }
        out.metadata = Some(m.clone());
    }
    if let Some(t) = answer.get("tags").filter(|v| !v.is_null()) {
        let tags =
            serde_json::from_value(t.clone()).map_err(|_| wrong("tags", "a list of strings"))?;
        out.tags = Some(tags);
    }
    Ok(out)
}
