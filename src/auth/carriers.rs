//! The credential carriers of SPEC §2, read from headers and the query: pure
//! parsing, no lookups (those are [`super::Auth`]'s).

use super::jwt;
use crate::error::{AppError, AppResult, CredentialError};
use axum::http::{header, HeaderMap, HeaderName};
use base64::Engine;

pub(crate) enum Credential {
    ApiKey(String),
    Jwt(String),
    UploadToken(String),
}

// Header names as constants: `HeaderMap::get("…")` parses and hashes the
// name on every call.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const AUTHORIZATION_TOKEN: HeaderName = HeaderName::from_static("authorization-token");

/// Reads the credential carriers of SPEC §2 from the headers, then the
/// `apiKey` query parameter (public keys only: a plain HTML form cannot send
/// headers, and a secret key must never sit in a URL).
pub(crate) fn credential(
    headers: &HeaderMap,
    query: Option<&str>,
) -> AppResult<Option<Credential>> {
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
    if let Some(value) = headers.get(&X_API_KEY) {
        let value = value
            .to_str()
            .map_err(|_| malformed_authorization())?
            .trim();
        if value.len() >= 7 && value[..7].eq_ignore_ascii_case("bearer ") {
            return Err(AppError::bad_credentials(
                CredentialError::InvalidApiKey,
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
                CredentialError::InvalidApiKey,
                "Only public keys may be sent as the apiKey query parameter.",
                "Send secret keys in the Authorization header; never put them in URLs or pages.",
            ));
        }
        return Ok(Some(Credential::ApiKey(key)));
    }
    if headers.contains_key("authorization-token") {
        return Err(AppError::bad_credentials(
            CredentialError::InvalidAuthorization,
            "Authorization-Token was sent without an API key.",
            "Send it with 'Authorization: Bearer public_…', or send the JWT alone as \
             'Authorization: Bearer <JWT>'.",
        ));
    }
    Ok(None)
}

/// The `Authorization-Token` JWT that accompanies a key, if any.
pub(crate) fn header_token(headers: &HeaderMap) -> AppResult<Option<String>> {
    match headers.get(&AUTHORIZATION_TOKEN) {
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
        CredentialError::InvalidApiKey,
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
            CredentialError::InvalidAuthorization,
        "The Authorization header is malformed.",
        "Send 'Authorization: Bearer <api key>' or 'Authorization: Basic base64(apikey:<api key>)'.",
    )
}

pub(crate) fn invalid_key() -> AppError {
    AppError::bad_credentials(
        CredentialError::InvalidApiKey,
        "The API key is not valid.",
        "Check the key was copied whole; list keys with `stowage keys list --account <id>`.",
    )
}
