//! The errors of SPEC §12: a quota an upload would pass (413
//! `quota_exceeded`) and a rate limit (429 `rate_limited`).

use serde_json::{json, Value};

/// Which account quota an upload would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    /// `maxStorageBytes`: the sum of the sizes of every kept version.
    StorageBytes,
    /// `maxFiles`: current files.
    Files,
}

impl Quota {
    /// The quota's API name (as in `GET|PUT …/limits`).
    pub fn name(self) -> &'static str {
        match self {
            Quota::StorageBytes => "maxStorageBytes",
            Quota::Files => "maxFiles",
        }
    }
}

/// An upload that would take the account past one of its quotas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaExceeded {
    pub quota: Quota,
    pub limit: i64,
    /// What the account uses now (files, or bytes of every kept version).
    pub used: i64,
    /// What the upload adds (one file, or its size in bytes, when known).
    pub adding: Option<i64>,
}

impl QuotaExceeded {
    pub fn message(&self) -> String {
        let (limit, used) = (self.limit, self.used);
        match self.quota {
            Quota::Files => format!(
                "This upload would pass the account's maxFiles quota: it holds {used} files \
                 and may hold {limit}."
            ),
            Quota::StorageBytes => match self.adding {
                Some(n) => format!(
                    "This upload of {n} bytes would pass the account's maxStorageBytes quota: \
                     its kept versions use {used} of {limit} bytes."
                ),
                None => format!(
                    "This upload would pass the account's maxStorageBytes quota: its kept \
                     versions use {used} of {limit} bytes."
                ),
            },
        }
    }

    pub fn details(&self) -> Value {
        json!({
            "quota": self.quota.name(),
            "limit": self.limit,
            "used": self.used,
            "adding": self.adding,
        })
    }
}

pub const QUOTA_EXCEEDED: &str = "Delete files or old versions you no longer need (GET \
     /v2/accounts/{account}/usage shows what the account uses), or ask an admin to raise the \
     quota (PUT /v2/accounts/{account}/limits, or `stowage accounts limits`).";

/// A principal past one of the rate limits of SPEC §12.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimited {
    /// The policy's name: `uploads`, `transforms` or `anonymous`.
    pub policy: &'static str,
    /// Requests per window (also the burst).
    pub quota: u32,
    /// The window in seconds.
    pub window: u64,
    /// Seconds until the next request is allowed (at least 1).
    pub retry_after: u64,
}

impl RateLimited {
    pub fn message(&self) -> String {
        format!(
            "Too many requests: the {} limit is {} per {} s; retry in {} s.",
            self.policy, self.quota, self.window, self.retry_after
        )
    }

    pub fn details(&self) -> Value {
        json!({
            "policy": self.policy,
            "limit": self.quota,
            "windowSeconds": self.window,
            "retryAfter": self.retry_after,
        })
    }
}

pub const RATE_LIMITED: &str = "Wait the number of seconds in Retry-After, then retry; spread \
     requests out (the RateLimit header tells what is left).";
