//! Scoped upload tokens (SPEC §5.4): a backend asks for a single-use token for
//! one exact path; a browser uploads with it, without any key.

use crate::auth::keys;
use crate::auth::rules::Op;
use crate::auth::{Need, Principal, Via};
use crate::domain::forms::{self, Form, Part};
use crate::domain::ingest::detached;
use crate::domain::paths;
use crate::domain::plan::{self, Intent, Prepared, Uploader};
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, FileRow, UploadTokenRow};
use crate::state::AppState;
use serde::Deserialize;

/// What an upload token allows (SPEC §5.4): one upload to `path` (under
/// `bucket`), of at most `max_size` bytes and the type `mime`, before
/// `expires_in` seconds pass. Its schema in `/openapi.json` is derived
/// from this struct, the one the route deserializes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

/// `POST /` (SPEC §5.4): a form of `path` (and `bucket`) fields, then
/// `file`, with an upload token or an API key. A token is spent before the
/// body is read; the path must be the token's exactly (or be left out).
pub async fn upload_form<F: Form>(
    state: &AppState,
    principal: Principal,
    form: F,
) -> AppResult<FileRow> {
    let who = Uploader::spend_now(state, principal).await?;
    let account = who
        .account()
        .map(str::to_string)
        .ok_or(AppError::Unauthorized)?;
    let has_token = matches!(who.principal().via, Via::UploadToken { .. });
    if !has_token {
        who.principal().require_somewhere(&account, Op::Create)?;
    }
    let state = state.clone();
    detached(async move {
        let prepared = stage_form_file(&state, who, account, has_token, form).await?;
        prepared.commit(&state).await
    })
    .await
}

/// Reads the form up to its `file` part, stages it, and reads the rest (a
/// form refused anywhere keeps nothing).
async fn stage_form_file<F: Form>(
    state: &AppState,
    who: Uploader,
    account: String,
    has_token: bool,
    mut form: F,
) -> AppResult<Prepared> {
    let (mut path, mut bucket) = (None::<String>, None::<String>);
    let part = loop {
        let part = form.next().await?.ok_or_else(|| {
            AppError::invalid_request("The form has no file field.", "Add a field named file.")
        })?;
        match part.name() {
            "path" => path = Some(part.text().await?),
            "bucket" => bucket = Some(part.text().await?),
            "file" => break part,
            _ => {
                part.text().await?;
            }
        }
    };
    let path = match path {
        Some(p) => Some(plan::exact(&scoped_path(bucket.as_deref(), &p)?)),
        None if has_token => None,
        None => {
            return Err(AppError::invalid_request(
                "The path field is missing (or comes after file).",
                "Send the path field before the file field.",
            ))
        }
    };
    let intent = Intent {
        account,
        path,
        original_file_name: part.file_name().map(str::to_string),
        mime: part.content_type(),
        ..Intent::default()
    };
    let planned = plan::plan(state, who, intent).await?;
    let prepared = planned.stream(state, part.bytes(), None).await?;
    if let Err(e) = forms::drain(&mut form).await {
        prepared.discard().await;
        return Err(e);
    }
    Ok(prepared)
}
