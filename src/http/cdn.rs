//! The CDN side (SPEC §6): `GET|HEAD /{account}/raw{filePath}` with the
//! conditional and range behaviour nginx gives; [`serve`] also answers
//! transformation results (`http/images.rs`).

use super::{header_str, AppPath};
use crate::auth::keys::is_base58;
use crate::auth::signed::UrlSignature;
use crate::auth::{Access, Principal, SignedLink};
use crate::blobs::digest;
use crate::cache::Served;
use crate::domain::files;
use crate::error::{AppError, AppResult};
use crate::meta::FileRow;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};
use utoipa_axum::{router::OpenApiRouter, routes};

const CSP: &str = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:";
pub(super) const DEFAULT_TTL: u64 = 3600;
/// An account id's length (SPEC §1).
const ACCOUNT_ID_LEN: usize = 7;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_raw_file))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RawQuery {
    pub(super) download: Option<String>,
    #[serde(alias = "cache-ttl")]
    pub(super) cache_ttl: Option<u64>,
    #[serde(rename = "versionId")]
    version_id: Option<String>,
    // Accepted and ignored (SPEC §6): `version` busts caches, `auth=true` is legacy.
    #[allow(dead_code)]
    version: Option<String>,
    #[allow(dead_code)]
    auth: Option<String>,
    /// Signed download links.
    exp: Option<i64>,
    sig: Option<String>,
}

impl RawQuery {
    /// The first bytes of the query names this struct reads (`download`,
    /// `cache_ttl`/`cache-ttl`, `versionId`, `version`, `auth`, `exp`, `sig`;
    /// a test keeps the two lists in step).
    const FIRSTS: &'static [u8] = b"dcvaes";

    /// The CDN options of a URL whose query is mostly someone else's (a
    /// transformation's `w`, `h`, `f`…): parsed (and checked) only when a
    /// name this struct reads may be present. Saves the
    /// `serde` pass (~4 000 instructions) on most image requests.
    pub(super) fn of_shared(uri: &axum::http::Uri) -> AppResult<RawQuery> {
        // Conservative and cheap: any encoded byte, or any name that starts
        // like one of ours (d, c, v, a, e, s), takes the full parse.
        let query = uri.query().unwrap_or("").as_bytes();
        let starts_like = |at: usize| query.get(at).is_some_and(|b| Self::FIRSTS.contains(b));
        let mine = query.iter().any(|&b| b == b'%' || b == b'+')
            || starts_like(0)
            || (0..query.len()).any(|i| query[i] == b'&' && starts_like(i + 1));
        if !mine {
            return Ok(RawQuery::default());
        }
        let axum::extract::Query(q) = axum::extract::Query::<RawQuery>::try_from_uri(uri)?;
        Ok(q)
    }
}

/// The first segment of a CDN URL must be an account id (7 base58
/// characters, SPEC §1): anything else (`/v2/…`, `/api/…`, `/dashboard/…`,
/// a typo) is a path no route serves, not a download from an account.
pub(super) fn require_account_route(account: &str, method: &Method, uri: &Uri) -> AppResult<()> {
    if account.len() == ACCOUNT_ID_LEN && is_base58(account) {
        return Ok(());
    }
    Err(AppError::RouteNotFound {
        method: method.to_string(),
        path: uri.path().to_string(),
    })
}

#[utoipa::path(
    get,
    path = "/{account}/raw/{*path}",
    tag = "cdn",
    summary = "A file's bytes",
    params(("account" = String, Path, description = "Account ID"), ("path" = String, Path), RawQuery),
    responses(
        super::responses::Served,
        super::responses::Download
    ),
    security((), ("bearer" = []), ("session" = [])),
)]
async fn get_raw_file(
    State(state): State<AppState>,
    AppPath((account, path)): AppPath<(String, String)>,
    dashboard: Option<axum::Extension<Principal>>,
    req: axum::extract::Request,
) -> AppResult<Response> {
    // The request's parts taken, not extracted one by one: a `HeaderMap`
    // extractor clones every header field (two allocations a request).
    let axum::http::request::Parts {
        method,
        uri,
        headers,
        ..
    } = req.into_parts().0;
    require_account_route(&account, &method, &uri)?;
    let axum::extract::Query(q) = axum::extract::Query::<RawQuery>::try_from_uri(&uri)?;
    let path = format!("/{path}");
    let link = (q.exp.is_some() || q.sig.is_some()).then(|| SignedLink {
        path: &path,
        version_id: q.version_id.as_deref(),
        signature: UrlSignature {
            exp: q.exp,
            sig: q.sig.as_deref(),
        },
    });
    let principal = match dashboard {
        Some(axum::Extension(p)) => p,
        None => state.auth.cdn_principal(&headers, &account, link).await?,
    };
    let (row, access) = files::for_download(
        &state,
        &principal,
        &account,
        &path,
        q.version_id.as_deref(),
        files::RAW_SLUG,
    )
    .await?;
    let opts = ServeOptions {
        head: method == Method::HEAD,
        download: q.download.as_deref() == Some("true"),
        ttl: q.cache_ttl.unwrap_or(DEFAULT_TTL),
        access,
        vary_accept: false,
        bytes: None,
    };
    serve(&state, &row, &headers, opts).await
}

pub(super) struct ServeOptions {
    pub head: bool,
    pub download: bool,
    pub ttl: u64,
    pub access: Access,
    /// Add `Vary: Accept` (a transformation whose format came from `Accept`).
    pub vary_accept: bool,
    /// The bytes, when already in memory (a result just rendered); else the
    /// row's blob is read.
    pub bytes: Option<Bytes>,
}

/// Builds the response for a file: 200, 206, 304 or 416, as nginx would.
pub(super) async fn serve(
    state: &AppState,
    file: &Served,
    req: &HeaderMap,
    opts: ServeOptions,
) -> AppResult<Response> {
    let row = &file.row;
    let size = row.size as u64;
    let mut headers = HeaderMap::with_capacity(12);
    headers.insert(header::ETAG, file.etag.clone());
    headers.insert(header::LAST_MODIFIED, file.last_modified.clone());
    headers.insert(header::CACHE_CONTROL, cache_control(opts.access, opts.ttl));
    if let Some(vary) = vary(opts.access, opts.vary_accept) {
        headers.insert(header::VARY, HeaderValue::from_static(vary));
    }
    let etag = file.etag.to_str().unwrap_or("");
    if not_modified(req, etag, file.modified) {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    headers.insert(header::CONTENT_TYPE, file.content_type.clone());
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    // RFC 9530: the whole file's digest, on 200, 206 and HEAD alike. Only
    // SHA-256 is kept; a Want-Repr-Digest preferring another algorithm still
    // gets it, unless it rates sha-256 0 ("not acceptable").
    if let Some(value) = file
        .repr_digest
        .as_ref()
        .filter(|_| digest::sha256_wanted(header_str(req, "want-repr-digest")))
    {
        headers.insert(HeaderName::from_static("repr-digest"), value.clone());
    }
    if opts.download {
        let name = row
            .original_file_name
            .as_deref()
            .unwrap_or_else(|| crate::domain::paths::file_name(&row.path));
        insert(&mut headers, header::CONTENT_DISPOSITION, &attachment(name));
    }
    let (status, range) = match requested_range(req, etag, file.modified, size)? {
        Some(r) => {
            insert(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{size}", r.start, r.end - 1),
            );
            (StatusCode::PARTIAL_CONTENT, r)
        }
        None => (StatusCode::OK, 0..size),
    };
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(range.end - range.start),
    );
    if opts.head {
        return Ok((status, headers).into_response());
    }
    let sent = (range.end - range.start) as i64;
    let body = body(state, row, opts.bytes, range).await?;
    state
        .daily
        .add(&row.account_id, crate::meta::Daily::BytesOut(sent));
    Ok((status, headers, body).into_response())
}

/// `Vary`: credentials make an answer per requester; a format chosen from
/// `Accept` makes it per `Accept`.
fn vary(access: Access, accept: bool) -> Option<&'static str> {
    match (access, accept) {
        (Access::Credential, true) => Some("Accept, Authorization, Cookie"),
        (Access::Credential, false) => Some("Authorization, Cookie"),
        (Access::Public, true) => Some("Accept"),
        (Access::Public, false) => None,
    }
}

/// The bytes of `range`: from memory when given, from the small-file cache,
/// or streamed from the store.
async fn body(
    state: &AppState,
    row: &FileRow,
    bytes: Option<Bytes>,
    range: Range<u64>,
) -> AppResult<Body> {
    if let Some(bytes) = bytes {
        return Ok(Body::from(
            bytes.slice(range.start as usize..range.end as usize),
        ));
    }
    if row.size as u64 <= state.config.cache_max_file_size {
        let bytes = state
            .files
            .small_blob(&state.blobs, &row.blob_key)
            .await
            .map_err(|e| missing(e, row))?;
        Ok(Body::from(
            bytes.slice(range.start as usize..range.end as usize),
        ))
    } else {
        let stream = state
            .blobs
            .get_range(&row.blob_key, range)
            .await
            .map_err(|e| missing(e, row))?;
        Ok(Body::from_stream(stream))
    }
}

/// `public|private, max-age=<ttl>`; the default TTL's values are built once.
fn cache_control(access: Access, ttl: u64) -> HeaderValue {
    match (access, ttl) {
        (Access::Public, DEFAULT_TTL) => HeaderValue::from_static("public, max-age=3600"),
        (Access::Credential, DEFAULT_TTL) => HeaderValue::from_static("private, max-age=3600"),
        (Access::Public, t) => HeaderValue::from_str(&format!("public, max-age={t}"))
            .unwrap_or(HeaderValue::from_static("public")),
        (Access::Credential, t) => HeaderValue::from_str(&format!("private, max-age={t}"))
            .unwrap_or(HeaderValue::from_static("private")),
    }
}

/// A row whose object vanished was deleted concurrently: answer as if the
/// delete had landed first.
fn missing(e: AppError, row: &FileRow) -> AppError {
    match e {
        AppError::NotFound { .. } => AppError::FileNotFound {
            path: row.path.clone(),
        },
        other => other,
    }
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// Truncates to whole seconds, as HTTP dates carry.
fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `If-None-Match` (weak comparison) wins over `If-Modified-Since` (RFC 9110 §13.2.2).
fn not_modified(req: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    if let Some(inm) = header_str(req, header::IF_NONE_MATCH) {
        return inm
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag);
    }
    if let Some(ims) = header_str(req, header::IF_MODIFIED_SINCE) {
        if let Ok(since) = httpdate::parse_http_date(ims) {
            return secs(modified) <= secs(since);
        }
    }
    false
}

/// The single range to serve, if the request asks for one that applies. Several
/// ranges, or a syntactically bad header, get the whole file (as the RFC allows);
/// a range outside the file is 416.
fn requested_range(
    req: &HeaderMap,
    etag: &str,
    modified: SystemTime,
    size: u64,
) -> AppResult<Option<Range<u64>>> {
    select_range(
        header_str(req, header::RANGE),
        header_str(req, header::IF_RANGE),
        etag,
        modified,
        size,
    )
}

/// [`requested_range`] on the header values: pure, so it can be tested alone.
pub(crate) fn select_range(
    range: Option<&str>,
    if_range: Option<&str>,
    etag: &str,
    modified: SystemTime,
    size: u64,
) -> AppResult<Option<Range<u64>>> {
    let Some(raw) = range else {
        return Ok(None);
    };
    if let Some(if_range) = if_range {
        let fresh = if if_range.starts_with('"') {
            if_range == etag
        } else {
            httpdate::parse_http_date(if_range).is_ok_and(|d| secs(d) == secs(modified))
        };
        if !fresh {
            return Ok(None);
        }
    }
    if size == 0 {
        return Ok(None);
    }
    let parsed = match http_range_header::parse_range_header(raw) {
        Ok(p) => p,
        Err(_) => return Ok(None),
    };
    match parsed.validate(size) {
        Ok(ranges) if ranges.len() == 1 => {
            let r = &ranges[0];
            Ok(Some(*r.start()..*r.end() + 1))
        }
        Ok(_) => Ok(None),
        Err(_) => Err(AppError::RangeNotSatisfiable { size }),
    }
}

const RFC5987: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="<ascii>"; filename*=UTF-8''<pct>` (RFC 6266).
fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            _ => '_',
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, RFC5987)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_queries_parse_only_when_they_name_cdn_options() {
        const NAMES: [&str; 8] = [
            "download",
            "cache_ttl",
            "cache-ttl",
            "versionId",
            "version",
            "auth",
            "exp",
            "sig",
        ];
        for name in NAMES {
            assert!(RawQuery::FIRSTS.contains(&name.as_bytes()[0]), "{name}");
        }
        let of = |q: &str| RawQuery::of_shared(&format!("/a/image/x.jpg?{q}").parse().unwrap());
        let q = of("w=400&f=webp&q=80").unwrap();
        assert_eq!((q.download, q.cache_ttl), (None, None));
        let q = of("w=4&download=true&cache-ttl=9").unwrap();
        assert_eq!(
            (q.download.as_deref(), q.cache_ttl),
            (Some("true"), Some(9))
        );
        assert_eq!(of("w=4&cache%5Fttl=9").unwrap().cache_ttl, Some(9));
        assert!(of("w=4&exp=soon").is_err());
        assert!(of("cache_ttl=-1").is_err());
    }

    #[test]
    fn attachment_names_are_rfc6266() {
        assert_eq!(
            attachment("a b.txt"),
            "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt"
        );
        assert_eq!(
            attachment("résumé \"x\".pdf"),
            "attachment; filename=\"r_sum_ _x_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.pdf"
        );
    }
}
