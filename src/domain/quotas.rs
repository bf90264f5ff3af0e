//! Account limits, quotas and usage (SPEC §5, §12): `GET|PUT …/limits`
//! (admin), `GET …/usage`, and the check an upload meets before its bytes.
//!
//! The exact check is the commit's (`meta/usage.rs`: one conditional
//! `UPDATE` of the account's usage row in the commit transaction); the one
//! here refuses early, before a byte is read, what that check would refuse
//! anyway: a new file at the `maxFiles` quota, a declared size past
//! `maxStorageBytes`.

use crate::auth::{Need, Principal};
use crate::domain::plan::load_account;
use crate::error::{AppError, AppResult, Quota, QuotaExceeded};
use crate::meta::usage::effective_quotas;
use crate::meta::{Account, AccountLimits, UsageRow};
use crate::state::AppState;

/// An account's effective limits: what uploads meet now (None: unlimited).
#[derive(Clone, Debug, PartialEq)]
pub struct Effective {
    pub max_file_size: u64,
    pub allowed_mime: Option<String>,
    pub max_storage_bytes: Option<i64>,
    pub max_files: Option<i64>,
}

pub fn effective(state: &AppState, account: &Account) -> Effective {
    let (max_files, max_storage_bytes) = effective_quotas(account);
    Effective {
        max_file_size: account
            .max_file_size
            .map_or(state.config.max_file_size, |v| v.max(0) as u64),
        allowed_mime: account.allowed_mime.clone(),
        max_storage_bytes,
        max_files,
    }
}

/// The account's own limits (`GET …/limits`, admin): None is the default.
pub async fn get_limits(state: &AppState, principal: &Principal, acc: &str) -> AppResult<Account> {
    principal.require(acc, Need::admin())?;
    load_account(state, acc).await
}

/// Replaces the account's limits (`PUT …/limits`, admin).
pub async fn put_limits(
    state: &AppState,
    principal: &Principal,
    acc: &str,
    limits: AccountLimits,
) -> AppResult<Account> {
    principal.require(acc, Need::admin())?;
    set_limits(state.meta.as_ref(), acc, limits).await?;
    load_account(state, acc).await
}

/// Sets the limits (the CLI and `PUT`): numbers are at least 0, and a MIME
/// list names at least one pattern.
pub async fn set_limits(
    meta: &dyn crate::meta::MetaStore,
    acc: &str,
    mut limits: AccountLimits,
) -> AppResult<()> {
    for (name, v) in [
        ("maxFileSize", limits.max_file_size),
        ("maxStorageBytes", limits.max_storage_bytes),
        ("maxFiles", limits.max_files),
    ] {
        if v.is_some_and(|v| v < 0) {
            return Err(AppError::invalid_request(
                format!("{name} must be 0 or more."),
                "Send a whole number of bytes or files, or null for the default.",
            ));
        }
    }
    limits.allowed_mime = limits.allowed_mime.filter(|m| !m.trim().is_empty());
    if !meta.set_account_limits(acc, &limits).await? {
        return Err(AppError::NotFound {
            what: format!("Account {acc}"),
        });
    }
    Ok(())
}

/// What the account stores (`GET …/usage`): its usage row and effective
/// limits. Needs `admin`, or `list` on the whole account (as the
/// dashboard's totals).
pub async fn usage(
    state: &AppState,
    principal: &Principal,
    acc: &str,
) -> AppResult<(UsageRow, Effective)> {
    if !principal.may(acc, Need::admin()) {
        principal.require(acc, Need::list("/"))?;
    }
    let account = load_account(state, acc).await?;
    let row = match state.meta.usage_row(acc).await? {
        Some(row) => row,
        None => state.meta.recount_usage(acc).await?,
    };
    Ok((row, effective(state, &account)))
}

/// Refuses, before any byte is read, an upload the commit would refuse:
/// a new file (`adds_file`) at the `maxFiles` quota, or `declared` bytes
/// past `maxStorageBytes`. (An overwrite that prunes the 101st version
/// could fit at commit; it is refused here, as the declared bytes alone
/// pass the quota.)
pub async fn check_before_bytes(
    state: &AppState,
    account: &Account,
    declared: Option<u64>,
    adds_file: impl std::future::Future<Output = AppResult<bool>>,
) -> AppResult<()> {
    let (max_files, max_bytes) = effective_quotas(account);
    if max_files.is_none() && (max_bytes.is_none() || declared.is_none()) {
        return Ok(());
    }
    let Some(used) = state.meta.usage_row(&account.id).await? else {
        return Ok(());
    };
    if let (Some(limit), Some(size)) = (max_bytes, declared) {
        let size = size.min(i64::MAX as u64) as i64;
        if used.bytes.saturating_add(size) > limit {
            return Err(AppError::QuotaExceeded(QuotaExceeded {
                quota: Quota::StorageBytes,
                limit,
                used: used.bytes,
                adding: Some(size),
            }));
        }
    }
    match max_files {
        Some(limit) if used.files >= limit && adds_file.await? => {
            Err(AppError::QuotaExceeded(QuotaExceeded {
                quota: Quota::Files,
                limit,
                used: used.files,
                adding: Some(1),
            }))
        }
        _ => Ok(()),
    }
}
