//! Scoped upload tokens (SPEC §5.4): a backend asks for a single-use token for
//! one exact path; a browser uploads with it, without any key.

use crate::auth::keys;
use crate::auth::{Need, Principal};
use crate::domain::paths;
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, UploadTokenRow};
use crate::state::AppState;
use serde::Deserialize;

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

/// A token as issued: the plaintext (shown once), its path and expiry (epoch ms).
pub struct IssuedToken {
    pub token: String,
    pub path: String,
    pub expires_at: i64,
}

pub async fn create(
    state: &AppState,
    principal: &Principal,
    account: &str,
    req: TokenRequest,
) -> AppResult<IssuedToken> {
    let path = scoped_path(req.bucket.as_deref(), &req.path)?;
    principal.require(account, Need::create(&path))?;
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
    Ok(IssuedToken {
        token,
        path,
        expires_at: row.expires_at,
    })
}
