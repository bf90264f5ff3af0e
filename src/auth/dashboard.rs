//! Dashboard sessions (SPEC §10): the principal a session stands for, and
//! sign-out. The cookie (sealed by `http/dashboard/session.rs`) holds a random
//! session id and the key's hash, never the key. Each use looks the key up
//! again by its hash (a revoked key ends its sessions) and asks whether the
//! session was signed out; both answers are cached for at most [`CACHE_TTL`](super::CACHE_TTL),
//! so every node refuses a signed-out cookie within a second, and the node
//! that signed it out at once.

use super::keys::KeyType;
use super::{Auth, Principal, ResolvedKey};
use crate::error::{AppError, AppResult, CredentialError};
use std::sync::Arc;

/// What a session cookie names.
#[derive(Clone, Copy, Debug)]
pub struct SessionRef<'a> {
    /// Random, one per sign-in.
    pub id: &'a str,
    /// SHA-256 of the key (hex), as the key table stores it.
    pub key_hash: &'a str,
    pub account: &'a str,
}

/// The error for a missing, expired, signed-out or no-longer-valid session.
pub fn session_ended(message: &str) -> AppError {
    AppError::bad_credentials(
        CredentialError::DashboardSessionRequired,
        message,
        "Sign in again at /dashboard with a secret key.",
    )
}

impl Auth {
    /// The principal a session stands for: exactly its key's grants, while
    /// the session is not signed out and its secret key is live.
    pub async fn dashboard_principal(
        &self,
        session: SessionRef<'_>,
    ) -> AppResult<(Principal, Arc<ResolvedKey>)> {
        if self.session_ended(session.id).await? {
            return Err(session_ended("This dashboard session was signed out."));
        }
        let key = match self.live_key_by_hash(session.key_hash).await {
            Ok(key) => key,
            Err(AppError::InvalidCredentials {
                code: CredentialError::ApiKeyRevoked,
                ..
            }) => {
                return Err(session_ended(
                    "The key this session was opened with has been revoked.",
                ))
            }
            Err(AppError::InvalidCredentials { .. }) => {
                return Err(session_ended(
                    "The key this session was opened with no longer exists.",
                ))
            }
            Err(e) => return Err(e),
        };
        if key.row.account_id != session.account || key.key_type != KeyType::Secret {
            return Err(session_ended("This session does not match its key."));
        }
        Ok((Principal::of_key(&key), key))
    }

    /// Signs a session out on every node: recorded in the database until
    /// `expires_at` (unix seconds, when the cookie would have expired anyway).
    /// Other sessions of the same key are not affected.
    pub async fn end_dashboard_session(&self, id: &str, expires_at: i64) -> AppResult<()> {
        let now = crate::meta::now_ms();
        self.meta()
            .end_session(id, expires_at.saturating_mul(1000), now)
            .await?;
        self.ended_sessions.insert(id.to_string(), true);
        Ok(())
    }

    /// Whether a session was signed out (from the database at most
    /// [`CACHE_TTL`](super::CACHE_TTL) ago).
    async fn session_ended(&self, id: &str) -> AppResult<bool> {
        if let Some(ended) = self.ended_sessions.get(id) {
            return Ok(ended);
        }
        let meta = self.meta();
        self.ended_sessions
            .get_or_load(
                id.to_string(),
                || async move { meta.session_ended(id).await },
            )
            .await
    }
}
