//! Transformation presets (SPEC §6.1): named parameter sets of an account,
//! served at `/{acc}/{preset}/{path}`. Managing them needs `admin`.

use crate::auth::{Need, Principal};
use crate::domain::images::param_error;
use crate::error::{AppError, AppResult};
use crate::images::Params;
use crate::meta::{now_ms, MetaStore, PresetRow};
use crate::state::AppState;

/// First path segments that are routes or slugs of their own.
pub const RESERVED: &[&str] = &["raw", "image", "save", "api", "v2", "dashboard", "tus"];
const MAX_NAME: usize = 64;

/// `[a-z0-9-]{1,64}`, not reserved.
pub fn validate_name(name: &str) -> AppResult<()> {
    let shape = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !shape {
        return Err(AppError::invalid_request(
            format!(
                "Preset name {:?} is not valid.",
                name.chars().take(80).collect::<String>()
            ),
            "Use 1 to 64 characters: lower-case letters, digits and '-'.",
        ));
    }
    if RESERVED.contains(&name) {
        return Err(AppError::invalid_request(
            format!("Preset name {name:?} is reserved."),
            "Pick another name: raw, image, save, api, v2, dashboard and tus are routes.",
        ));
    }
    Ok(())
}

/// The stored, canonical form of a preset's parameters (checked like a query).
fn normalise(params: &str) -> AppResult<String> {
    Params::from_preset(params).map_err(param_error)?;
    Ok(params.trim().trim_start_matches('?').to_string())
}

/// Creates or replaces a preset (its `createdAt` is kept on replace).
pub async fn put(
    state: &AppState,
    principal: &Principal,
    account: &str,
    name: &str,
    params: &str,
) -> AppResult<PresetRow> {
    principal.require(account, Need::admin())?;
    save(state.meta.as_ref(), account, name, params).await
}

/// [`put`] without a principal (the CLI, which has the database itself).
pub async fn save(
    meta: &dyn MetaStore,
    account: &str,
    name: &str,
    params: &str,
) -> AppResult<PresetRow> {
    validate_name(name)?;
    let params = normalise(params)?;
    meta.put_preset(&PresetRow {
        account_id: account.to_string(),
        name: name.to_string(),
        params,
        created_at: now_ms(),
    })
    .await
}

pub async fn list(
    state: &AppState,
    principal: &Principal,
    account: &str,
) -> AppResult<Vec<PresetRow>> {
    principal.require(account, Need::admin())?;
    state.meta.list_presets(account).await
}

pub async fn get(
    state: &AppState,
    principal: &Principal,
    account: &str,
    name: &str,
) -> AppResult<PresetRow> {
    principal.require(account, Need::admin())?;
    state
        .meta
        .get_preset(account, name)
        .await?
        .ok_or_else(|| AppError::PresetNotFound {
            name: name.to_string(),
        })
}

pub async fn delete(
    state: &AppState,
    principal: &Principal,
    account: &str,
    name: &str,
) -> AppResult<()> {
    principal.require(account, Need::admin())?;
    remove(state.meta.as_ref(), account, name).await
}

/// [`delete`] without a principal (the CLI).
pub async fn remove(meta: &dyn MetaStore, account: &str, name: &str) -> AppResult<()> {
    if meta.delete_preset(account, name).await? {
        Ok(())
    } else {
        Err(AppError::PresetNotFound {
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("thumb-200").is_ok());
        assert!(validate_name(&"a".repeat(64)).is_ok());
        for bad in ["", "Thumb", "a_b", "a/b", "raw", "image", "tus", "v2", "é"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert!(validate_name(&"a".repeat(65)).is_err());
    }
}
