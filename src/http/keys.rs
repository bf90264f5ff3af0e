//! Key management (SPEC §7), all needing `admin`: API keys and JWT keys.

use super::openapi::KeyRule;
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
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
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

/// An API key as the API shows it: the secret (`key`) only in the answer
/// to its creation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ApiKey {
    key_id: String,
    /// `secret` or `public`.
    #[serde(rename = "type")]
    key_type: String,
    name: String,
    /// The key's prefix and last characters, to recognize it.
    display: String,
    rules: Vec<KeyRule>,
    /// Milliseconds since the epoch.
    created_at: i64,
    last_used_at: Option<i64>,
    sandbox: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

fn key_json(row: &ApiKeyRow, sandbox: bool) -> ApiKey {
    ApiKey {
        key_id: row.id.clone(),
        key_type: row.key_type.clone(),
        name: row.name.clone(),
        display: row.display.clone(),
        rules: serde_json::from_str(&row.rules).unwrap_or_default(),
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        sandbox,
        key: None,
    }
}

/// An account's API keys.
#[derive(Serialize, ToSchema)]
struct ApiKeys {
    items: Vec<ApiKey>,
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
        (status = 201, description = "The key, with its secret (shown once)", body = ApiKey),
        super::responses::Common
    ),
)]
async fn create_api_key(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<CreateKey>,
) -> AppResult<(StatusCode, Json<ApiKey>)> {
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
    out.key = Some(key);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/api_keys",
    tag = "keys",
    summary = "List API keys",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Keys", body = ApiKeys),
        super::responses::Common
    ),
)]
async fn list_api_keys(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<ApiKeys>> {
    let account = admin_account(&state, &principal, &acc).await?;
    let rows = keys::list_api_keys(&state, &acc).await?;
    let items = rows.iter().map(|r| key_json(r, account.sandbox)).collect();
    Ok(Json(ApiKeys { items }))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/api_keys/{key_id}",
    tag = "keys",
    summary = "Revoke an API key",
    params(("account" = String, Path, description = "Account ID"), ("key_id" = String, Path)),
    responses(
        (status = 204, description = "Revoked"),
        super::responses::Common
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

/// A registered JWT public key.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct JwtKey {
    kid: String,
    /// `RS256`, `ES256`, …
    alg: String,
    name: String,
    /// Milliseconds since the epoch.
    created_at: i64,
    sandbox: bool,
}

/// An account's JWT keys.
#[derive(Serialize, ToSchema)]
struct JwtKeys {
    items: Vec<JwtKey>,
}

fn jwt_key_json(row: &JwtKeyRow, sandbox: bool) -> JwtKey {
    JwtKey {
        kid: row.kid.clone(),
        alg: row.alg.clone(),
        name: row.name.clone(),
        created_at: row.created_at,
        sandbox,
    }
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
        (status = 201, description = "The key", body = JwtKey),
        super::responses::Common
    ),
)]
async fn add_jwt_key(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<AddJwtKey>,
) -> AppResult<(StatusCode, Json<JwtKey>)> {
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
        (status = 200, description = "Keys", body = JwtKeys),
        super::responses::Common
    ),
)]
async fn list_jwt_keys(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<JwtKeys>> {
    let account = admin_account(&state, &principal, &acc).await?;
    let rows = keys::list_jwt_keys(&state, &acc).await?;
    let items = rows
        .iter()
        .map(|r| jwt_key_json(r, account.sandbox))
        .collect();
    Ok(Json(JwtKeys { items }))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/jwt_keys/{kid}",
    tag = "keys",
    summary = "Delete a JWT key",
    params(("account" = String, Path, description = "Account ID"), ("kid" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        super::responses::Common
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

/// A URL signing key: the secret only in the answer to its creation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SigningKey {
    kid: String,
    name: String,
    /// Milliseconds since the epoch.
    created_at: i64,
    sandbox: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

/// An account's signing keys.
#[derive(Serialize, ToSchema)]
struct SigningKeys {
    items: Vec<SigningKey>,
}

fn signing_key_json(row: &SigningKeyRow, sandbox: bool) -> SigningKey {
    SigningKey {
        kid: row.kid.clone(),
        name: row.name.clone(),
        created_at: row.created_at,
        sandbox,
        secret: None,
    }
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
        (status = 201, description = "The key, with its secret (shown once)", body = SigningKey),
        super::responses::Common
    ),
)]
async fn create_signing_key(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
    AppJson(body): AppJson<CreateSigningKey>,
) -> AppResult<(StatusCode, Json<SigningKey>)> {
    let account = admin_account(&state, &principal, &acc).await?;
    let name = body.name;
    let (row, secret) =
        keys::create_signing_key(state.meta.as_ref(), state.master_key(), &acc, &name).await?;
    let mut out = signing_key_json(&row, account.sandbox);
    out.secret = Some(secret);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/signing_keys",
    tag = "keys",
    summary = "List signing keys",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Keys", body = SigningKeys),
        super::responses::Common
    ),
)]
async fn list_signing_keys(
    State(state): State<AppState>,
    AppPath(acc): AppPath<String>,
    principal: Principal,
) -> AppResult<Json<SigningKeys>> {
    let account = admin_account(&state, &principal, &acc).await?;
    let rows = keys::list_signing_keys(&state, &acc).await?;
    let items = rows
        .iter()
        .map(|r| signing_key_json(r, account.sandbox))
        .collect();
    Ok(Json(SigningKeys { items }))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/signing_keys/{kid}",
    tag = "keys",
    summary = "Delete a signing key",
    params(("account" = String, Path, description = "Account ID"), ("kid" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        super::responses::Common
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
