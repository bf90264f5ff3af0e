//! Key management (SPEC §7), all needing `admin`: API keys and JWT keys.

use super::{AppJson, AppPath};
use crate::auth::keys::KeyType;
use crate::auth::rules::RuleSpec;
use crate::auth::Principal;
use crate::domain::keys::{self, admin_account};
use crate::error::{AppError, AppResult};
use crate::meta::{ApiKeyRow, JwtKeyRow, SigningKeyRow};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
        .routes(routes!(list_jwt_keys, add_jwt_key))
        .routes(routes!(delete_jwt_key))
        .routes(routes!(list_signing_keys, create_signing_key))
        .routes(routes!(delete_signing_key))
}

fn key_json(row: &ApiKeyRow, sandbox: bool) -> Value {
    json!({
        "keyId": row.id,
        "type": row.key_type,
        "name": row.name,
        "display": row.display,
        "rules": serde_json::from_str::<Value>(&row.rules).unwrap_or_else(|_| json!([])),
        "createdAt": row.created_at,
        "lastUsedAt": row.last_used_at,
        "sandbox": sandbox,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    #[serde(rename = "type")]
    key_type: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    rules: Vec<RuleSpec>,
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/api_keys",
    tag = "keys",
    summary = "Create an API key (the secret is shown once)",
    params(("account" = String, Path, description = "Account ID")),
    request_body = CreateKey,
    responses(
        (status = 200, description = "The key", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn create_api_key(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<CreateKey>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let account = admin_account(&state, &principal, &acc).await?;
    let kind = KeyType::parse(&body.key_type).ok_or_else(|| {
        AppError::invalid_request(
            format!("Unknown key type {:?}.", body.key_type),
            "Use \"type\": \"secret\" or \"public\".",
        )
    })?;
    let (row, key) =
        keys::create_key(state.meta.as_ref(), &acc, kind, &body.name, body.rules).await?;
    let mut out = key_json(&row, account.sandbox);
    out["key"] = json!(key);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/api_keys",
    tag = "keys",
    summary = "List API keys",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Keys", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn list_api_keys(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let account = admin_account(&state, &principal, &acc).await?;
    let rows = keys::list_api_keys(&state, &acc).await?;
    let items: Vec<Value> = rows.iter().map(|r| key_json(r, account.sandbox)).collect();
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/api_keys/{key_id}",
    tag = "keys",
    summary = "Revoke an API key",
    params(("account" = String, Path, description = "Account ID"), ("key_id" = String, Path)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn revoke_api_key(
    State(state): State<AppState>,
    AppPath((acc, key_id)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<StatusCode> {
    admin_account(&state, &principal, &acc).await?;
    keys::revoke_api_key(&state, &acc, &key_id).await?;
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AddJwtKey {
    pem: String,
    #[serde(default)]
    name: String,
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/jwt_keys",
    tag = "keys",
    summary = "Register a JWT public key",
    params(("account" = String, Path, description = "Account ID")),
    request_body = AddJwtKey,
    responses(
        (status = 200, description = "The key", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn add_jwt_key(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<AddJwtKey>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let account = admin_account(&state, &principal, &acc).await?;
    let row = keys::register_jwt_key(&state, &acc, &body.pem, &body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(jwt_key_json(&row, account.sandbox)),
    ))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/jwt_keys",
    tag = "keys",
    summary = "List JWT keys",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Keys", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn list_jwt_keys(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let account = admin_account(&state, &principal, &acc).await?;
    let rows = keys::list_jwt_keys(&state, &acc).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| jwt_key_json(r, account.sandbox))
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/jwt_keys/{kid}",
    tag = "keys",
    summary = "Delete a JWT key",
    params(("account" = String, Path, description = "Account ID"), ("kid" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn delete_jwt_key(
    State(state): State<AppState>,
    AppPath((acc, kid)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<StatusCode> {
    admin_account(&state, &principal, &acc).await?;
    keys::delete_jwt_key(&state, &acc, &kid).await?;
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

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateSigningKey {
    #[serde(default)]
    name: String,
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/signing_keys",
    tag = "keys",
    summary = "Create a URL signing key",
    params(("account" = String, Path, description = "Account ID")),
    request_body = Option<CreateSigningKey>,
    responses(
        (status = 200, description = "The key", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn create_signing_key(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<CreateSigningKey>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let account = admin_account(&state, &principal, &acc).await?;
    let name = body.name;
    let (row, secret) =
        keys::create_signing_key(state.meta.as_ref(), state.master_key(), &acc, &name).await?;
    let mut out = signing_key_json(&row, account.sandbox);
    out["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/signing_keys",
    tag = "keys",
    summary = "List signing keys",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Keys", body = Object),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn list_signing_keys(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<Value>> {
    let account = admin_account(&state, &principal, &acc).await?;
    let rows = keys::list_signing_keys(&state, &acc).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| signing_key_json(r, account.sandbox))
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/signing_keys/{kid}",
    tag = "keys",
    summary = "Delete a signing key",
    params(("account" = String, Path, description = "Account ID"), ("kid" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody),
        (status = 401, description = "Missing or bad credentials", body = super::openapi::ErrorBody),
        (status = 403, description = "Not allowed", body = super::openapi::ErrorBody),
        (status = 404, description = "Not found", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited", body = super::openapi::ErrorBody)
    ),
)]
async fn delete_signing_key(
    State(state): State<AppState>,
    AppPath((acc, kid)): AppPath<(String, String)>,
    principal: Principal,
) -> AppResult<StatusCode> {
    admin_account(&state, &principal, &acc).await?;
    keys::delete_signing_key(&state, &acc, &kid).await?;
    Ok(StatusCode::NO_CONTENT)
}
