//! Scoped upload tokens (SPEC §5.4): a backend asks for a single-use token for
//! one exact path; a browser uploads with it, without any key.

use crate::auth::keys;
use crate::auth::rules::{Grants, Op, Rule, RuleSpec};
use crate::auth::{authorize, Principal, Via};
use crate::domain::paths;
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, Spend, UploadTokenRow};
use crate::state::AppState;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub path: String,
    pub bucket: Option<String>,
    pub expires_in: Option<i64>,
    pub max_size: Option<u64>,
    pub mime: Option<String>,
}

/// `{bucket: "avatars", path: "u/1.png"}` → `/avatars/u/1.png`; without a
/// bucket the path is taken from the root. The result is a valid file path.
pub fn scoped_path(bucket: Option<&str>, path: &str) -> AppResult<String> {
    let rest = path.trim_start_matches('/');
    let full = match bucket
        .map(|b| b.trim_matches('/'))
        .filter(|b| !b.is_empty())
    {
        Some(b) => format!("/{b}/{rest}"),
        None => format!("/{rest}"),
    };
    paths::validate_file_path(&full)?;
    Ok(full)
}

pub async fn create(
    state: &AppState,
    principal: &Principal,
    account: &str,
    req: TokenRequest,
) -> AppResult<Value> {
    let path = scoped_path(req.bucket.as_deref(), &req.path)?;
    authorize(principal, account, Op::Create, &path, || false)?;
    let secs = req.expires_in.unwrap_or(3600);
    if !(1..=86_400).contains(&secs) {
        return Err(AppError::invalid_request(
            format!("expires_in {secs} is out of range."),
            "Use 1 to 86400 seconds.",
        ));
    }
    let token = format!("token_{}", keys::random_base58(32));
    let now = now_ms();
    let row = UploadTokenRow {
        token_hash: keys::hash(&token),
        account_id: account.to_string(),
        path: path.clone(),
        max_size: req.max_size.map(|m| m.min(i64::MAX as u64) as i64),
        mime: req.mime.filter(|m| !m.trim().is_empty()),
        created_at: now,
        expires_at: now + secs * 1000,
        used_at: None,
    };
    state.meta.insert_upload_token(&row).await?;
    let expires_at = chrono::DateTime::from_timestamp_millis(row.expires_at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    Ok(json!({ "token": token, "path": path, "expires_at": expires_at }))
}

fn already_used() -> AppError {
    AppError::bad_credentials(
        "token_already_used",
        "This upload token has already been used.",
        "Upload tokens are single use: ask your backend for a new one.",
    )
}

fn expired() -> AppError {
    AppError::bad_credentials(
        "token_expired",
        "This upload token has expired.",
        "Ask your backend for a new token (expires_in up to 86400 s).",
    )
}

fn unknown() -> AppError {
    AppError::bad_credentials(
        "invalid_token",
        "This upload token is not valid.",
        "Use the token exactly as POST /token returned it.",
    )
}

/// A looked-up token that can still be spent, else the 401 that says why.
pub fn usable(row: Option<UploadTokenRow>, now: i64) -> AppResult<UploadTokenRow> {
    match row {
        None => Err(unknown()),
        Some(r) if r.used_at.is_some() => Err(already_used()),
        Some(r) if r.expires_at <= now => Err(expired()),
        Some(r) => Ok(r),
    }
}

/// Spends the principal's upload token (atomically, on first use, even if the
/// upload then fails) and returns it with a principal that may create exactly
/// its path.
pub async fn spend(
    state: &AppState,
    principal: &Principal,
) -> AppResult<(UploadTokenRow, Principal)> {
    let Via::UploadToken { token_hash } = &principal.via else {
        return Err(AppError::internal("spend called without an upload token"));
    };
    let row = match state.meta.spend_upload_token(token_hash, now_ms()).await? {
        Spend::Spent(row) => row,
        Spend::AlreadyUsed => return Err(already_used()),
        Spend::Expired => return Err(expired()),
        Spend::Unknown => return Err(unknown()),
    };
    let rule = Rule::compile(RuleSpec {
        path: globset::escape(&row.path),
        ops: vec![Op::Create],
    })?;
    let scoped = Principal {
        account: Some(row.account_id.clone()),
        grants: Arc::new(Grants::Rules(vec![rule])),
        via: principal.via.clone(),
    };
    Ok((row, scoped))
}
