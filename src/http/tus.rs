//! tus 1.0.0 (SPEC §5.6) at `/v2/accounts/{acc}/tus`: `OPTIONS`, `POST`
//! (creation, creation-with-upload), and `HEAD`/`PATCH`/`DELETE` on
//! `/v2/accounts/{acc}/tus/{id}` (core, checksum, termination, expiration).
//! The wire format lives here; the behaviour in `domain/tus`.

use super::form::MAX_TEXT_FIELD;
use super::{content_length, file_url, header_str, request_digest, AppPath};
use crate::auth::Principal;
use crate::domain::ingest::detached;
use crate::domain::paths::{self, PathSpec};
use crate::domain::tus::{self, Checksum, ChecksumAlgorithm, CreateRequest, PatchRequest, Status};
use crate::error::{AppError, AppResult, TusError};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::Value;
use std::collections::HashMap;
use utoipa_axum::{router::OpenApiRouter, routes};

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,checksum,expiration";
pub const TUS_CHECKSUMS: &str = "sha1,sha256";
const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tus_upload, tus_options))
        .routes(routes!(
            head_tus_upload,
            patch_tus_upload,
            delete_tus_upload,
            tus_options_upload
        ))
        .route_layer(axum::middleware::from_fn(tus_resumable))
}

/// Every request but OPTIONS must say `Tus-Resumable: 1.0.0` (else 412 with
/// `Tus-Version`); every response says it.
async fn tus_resumable(req: Request, next: Next) -> Response {
    let ok = req.method() == Method::OPTIONS
        || header_str(req.headers(), "tus-resumable") == Some(TUS_VERSION);
    let mut resp = if ok {
        next.run(req).await
    } else {
        let mut r = AppError::Tus(TusError::UnsupportedVersion).into_response();
        set(&mut r, "tus-version", TUS_VERSION);
        r
    };
    set(&mut resp, "tus-resumable", TUS_VERSION);
    resp
}

fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

/// The principal of a tus request: any carrier, and an upload token even
/// once its tus upload spent it (see `Auth::tus_principal`).
pub struct TusPrincipal(pub Principal);

impl FromRequestParts<AppState> for TusPrincipal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> AppResult<TusPrincipal> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(TusPrincipal(p.clone()));
        }
        let p = state
            .auth
            .tus_principal(&parts.headers, parts.uri.query())
            .await?;
        Ok(TusPrincipal(p))
    }
}

/// `OPTIONS`: what this server speaks; `Tus-Max-Size` is the account's limit
/// for its own credentials, the server default otherwise.
#[utoipa::path(
    options,
    path = "/v2/accounts/{account}/tus",
    tag = "tus",
    summary = "What this server speaks (Tus-Version, Tus-Extension, Tus-Max-Size headers)",
    params(("account" = String, Path, description = "Account ID")),
    responses(super::responses::TusCapabilities),
    security((), ("bearer" = [])),
)]
async fn tus_options(
    State(state): State<AppState>,
    AppPath(params): AppPath<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let account = params.get("account").cloned().unwrap_or_default();
    let principal = state.auth.tus_principal(&headers, None).await.ok();
    let max = tus::max_size(&state, principal.as_ref(), &account).await;
    let mut r = StatusCode::NO_CONTENT.into_response();
    set(&mut r, "tus-version", TUS_VERSION);
    set(&mut r, "tus-extension", TUS_EXTENSIONS);
    set(&mut r, "tus-checksum-algorithm", TUS_CHECKSUMS);
    set(&mut r, "tus-max-size", &max.to_string());
    r
}

#[utoipa::path(
    options,
    path = "/v2/accounts/{account}/tus/{id}",
    tag = "tus",
    summary = "What this server speaks (as OPTIONS on the collection)",
    params(("account" = String, Path, description = "Account ID"), ("id" = String, Path)),
    responses(super::responses::TusCapabilities),
    security((), ("bearer" = [])),
)]
async fn tus_options_upload(
    state: State<AppState>,
    params: AppPath<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    tus_options(state, params, headers).await
}

#[utoipa::path(
    post,
    path = "/v2/accounts/{account}/tus",
    tag = "tus",
    summary = "Create a tus upload (optionally with its first bytes)",
    params(("account" = String, Path, description = "Account ID"), ("Tus-Resumable" = String, Header, description = "1.0.0"), ("Upload-Length" = Option<u64>, Header), ("Upload-Metadata" = Option<String>, Header)),
    request_body(content = inline(super::openapi::Binary), content_type = "application/offset+octet-stream"),
    responses(
        super::responses::TusCreated,
        super::responses::TusCreate
    ),
)]
async fn create_tus_upload(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    TusPrincipal(principal): TusPrincipal,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let req = create_request(&headers)?;
    let with_upload = header_str(&headers, header::CONTENT_TYPE)
        .is_some_and(|c| c.eq_ignore_ascii_case(OFFSET_OCTET_STREAM));
    let declared = content_length(&headers)?;
    if with_upload && declared.is_some_and(|d| d > req.length) {
        return Err(AppError::Tus(TusError::PastLength { length: req.length }));
    }
    let checksum = upload_checksum(&headers)?;
    let digest = request_digest(&headers)?;
    let created = tus::create(&state, &principal, &account, req).await?;
    let mut status = created.status;
    if with_upload && status.file_path.is_none() && declared != Some(0) {
        let (st, id, acc) = (state.clone(), status.id.clone(), account.clone());
        let req = PatchRequest {
            offset: 0,
            declared,
            checksum,
            digest,
        };
        let p = created.principal.clone();
        let stream = body.into_data_stream();
        match detached(async move { tus::patch(&st, &p, &acc, &id, req, stream).await }).await {
            Ok(s) => status = s,
            Err(e) => {
                // The upload exists: the client learns the offset and resumes.
                tracing::info!(error = %e, "tus creation-with-upload: chunk not kept whole");
                if let Ok(s) = tus::status(&state, &created.principal, &account, &status.id).await {
                    status = s;
                }
            }
        }
    }
    let mut resp = StatusCode::CREATED.into_response();
    let location = format!(
        "{}/v2/accounts/{}/tus/{}",
        state.public_url, status.account, status.id
    );
    set(&mut resp, "location", &location);
    progress_headers(&state, &mut resp, &status);
    Ok(resp)
}

#[utoipa::path(
    head,
    path = "/v2/accounts/{account}/tus/{id}",
    tag = "tus",
    summary = "An upload's offset (Upload-Offset header)",
    params(("account" = String, Path, description = "Account ID"), ("id" = String, Path), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        super::responses::TusStatus,
        super::responses::TusUpload
    ),
)]
async fn head_tus_upload(
    State(state): State<AppState>,
    AppPath((account, id)): AppPath<(String, String)>,
    TusPrincipal(principal): TusPrincipal,
) -> AppResult<Response> {
    let status = tus::status(&state, &principal, &account, &id).await?;
    let mut resp = StatusCode::OK.into_response();
    set(&mut resp, "upload-length", &status.length.to_string());
    if let Some(m) = &status.raw_metadata {
        set(&mut resp, "upload-metadata", m);
    }
    progress_headers(&state, &mut resp, &status);
    Ok(resp)
}

#[utoipa::path(
    patch,
    path = "/v2/accounts/{account}/tus/{id}",
    tag = "tus",
    summary = "Append bytes at Upload-Offset",
    params(("account" = String, Path, description = "Account ID"), ("id" = String, Path), ("Tus-Resumable" = String, Header, description = "1.0.0"), ("Upload-Offset" = u64, Header), ("Upload-Checksum" = Option<String>, Header)),
    request_body(content = inline(super::openapi::Binary), content_type = "application/offset+octet-stream"),
    responses(
        super::responses::TusAppended,
        super::responses::TusPatch
    ),
)]
async fn patch_tus_upload(
    State(state): State<AppState>,
    AppPath((account, id)): AppPath<(String, String)>,
    TusPrincipal(principal): TusPrincipal,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let content_type = header_str(&headers, header::CONTENT_TYPE).unwrap_or("");
    if !content_type.eq_ignore_ascii_case(OFFSET_OCTET_STREAM) {
        return Err(AppError::Tus(TusError::ContentType));
    }
    let offset = number_header(&headers, "upload-offset")?.ok_or_else(|| {
        AppError::invalid_request(
            "A PATCH needs Upload-Offset.",
            "Send the upload's current offset (HEAD tells it).",
        )
    })?;
    let req = PatchRequest {
        offset,
        declared: content_length(&headers)?,
        checksum: upload_checksum(&headers)?,
        digest: request_digest(&headers)?,
    };
    let st = state.clone();
    let stream = body.into_data_stream();
    let status =
        detached(async move { tus::patch(&st, &principal, &account, &id, req, stream).await })
            .await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    progress_headers(&state, &mut resp, &status);
    Ok(resp)
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/tus/{id}",
    tag = "tus",
    summary = "Terminate an upload",
    params(("account" = String, Path, description = "Account ID"), ("id" = String, Path), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        super::responses::TusTerminated,
        super::responses::TusUpload
    ),
)]
async fn delete_tus_upload(
    State(state): State<AppState>,
    AppPath((account, id)): AppPath<(String, String)>,
    TusPrincipal(principal): TusPrincipal,
) -> AppResult<StatusCode> {
    tus::terminate(&state, &principal, &account, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `Upload-Offset`, `Upload-Expires` while open, `Upload-File-Path`/`-Url`
/// once done; never cached.
fn progress_headers(state: &AppState, resp: &mut Response, s: &Status) {
    set(resp, "upload-offset", &s.offset.to_string());
    set(resp, "cache-control", "no-store");
    match &s.file_path {
        Some(path) => {
            set(resp, "upload-file-path", &header_safe(path));
            set(resp, "upload-file-url", &file_url(state, &s.account, path));
        }
        None => {
            let at = std::time::UNIX_EPOCH
                + std::time::Duration::from_millis(s.expires_at.max(0) as u64);
            set(resp, "upload-expires", &httpdate::fmt_http_date(at));
        }
    }
}

/// A path as a header value: percent-encoded where a header cannot carry it.
fn header_safe(path: &str) -> String {
    if path.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        path.to_string()
    } else {
        percent_encoding::utf8_percent_encode(path, percent_encoding::CONTROLS)
            .to_string()
            .replace(|c: char| !c.is_ascii(), "")
    }
}

fn number_header(headers: &HeaderMap, name: &str) -> AppResult<Option<u64>> {
    match header_str(headers, name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= i64::MAX as u64)
            .map(Some)
            .ok_or_else(|| {
                AppError::invalid_request(
                    format!("{name} is not a non-negative integer."),
                    format!("Send {name} as a number of bytes."),
                )
            }),
    }
}

/// `Upload-Checksum: sha1|sha256 <base64>`.
fn upload_checksum(headers: &HeaderMap) -> AppResult<Option<Checksum>> {
    let Some(raw) = headers.get("upload-checksum") else {
        return Ok(None);
    };
    let bad = || {
        AppError::invalid_request(
            "Upload-Checksum is not '<algorithm> <base64 digest>' with a supported algorithm.",
            "Send e.g. 'Upload-Checksum: sha256 <base64 of the chunk's SHA-256>' (sha1 or sha256).",
        )
    };
    let raw = raw.to_str().map_err(|_| bad())?;
    let (algo, digest) = raw.trim().split_once(' ').ok_or_else(bad)?;
    let (algorithm, len) = match algo {
        "sha1" => (ChecksumAlgorithm::Sha1, 20),
        "sha256" => (ChecksumAlgorithm::Sha256, 32),
        _ => return Err(bad()),
    };
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .map_err(|_| bad())?;
    if digest.len() != len {
        return Err(bad());
    }
    Ok(Some(Checksum { algorithm, digest }))
}

/// `Upload-Length` and `Upload-Metadata` of a creation.
fn create_request(headers: &HeaderMap) -> AppResult<CreateRequest> {
    if headers.contains_key("upload-defer-length") {
        return Err(AppError::invalid_request(
            "Upload-Defer-Length is not supported.",
            "Send Upload-Length with the file's size.",
        ));
    }
    let length = number_header(headers, "upload-length")?.ok_or_else(|| {
        AppError::invalid_request(
            "A tus creation needs Upload-Length.",
            "Send the file's size in bytes as Upload-Length.",
        )
    })?;
    let mut req = match headers.get("upload-metadata") {
        None => CreateRequest::default(),
        Some(v) => {
            if v.len() > MAX_TEXT_FIELD {
                return Err(AppError::FieldTooLarge {
                    name: "Upload-Metadata".into(),
                    limit: MAX_TEXT_FIELD,
                });
            }
            let raw = v.to_str().map_err(|_| bad_metadata("it is not ASCII"))?;
            let mut req = metadata_request(&parse_metadata(raw)?)?;
            req.raw_metadata = Some(raw.to_string());
            req
        }
    };
    req.length = length;
    Ok(req)
}

fn bad_metadata(why: &str) -> AppError {
    AppError::invalid_request(
        format!("Upload-Metadata is not valid: {why}."),
        "Send comma-separated 'key base64value' pairs, each key once, e.g. 'filename ZC5wbmc='.",
    )
}

/// Strict tus metadata: comma-separated `key base64value` (or a bare key),
/// keys non-empty, without spaces or commas, each at most once; values UTF-8.
pub fn parse_metadata(raw: &str) -> AppResult<HashMap<String, String>> {
    let mut out = HashMap::new();
    if raw.trim().is_empty() {
        return Ok(out);
    }
    for pair in raw.split(',') {
        let pair = pair.trim();
        let (key, value) = match pair.split_once(' ') {
            Some((k, v)) => (k, v),
            None => (pair, ""),
        };
        if key.is_empty() || value.contains(' ') {
            return Err(bad_metadata(&format!("bad pair {:?}", truncate(pair))));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| {
                bad_metadata(&format!("the value of {:?} is not base64", truncate(key)))
            })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| bad_metadata(&format!("the value of {:?} is not UTF-8", truncate(key))))?;
        if out.insert(key.to_string(), text).is_some() {
            return Err(bad_metadata(&format!("{:?} is repeated", truncate(key))));
        }
    }
    Ok(out)
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The keys stowage reads: `filename` (or Uppy's `name`), `filetype` (or
/// `type`), `filePath` or `folderPath`/`fileName`/`fileNameFallback`,
/// `metadata` (a JSON object) and `tags` (comma list).
fn metadata_request(m: &HashMap<String, String>) -> AppResult<CreateRequest> {
    let get = |k: &str| m.get(k).filter(|v| !v.is_empty()).cloned();
    let path = if let Some(fp) = get("filePath") {
        paths::validate_file_path(&fp)?;
        Some(PathSpec {
            file_name_fallback: get("fileNameFallback"),
            ..PathSpec::from_file_path(&fp)
        })
    } else if ["folderPath", "fileName", "fileNameFallback"]
        .iter()
        .any(|k| get(k).is_some())
    {
        Some(PathSpec {
            folder_path: get("folderPath"),
            file_name: get("fileName"),
            file_name_fallback: get("fileNameFallback"),
            ..PathSpec::default()
        })
    } else {
        None
    };
    let metadata = match get("metadata") {
        None => Value::Object(Default::default()),
        Some(raw) => match serde_json::from_str::<Value>(&raw) {
            Ok(v @ Value::Object(_)) => v,
            _ => return Err(bad_metadata("metadata must be a JSON object")),
        },
    };
    let tags = get("tags")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Ok(CreateRequest {
        filename: get("filename").or_else(|| get("name")),
        filetype: get("filetype").or_else(|| get("type")),
        path,
        metadata,
        tags,
        ..CreateRequest::default()
    })
}

#[cfg(test)]
mod tests {
    use super::parse_metadata;

    #[test]
    fn metadata_is_parsed_strictly() {
        let m = parse_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential")
            .unwrap();
        assert_eq!(m["filename"], "world_domination_plan.pdf");
        assert_eq!(m["is_confidential"], "");
        assert!(parse_metadata("a YQ==,a YQ==").is_err(), "repeated key");
        assert!(parse_metadata("a !!!").is_err(), "not base64");
        assert!(parse_metadata(" YQ==").is_ok_and(|m| m.contains_key("YQ==")));
        assert!(parse_metadata("a YQ== YQ==").is_err(), "two values");
        assert!(parse_metadata("a /w==").is_err(), "not UTF-8");
        assert!(parse_metadata("a YQ==,,b YQ==").is_err(), "empty pair");
    }
}
