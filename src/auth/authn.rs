//! [`Auth`]: turns a request's carriers into a [`Principal`], and owns every
//! credential cache (keys, JWT keys, verified JWTs, folder visibility).

use super::carriers::{self, Credential};
use super::jwt::{self, JwtKey, VerifiedJwt};
use super::keyring::Keyring;
use super::rules::{Grants, Op};
use super::visibility::{self, FolderPermissions};
use super::{decide, keys, merge, signed, tokens, Access, Need, Principal, ResolvedKey, Via};
use crate::cache::{KeyBytes, TtlCache};
use crate::error::{AppError, AppResult, CredentialError};
use crate::meta::Meta;
use axum::http::{header, HeaderMap};
use std::sync::Arc;
use std::time::Duration;

pub use crate::cache::CACHE_TTL;
/// How long a verified JWT is remembered: signature checks are the costly part
/// of a JWT request, and a token's claims never change.
pub const JWT_CACHE_TTL: Duration = Duration::from_secs(600);
/// What the verified-JWT cache may hold, tokens' bytes plus 128 each.
pub const JWT_CACHE_BYTES: u64 = 16 * 1024 * 1024;
/// How fresh a key's `last_used_at` is kept (the dashboard shows it).
pub const LAST_USED_RESOLUTION: Duration = Duration::from_secs(60);

/// The authentication component `AppState` holds.
pub struct Auth {
    meta: Meta,
    /// The master key and its subkeys: sign URLs (multipart parts, download
    /// links), seal signing keys and dashboard sessions.
    master_key: Keyring,
    /// key hash → key (None: no such key).
    keys: TtlCache<String, Option<Arc<ResolvedKey>>>,
    /// account → its JWT verification keys.
    jwt_keys: TtlCache<String, Arc<Vec<JwtKey>>>,
    /// A token, exactly → its verification (which names the account), kept
    /// up to [`JWT_CACHE_TTL`] (expiry is checked on every use, and the
    /// verifying key must still be registered, so a deleted key stops it
    /// within [`CACHE_TTL`]). Keyed by the token itself, not a digest of it:
    /// only verified tokens are inserted and a lookup compares all of its
    /// bytes, and a SHA-256 of a 700-byte token was most of what a JWT read
    /// cost beyond a public one (docs/performance.md). Bounded in bytes.
    jwts: TtlCache<String, Arc<VerifiedJwt>, KeyBytes>,
    /// account → folders' publicPermissions.
    visibility: TtlCache<String, Arc<FolderPermissions>>,
    /// dashboard session id → whether it was signed out (`auth/dashboard.rs`).
    pub(super) ended_sessions: TtlCache<String, bool>,
}

impl Auth {
    pub fn new(meta: Meta, master_key: [u8; 32]) -> Auth {
        Auth {
            meta,
            master_key: Keyring::new(master_key),
            keys: TtlCache::new(100_000, CACHE_TTL),
            jwt_keys: TtlCache::new(10_000, CACHE_TTL),
            jwts: TtlCache::weighed(16_384, JWT_CACHE_BYTES, JWT_CACHE_TTL, KeyBytes),
            visibility: TtlCache::new(10_000, CACHE_TTL),
            ended_sessions: TtlCache::new(100_000, CACHE_TTL),
        }
    }

    /// The master key and its subkeys.
    pub fn master_key(&self) -> &Keyring {
        &self.master_key
    }

    pub(crate) fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Turns the request's credential carriers into a principal (API routes).
    pub async fn principal(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> AppResult<Principal> {
        match carriers::credential(headers, query)? {
            None => Ok(Principal::anonymous()),
            Some(Credential::ApiKey(key)) => self.key_principal(&key, headers).await,
            Some(Credential::UploadToken(token)) => {
                // Checked (not spent) here, so a bad token is 401 on every route.
                let token_hash = keys::hash(&token);
                let row = self.meta.get_upload_token(&token_hash).await?;
                let row = tokens::usable(row, crate::meta::now_ms())?;
                Ok(Principal {
                    account: Some(row.account_id),
                    grants: Arc::new(Grants::None),
                    via: Via::UploadToken { token_hash },
                })
            }
            Some(Credential::Jwt(token)) => {
                let jwt = self.verified_jwt(&token, None, headers).await?;
                Ok(Principal {
                    account: Some(jwt.account.clone()),
                    grants: jwt.grants.clone(),
                    via: Via::Jwt {
                        sub: jwt.sub.clone(),
                    },
                })
            }
        }
    }

    async fn key_principal(&self, key: &str, headers: &HeaderMap) -> AppResult<Principal> {
        let key = self.live_key(key).await?;
        match carriers::header_token(headers)? {
            None => Ok(Principal::of_key(&key)),
            Some(token) => {
                let jwt = self
                    .verified_jwt(&token, Some(&key.row.account_id), headers)
                    .await?;
                Ok(Principal {
                    account: Some(key.row.account_id.clone()),
                    grants: Arc::new(merge(&key.grants, jwt.rules())),
                    via: Via::ApiKeyAndJwt {
                        key_id: key.row.id.clone(),
                        key_type: key.key_type,
                        sub: jwt.sub.clone(),
                    },
                })
            }
        }
    }

    /// The principal for a CDN GET/HEAD: a signed link, the usual carriers,
    /// else the account's session cookie. A bad or expired cookie is ignored
    /// (the browser sends it unasked), so the request goes on as anonymous.
    pub async fn cdn_principal(
        &self,
        headers: &HeaderMap,
        account: &str,
        link: Option<SignedLink<'_>>,
    ) -> AppResult<Principal> {
        if let Some(link) = link {
            return self.signed_link_principal(account, link);
        }
        let principal = self.principal(headers, None).await?;
        if !principal.is_anonymous() {
            return Ok(principal);
        }
        let Some(token) = session_cookie(headers, account) else {
            return Ok(principal);
        };
        match self.verified_jwt(&token, Some(account), headers).await {
            Ok(jwt) => Ok(Principal {
                account: Some(jwt.account.clone()),
                grants: jwt.grants.clone(),
                via: Via::Cookie,
            }),
            Err(e @ AppError::Unavailable { .. }) => Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "session cookie ignored");
                Ok(principal)
            }
        }
    }

    /// A signed download link: read on exactly that file and version until `exp`.
    fn signed_link_principal(&self, account: &str, link: SignedLink<'_>) -> AppResult<Principal> {
        let now = chrono::Utc::now().timestamp();
        let version = link.version_id.ok_or_else(|| {
            AppError::bad_credentials(
                CredentialError::InvalidSignature,
                "This signed link names no version.",
                "Use the link exactly as POST files/signed_url returned it.",
            )
        })?;
        let subject = super::download_link_subject(account, link.path, version);
        signed::verify(
            &self.master_key,
            super::DOWNLOAD_SCOPE,
            &subject,
            link.signature,
            now,
        )?;
        Principal::scoped(account, link.path, vec![Op::Read], Via::SignedUrl)
    }

    /// SPEC §3 for downloads through `slug` (`raw` the original, `image` a
    /// transformation, or a preset's name): the principal's own grants for
    /// that slug first, and only when they do not allow it, the (cached)
    /// folder visibility of that slug.
    pub async fn require_read(
        &self,
        principal: &Principal,
        account: &str,
        path: &str,
        slug: &str,
    ) -> AppResult<Access> {
        let foreign = principal.account.as_deref().is_some_and(|a| a != account);
        let granted = !foreign && principal.grants.allows_download(path, slug);
        let public = if granted || foreign {
            false
        } else {
            let perms = self.folder_permissions(account).await?;
            visibility::slug_is_public(&perms, path, slug)
        };
        decide(principal, account, Need::read(path), Some(slug), public)
    }

    /// A JWT checked against `account`'s keys, or (`None`) those of its
    /// `accountId` claim (see [`Auth::verify_jwt`]), plus the per-use checks
    /// (expiry, origin).
    pub async fn verified_jwt(
        &self,
        token: &str,
        account: Option<&str>,
        headers: &HeaderMap,
    ) -> AppResult<Arc<VerifiedJwt>> {
        let verified = self.verify_jwt(token, account).await?;
        verified.check_use(chrono::Utc::now().timestamp(), headers)?;
        Ok(verified)
    }

    /// A JWT verified with the keys of `account`, or (`None`, a JWT on its
    /// own) of its `accountId` claim. Verifications are cached by the token's
    /// hash, so a repeated token is neither parsed nor checked again while the
    /// key that verified it stays registered; a cached one for another
    /// account is verified afresh (and fails unless that account's keys sign it).
    async fn verify_jwt(&self, token: &str, account: Option<&str>) -> AppResult<Arc<VerifiedJwt>> {
        if let Some(hit) = self.jwts.get(token) {
            if account.is_none_or(|a| a == hit.account) {
                let keys = self.jwt_keys_of(&hit.account).await?;
                if keys.iter().any(|k| k.kid == hit.kid) {
                    return Ok(hit);
                }
                self.jwts.invalidate(token);
            }
        }
        let account = match account {
            Some(a) => a.to_string(),
            None => jwt::unverified_account(token).ok_or_else(|| {
                jwt::invalid("A JWT sent as 'Authorization: Bearer' must carry an accountId claim.")
            })?,
        };
        let keys = self.jwt_keys_of(&account).await?;
        let now = chrono::Utc::now().timestamp();
        let verified = Arc::new(jwt::verify(token, &account, &keys, now)?);
        self.jwts.insert(token.to_string(), verified.clone());
        Ok(verified)
    }

    async fn jwt_keys_of(&self, account: &str) -> AppResult<Arc<Vec<JwtKey>>> {
        if let Some(hit) = self.jwt_keys.get(account) {
            return Ok(hit);
        }
        let meta = &self.meta;
        self.jwt_keys
            .get_or_load(account.to_string(), || async move {
                let rows = meta.list_jwt_keys(account).await?;
                let keys = rows
                    .iter()
                    .filter_map(|r| match JwtKey::from_row(r) {
                        Ok(k) => Some(k),
                        Err(e) => {
                            tracing::warn!(jwt.kid = %r.kid, error = %e, "unusable JWT key skipped");
                            None
                        }
                    })
                    .collect();
                Ok(Arc::new(keys))
            })
            .await
    }

    /// A plaintext key that parses, exists and is not revoked.
    async fn live_key(&self, key: &str) -> AppResult<Arc<ResolvedKey>> {
        if keys::parse(key).is_none() {
            return Err(carriers::invalid_key());
        }
        self.live_key_by_hash(&keys::hash(key)).await
    }

    /// A live key by its SHA-256 hash (the dashboard session holds the hash).
    pub async fn live_key_by_hash(&self, hash: &str) -> AppResult<Arc<ResolvedKey>> {
        let resolved = self.key_by_hash(hash).await?;
        let resolved = resolved.ok_or_else(carriers::invalid_key)?;
        if resolved.row.revoked_at.is_some() {
            return Err(AppError::bad_credentials(
                CredentialError::ApiKeyRevoked,
                "This API key has been revoked.",
                "Create a new key with `stowage keys create` or POST /v2/accounts/{account}/api_keys.",
            ));
        }
        self.touch(&resolved);
        Ok(resolved)
    }

    /// Records that `key` was used, to the minute: when the row's
    /// `last_used_at` is over [`LAST_USED_RESOLUTION`] old, one write is
    /// spawned per cached copy of the key (so at most one a second per node
    /// while it is busy, and none while its row is fresh). A failed write is
    /// only logged: it must never fail the request that used the key.
    fn touch(&self, key: &ResolvedKey) {
        let now = crate::meta::now_ms();
        let stale_before = now - LAST_USED_RESOLUTION.as_millis() as i64;
        if key.row.last_used_at.is_some_and(|t| t >= stale_before)
            || key.touched.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let (meta, id) = (self.meta.clone(), key.row.id.clone());
        tokio::spawn(async move {
            if let Err(e) = meta.touch_api_key(&id, now, stale_before).await {
                tracing::debug!(error = %e, key = %id, "last_used_at not recorded");
            }
        });
    }

    /// The key with this hash, from the cache or the database.
    async fn key_by_hash(&self, hash: &str) -> AppResult<Option<Arc<ResolvedKey>>> {
        if let Some(hit) = self.keys.get(hash) {
            crate::metrics::cache_lookup(crate::metrics::Cache::Keys, true);
            return Ok(hit);
        }
        crate::metrics::cache_lookup(crate::metrics::Cache::Keys, false);
        let meta = &self.meta;
        self.keys
            .get_or_load(hash.to_string(), || async move {
                match meta.find_api_key(hash).await? {
                    Some(row) => Ok(Some(Arc::new(ResolvedKey::from_row(row)?))),
                    None => Ok(None),
                }
            })
            .await
    }

    /// Every folder's `publicPermissions` in the account (one query a second at most).
    pub async fn folder_permissions(&self, account: &str) -> AppResult<Arc<FolderPermissions>> {
        if let Some(hit) = self.visibility.get(account) {
            return Ok(hit);
        }
        let meta = &self.meta;
        self.visibility
            .get_or_load(account.to_string(), || async move {
                Ok(Arc::new(visibility::load(meta.as_ref(), account).await?))
            })
            .await
    }

    /// Forgets an account's cached visibility on this node after a folder change.
    pub async fn forget_folders(&self, account: &str) {
        self.visibility.invalidate(account);
    }

    /// Forgets every cached key on this node (others follow within [`CACHE_TTL`]).
    pub fn forget_all_keys(&self) {
        self.keys.clear();
    }

    /// Forgets an account's cached JWT keys and verified tokens on this node.
    pub async fn forget_jwt_keys(&self, account: &str) {
        self.jwt_keys.invalidate(account);
        // Tokens are keyed by account too, but dropping them all is simpler and rare.
        self.jwts.clear();
    }
}

/// A signed download link's parameters, as the CDN URL carries them.
#[derive(Clone, Copy, Debug)]
pub struct SignedLink<'a> {
    pub path: &'a str,
    pub version_id: Option<&'a str>,
    pub signature: signed::UrlSignature<'a>,
}

/// The account's session cookie (SPEC §6), if the request carries one.
fn session_cookie(headers: &HeaderMap, account: &str) -> Option<String> {
    if !headers.contains_key(header::COOKIE) {
        return None;
    }
    // `access-token-{account}`, compared without building the name.
    let named = |c: &cookie::Cookie<'_>| {
        c.name()
            .strip_prefix(super::COOKIE_PREFIX)
            .is_some_and(|a| a == account)
    };
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(named)
        .map(|c| c.value().to_string())
}
