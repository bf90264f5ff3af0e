//! Rate limits (SPEC §12): token buckets per principal, kept per node by
//! `governor`'s keyed limiters, and the IETF `RateLimit-Policy`/`RateLimit`
//! header fields (draft-ietf-httpapi-ratelimit-headers-10:
//! `RateLimit-Policy: "uploads";q=600;w=60`, `RateLimit: "uploads";r=599;t=1`).
//!
//! Three policies: `uploads` (per minute, checked by the upload plan),
//! `transforms` (per minute, checked by the image path when a result is not
//! cached), `anonymous` (per second per client IP, checked at the edge for
//! requests that carry no credential). Each bucket's burst is its figure.
//!
//! A check records what it decided in the request's [`Slot`] (a task-local
//! the edge scopes around every request with the client's address, carried
//! into detached upload tasks by [`carry`]), and the edge writes the header
//! fields onto the response. Buckets are per node: N nodes allow up to N ×
//! the rate. Full buckets are forgotten by the sweeper ([`RateLimits::retain_recent`]).

use crate::error::{AppError, RateLimited};
use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use ipnet::IpNet;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Buckets by key, hashed with foldhash (seeded per map) instead of SipHash.
type Keyed<K> = RateLimiter<
    K,
    DashMapStateStore<K, foldhash::fast::RandomState>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// One policy: its name, its figure per window, its `RateLimit-Policy`
/// field (made once), and its buckets by key: a principal's owner
/// (`String`), or for the anonymous policy the client's address.
pub struct Limiter<K: Hash + Eq + Clone = String> {
    policy: &'static str,
    quota: u32,
    window: u64,
    policy_value: HeaderValue,
    buckets: Keyed<K>,
}

/// What a check decided, for the response's header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub policy: &'static str,
    /// `RateLimit-Policy` of the limiter (shared, not formatted per note).
    pub policy_value: HeaderValue,
    /// Requests left now.
    pub remaining: u32,
    /// Seconds until the bucket is full again (or, refused, until the next
    /// request is allowed).
    pub reset: u64,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `quota` requests per `window` seconds, burst `quota`; None when 0.
    pub fn new(policy: &'static str, quota: u32, window: u64) -> Option<Limiter<K>> {
        let n = NonZeroU32::new(quota)?;
        let per = Duration::from_secs(window) / quota;
        let q = Quota::with_period(per.max(Duration::from_nanos(1)))?.allow_burst(n);
        let policy_value =
            HeaderValue::from_str(&format!("\"{policy}\";q={quota};w={window}")).expect("ASCII");
        Some(Limiter {
            policy,
            quota,
            window,
            policy_value,
            buckets: RateLimiter::dashmap_with_hasher(q, foldhash::fast::RandomState::default())
                .with_middleware::<StateInformationMiddleware>(),
        })
    }

    /// Takes one token of `key`'s bucket: records the note in the request's
    /// slot, and refuses with 429 `rate_limited` when the bucket is empty.
    pub fn check(&self, key: &K) -> Result<(), AppError> {
        let (note, outcome) = self.take(key);
        record(note);
        outcome
    }

    /// Takes one token of `key`'s bucket; the note and the outcome of
    /// [`Limiter::check`], the note not recorded (the edge holds it itself).
    pub fn take(&self, key: &K) -> (Note, Result<(), AppError>) {
        match self.buckets.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = u64::from(self.quota.saturating_sub(remaining));
                // ceil(used × window / quota), in integers.
                let reset = (used * self.window).div_ceil(u64::from(self.quota));
                (self.note(remaining, reset), Ok(()))
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.buckets.clock().now());
                let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let retry_after = retry_after.max(1);
                let refused = AppError::RateLimited(RateLimited {
                    policy: self.policy,
                    quota: self.quota,
                    window: self.window,
                    retry_after,
                });
                (self.note(0, retry_after), Err(refused))
            }
        }
    }

    fn note(&self, remaining: u32, reset: u64) -> Note {
        Note {
            policy: self.policy,
            policy_value: self.policy_value.clone(),
            remaining,
            reset,
        }
    }

    /// Forgets buckets that are full again (they hold nothing a new one
    /// would not), so memory follows the principals active recently.
    pub fn retain_recent(&self) {
        self.buckets.retain_recent();
        self.buckets.shrink_to_fit();
    }

    /// Buckets held now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// The node's limiters and the proxies it trusts.
pub struct RateLimits {
    pub uploads: Option<Limiter>,
    pub transforms: Option<Limiter>,
    /// Keyed by the client's address itself (no text made per request).
    pub anonymous: Option<Limiter<IpAddr>>,
    pub trusted_proxies: Vec<IpNet>,
}

impl RateLimits {
    pub fn new(config: &crate::config::Config) -> Result<RateLimits, String> {
        Ok(RateLimits {
            uploads: Limiter::new("uploads", config.rate_uploads, 60),
            transforms: Limiter::new("transforms", config.rate_transforms, 60),
            anonymous: Limiter::new("anonymous", config.rate_anonymous, 1),
            trusted_proxies: parse_proxies(&config.trusted_proxies)?,
        })
    }

    /// Forgets idle buckets (run by the sweeper).
    pub fn retain_recent(&self) {
        for l in [&self.uploads, &self.transforms].into_iter().flatten() {
            l.retain_recent();
        }
        if let Some(l) = &self.anonymous {
            l.retain_recent();
        }
    }

    /// The client's address: the socket's peer, or, when the peer is a
    /// trusted proxy, the right-most `X-Forwarded-For` address that is not
    /// one (SPEC §12). Anything else a client says about its address is
    /// ignored.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|n| n.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|a| a.trim().parse::<IpAddr>())
            .collect::<Vec<_>>();
        let mut client = peer;
        for addr in forwarded.into_iter().rev() {
            match addr {
                Ok(ip) if trusted(&ip) => client = ip,
                Ok(ip) => return ip,
                // A hop that is no address: nothing left of it can be trusted.
                Err(_) => return client,
            }
        }
        client
    }
}

/// `STOWAGE_TRUSTED_PROXIES`: comma-separated CIDRs (a bare address is /32
/// or /128).
pub fn parse_proxies(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("STOWAGE_TRUSTED_PROXIES: {s:?} is not a CIDR"))
        })
        .collect()
}

/// One request's client address and rate-limit note (the one with the
/// fewest requests left is sent).
#[derive(Default)]
pub struct Slot {
    client: Option<IpAddr>,
    note: Mutex<Option<Note>>,
}

tokio::task_local! {
    static SLOT: Arc<Slot>;
}

/// Runs `f` (one request, from client `client`) with a fresh slot holding
/// `note` (what the edge's own check decided, if anything); returns its
/// output and the note kept. A combinator, not an `async fn`: an `async fn`
/// would keep `f` twice in its state (its argument, then the scope's copy),
/// and every request's future passes through here.
pub fn scope<F: std::future::Future>(
    client: Option<IpAddr>,
    note: Option<Note>,
    f: F,
) -> impl std::future::Future<Output = (F::Output, Option<Note>)> {
    use futures::FutureExt;
    let slot = Arc::new(Slot {
        client,
        note: Mutex::new(note),
    });
    SLOT.scope(slot.clone(), f).map(move |out| {
        let note = slot.note.lock().map(|mut n| n.take()).unwrap_or(None);
        (out, note)
    })
}

/// `f` running in the current request's slot (for a task it spawns).
pub fn carry<F: std::future::Future>(f: F) -> impl std::future::Future<Output = F::Output> {
    let slot = SLOT.try_with(Arc::clone).unwrap_or_default();
    SLOT.scope(slot, f)
}

/// The bucket key of a principal: its owner (API key id, JWT `sub`, upload
/// token), else the request's client address.
pub fn key_of(owner: Option<String>) -> String {
    owner.unwrap_or_else(|| {
        let client = SLOT.try_with(|s| s.client).ok().flatten();
        client.map_or_else(|| "ip:unknown".into(), |ip| format!("ip:{ip}"))
    })
}

/// Keeps the note with the fewest requests left.
fn record(note: Note) {
    let _ = SLOT.try_with(|slot| {
        if let Ok(mut held) = slot.note.lock() {
            if held.as_ref().is_none_or(|h| note.remaining <= h.remaining) {
                *held = Some(note);
            }
        }
    });
}

/// The `RateLimit-Policy` and `RateLimit` header fields of a note: the
/// first is the limiter's own, the second is written into a buffer on the
/// stack (one allocation, the header value's).
pub fn header_values(note: &Note) -> (HeaderValue, HeaderValue) {
    let mut buf = [0u8; 96];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        let end = (len + bytes.len()).min(buf.len());
        buf[len..end].copy_from_slice(&bytes[..end - len]);
        len = end;
    };
    let (mut r, mut t) = (itoa::Buffer::new(), itoa::Buffer::new());
    put(b"\"");
    put(note.policy.as_bytes());
    put(b"\";r=");
    put(r.format(note.remaining).as_bytes());
    put(b";t=");
    put(t.format(note.reset).as_bytes());
    let state = HeaderValue::from_bytes(&buf[..len]).expect("ASCII");
    (note.policy_value.clone(), state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bucket_bursts_then_refuses_per_key() {
        let l: Limiter = Limiter::new("uploads", 3, 60).unwrap();
        let key = |k: &str| k.to_string();
        let ((), note) = scope(None, None, async {
            for _ in 0..3 {
                l.check(&key("a")).unwrap();
            }
        })
        .await;
        assert_eq!(note.unwrap().remaining, 0);
        let (refused, note) = scope(None, None, async { l.check(&key("a")) }).await;
        match refused {
            Err(AppError::RateLimited(r)) => assert!((1..=20).contains(&r.retry_after)),
            other => panic!("{other:?}"),
        }
        assert_eq!(note.unwrap().remaining, 0);
        let (ok, note) = scope(None, None, async { l.check(&key("b")) }).await;
        assert!(ok.is_ok());
        let note = note.unwrap();
        assert_eq!((note.remaining, note.reset), (2, 20));
        let (p, s) = header_values(&note);
        assert_eq!(p, "\"uploads\";q=3;w=60");
        assert_eq!(s, "\"uploads\";r=2;t=20");
        assert!(Limiter::<String>::new("x", 0, 60).is_none());
        // The anonymous policy, keyed by address: a note taken is not recorded.
        let anon: Limiter<IpAddr> = Limiter::new("anonymous", 1_000_000, 1).unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let ((note, ok), kept) = scope(None, None, async { anon.take(&ip) }).await;
        assert!(ok.is_ok() && kept.is_none());
        let (p, s) = header_values(&note);
        assert_eq!(p, "\"anonymous\";q=1000000;w=1");
        assert_eq!(s, "\"anonymous\";r=999999;t=1");
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let config = crate::config::Config {
            trusted_proxies: "10.0.0.0/8, 192.168.1.1".into(),
            ..Default::default()
        };
        let limits = RateLimits::new(&config).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.1.1.1, 2.2.2.2, 10.0.0.7".parse().unwrap(),
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(limits.client_ip(ip("10.1.1.1"), &h), ip("2.2.2.2"));
        assert_eq!(limits.client_ip(ip("192.168.1.1"), &h), ip("2.2.2.2"));
        assert_eq!(limits.client_ip(ip("3.3.3.3"), &h), ip("3.3.3.3"));
        assert_eq!(
            limits.client_ip(ip("10.1.1.1"), &HeaderMap::new()),
            ip("10.1.1.1")
        );
        assert!(parse_proxies("nonsense").is_err());
    }
}
