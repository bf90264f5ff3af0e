//! Accounts and their keys (SPEC §7): API keys, JWT verification keys and
//! signing keys. The functions taking a `MetaStore` serve the CLI and the
//! bootstrap; the ones taking a principal serve the key routes (all `admin`).

use crate::auth::keys::{self, KeyType};
use crate::auth::rules::{Rule, RuleSpec};
use crate::auth::{jwt, Need, Principal};
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, Account, ApiKeyRow, JwtKeyRow, MetaStore, SigningKeyRow};
use crate::state::AppState;

pub async fn create_account(meta: &dyn MetaStore, sandbox: bool) -> AppResult<Account> {
    let account = Account {
        id: keys::new_account_id(),
        sandbox,
        max_file_size: None,
        allowed_mime: None,
        created_at: now_ms(),
        max_storage_bytes: None,
        max_files: None,
    };
    meta.create_account(&account).await?;
    Ok(account)
}

/// Creates a key; returns its row and the plaintext (shown once, never stored).
pub async fn create_key(
    meta: &dyn MetaStore,
    account: &str,
    kind: KeyType,
    name: &str,
    rules: Vec<RuleSpec>,
) -> AppResult<(ApiKeyRow, String)> {
    for r in &rules {
        Rule::compile(r.clone())?;
    }
    let plaintext = keys::generate(kind, account);
    let row = ApiKeyRow {
        id: keys::random_base58(8),
        account_id: account.to_string(),
        key_hash: keys::hash(&plaintext),
        key_type: kind.name().to_string(),
        name: name.to_string(),
        display: keys::display(&plaintext),
        rules: serde_json::to_string(&rules).expect("rules serialize"),
        created_at: now_ms(),
        revoked_at: None,
        last_used_at: None,
    };
    meta.insert_api_key(&row).await?;
    Ok((row, plaintext))
}

/// Registers a JWT verification key (RS256 or ES256 public key, PEM).
pub async fn add_jwt_key(
    meta: &dyn MetaStore,
    account: &str,
    pem: &str,
    name: &str,
) -> AppResult<JwtKeyRow> {
    let (alg, _) = jwt::parse_public_pem(pem)?;
    let row = JwtKeyRow {
        kid: keys::random_base58(16),
        account_id: account.to_string(),
        alg: format!("{alg:?}"),
        name: name.to_string(),
        pem: pem.trim().to_string(),
        created_at: now_ms(),
    };
    meta.insert_jwt_key(&row).await?;
    Ok(row)
}

/// Creates a signing key; returns its row and the secret (shown once; stored
/// sealed with the master key).
pub async fn create_signing_key(
    meta: &dyn MetaStore,
    master: &crate::auth::keyring::Keyring,
    account: &str,
    name: &str,
) -> AppResult<(SigningKeyRow, String)> {
    let secret = format!("sk_{}", keys::random_base58(40));
    let row = SigningKeyRow {
        kid: keys::random_base58(16),
        account_id: account.to_string(),
        name: name.to_string(),
        secret_enc: crate::auth::secrets::seal(master, &secret),
        created_at: now_ms(),
    };
    meta.insert_signing_key(&row).await?;
    Ok((row, secret))
}

/// `admin` on the account, then the account itself (for its sandbox label).
pub async fn admin_account(
    state: &AppState,
    principal: &Principal,
    acc: &str,
) -> AppResult<Account> {
    principal.require(acc, Need::admin())?;
    crate::domain::plan::load_account(state, acc).await
}

pub async fn list_api_keys(state: &AppState, acc: &str) -> AppResult<Vec<ApiKeyRow>> {
    state.meta.list_api_keys(acc).await
}

/// Revokes a key: this node lets go at once, the others within a second.
pub async fn revoke_api_key(state: &AppState, acc: &str, key_id: &str) -> AppResult<()> {
    if !state.meta.revoke_api_key(acc, key_id, now_ms()).await? {
        return Err(AppError::NotFound {
            what: format!("API key {key_id}"),
        });
    }
    state.auth.forget_all_keys();
    Ok(())
}

pub async fn list_jwt_keys(state: &AppState, acc: &str) -> AppResult<Vec<JwtKeyRow>> {
    state.meta.list_jwt_keys(acc).await
}

/// Registers a JWT key and forgets this node's cached keys of the account.
pub async fn register_jwt_key(
    state: &AppState,
    acc: &str,
    pem: &str,
    name: &str,
) -> AppResult<JwtKeyRow> {
    let row = add_jwt_key(state.meta.as_ref(), acc, pem, name).await?;
    state.auth.forget_jwt_keys(acc).await;
    Ok(row)
}

pub async fn delete_jwt_key(state: &AppState, acc: &str, kid: &str) -> AppResult<()> {
    if !state.meta.delete_jwt_key(acc, kid).await? {
        return Err(AppError::NotFound {
            what: format!("JWT key {kid}"),
        });
    }
    state.auth.forget_jwt_keys(acc).await;
    Ok(())
}

pub async fn list_signing_keys(state: &AppState, acc: &str) -> AppResult<Vec<SigningKeyRow>> {
    state.meta.list_signing_keys(acc).await
}

pub async fn delete_signing_key(state: &AppState, acc: &str, kid: &str) -> AppResult<()> {
    if !state.meta.delete_signing_key(acc, kid).await? {
        return Err(AppError::NotFound {
            what: format!("Signing key {kid}"),
        });
    }
    Ok(())
}
