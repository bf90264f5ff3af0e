//! Shared state handed to every handler: configuration, stores and caches.

use crate::auth::jwt::{self, JwtKey, VerifiedJwt};
use crate::auth::visibility::{self, FolderPermissions};
use crate::auth::ResolvedKey;
use crate::blobs::Blobs;
use crate::config::Config;
use crate::error::AppResult;
use crate::meta::{FileRow, Meta};
use bytes::Bytes;
use moka::future::Cache;
use std::sync::Arc;
use std::time::Duration;

/// How long a cached key or file row may be served without asking the database.
/// It bounds how late another node's revocation, overwrite or delete is seen here.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

/// Concurrent unauthenticated ImageKit uploads (see [`Inner::anonymous_staging`]).
pub const ANONYMOUS_STAGING_SLOTS: usize = 8;
/// The most an unauthenticated ImageKit upload may stage before its token is
/// checked.
pub const ANONYMOUS_STAGING_LIMIT: u64 = 256 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub meta: Meta,
    pub blobs: Blobs,
    /// Signs URLs (multipart parts, download links) and encrypts signing keys.
    pub master_key: [u8; 32],
    /// Bounds how many not-yet-authenticated ImageKit uploads may be staging
    /// bytes at once (their token may only come after the file).
    pub anonymous_staging: tokio::sync::Semaphore,
    /// Base of returned URLs, without a trailing slash.
    pub public_url: String,
    /// key hash → key (None: no such key), for ≤ [`CACHE_TTL`].
    keys: Cache<String, Option<Arc<ResolvedKey>>>,
    /// account → its JWT verification keys, for ≤ [`CACHE_TTL`].
    jwt_keys: Cache<String, Arc<Vec<JwtKey>>>,
    /// (account, SHA-256 of token) → verified claims, for ≤ [`CACHE_TTL`].
    jwts: Cache<(String, String), Arc<VerifiedJwt>>,
    /// account → folders' publicPermissions, for ≤ [`CACHE_TTL`].
    visibility: Cache<String, Arc<FolderPermissions>>,
    /// (account, path) → current version (None: no file), for ≤ [`CACHE_TTL`].
    files: Cache<(String, String), Option<Arc<FileRow>>>,
    /// blob key → bytes of small files. Blobs never change once written, so
    /// entries need no invalidation.
    bytes: Cache<String, Bytes>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        config: Config,
        meta: Meta,
        blobs: Blobs,
        master_key: [u8; 32],
        public_url: String,
    ) -> AppState {
        let bytes = Cache::builder()
            .max_capacity(config.cache_capacity)
            .weigher(|_k: &String, v: &Bytes| v.len().try_into().unwrap_or(u32::MAX))
            .build();
        AppState(Arc::new(Inner {
            keys: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CACHE_TTL)
                .build(),
            visibility: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            jwt_keys: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            jwts: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CACHE_TTL)
                .build(),
            files: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CACHE_TTL)
                .build(),
            bytes,
            public_url: public_url.trim_end_matches('/').to_string(),
            config,
            meta,
            blobs,
            master_key,
            anonymous_staging: tokio::sync::Semaphore::new(ANONYMOUS_STAGING_SLOTS),
        }))
    }

    /// The key with this hash, from the cache or the database.
    pub async fn resolve_key(&self, hash: &str) -> AppResult<Option<Arc<ResolvedKey>>> {
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

    /// Verifies a JWT with `account`'s keys; the outcome is cached for a second.
    pub async fn verify_jwt(&self, token: &str, account: &str) -> AppResult<Arc<VerifiedJwt>> {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(token.as_bytes()));
        let cache_key = (account.to_string(), digest);
        if let Some(hit) = self.jwts.get(&cache_key).await {
            return Ok(hit);
        }
        let keys = self.jwt_keys_of(account).await?;
        let verified = Arc::new(jwt::verify(
            token,
            account,
            &keys,
            chrono::Utc::now().timestamp(),
        )?);
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

    /// Forgets an account's cached JWT keys and verified tokens on this node.
    pub async fn forget_jwt_keys(&self, account: &str) {
        self.jwt_keys.invalidate(account).await;
        // Tokens are keyed by account too, but dropping them all is simpler and rare.
        self.jwts.invalidate_all();
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

    /// Forgets a cached key on this node (others follow within [`CACHE_TTL`]).
    pub async fn forget_key(&self, hash: &str) {
        self.keys.invalidate(hash).await;
    }

    /// Forgets every cached key on this node.
    pub fn forget_all_keys(&self) {
        self.keys.invalidate_all();
    }

    /// The current version at a path, from the cache or the database.
    pub async fn current_file(&self, account: &str, path: &str) -> AppResult<Option<Arc<FileRow>>> {
        let key = (account.to_string(), path.to_string());
        if let Some(hit) = self.files.get(&key).await {
            crate::metrics::cache_lookup("files", true);
            return Ok(hit);
        }
        crate::metrics::cache_lookup("files", false);
        let meta = self.meta.clone();
        let (a, p) = (account.to_string(), path.to_string());
        self.files
            .try_get_with(key, async move {
                Ok(meta.get_file(&a, &p).await?.map(Arc::new))
            })
            .await
            .map_err(unwrap_shared)
    }

    /// Forgets a cached path on this node after a write to it.
    pub async fn forget_file(&self, account: &str, path: &str) {
        self.files
            .invalidate(&(account.to_string(), path.to_string()))
            .await;
    }

    /// The whole blob from the small-file cache, reading it on a miss.
    pub async fn small_blob(&self, blob_key: &str) -> AppResult<Bytes> {
        if let Some(hit) = self.bytes.get(blob_key).await {
            crate::metrics::cache_lookup("bytes", true);
            return Ok(hit);
        }
        crate::metrics::cache_lookup("bytes", false);
        let blobs = self.blobs.clone();
        let k = blob_key.to_string();
        self.bytes
            .try_get_with(
                blob_key.to_string(),
                async move { blobs.get_bytes(&k).await },
            )
            .await
            .map_err(unwrap_shared)
    }
}

fn unwrap_shared(e: Arc<crate::error::AppError>) -> crate::error::AppError {
    Arc::try_unwrap(e).unwrap_or_else(|shared| clone_error(&shared))
}

/// Rebuilds an error shared by several waiters of one cache load.
fn clone_error(e: &crate::error::AppError) -> crate::error::AppError {
    use crate::error::AppError;
    match e {
        AppError::Unavailable { cause } => AppError::Unavailable {
            cause: cause.clone(),
        },
        AppError::NotFound { what } => AppError::NotFound { what: what.clone() },
        other => AppError::internal(other),
    }
}
