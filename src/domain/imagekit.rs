//! ImageKit-compatible uploads (SPEC §5.5): `POST /api/v1/files/upload` and
//! `POST /api/v2/files/upload`. Server-side callers authenticate with a secret
//! key (Basic); browsers with a token made by the backend from a signing key:
//! V2 an HS256 JWT binding every form field, V1 an HMAC-SHA1 signature of
//! `token + expire`. Each client token is accepted once, on every node.

use crate::auth::keys;
use crate::auth::rules::{Grants, Op, Rule, RuleSpec};
use crate::auth::{secrets, Principal, Via};
use crate::blobs::PutError;
use crate::domain::paths;
use crate::domain::uploads::{self, discard, effective_mime, Limits};
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, FileRow, SigningKeyRow};
use crate::state::AppState;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Clock skew allowed on client tokens; used tokens are remembered this much
/// longer than their expiry, so a replay inside the skew is still refused.
const LEEWAY_SECS: i64 = 30;

/// Which route: the token scheme differs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Version {
    V1,
    V2,
}

/// A file already streamed into a fresh blob (GC-registered), waiting for the
/// rest of the form to say whether it may be committed.
pub struct Staged {
    pub blob_key: String,
    pub size: u64,
    pub sha256: String,
    pub original_name: Option<String>,
    pub content_type: Option<String>,
}

/// Streams the `file` part into a new blob under the server's size limit.
pub async fn stage<S, E>(
    state: &AppState,
    body: S,
    limit: u64,
    original_name: Option<String>,
    content_type: Option<String>,
) -> AppResult<Staged>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let blob_key = uploads::new_blob_key(state, "imagekit").await?;
    match state.blobs.put_stream(&blob_key, body, limit).await {
        Ok(stored) => Ok(Staged {
            blob_key,
            size: stored.size,
            sha256: stored.sha256,
            original_name,
            content_type,
        }),
        Err(e) => {
            discard(state, &blob_key).await;
            Err(match e {
                PutError::TooLarge { limit } => AppError::FileTooLarge {
                    limit,
                    declared: None,
                },
                PutError::Body(m) => AppError::UploadIncomplete {
                    message: format!("The request body ended early or failed: {m}."),
                },
                PutError::Store(e) => AppError::Unavailable {
                    cause: e.to_string(),
                },
            })
        }
    }
}

fn bad(message: impl Into<String>, help: impl Into<String>) -> AppError {
    AppError::invalid_request(message, help)
}

fn denied(message: impl Into<String>) -> AppError {
    AppError::bad_credentials(
        "invalid_token",
        message,
        "Generate a fresh token on your backend with a signing key (each token works once).",
    )
}

async fn signing_key(state: &AppState, kid: &str) -> AppResult<(SigningKeyRow, String)> {
    let row = state
        .meta
        .get_signing_key(kid)
        .await?
        .ok_or_else(|| denied(format!("No signing key {kid:?} exists.")))?;
    let secret = secrets::open(&state.master_key, &row.secret_enc)?;
    Ok((row, secret))
}

/// V2: an HS256 JWT whose header `kid` names a signing key and whose payload
/// holds every other form field (same string value) plus `iat` and `exp`.
async fn verify_v2(state: &AppState, fields: &BTreeMap<String, String>) -> AppResult<String> {
    let token = fields.get("token").ok_or(AppError::Unauthorized)?;
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| denied("The token is not a valid JWT (or its alg is not HS256)."))?;
    if header.alg != jsonwebtoken::Algorithm::HS256 {
        return Err(denied("The token must be signed with HS256."));
    }
    let kid = header
        .kid
        .ok_or_else(|| denied("The token's header has no kid."))?;
    let (row, secret) = signing_key(state, &kid).await?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.leeway = LEEWAY_SECS as u64;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    let claims: Map<String, Value> = jsonwebtoken::decode(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|e| match e.into_kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => AppError::bad_credentials(
            "token_expired",
            "The token has expired.",
            "Generate a fresh token right before the upload.",
        ),
        _ => denied("The token's signature does not verify."),
    })?
    .claims;
    let (Some(iat), Some(exp)) = (
        claims.get("iat").and_then(Value::as_i64),
        claims.get("exp").and_then(Value::as_i64),
    ) else {
        return Err(denied(
            "The token's iat and exp must be integers (Unix seconds).",
        ));
    };
    if exp - iat > 3600 {
        return Err(denied("The token lives longer than 3600 s (exp − iat)."));
    }
    // Spent now, before anything else can fail.
    if !state
        .meta
        .use_token_once(&keys::hash(token), (exp + LEEWAY_SECS) * 1000)
        .await?
    {
        return Err(denied("This token has already been used."));
    }
    for (name, value) in fields {
        if name == "token" {
            continue;
        }
        match claims.get(name) {
            Some(Value::String(s)) if s == value => {}
            Some(_) => {
                return Err(bad(
                    format!("The field {name} does not match the token."),
                    "Sign exactly the form fields you send.",
                ))
            }
            None => {
                return Err(bad(
                    format!("The field {name} is not in the token."),
                    "Include every form field except file and token in the JWT payload.",
                ))
            }
        }
    }
    for name in claims.keys() {
        if name != "iat" && name != "exp" && !fields.contains_key(name) {
            return Err(bad(
                format!("The token names {name}, which the form does not send."),
                "Send every field you signed, with the same value.",
            ));
        }
    }
    Ok(row.account_id)
}

/// V1: `publicKey` (a signing key's kid), `expire` (Unix s, under an hour
/// ahead), `token` (unique) and `signature` = hex HMAC-SHA1(secret, token + expire).
async fn verify_v1(state: &AppState, fields: &BTreeMap<String, String>) -> AppResult<String> {
    let get = |k: &str| fields.get(k).map(String::as_str);
    let (Some(kid), Some(signature), Some(expire), Some(token)) = (
        get("publicKey"),
        get("signature"),
        get("expire"),
        get("token"),
    ) else {
        return Err(AppError::Unauthorized);
    };
    let (row, secret) = signing_key(state, kid).await?;
    let expire: i64 = expire.parse().map_err(|_| {
        bad(
            "expire must be a Unix time in seconds.",
            "Send expire as an integer.",
        )
    })?;
    let now = chrono::Utc::now().timestamp();
    if expire < now {
        return Err(AppError::bad_credentials(
            "token_expired",
            "The upload signature has expired.",
            "Generate fresh authentication parameters right before the upload.",
        ));
    }
    if expire > now + 3600 + LEEWAY_SECS {
        return Err(denied("expire must be less than one hour in the future."));
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(token.as_bytes());
    mac.update(expire.to_string().as_bytes());
    let given = hex::decode(signature.to_ascii_lowercase())
        .map_err(|_| denied("The signature is not hex."))?;
    mac.verify_slice(&given)
        .map_err(|_| denied("The signature does not match token + expire."))?;
    if !state
        .meta
        .use_token_once(
            &keys::hash(&format!("v1:{kid}:{token}")),
            (expire + LEEWAY_SECS) * 1000,
        )
        .await?
    {
        return Err(denied("This token has already been used."));
    }
    Ok(row.account_id)
}

fn truthy(fields: &BTreeMap<String, String>, name: &str, default: bool) -> bool {
    match fields.get(name).map(|s| s.trim().to_ascii_lowercase()) {
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        _ => default,
    }
}

/// The stored path: `folder` + `fileName`, with ImageKit's random suffix
/// (`name_<random>.ext`) unless `useUniqueFileName` is `false`.
fn target_path(fields: &BTreeMap<String, String>) -> AppResult<String> {
    let name = fields
        .get("fileName")
        .map(|s| paths::clean_original_name(s))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            bad(
                "Missing fileName parameter for upload.",
                "Send the fileName field.",
            )
        })?;
    let name = if truthy(fields, "useUniqueFileName", true) {
        let (stem, ext) = match name.rfind('.') {
            Some(i) if i > 0 => (&name[..i], &name[i..]),
            _ => (name.as_str(), ""),
        };
        format!("{stem}_{}{ext}", keys::random_base58(9))
    } else {
        name
    };
    let folder = fields.get("folder").map(String::as_str).unwrap_or("/");
    let folder = format!("/{}", folder.trim_matches('/'));
    let path = if folder == "/" {
        format!("/{name}")
    } else {
        format!("{folder}/{name}")
    };
    paths::validate_file_path(&path)?;
    Ok(path)
}

/// Decides whether the staged file may be stored, and commits it.
pub async fn finish(
    state: &AppState,
    version: Version,
    principal: &Principal,
    fields: &BTreeMap<String, String>,
    staged: &Staged,
) -> AppResult<FileRow> {
    let (account, principal) = match &principal.account {
        Some(acc) if !matches!(principal.via, Via::UploadToken { .. }) => {
            (acc.clone(), principal.clone())
        }
        _ => {
            let account = match version {
                Version::V2 => verify_v2(state, fields).await?,
                Version::V1 => verify_v1(state, fields).await?,
            };
            (account, Principal::anonymous())
        }
    };
    let path = target_path(fields)?;
    let overwrite = truthy(fields, "overwriteFile", true);
    // Token uploads may create exactly this path. Overwriting needs a V2 token,
    // whose signature covers overwriteFile and the path; V1 signs only
    // token + expire, so a V1 client could otherwise name any existing file.
    let principal = if principal.is_anonymous() {
        let ops = if overwrite && version == Version::V2 {
            vec![Op::Create, Op::Overwrite]
        } else {
            vec![Op::Create]
        };
        Principal {
            account: Some(account.clone()),
            grants: Arc::new(Grants::Rules(vec![Rule::compile(RuleSpec {
                path: globset::escape(&path),
                ops,
            })?])),
            via: Via::Anonymous,
        }
    } else {
        principal
    };
    crate::auth::authorize(&principal, &account, Op::Create, &path, || false)?;
    let acc = uploads::account(state, &account).await?;
    let limits: Limits = uploads::limits(state, &acc);
    if staged.size > limits.max_file_size {
        return Err(AppError::FileTooLarge {
            limit: limits.max_file_size,
            declared: Some(staged.size),
        });
    }
    let mime = effective_mime(staged.content_type.as_deref(), Some(&path))?;
    uploads::check_mime(limits.allowed_mime.as_deref(), &mime)?;
    let tags: Vec<String> = fields
        .get("tags")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    // Move the staged object under the account's prefix, then commit.
    let blob_key = uploads::new_blob_key(state, &account).await?;
    if let Err(e) = state.blobs.copy(&staged.blob_key, &blob_key).await {
        discard(state, &blob_key).await;
        return Err(e);
    }
    let mut row = FileRow {
        account_id: account.clone(),
        path,
        version_id: uploads::new_version_id(),
        blob_key: blob_key.clone(),
        size: staged.size as i64,
        mime,
        etag: staged.sha256.clone(),
        original_file_name: staged.original_name.clone(),
        metadata: json!({ "isPrivateFile": truthy(fields, "isPrivateFile", false) }).to_string(),
        tags: serde_json::to_string(&tags).map_err(AppError::internal)?,
        created_at: now_ms(),
    };
    uploads::commit_with_fallback(state, &principal, &mut row, &None, overwrite).await?;
    Ok(row)
}

/// ImageKit's upload response.
pub fn response(state: &AppState, row: &FileRow) -> Value {
    let tags: Value = serde_json::from_str(&row.tags).unwrap_or(Value::Null);
    let created = chrono::DateTime::from_timestamp_millis(row.created_at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    json!({
        "fileId": row.version_id,
        "name": paths::file_name(&row.path),
        "filePath": row.path,
        "url": crate::http::file_url(state, &row.account_id, &row.path),
        "size": row.size,
        "fileType": if row.mime.starts_with("image/") { "image" } else { "non-image" },
        "mime": row.mime,
        "versionInfo": { "id": row.version_id, "name": "Version 1" },
        "tags": if tags.as_array().is_some_and(|a| a.is_empty()) { Value::Null } else { tags },
        "isPrivateFile": serde_json::from_str::<Value>(&row.metadata).ok().and_then(|m| m.get("isPrivateFile").cloned()).unwrap_or(Value::Bool(false)),
        "createdAt": created,
    })
}
