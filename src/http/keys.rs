//! Key management (SPEC §7), all needing `admin`: API keys and JWT keys.

use super::AppJson;
use crate::admin;
use crate::auth::keys::KeyType;
use crate::auth::rules::{Op, RuleSpec};
use crate::auth::{authorize, Principal};
use crate::domain::uploads::account;
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, Account, ApiKeyRow, JwtKeyRow, SigningKeyRow};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/accounts/{account}/api_keys",
            get(list_api_keys).post(create_api_key),
        )
        .route(
            "/v2/accounts/{account}/api_keys/{key_id}",
            delete(revoke_api_key),
        )
        .route(
            "/v2/accounts/{account}/jwt_keys",
            get(list_jwt_keys).post(add_jwt_key),
        )
        .route(
            "/v2/accounts/{account}/jwt_keys/{kid}",
            delete(delete_jwt_key),
        )
        .route(
            "/v2/accounts/{account}/signing_keys",
            get(list_signing_keys).post(create_signing_key),
        )
        .route(
            "/v2/accounts/{account}/signing_keys/{kid}",
            delete(delete_signing_key),
        )
}

/// Key management needs `admin` on the account root.
fn require_admin(principal: &Principal, account: &str) -> AppResult<()> {
    authorize(principal, account, Op::Admin, "/", || false).map(|_| ())
}

/// `admin` on the account, then the account itself (for its sandbox label).
async fn admin_account(state: &AppState, principal: &Principal, acc: &str) -> AppResult<Account> {
    require_admin(principal, acc)?;
    account(state, acc).await
}

fn key_json(row: &ApiKeyRow, sandbox: bool) -> Value {
    json!({
        "keyId": row.id,
        "type": row.key_type,
        "name": row.name,
        "display": row.display,
        "rules": serde_json::from_str::<Value>(&row.rules).unwrap_or_else(|_| json!([])),
        "createdAt": row.created_at,
        "sandbox": sandbox,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    #[serde(rename = "type")]
    key_type: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

async fn create_api_key(
    State(state): State<AppState>,
    Path(acc): Path<String>,
    principal: Principal,
    AppJson(body): AppJson<CreateKey>,
) -> AppResult<(StatusCode, Json<Value>)> {
    require_admin(&principal, &acc)?;
    let kind = KeyType::parse(&body.key_type).ok_or_else(|| {
        AppError::invalid_request(
            format!("Unknown key type {:?}.", body.key_type),
            "Use \"type\": \"secret\" or \"public\".",
        )
    })?;
    let account = account(&state, &acc).await?;
    let (row, key) =
        admin::create_key(state.meta.as_ref(), &acc, kind, &body.name, body.rules).await?;
    let mut out = key_json(&row, account.sandbox);
    out["key"] = json!(key);
    Ok((StatusCode::CREATED, Json(out)))
}

async fn list_api_keys(
    State(state): State<AppState>,
    Path(acc): Path<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let account = admin_account(&state, &principal, &acc).await?;
    let rows = state.meta.list_api_keys(&acc).await?;
    let items: Vec<Value> = rows.iter().map(|r| key_json(r, account.sandbox)).collect();
    Ok(Json(json!({ "items": items })))
}

async fn revoke_api_key(
    State(state): State<AppState>,
    Path((acc, key_id)): Path<(String, String)>,
    principal: Principal,
) -> AppResult<StatusCode> {
    require_admin(&principal, &acc)?;
    if !state.meta.revoke_api_key(&acc, &key_id, now_ms()).await? {
        return Err(AppError::NotFound {
            what: format!("API key {key_id}"),
        });
    }
    // Other nodes let go within CACHE_TTL; this one at once.
    state.forget_all_keys();
    Ok(StatusCode::NO_CONTENT)
}

fn jwt_key_json(row: &JwtKeyRow, sandbox: bool) -> Value {
    json!({
        "kid": row.kid,
        "alg": row.alg,
        "name": row.name,
        "createdAt": row.created_at,
        "sandbox": sandbox,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddJwtKey {
    pem: String,
    #[serde(default)]
    name: String,
}

async fn add_jwt_key(
    State(state): State<AppState>,
    Path(acc): Path<String>,
    principal: Principal,
    AppJson(body): AppJson<AddJwtKey>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let account = admin_account(&state, &principal, &acc).await?;
    let row = admin::add_jwt_key(state.meta.as_ref(), &acc, &body.pem, &body.name).await?;
    state.forget_jwt_keys(&acc).await;
    Ok((
        StatusCode::CREATED,
        Json(jwt_key_json(&row, account.sandbox)),
    ))
}

async fn list_jwt_keys(
    State(state): State<AppState>,
    Path(acc): Path<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let account = admin_account(&state, &principal, &acc).await?;
    let rows = state.meta.list_jwt_keys(&acc).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| jwt_key_json(r, account.sandbox))
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn delete_jwt_key(
    State(state): State<AppState>,
    Path((acc, kid)): Path<(String, String)>,
    principal: Principal,
) -> AppResult<StatusCode> {
    require_admin(&principal, &acc)?;
    if !state.meta.delete_jwt_key(&acc, &kid).await? {
        return Err(AppError::NotFound {
            what: format!("JWT key {kid}"),
        });
    }
    state.forget_jwt_keys(&acc).await;
    Ok(StatusCode::NO_CONTENT)
}

fn signing_key_json(row: &SigningKeyRow, sandbox: bool) -> Value {
    json!({
        "kid": row.kid,
        "name": row.name,
        "createdAt": row.created_at,
        "sandbox": sandbox,
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateSigningKey {
    #[serde(default)]
    name: String,
}

async fn create_signing_key(
    State(state): State<AppState>,
    Path(acc): Path<String>,
    principal: Principal,
    AppJson(body): AppJson<CreateSigningKey>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let account = admin_account(&state, &principal, &acc).await?;
    let name = body.name;
    let (row, secret) =
        admin::create_signing_key(state.meta.as_ref(), &state.master_key, &acc, &name).await?;
    let mut out = signing_key_json(&row, account.sandbox);
    out["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(out)))
}

async fn list_signing_keys(
    State(state): State<AppState>,
    Path(acc): Path<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let account = admin_account(&state, &principal, &acc).await?;
    let rows = state.meta.list_signing_keys(&acc).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| signing_key_json(r, account.sandbox))
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn delete_signing_key(
    State(state): State<AppState>,
    Path((acc, kid)): Path<(String, String)>,
    principal: Principal,
) -> AppResult<StatusCode> {
    require_admin(&principal, &acc)?;
    if !state.meta.delete_signing_key(&acc, &kid).await? {
        return Err(AppError::NotFound {
            what: format!("Signing key {kid}"),
        });
    }
    Ok(StatusCode::NO_CONTENT)
}
