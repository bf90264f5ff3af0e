//! The in-memory caches of the hot path: [`TtlCache`] (entries valid for a
//! fixed time, loads coalesced per key) over `quick_cache`, whose lookups take
//! a shard read lock and never run maintenance work on the caller's request
//! (moka, used before, did, which showed in tail latency); and the
//! served-file cache ([`files::FileCache`]) that downloads read from.
//!
//! A layer of its own, below `domain/` and beside `auth/`: it may use
//! `meta`, `blobs` and `images` (to describe what it holds), never `auth`,
//! `domain` or `http`.

pub mod files;

pub use files::{FileCache, Served};

/// How long a cached row (a key, a path's current version, a folder's
/// visibility) may be served before it is read again: the bound on how late
/// another node's change is seen (SPEC §9).
pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

use crate::error::AppResult;
use quick_cache::sync::Cache;
use quick_cache::{Equivalent, UnitWeighter, Weighter};
use std::future::Future;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A cached value and when it was loaded.
#[derive(Clone)]
pub struct Entry<V> {
    at: Instant,
    value: V,
}

/// Weighs an entry by its key's length plus a fixed overhead: a cache keyed by
/// strings a client chooses (a JWT) is bounded in bytes, not in entries.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyBytes;

impl<V> Weighter<String, Entry<V>> for KeyBytes {
    fn weight(&self, key: &String, _: &Entry<V>) -> u64 {
        key.len() as u64 + 128
    }
}

/// A bounded cache whose entries are served for at most `ttl` after loading.
pub struct TtlCache<K, V, W = UnitWeighter> {
    inner: Cache<K, Entry<V>, W>,
    ttl: Duration,
}

impl<K, V> TtlCache<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    /// At most about `capacity` entries, each served for at most `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> TtlCache<K, V> {
        TtlCache {
            inner: Cache::new(capacity),
            ttl,
        }
    }
}

impl<K, V, W> TtlCache<K, V, W>
where
    K: Eq + Hash + Clone,
    V: Clone,
    W: Weighter<K, Entry<V>> + Clone,
{
    /// At most `weight` in total as `weighter` weighs entries (about
    /// `items` of them), each served for at most `ttl`.
    pub fn weighed(items: usize, weight: u64, ttl: Duration, weighter: W) -> TtlCache<K, V, W> {
        TtlCache {
            inner: Cache::with_weighter(items, weight, weighter),
            ttl,
        }
    }

    fn fresh(&self, e: &Entry<V>) -> bool {
        e.at.elapsed() < self.ttl
    }

    /// The cached value, if present and fresh (no allocation: `key` may be a
    /// borrowed form of `K`).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.inner
            .get(key)
            .filter(|e| self.fresh(e))
            .map(|e| e.value)
    }

    /// The cached value, else the one `load` returns (cached unless it fails).
    /// Concurrent callers for one key wait for a single load.
    pub async fn get_or_load<F, Fut>(&self, key: K, load: F) -> AppResult<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<V>>,
    {
        loop {
            match self.inner.get_value_or_guard_async(&key).await {
                Ok(e) if self.fresh(&e) => return Ok(e.value),
                Ok(_) => {
                    self.inner.remove_if(&key, |e| !self.fresh(e));
                }
                Err(guard) => {
                    let value = load().await?;
                    let _ = guard.insert(Entry {
                        at: Instant::now(),
                        value: value.clone(),
                    });
                    return Ok(value);
                }
            }
        }
    }

    pub fn insert(&self, key: K, value: V) {
        self.inner.insert(
            key,
            Entry {
                at: Instant::now(),
                value,
            },
        );
    }

    pub fn invalidate<Q>(&self, key: &Q)
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.inner.remove(key);
    }

    pub fn clear(&self) {
        self.inner.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn loads_once_then_expires() {
        let cache: TtlCache<String, u32> = TtlCache::new(10, Duration::from_millis(50));
        let loads = Arc::new(AtomicUsize::new(0));
        let load = || {
            let loads = loads.clone();
            async move { Ok(loads.fetch_add(1, Ordering::SeqCst) as u32) }
        };
        assert_eq!(cache.get_or_load("a".into(), load).await.unwrap(), 0);
        assert_eq!(cache.get_or_load("a".into(), load).await.unwrap(), 0);
        assert_eq!(cache.get("a"), Some(0));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(cache.get("a"), None, "stale entries are not served");
        assert_eq!(cache.get_or_load("a".into(), load).await.unwrap(), 1);
        cache.invalidate("a");
        assert_eq!(cache.get("a"), None);
    }

    #[tokio::test]
    async fn concurrent_loads_are_coalesced() {
        let cache: Arc<TtlCache<String, u32>> = Arc::new(TtlCache::new(10, Duration::from_secs(5)));
        let loads = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_load("k".into(), || async move {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(loads.fetch_add(1, Ordering::SeqCst) as u32)
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 0);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn weighed_caches_are_bounded_in_bytes() {
        let cache: TtlCache<String, u32, KeyBytes> =
            TtlCache::weighed(100, 64 * 1024, Duration::from_secs(60), KeyBytes);
        for i in 0..1000 {
            cache.insert(format!("{i:04}{}", "x".repeat(1020)), i);
        }
        let kept = (0..1000)
            .filter(|i| cache.get(&format!("{i:04}{}", "x".repeat(1020))).is_some())
            .count();
        assert!(
            kept > 0 && kept <= 64,
            "{kept} entries of 1.1 KiB in 64 KiB"
        );
    }

    #[tokio::test]
    async fn failed_loads_are_not_cached() {
        let cache: TtlCache<String, u32> = TtlCache::new(10, Duration::from_secs(5));
        let err = cache
            .get_or_load("k".into(), || async {
                Err(crate::error::AppError::internal("down"))
            })
            .await;
        assert!(err.is_err());
        let ok = cache.get_or_load("k".into(), || async { Ok(7) }).await;
        assert_eq!(ok.unwrap(), 7);
    }
}
