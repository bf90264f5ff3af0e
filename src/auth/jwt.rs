//! JWTs (SPEC §2): RS256/ES256, verified with the account's registered public
//! keys; their `access.pathPermissions` become path rules.

pub use super::rules::slug_matches;
use super::rules::{Op, Ops, Rule, RuleSpec, Slugs};
use crate::error::{AppError, AppResult, CredentialError};
use crate::meta::JwtKeyRow;
use axum::http::{header, HeaderMap};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// Clock skew allowed on `exp`, `iat` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;
/// Longest lifetime (`exp − iat`) accepted.
pub const MAX_LIFETIME_SECS: i64 = 7 * 24 * 3600;
/// Largest token accepted.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A registered key, ready to verify.
pub struct JwtKey {
    pub kid: String,
    pub alg: Algorithm,
    pub key: DecodingKey,
}

impl JwtKey {
    pub fn from_row(row: &JwtKeyRow) -> AppResult<JwtKey> {
        let (alg, key) = parse_public_pem(&row.pem)?;
        Ok(JwtKey {
            kid: row.kid.clone(),
            alg,
            key,
        })
    }
}

/// DER of the P-256 curve OID (1.2.840.10045.3.1.7).
const P256_OID: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// Reads an RSA (→ RS256) or P-256 EC (→ ES256) public key in PEM.
pub fn parse_public_pem(pem: &str) -> AppResult<(Algorithm, DecodingKey)> {
    let bad = |msg: &str| {
        AppError::invalid_request(
            format!("The PEM is not usable: {msg}."),
            "Send the PUBLIC key in PEM ('-----BEGIN PUBLIC KEY-----'), RSA (for RS256) or \
             EC P-256 (for ES256); e.g. `openssl pkey -in private.pem -pubout`.",
        )
    };
    if pem.contains("PRIVATE KEY") {
        return Err(bad("it is a private key; never send it"));
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Ok((Algorithm::RS256, key));
    }
    let key = DecodingKey::from_ec_pem(pem.as_bytes())
        .map_err(|_| bad("it is neither an RSA nor an EC public key"))?;
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der.trim())
        .map_err(|_| bad("bad base64"))?;
    if !der.windows(P256_OID.len()).any(|w| w == P256_OID) {
        return Err(bad("EC keys must use the P-256 curve (ES256)"));
    }
    Ok((Algorithm::ES256, key))
}

#[derive(Debug, Deserialize)]
struct Claims {
    exp: i64,
    iat: i64,
    sub: String,
    #[serde(rename = "accountId")]
    account_id: Option<String>,
    #[serde(rename = "allowedOrigins")]
    allowed_origins: Option<Vec<String>>,
    access: Option<AccessClaim>,
}

#[derive(Debug, Deserialize)]
struct AccessClaim {
    #[serde(rename = "pathPermissions", default)]
    path_permissions: Vec<PathPermission>,
}

#[derive(Debug, Deserialize)]
struct PathPermission {
    #[serde(rename = "match")]
    matches: PathMatch,
    #[serde(default)]
    permissions: Value,
}

#[derive(Debug, Deserialize)]
struct PathMatch {
    path: String,
    scope: String,
}

/// A token whose signature and claims checked out.
#[derive(Debug)]
pub struct VerifiedJwt {
    pub account: String,
    /// The `sub` claim: who the token speaks for (owns the uploads it begins).
    pub sub: String,
    /// The registered key that verified it (a cached verification holds only
    /// while that key is still registered).
    pub kid: String,
    pub exp: i64,
    /// The token's rules as a principal's grants (always `Grants::Rules`),
    /// built once per verification: each use shares them instead of cloning
    /// the compiled globs.
    pub grants: std::sync::Arc<super::rules::Grants>,
    allowed_origins: Option<Vec<String>>,
}

impl VerifiedJwt {
    /// The token's rules.
    pub fn rules(&self) -> &[Rule] {
        match &*self.grants {
            super::rules::Grants::Rules(rules) => rules,
            _ => &[],
        }
    }

    /// Checks what must be checked on every use: expiry and the request's origin.
    pub fn check_use(&self, now: i64, headers: &HeaderMap) -> AppResult<()> {
        if self.exp + (LEEWAY_SECS as i64) < now {
            return Err(expired(self.exp));
        }
        if let Some(allowed) = &self.allowed_origins {
            let origin = request_origin(headers);
            let ok = origin.as_deref().is_some_and(|o| {
                allowed
                    .iter()
                    .any(|a| a == "*" || a.trim_end_matches('/') == o)
            });
            if !ok {
                return Err(AppError::bad_credentials(
            CredentialError::OriginNotAllowed,
                    format!(
                        "This JWT is limited to origins {allowed:?}; the request came from {}.",
                        origin.as_deref().unwrap_or("no origin")
                    ),
                    "Use the JWT from a page on one of its allowedOrigins, or issue it with this origin.",
                ));
            }
        }
        Ok(())
    }
}

/// The `Origin` header, else the origin of `Referer`.
fn request_origin(headers: &HeaderMap) -> Option<String> {
    if let Some(o) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if o != "null" {
            return Some(o.trim_end_matches('/').to_string());
        }
    }
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let url = url::Url::parse(referer).ok()?;
    Some(url.origin().ascii_serialization())
}

fn expired(exp: i64) -> AppError {
    let when = chrono::DateTime::from_timestamp(exp, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| exp.to_string());
    AppError::bad_credentials(
        CredentialError::TokenExpired,
        format!("The JWT expired at {when}."),
        "Issue a new JWT (the SDK's AuthManager refreshes it from your auth URL).",
    )
}

pub fn invalid(message: impl Into<String>) -> AppError {
    AppError::bad_credentials(
        CredentialError::InvalidToken,
        message,
        "Sign the JWT with RS256 or ES256 using a key registered at \
         /v2/accounts/{account}/jwt_keys, with claims exp, iat, sub and accountId.",
    )
}

/// The `accountId` claim, read before the signature is checked (only to pick
/// which account's keys verify it).
pub fn unverified_account(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("accountId")?.as_str().map(str::to_string)
}

/// Verifies `token` against `keys` (the header's `kid` selects one, else each is
/// tried). `account` is whose keys these are.
pub fn verify(token: &str, account: &str, keys: &[JwtKey], now: i64) -> AppResult<VerifiedJwt> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(invalid(format!(
            "The JWT is {} bytes; the limit is {MAX_TOKEN_BYTES}.",
            token.len()
        )));
    }
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| invalid("The JWT is malformed (or its alg is not supported)."))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(invalid(format!(
            "JWT alg {:?} is not accepted; only RS256 and ES256.",
            header.alg
        )));
    }
    let candidates: Vec<&JwtKey> = match &header.kid {
        Some(kid) => keys.iter().filter(|k| &k.kid == kid).collect(),
        None => keys.iter().filter(|k| k.alg == header.alg).collect(),
    };
    if candidates.is_empty() {
        return Err(invalid(match &header.kid {
            Some(kid) => format!("No JWT key {kid:?} is registered for account {account}."),
            None => format!(
                "Account {account} has no {:?} JWT key registered.",
                header.alg
            ),
        }));
    }
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let mut last = None;
    for key in candidates {
        if key.alg != header.alg {
            continue;
        }
        match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
            Ok(data) => {
                let mut verified = accept(data.claims, account, now)?;
                verified.kid = key.kid.clone();
                return Ok(verified);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last.map(|e| e.into_kind()) {
        Some(jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
            let exp = unverified_claim(token, "exp").unwrap_or(0);
            expired(exp)
        }
        Some(jsonwebtoken::errors::ErrorKind::ImmatureSignature) => {
            invalid("The JWT is not valid yet (nbf is in the future).")
        }
        Some(jsonwebtoken::errors::ErrorKind::Json(e)) => invalid(format!(
            "The JWT's claims are not valid: {e} (exp, iat and sub are required)."
        )),
        Some(jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(c)) => {
            invalid(format!("The JWT lacks the required claim {c:?}."))
        }
        _ => invalid("The JWT's signature does not verify with the account's keys."),
    })
}

fn unverified_claim(token: &str, name: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .get(name)?
        .as_i64()
}

fn accept(claims: Claims, account: &str, now: i64) -> AppResult<VerifiedJwt> {
    if let Some(acc) = &claims.account_id {
        if acc != account {
            return Err(AppError::AccountMismatch {
                url_account: account.to_string(),
            });
        }
    }
    check_lifetime(claims.iat, claims.exp, now, MAX_LIFETIME_SECS).map_err(invalid)?;
    let mut rules = Vec::new();
    for pp in claims
        .access
        .map(|a| a.path_permissions)
        .unwrap_or_default()
    {
        if let Some(rule) = permission_rule(&pp)? {
            rules.push(rule);
        }
    }
    Ok(VerifiedJwt {
        account: account.to_string(),
        sub: claims.sub,
        kid: String::new(),
        exp: claims.exp,
        grants: std::sync::Arc::new(super::rules::Grants::Rules(rules)),
        allowed_origins: claims.allowed_origins,
    })
}

/// The `iat`/`exp` checks shared by every token stowage verifies: `iat` at or
/// after 0 and not in the future (beyond the skew), and a lifetime
/// (`exp − iat`) of at most `max_lifetime`, in arithmetic that cannot overflow.
pub fn check_lifetime(iat: i64, exp: i64, now: i64, max_lifetime: i64) -> Result<(), String> {
    if iat < 0 {
        return Err("The token's iat is negative.".into());
    }
    if iat > now.saturating_add(LEEWAY_SECS as i64) {
        return Err("The token's iat is in the future.".into());
    }
    match exp.checked_sub(iat) {
        Some(life) if life <= max_lifetime => Ok(()),
        _ => Err(format!(
            "The token lives longer than {max_lifetime} s (exp − iat)."
        )),
    }
}

/// One `pathPermissions` entry as a rule (None when it grants nothing).
fn permission_rule(pp: &PathPermission) -> AppResult<Option<Rule>> {
    let path = &pp.matches.path;
    if !path.starts_with('/') || path.contains('\\') {
        return Err(invalid(format!(
            "pathPermissions path {path:?} must start with '/' and contain no backslash."
        )));
    }
    let base = globset::escape(path.trim_end_matches('/'));
    let glob = match pp.matches.scope.as_str() {
        "This" if base.is_empty() => "/".to_string(),
        "This" => base,
        "Children" => format!("{base}/*"),
        "Grandchildren+" => format!("{base}/*/**"),
        other => {
            return Err(invalid(format!(
                "pathPermissions scope {other:?} is not This, Children or Grandchildren+."
            )))
        }
    };
    let ops = permission_ops(&pp.permissions);
    let slugs = download_slugs(&pp.permissions);
    if ops.list().is_empty() && slugs == Slugs::Only(Vec::new()) {
        return Ok(None);
    }
    Rule::compile(RuleSpec {
        path: glob,
        ops: ops.list(),
    })
    .map(|r| Some(r.with_slugs(slugs)))
}

/// The slugs a permission object lets be downloaded: every slug for
/// `read: true`, else exactly the `read.file.downloadFile` patterns
/// (`getFileDetails` alone downloads nothing).
pub fn download_slugs(p: &Value) -> Slugs {
    match p.get("read") {
        Some(Value::Bool(true)) => Slugs::All,
        Some(read) => Slugs::Only(
            read.get("file")
                .and_then(|f| f.get("downloadFile"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        None => Slugs::Only(Vec::new()),
    }
}

/// Bytescale's nested permission object → operations. `read`/`write` may be
/// plain booleans (everything under them) or objects of booleans.
pub fn permission_ops(p: &Value) -> Ops {
    let mut ops = Vec::new();
    let flag = |v: Option<&Value>| v.and_then(Value::as_bool).unwrap_or(false);
    match p.get("read") {
        Some(Value::Bool(true)) => ops.extend([Op::Read, Op::List]),
        Some(read) => {
            let file = read.get("file");
            let raw = file
                .and_then(|f| f.get("downloadFile"))
                .and_then(Value::as_array)
                .is_some_and(|slugs| slugs.iter().filter_map(Value::as_str).any(slug_allows_raw));
            if raw || flag(file.and_then(|f| f.get("getFileDetails"))) {
                ops.push(Op::Read);
            }
            if flag(read.get("folder").and_then(|f| f.get("listFolderChildren"))) {
                ops.push(Op::List);
            }
        }
        None => {}
    }
    match p.get("write") {
        Some(Value::Bool(true)) => ops.extend([Op::Create, Op::Overwrite, Op::Delete, Op::Folders]),
        Some(write) => {
            let file = write.get("file");
            for (name, op) in [
                ("createFile", Op::Create),
                ("overwriteFile", Op::Overwrite),
                ("deleteFile", Op::Delete),
            ] {
                if flag(file.and_then(|f| f.get(name))) {
                    ops.push(op);
                }
            }
            let folder = write.get("folder");
            let any_folder = folder
                .and_then(Value::as_object)
                .is_some_and(|o| o.values().any(|v| v.as_bool() == Some(true)));
            if any_folder {
                ops.push(Op::Folders);
            }
        }
        None => {}
    }
    Ops::of(&ops)
}

/// Whether a `downloadFile` slug pattern covers originals (`raw`).
pub fn slug_allows_raw(pattern: &str) -> bool {
    slug_matches(pattern, "raw")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_permissions_map_to_ops() {
        let ops = permission_ops(&json!({
            "read": {"file": {"downloadFile": ["thumbnail-*", "raw"]}, "folder": {"listFolderChildren": true}},
            "write": {"file": {"createFile": true, "deleteFile": false}, "folder": {"setFolderDescription": true}}
        }));
        assert_eq!(
            ops.list(),
            vec![Op::Read, Op::List, Op::Create, Op::Folders]
        );
        let ops = permission_ops(&json!({"read": {"file": {"downloadFile": ["thumbnail"]}}}));
        assert!(
            ops.list().is_empty(),
            "a thumbnail-only grant does not read originals"
        );
        let ops = permission_ops(&json!({"read": true, "write": true}));
        assert_eq!(ops, Ops::all().without(Op::Admin));
    }

    #[test]
    fn scopes_become_globs() {
        let pp = |path: &str, scope: &str| PathPermission {
            matches: PathMatch {
                path: path.into(),
                scope: scope.into(),
            },
            permissions: json!({"read": true}),
        };
        let r = permission_rule(&pp("/users/u[1]", "Children"))
            .unwrap()
            .unwrap();
        assert!(r.allows(Op::Read, "/users/u[1]/a.png"));
        assert!(
            !r.allows(Op::Read, "/users/u1/a.png"),
            "glob characters are literal"
        );
        let r = permission_rule(&pp("/", "Grandchildren+"))
            .unwrap()
            .unwrap();
        assert!(r.allows(Op::Read, "/a/b"));
        assert!(!r.allows(Op::Read, "/a"));
        let r = permission_rule(&pp("/a/b.png", "This")).unwrap().unwrap();
        assert!(r.allows(Op::Read, "/a/b.png"));
        assert!(permission_rule(&pp("/a", "Everything")).is_err());
        let thumb = PathPermission {
            matches: PathMatch {
                path: "/p".into(),
                scope: "Children".into(),
            },
            permissions: json!({"read": {"file": {"downloadFile": ["thumbnail"]}}}),
        };
        let r = permission_rule(&thumb).unwrap().unwrap();
        assert!(r.allows_download("/p/x.jpg", "thumbnail"));
        assert!(!r.allows_download("/p/x.jpg", "raw"));
        assert!(!r.allows_download("/p/x.jpg", "image"));
        assert!(!r.allows(Op::Read, "/p/x.jpg"), "no file details either");
        assert!(permission_rule(&pp("/users/bob\\", "Children")).is_err());
    }
}
