//! Upload tokens (SPEC §5.4) as credentials: the checks the auth layer makes
//! on every route, and spending one when its upload starts.

use super::rules::Op;
use super::{Auth, Principal, Via};
use crate::error::{AppError, AppResult, CredentialError};
use crate::meta::{now_ms, Spend, UploadTokenRow};

fn already_used() -> AppError {
    AppError::bad_credentials(
        CredentialError::TokenAlreadyUsed,
        "This upload token has already been used.",
        "Upload tokens are single use: ask your backend for a new one.",
    )
}

fn expired() -> AppError {
    AppError::bad_credentials(
        CredentialError::TokenExpired,
        "This upload token has expired.",
        "Ask your backend for a new token (expires_in up to 86400 s).",
    )
}

fn unknown() -> AppError {
    AppError::bad_credentials(
        CredentialError::InvalidToken,
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

impl Auth {
    /// Spends the principal's upload token (atomically, on first use, even if
    /// the upload then fails) and returns it with a principal that may create
    /// exactly its path.
    pub async fn spend_upload_token(
        &self,
        principal: &Principal,
    ) -> AppResult<(UploadTokenRow, Principal)> {
        let Via::UploadToken { token_hash } = &principal.via else {
            return Err(AppError::internal("spend called without an upload token"));
        };
        let row = match self.meta().spend_upload_token(token_hash, now_ms()).await? {
            Spend::Spent(row) => row,
            Spend::AlreadyUsed => return Err(already_used()),
            Spend::Expired => return Err(expired()),
            Spend::Unknown => return Err(unknown()),
        };
        let scoped = Principal::scoped(
            &row.account_id,
            &row.path,
            vec![Op::Create],
            principal.via.clone(),
        )?;
        Ok((row, scoped))
    }
}

impl Auth {
    /// The principal of a tus request (SPEC §5.6): as [`Auth::principal`], except
    /// that an upload token resolves to `create` on its one path even once it is
    /// spent. Creating a tus upload spends the token, and the client goes on
    /// sending it with every HEAD, PATCH and DELETE of that upload; the tus
    /// routes answer those only for the upload the token created (its owner is
    /// the token), and a second creation with it fails when spending. A spent
    /// token outlives its own expiry only for that upload (which expires in 24 h).
    pub async fn tus_principal(
        &self,
        headers: &axum::http::HeaderMap,
        query: Option<&str>,
    ) -> AppResult<Principal> {
        let Some(super::carriers::Credential::UploadToken(token)) =
            super::carriers::credential(headers, query)?
        else {
            return self.principal(headers, query).await;
        };
        let token_hash = super::keys::hash(&token);
        let row = match self.meta().get_upload_token(&token_hash).await? {
            Some(r) if r.used_at.is_some() => r,
            other => usable(other, now_ms())?,
        };
        Principal::scoped(
            &row.account_id,
            &row.path,
            vec![Op::Create],
            Via::UploadToken { token_hash },
        )
    }
}
