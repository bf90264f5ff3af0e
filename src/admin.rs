//! Accounts and API keys: the operations behind the CLI (and the key routes).

use crate::auth::jwt;
use crate::auth::keys::{self, KeyType};
use crate::auth::rules::{Rule, RuleSpec};
use crate::error::AppResult;
use crate::meta::{now_ms, Account, ApiKeyRow, JwtKeyRow, MetaStore, SigningKeyRow};

pub async fn create_account(meta: &dyn MetaStore, sandbox: bool) -> AppResult<Account> {
    let account = Account {
        id: keys::new_account_id(),
        sandbox,
        max_file_size: None,
        allowed_mime: None,
        created_at: now_ms(),
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
    master: &[u8; 32],
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
