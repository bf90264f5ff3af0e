//! The components every handler is handed: configuration, the stores, the
//! auth component and the download caches. A bag, with no behaviour of its own.

use crate::auth::Auth;
use crate::blobs::Blobs;
use crate::cache::FileCache;
use crate::config::Config;
use crate::meta::Meta;
use std::sync::Arc;

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
    /// Credentials, their caches, and the master key.
    pub auth: Auth,
    /// Current versions and small files' bytes, for downloads.
    pub files: FileCache,
    /// Bounds how many not-yet-authenticated ImageKit uploads may be staging
    /// bytes at once (their token may only come after the file).
    pub anonymous_staging: Arc<tokio::sync::Semaphore>,
    /// Base of returned URLs, without a trailing slash.
    pub public_url: String,
    /// The bounded pool image transformations run on (SPEC §6.1: one worker
    /// per core, [`IMAGE_QUEUE_PER_WORKER`] waiting per worker, then 429;
    /// at most [`IMAGE_PIXEL_BUDGET`] pixels in flight).
    pub images: crate::images::Pool,
    /// Outbound HTTP (uploads from a URL, webhooks, the upload hook) and its
    /// address rules.
    pub outbound: crate::outbound::Outbound,
    /// The rate limits of SPEC §12 (per node) and the trusted proxies.
    pub rates: crate::ratelimit::RateLimits,
    /// This node's id for liveness (issue #33): new at every start.
    pub node_id: String,
    /// This node's daily activity counts not yet flushed (`GET …/usage/daily`).
    pub daily: Arc<crate::meta::DailyCounter>,
}

/// Pixels (source + output) transformed at the same time, across the
/// workers. The engine needs about 14 bytes per source pixel at its peak
/// (decoded RGB, RGBA working copy, resize buffers) and about 8 per output
/// pixel (the resized RGBA, padded in place, flattened in place, the
/// encoder's copy), so 32 MP in flight stay near 450 MiB: two 12 MP photos
/// run together, two 24 MP ones one after the other. A job over the budget
/// (a 1×1 source padded to 8192×8192 costs 67 MP) runs alone, so eight of
/// those wait for each other instead of taking the node (SPEC §6.1: under
/// 1 GiB).
pub const IMAGE_PIXEL_BUDGET: u32 = 32_000_000;

/// Transformations that may wait for a worker, per worker, before 429 `busy`.
pub const IMAGE_QUEUE_PER_WORKER: usize = 8;

/// One image worker per core.
fn image_pool() -> crate::images::Pool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    crate::images::Pool::new(cores, cores * IMAGE_QUEUE_PER_WORKER, IMAGE_PIXEL_BUDGET)
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
    ) -> Result<AppState, String> {
        let outbound = crate::outbound::Outbound::new(&config.fetch_allowed_networks)?;
        let rates = crate::ratelimit::RateLimits::new(&config)?;
        Ok(AppState(Arc::new(Inner {
            auth: Auth::new(meta.clone(), master_key),
            files: FileCache::new(config.cache_capacity),
            public_url: public_url.trim_end_matches('/').to_string(),
            config,
            meta,
            blobs,
            anonymous_staging: Arc::new(tokio::sync::Semaphore::new(ANONYMOUS_STAGING_SLOTS)),
            images: image_pool(),
            outbound,
            rates,
            node_id: uuid::Uuid::new_v4().simple().to_string(),
            daily: Arc::default(),
        })))
    }

    /// The master key and its subkeys: sign URLs (multipart parts, download
    /// links), seal signing keys and dashboard sessions.
    pub fn master_key(&self) -> &crate::auth::keyring::Keyring {
        self.auth.master_key()
    }
}
