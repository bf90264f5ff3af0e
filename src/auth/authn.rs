//! [`Auth`]: turns a request's carriers into a [`Principal`], and owns every
//! credential cache (keys, JWT keys, verified JWTs, folder visibility).

use super::carriers::{self, Credential};
use super::jwt::{self, JwtKey, VerifiedJwt};
use super::rules::{Grants, Op};
use super::visibility::{self, FolderPermissions};
use super::{decide, keys, merge, signed, tokens, Access, Need, Principal, ResolvedKey, Via};
use crate::error::{AppError, AppResult, CredentialError};
use crate::meta::Meta;
use axum::http::{header, HeaderMap};
use moka::future::Cache;
use std::sync::Arc;
use std::time::Duration;

/// How long a cached key, JWT key or visibility may be served without asking
/// the database: it bounds how late another node's revocation or change is seen.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

/// The authentication component `AppState` holds.
pub struct Auth {
    meta: Meta,
    /// Signs URLs (multipart parts, download links) and seals signing keys.
    master_key: [u8; 32],
    /// key hash → key (None: no such key).
    keys: Cache<String, Option<Arc<ResolvedKey>>>,
    /// account → its JWT verification keys.
    jwt_keys: Cache<String, Arc<Vec<JwtKey>>>,
    /// (account, SHA-256 of token) → verified claims.
    jwts: Cache<(String, String), Arc<VerifiedJwt>>,
    /// account → folders' publicPermissions.
    visibility: Cache<String, Arc<FolderPermissions>>,
}

fn ttl_cache<K, V>(capacity: u64) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(capacity)
        .time_to_live(CACHE_TTL)
        .build()
}

fn unwrap_shared(e: Arc<AppError>) -> AppError {
    Arc::try_unwrap(e).unwrap_or_else(|shared| shared.duplicate())
}

impl Auth {
    pub fn new(meta: Meta, master_key: [u8; 32]) -> Auth {
        Auth {
            meta,
            master_key,
            keys: ttl_cache(100_000),
            jwt_keys: ttl_cache(10_000),
            jwts: ttl_cache(100_000),
            visibility: ttl_cache(10_000),
        }
    }

    pub fn master_key(&self) -> &[u8; 32] {
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
                let account = jwt::unverified_account(&token).ok_or_else(|| {
                    jwt::invalid(
                        "A JWT sent as 'Authorization: Bearer' must carry an accountId claim.",
                    )
                })?;
                let jwt = self.verified_jwt(&token, &account, headers).await?;
                Ok(Principal {
                    account: Some(jwt.account.clone()),
                    grants: Arc::new(Grants::Rules(jwt.rules.clone())),
                    via: Via::Jwt {
                        sub: jwt.sub.clone(),
                    },
                })
            }
        }
    }

    async fn key_principal(&self, key: &str, headers: &HeaderMap) -> AppResult<Principal> {
        let key = self.live_key(key).await?;
        let (key_id, key_type) = (key.row.id.clone(), key.key_type);
        match carriers::header_token(headers)? {
            None => Ok(Principal {
                account: Some(key.row.account_id.clone()),
                grants: key.grants.clone(),
                via: Via::ApiKey { key_id, key_type },
            }),
            Some(token) => {
                let jwt = self
                    .verified_jwt(&token, &key.row.account_id, headers)
                    .await?;
                Ok(Principal {
                    account: Some(key.row.account_id.clone()),
                    grants: Arc::new(merge(&key.grants, &jwt.rules)),
                    via: Via::ApiKeyAndJwt {
                        key_id,
                        key_type,
                        sub: jwt.sub.clone(),
                    },
                })
            }
        }
    }

    /// The principal of a live key given by its SHA-256 hash (the dashboard's
    /// session holds the hash, never the key).
    pub async fn principal_for_key_hash(&self, hash: &str) -> AppResult<Principal> {
        let key = self.live_key_by_hash(hash).await?;
        Ok(Principal {
            account: Some(key.row.account_id.clone()),
            grants: key.grants.clone(),
            via: Via::ApiKey {
                key_id: key.row.id.clone(),
                key_type: key.key_type,
            },
        })
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
        match self.verified_jwt(&token, account, headers).await {
            Ok(jwt) => Ok(Principal {
                account: Some(jwt.account.clone()),
                grants: Arc::new(Grants::Rules(jwt.rules.clone())),
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

    /// SPEC §3 for downloads: the principal's own grants first, and only when
    /// they do not allow it, the (cached) folder visibility of the `raw` slug.
    pub async fn require_read(
        &self,
        principal: &Principal,
        account: &str,
        path: &str,
    ) -> AppResult<Access> {
        let foreign = principal.account.as_deref().is_some_and(|a| a != account);
        let granted = !foreign && principal.grants.allows(Op::Read, path);
        let public = if granted || foreign {
            false
        } else {
            let perms = self.folder_permissions(account).await?;
            visibility::raw_is_public(&perms, path)
        };
        decide(principal, account, Need::read(path), public)
    }

    /// A JWT checked against `account`'s keys (cached for a second), plus the
    /// per-use checks (expiry, origin).
    pub async fn verified_jwt(
        &self,
        token: &str,
        account: &str,
        headers: &HeaderMap,
    ) -> AppResult<Arc<VerifiedJwt>> {
        let verified = self.verify_jwt(token, account).await?;
        verified.check_use(chrono::Utc::now().timestamp(), headers)?;
        Ok(verified)
    }

    async fn verify_jwt(&self, token: &str, account: &str) -> AppResult<Arc<VerifiedJwt>> {
        let cache_key = (account.to_string(), keys::hash(token));
        if let Some(hit) = self.jwts.get(&cache_key).await {
            return Ok(hit);
        }
        let keys = self.jwt_keys_of(account).await?;
        let now = chrono::Utc::now().timestamp();
        let verified = Arc::new(jwt::verify(token, account, &keys, now)?);
        self.jwts.insert(cache_key, verified.clone()).await;
        Ok(verified)
    }

    async fn jwt_keys_of(&self, account: &str) -> AppResult<Arc<Vec<JwtKey>>> {
        let meta = self.meta.clone();
        let a = account.to_string();
        self.jwt_keys
            .try_get_with(account.to_string(), async move {
                let rows = meta.list_jwt_keys(&a).await?;
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
            .map_err(unwrap_shared)
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
        Ok(resolved)
    }

    /// The key with this hash, from the cache or the database.
    async fn key_by_hash(&self, hash: &str) -> AppResult<Option<Arc<ResolvedKey>>> {
        if let Some(hit) = self.keys.get(hash).await {
            crate::metrics::cache_lookup("keys", true);
            return Ok(hit);
        }
        crate::metrics::cache_lookup("keys", false);
        let meta = self.meta.clone();
        let h = hash.to_string();
        self.keys
            .try_get_with(hash.to_string(), async move {
                match meta.find_api_key(&h).await? {
                    Some(row) => Ok(Some(Arc::new(ResolvedKey::from_row(row)?))),
                    None => Ok(None),
                }
            })
            .await
            .map_err(unwrap_shared)
    }

    /// Every folder's `publicPermissions` in the account (one query a second at most).
    pub async fn folder_permissions(&self, account: &str) -> AppResult<Arc<FolderPermissions>> {
        let meta = self.meta.clone();
        let a = account.to_string();
        self.visibility
            .try_get_with(account.to_string(), async move {
                Ok(Arc::new(visibility::load(meta.as_ref(), &a).await?))
            })
            .await
            .map_err(unwrap_shared)
    }

    /// Forgets an account's cached visibility on this node after a folder change.
    pub async fn forget_folders(&self, account: &str) {
        self.visibility.invalidate(account).await;
    }

    /// Forgets every cached key on this node (others follow within [`CACHE_TTL`]).
    pub fn forget_all_keys(&self) {
        self.keys.invalidate_all();
    }

    /// Forgets an account's cached JWT keys and verified tokens on this node.
    pub async fn forget_jwt_keys(&self, account: &str) {
        self.jwt_keys.invalidate(account).await;
        // Tokens are keyed by account too, but dropping them all is simpler and rare.
        self.jwts.invalidate_all();
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
    let name = super::cookie_name(account);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}
