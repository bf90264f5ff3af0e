//! Authentication and authorization: the only place credentials are read.
//!
//! Carriers (SPEC §2) become one [`Principal`]; [`authorize`] decides an
//! operation on a path (SPEC §3) with no existence leak.

pub mod jwt;
pub mod keys;
pub mod rules;
pub mod secrets;
pub mod signed;
pub mod visibility;

use crate::error::{AppError, AppResult};
use crate::meta::ApiKeyRow;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine;
use keys::KeyType;
use rules::{Grants, Op, Ops, Rule, RuleSpec};
use std::sync::Arc;

/// What a request is, after authentication.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The credential's account; None for anonymous requests.
    pub account: Option<String>,
    pub grants: Arc<Grants>,
    pub via: Via,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Via {
    Anonymous,
    ApiKey {
        key_id: String,
        key_type: KeyType,
    },
    /// A JWT alone (`Authorization: Bearer eyJ…`).
    Jwt,
    /// An API key plus an `Authorization-Token` JWT.
    ApiKeyAndJwt {
        key_id: String,
        key_type: KeyType,
    },
    /// The session cookie set by the access-token endpoint (CDN reads only).
    Cookie,
    /// A signed download link for one file.
    SignedUrl,
    /// A single-use upload token (`Bearer token_…`), not yet spent: the upload
    /// route spends it.
    UploadToken {
        token_hash: String,
    },
}

impl Principal {
    pub fn anonymous() -> Principal {
        Principal {
            account: None,
            grants: Arc::new(Grants::None),
            via: Via::Anonymous,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.via == Via::Anonymous
    }
}

/// How access was granted: decides `Cache-Control: public` vs `private`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Through the principal's own grants.
    Credential,
    /// Because the folder lets anyone download.
    Public,
}

/// SPEC §3's decision for `op` on `path` in `account`. `public_read` says whether
/// folder visibility lets anyone read `path`; it is only consulted for reads.
pub fn authorize(
    principal: &Principal,
    account: &str,
    op: Op,
    path: &str,
    public_read: impl FnOnce() -> bool,
) -> AppResult<Access> {
    if let Some(own) = &principal.account {
        if own != account {
            return Err(AppError::AccountMismatch {
                url_account: account.to_string(),
            });
        }
        if principal.grants.allows(op, path) {
            return Ok(Access::Credential);
        }
    }
    if op == Op::Read && public_read() {
        return Ok(Access::Public);
    }
    if principal.is_anonymous() {
        Err(AppError::Unauthorized)
    } else {
        Err(AppError::forbidden(
            format!("This credential may not {} {path}.", op.name()),
            format!(
                "Use a key whose rules grant '{}' on this path (or a secret key without rules).",
                op.name()
            ),
        ))
    }
}

/// The read decision for downloads: the principal's own grants first, and only
/// when they do not allow it, the (cached) folder visibility.
pub async fn authorize_read(
    state: &AppState,
    principal: &Principal,
    account: &str,
    path: &str,
) -> AppResult<Access> {
    let foreign = principal.account.as_deref().is_some_and(|a| a != account);
    let granted = !foreign && principal.grants.allows(Op::Read, path);
    let public = if granted || foreign {
        false
    } else {
        let perms = state.folder_permissions(account).await?;
        visibility::raw_is_public(&perms, path)
    };
    authorize(principal, account, Op::Read, path, || public)
}

/// A key as the auth layer caches it: the row plus its compiled grants.
#[derive(Debug)]
pub struct ResolvedKey {
    pub row: ApiKeyRow,
    pub key_type: KeyType,
    pub grants: Arc<Grants>,
}

impl ResolvedKey {
    pub fn from_row(row: ApiKeyRow) -> AppResult<ResolvedKey> {
        let key_type = KeyType::parse(&row.key_type)
            .ok_or_else(|| AppError::internal(format!("key {} has bad type", row.id)))?;
        let specs: Vec<RuleSpec> = serde_json::from_str(&row.rules).map_err(AppError::internal)?;
        let grants = if specs.is_empty() {
            match key_type {
                KeyType::Secret => Grants::Everywhere(Ops::all()),
                KeyType::Public => Grants::Everywhere(Ops::of(&[Op::Create, Op::Read])),
            }
        } else {
            Grants::Rules(
                specs
                    .into_iter()
                    .map(Rule::compile)
                    .collect::<AppResult<Vec<_>>>()?,
            )
        };
        Ok(ResolvedKey {
            row,
            key_type,
            grants: Arc::new(grants),
        })
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<Principal> {
        // Set only by the dashboard gate (`/dashboard/api/…`), from its session.
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        principal(state, &parts.headers, parts.uri.query()).await
    }
}

/// Turns the request's credential carriers into a principal.
pub async fn principal(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> AppResult<Principal> {
    match credential(headers, query)? {
        None => Ok(Principal::anonymous()),
        Some(Credential::ApiKey(key)) => {
            let key = resolve_key(state, &key).await?;
            match header_token(headers)? {
                None => Ok(Principal {
                    account: Some(key.row.account_id.clone()),
                    grants: key.grants.clone(),
                    via: Via::ApiKey {
                        key_id: key.row.id.clone(),
                        key_type: key.key_type,
                    },
                }),
                Some(token) => {
                    let jwt = verified_jwt(state, &token, &key.row.account_id, headers).await?;
                    Ok(Principal {
                        account: Some(key.row.account_id.clone()),
                        grants: Arc::new(merge(&key.grants, &jwt.rules)),
                        via: Via::ApiKeyAndJwt {
                            key_id: key.row.id.clone(),
                            key_type: key.key_type,
                        },
                    })
                }
            }
        }
        Some(Credential::UploadToken(token)) => {
            // Checked (not spent) here, so a bad token is 401 on every route.
            let token_hash = keys::hash(&token);
            let row = state.meta.get_upload_token(&token_hash).await?;
            let row = crate::domain::tokens::usable(row, chrono::Utc::now().timestamp_millis())?;
            Ok(Principal {
                account: Some(row.account_id),
                grants: Arc::new(Grants::None),
                via: Via::UploadToken { token_hash },
            })
        }
        Some(Credential::Jwt(token)) => {
            let account = jwt::unverified_account(&token).ok_or_else(|| {
                jwt::invalid("A JWT sent as 'Authorization: Bearer' must carry an accountId claim.")
            })?;
            let jwt = verified_jwt(state, &token, &account, headers).await?;
            Ok(Principal {
                account: Some(jwt.account.clone()),
                grants: Arc::new(Grants::Rules(jwt.rules.clone())),
                via: Via::Jwt,
            })
        }
    }
}

/// The name of the session cookie for an account (as Bytescale names it).
pub fn cookie_name(account: &str) -> String {
    format!("access-token-{account}")
}

/// The principal for a CDN GET/HEAD: the usual carriers, else the account's
/// session cookie. A bad or expired cookie is ignored (the browser sends it
/// unasked), so the request goes on as anonymous.
pub async fn cdn_principal(
    state: &AppState,
    headers: &HeaderMap,
    account: &str,
    path: &str,
    signature: signed::UrlSignature<'_>,
) -> AppResult<Principal> {
    if signature.exp.is_some() || signature.sig.is_some() {
        return signed_link_principal(state, account, path, signature);
    }
    let principal = principal(state, headers, None).await?;
    if !principal.is_anonymous() {
        return Ok(principal);
    }
    let name = cookie_name(account);
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string());
    let Some(token) = token else {
        return Ok(principal);
    };
    match verified_jwt(state, &token, account, headers).await {
        Ok(jwt) => Ok(Principal {
            account: Some(jwt.account.clone()),
            grants: Arc::new(Grants::Rules(jwt.rules.clone())),
            via: Via::Cookie,
        }),
        Err(AppError::Unavailable { cause }) => Err(AppError::Unavailable { cause }),
        Err(e) => {
            tracing::debug!(error = %e, "session cookie ignored");
            Ok(principal)
        }
    }
}

/// Scope bound into signed download links.
pub const DOWNLOAD_SCOPE: &str = "download";

/// The CDN path a download link signs.
pub fn download_link_path(account: &str, path: &str) -> String {
    format!("/{account}/raw{path}")
}

/// A signed download link: read on exactly that file until `exp`.
fn signed_link_principal(
    state: &AppState,
    account: &str,
    path: &str,
    signature: signed::UrlSignature<'_>,
) -> AppResult<Principal> {
    let now = chrono::Utc::now().timestamp();
    let link = download_link_path(account, path);
    signed::verify(&state.master_key, DOWNLOAD_SCOPE, &link, signature, now)?;
    let rule = Rule::compile(RuleSpec {
        path: globset::escape(path),
        ops: vec![Op::Read],
    })?;
    Ok(Principal {
        account: Some(account.to_string()),
        grants: Arc::new(Grants::Rules(vec![rule])),
        via: Via::SignedUrl,
    })
}

/// A JWT checked against `account`'s keys (cached for a second), plus the
/// per-use checks (expiry, origin).
pub async fn verified_jwt(
    state: &AppState,
    token: &str,
    account: &str,
    headers: &HeaderMap,
) -> AppResult<Arc<jwt::VerifiedJwt>> {
    let verified = state.verify_jwt(token, account).await?;
    verified.check_use(chrono::Utc::now().timestamp(), headers)?;
    Ok(verified)
}

/// A key's grants with a JWT's rules added; a JWT rule replaces a key rule with
/// the same glob (SPEC §3).
fn merge(key: &Grants, jwt_rules: &[Rule]) -> Grants {
    let mut rules: Vec<Rule> = match key {
        Grants::None => Vec::new(),
        Grants::Everywhere(ops) => vec![Rule::compile(RuleSpec {
            path: "/**".into(),
            ops: ops.list(),
        })
        .expect("static glob")],
        Grants::Rules(r) => r.clone(),
    };
    rules.retain(|r| !jwt_rules.iter().any(|j| j.spec.path == r.spec.path));
    rules.extend(jwt_rules.iter().cloned());
    Grants::Rules(rules)
}

enum Credential {
    ApiKey(String),
    Jwt(String),
    UploadToken(String),
}

/// Reads the credential carriers of SPEC §2 from the headers, then the
/// `apiKey` query parameter (public keys only: a plain HTML form cannot send
/// headers, and a secret key must never sit in a URL).
fn credential(headers: &HeaderMap, query: Option<&str>) -> AppResult<Option<Credential>> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| malformed_authorization())?
            .trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "bearer" => bearer(rest).map(Some),
            "basic" => basic(rest).map(Some),
            _ => Err(malformed_authorization()),
        };
    }
    if let Some(value) = headers.get("x-api-key") {
        let value = value
            .to_str()
            .map_err(|_| malformed_authorization())?
            .trim();
        if value.len() >= 7 && value[..7].eq_ignore_ascii_case("bearer ") {
            return Err(AppError::bad_credentials(
                "invalid_api_key",
                "The x-api-key header holds 'Bearer <key>'.",
                "Remove the 'Bearer ' prefix: send 'x-api-key: secret_…', or use \
                 'Authorization: Bearer secret_…'.",
            ));
        }
        return Ok(Some(Credential::ApiKey(value.to_string())));
    }
    let from_query = query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "apiKey")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(key) = from_query {
        if !key.starts_with("public_") {
            return Err(AppError::bad_credentials(
                "invalid_api_key",
                "Only public keys may be sent as the apiKey query parameter.",
                "Send secret keys in the Authorization header; never put them in URLs or pages.",
            ));
        }
        return Ok(Some(Credential::ApiKey(key)));
    }
    if headers.contains_key("authorization-token") {
        return Err(AppError::bad_credentials(
            "invalid_authorization",
            "Authorization-Token was sent without an API key.",
            "Send it with 'Authorization: Bearer public_…', or send the JWT alone as \
             'Authorization: Bearer <JWT>'.",
        ));
    }
    Ok(None)
}

/// The `Authorization-Token` JWT that accompanies a key, if any.
fn header_token(headers: &HeaderMap) -> AppResult<Option<String>> {
    match headers.get("authorization-token") {
        None => Ok(None),
        Some(v) => {
            let t = v
                .to_str()
                .map_err(|_| jwt::invalid("Authorization-Token is not text."))?;
            let t = t.trim();
            let t = t.strip_prefix("Bearer ").unwrap_or(t);
            Ok(Some(t.to_string()))
        }
    }
}

fn bearer(token: &str) -> AppResult<Credential> {
    if token.starts_with("secret_") || token.starts_with("public_") {
        return Ok(Credential::ApiKey(token.to_string()));
    }
    if token.starts_with("eyJ") {
        return Ok(Credential::Jwt(token.to_string()));
    }
    if token.starts_with("token_") {
        return Ok(Credential::UploadToken(token.to_string()));
    }
    Err(AppError::bad_credentials(
        "invalid_api_key",
        "The bearer credential is not a stowage API key.",
        "Send 'Authorization: Bearer secret_…' or 'Bearer public_…' with a key from \
         `stowage keys create`.",
    ))
}

fn basic(encoded: &str) -> AppResult<Credential> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(malformed_authorization)?;
    let (user, pass) = decoded.split_once(':').unwrap_or((&decoded, ""));
    let key = if user == "apikey" { pass } else { user };
    Ok(Credential::ApiKey(key.to_string()))
}

fn malformed_authorization() -> AppError {
    AppError::bad_credentials(
        "invalid_authorization",
        "The Authorization header is malformed.",
        "Send 'Authorization: Bearer <api key>' or 'Authorization: Basic base64(apikey:<api key>)'.",
    )
}

fn invalid_key() -> AppError {
    AppError::bad_credentials(
        "invalid_api_key",
        "The API key is not valid.",
        "Check the key was copied whole; list keys with `stowage keys list --account <id>`.",
    )
}

async fn resolve_key(state: &AppState, key: &str) -> AppResult<Arc<ResolvedKey>> {
    if keys::parse(key).is_none() {
        return Err(invalid_key());
    }
    let resolved = state.resolve_key(&keys::hash(key)).await?;
    let resolved: Arc<ResolvedKey> = resolved.ok_or_else(invalid_key)?;
    if resolved.row.revoked_at.is_some() {
        return Err(AppError::bad_credentials(
            "api_key_revoked",
            "This API key has been revoked.",
            "Create a new key with `stowage keys create` or POST /v2/accounts/{account}/api_keys.",
        ));
    }
    Ok(resolved)
}
