//! ImageKit client tokens (SPEC §5.5) as credentials: V2 an HS256 JWT that
//! binds every form field, V1 an HMAC-SHA1 signature of `token + expire`,
//! both made from an account's signing key and accepted once on every node.

use super::{keys, secrets, Auth};
use crate::error::{AppError, AppResult, CredentialError};
use crate::meta::SigningKeyRow;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Clock skew allowed on client tokens; used tokens are remembered this much
/// longer than their expiry, so a replay inside the skew is still refused.
const LEEWAY_SECS: i64 = 30;

fn bad(message: impl Into<String>, help: impl Into<String>) -> AppError {
    AppError::invalid_request(message, help)
}

fn denied(message: impl Into<String>) -> AppError {
    AppError::bad_credentials(
        CredentialError::InvalidToken,
        message,
        "Generate a fresh token on your backend with a signing key (each token works once).",
    )
}

impl Auth {
    async fn signing_key(&self, kid: &str) -> AppResult<(SigningKeyRow, String)> {
        let row = self
            .meta()
            .get_signing_key(kid)
            .await?
            .ok_or_else(|| denied(format!("No signing key {kid:?} exists.")))?;
        let secret = secrets::open(self.master_key(), &row.secret_enc)?;
        Ok((row, secret))
    }

    /// V2: an HS256 JWT whose header `kid` names a signing key and whose payload
    /// holds every other form field (same string value) plus `iat` and `exp`.
    pub async fn verify_imagekit_v2(&self, fields: &BTreeMap<String, String>) -> AppResult<String> {
        let token = fields.get("token").ok_or(AppError::Unauthorized)?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| denied("The token is not a valid JWT (or its alg is not HS256)."))?;
        if header.alg != jsonwebtoken::Algorithm::HS256 {
            return Err(denied("The token must be signed with HS256."));
        }
        let kid = header
            .kid
            .ok_or_else(|| denied("The token's header has no kid."))?;
        let (row, secret) = self.signing_key(&kid).await?;
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
                CredentialError::TokenExpired,
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
        let now = chrono::Utc::now().timestamp();
        super::jwt::check_lifetime(iat, exp, now, 3600).map_err(denied)?;
        // Spent now, before anything else can fail.
        if !self
            .meta()
            .use_token_once(
                &keys::hash(token),
                exp.saturating_add(LEEWAY_SECS).saturating_mul(1000),
            )
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
    pub async fn verify_imagekit_v1(&self, fields: &BTreeMap<String, String>) -> AppResult<String> {
        let get = |k: &str| fields.get(k).map(String::as_str);
        let (Some(kid), Some(signature), Some(expire), Some(token)) = (
            get("publicKey"),
            get("signature"),
            get("expire"),
            get("token"),
        ) else {
            return Err(AppError::Unauthorized);
        };
        let (row, secret) = self.signing_key(kid).await?;
        let expire: i64 = expire.parse().map_err(|_| {
            bad(
                "expire must be a Unix time in seconds.",
                "Send expire as an integer.",
            )
        })?;
        let now = chrono::Utc::now().timestamp();
        if expire < now {
            return Err(AppError::bad_credentials(
                CredentialError::TokenExpired,
                "The upload signature has expired.",
                "Generate fresh authentication parameters right before the upload.",
            ));
        }
        if expire > now + 3600 + LEEWAY_SECS {
            return Err(denied("expire must be less than one hour in the future."));
        }
        let mut mac =
            Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(token.as_bytes());
        mac.update(expire.to_string().as_bytes());
        let given = hex::decode(signature.to_ascii_lowercase())
            .map_err(|_| denied("The signature is not hex."))?;
        mac.verify_slice(&given)
            .map_err(|_| denied("The signature does not match token + expire."))?;
        if !self
            .meta()
            .use_token_once(
                &keys::hash(&format!("v1:{kid}:{token}")),
                expire.saturating_add(LEEWAY_SECS).saturating_mul(1000),
            )
            .await?
        {
            return Err(denied("This token has already been used."));
        }
        Ok(row.account_id)
    }
}
