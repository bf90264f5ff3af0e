//! The web dashboard (SPEC §10): a server-rendered shell plus a small
//! vanilla-JS single-page app, both embedded in the binary.
//!
//! - `GET /dashboard` — the shell (sign-in form, or the app with its CSRF token).
//! - `POST /dashboard/session` — a secret key in, a sealed `HttpOnly`,
//!   `SameSite=Strict` cookie out; `DELETE /dashboard/session` signs out.
//! - `GET /dashboard/me`, `GET /dashboard/account` — who the session is, and
//!   the account's totals and limits.
//! - `/dashboard/api/<API path>` — the normal API with the session as the
//!   principal: [`gate_request`] checks the cookie (and, for state-changing methods, the
//!   origin and the CSRF token), drops any credential headers, rewrites the URI
//!   to `<API path>` and hands the session's [`Principal`] to the extractor.
//! - `/dashboard/assets/<hash>/<file>` — immutable, content-addressed assets.
//!
//! `STOWAGE_DASHBOARD=false` makes every `/dashboard` path a 404.

pub mod assets;
pub mod session;

use crate::auth::keys::KeyType;
use crate::auth::rules::{Op, RuleSpec};
use crate::auth::{self, Principal, Via};
use crate::domain::plan::load_account;
use crate::error::{AppError, AppResult, CredentialError};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use session::SessionData;

const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
     style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(shell))
        .route("/dashboard/", get(|| async { redirect("/dashboard") }))
        .route(
            "/dashboard/session",
            axum::routing::post(sign_in).delete(sign_out),
        )
        .route("/dashboard/me", get(me))
        .route("/dashboard/account", get(account_summary))
        .route("/dashboard/assets/{hash}/{name}", get(asset))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Runs before routing (from `http/edge.rs`): `/dashboard/api/…` becomes the
/// API request it names, with the session's principal; `/dashboard…` answers
/// 404 when the dashboard is off; anything else goes straight on.
pub async fn gate_request(state: &AppState, req: Request, next: Next) -> Response {
    let p = req.uri().path();
    if p != "/dashboard" && !p.starts_with("/dashboard/") {
        return next.run(req).await;
    }
    // Boxed: a dashboard request's session check holds database futures,
    // which would make every request's future (this one is on the path of
    // all of them) kilobytes larger, copied at each move
    // (docs/performance.md).
    Box::pin(dashboard_request(state, req, next)).await
}

async fn dashboard_request(state: &AppState, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if !state.config.dashboard {
        return AppError::RouteNotFound {
            method: req.method().to_string(),
            path,
        }
        .into_response();
    }
    let Some(rest) = path.strip_prefix("/dashboard/api") else {
        return next.run(req).await;
    };
    match api_request(state, req).await {
        Ok(req) => {
            let mut resp = next.run(req).await;
            resp.headers_mut()
                .append(header::VARY, HeaderValue::from_static("Cookie"));
            resp
        }
        Err(e) => {
            tracing::debug!(path = %rest, error = %e, "dashboard api refused");
            e.into_response()
        }
    }
}

/// Checks and rewrites one `/dashboard/api/…` request.
async fn api_request(state: &AppState, mut req: Request) -> AppResult<Request> {
    let rest = req
        .uri()
        .path()
        .strip_prefix("/dashboard/api")
        .unwrap_or("")
        .to_string();
    if !rest.starts_with('/') || rest.starts_with("/dashboard") {
        return Err(AppError::RouteNotFound {
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
        });
    }
    if session::cross_origin(state, req.headers(), req.uri()) {
        return Err(csrf_refused(
            "The request came from another origin.",
            "Use the dashboard page itself; other sites cannot use a dashboard session.",
        ));
    }
    let data = SessionData::from_headers(state.master_key(), req.headers(), now())
        .ok_or_else(|| session::ended("There is no dashboard session, or it has expired."))?;
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method {
        check_csrf(state, req.headers(), req.uri(), &data)?;
    }
    let (principal, _) = session::principal(state, &data).await?;
    let headers = req.headers_mut();
    for name in [
        header::AUTHORIZATION,
        header::COOKIE,
        header::HeaderName::from_static("x-api-key"),
        header::HeaderName::from_static("authorization-token"),
        header::HeaderName::from_static("x-csrf-token"),
    ] {
        headers.remove(name);
    }
    let target = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    *req.uri_mut() = target
        .parse::<Uri>()
        .map_err(|_| AppError::invalid_path(&target, "not a valid URI"))?;
    req.extensions_mut().insert(principal);
    Ok(req)
}

fn csrf_refused(message: &str, suggestion: &str) -> AppError {
    AppError::forbidden(message, suggestion)
}

/// A state-changing request must come from this origin and carry the
/// session's CSRF token.
fn check_csrf(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    data: &SessionData,
) -> AppResult<()> {
    if !session::same_origin(state, headers, uri) {
        return Err(csrf_refused(
            "This request's Origin is missing or is not this server.",
            "Send state-changing dashboard requests from the dashboard page (same origin).",
        ));
    }
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if !data.csrf_matches(token) {
        return Err(csrf_refused(
            "The CSRF token is missing or wrong.",
            "Reload the dashboard page and try again; send the page's token as x-csrf-token.",
        ));
    }
    Ok(())
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// Security headers for every dashboard page.
fn page_headers(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The HTML shell. Signed in: the app's mount point and its CSRF token;
/// signed out: the sign-in form (which works without script too).
fn shell_html(signed_in: Option<(&SessionData, &str)>, error: Option<&AppError>) -> String {
    let tags = assets::head_tags();
    let icon = assets::by_name("icon.svg").href();
    let (metas, body) = match signed_in {
        Some((data, display)) => (
            format!(
                "<meta name=\"csrf-token\" content=\"{}\">\n<meta name=\"stowage-account\" content=\"{}\">\n<meta name=\"stowage-key\" content=\"{}\">",
                escape(&data.csrf),
                escape(&data.account),
                escape(display)
            ),
            "<div id=\"app\" class=\"app\"><p class=\"loading\" role=\"status\">Loading…</p></div>\n\
             <noscript><p class=\"noscript\">The dashboard needs JavaScript.</p></noscript>"
                .to_string(),
        ),
        None => {
            let err = error
                .map(|e| {
                    format!(
                        "<div class=\"alert\" role=\"alert\"><strong>{}</strong><span>{}</span></div>",
                        escape(&e.message()),
                        escape(&e.suggestion())
                    )
                })
                .unwrap_or_default();
            (
                String::new(),
                format!(
                    r#"<main class="signin" id="signin">
  <div class="signin-card">
    <div class="brand brand-lg"><img src="{icon}" alt="" width="32" height="32"><span>stowage</span></div>
    <h1>Sign in to the dashboard</h1>
    <p class="muted">Use a secret API key. It is exchanged for a session cookie and not stored in the browser.</p>
    <div id="signin-error">{err}</div>
    <form method="post" action="/dashboard/session" id="signin-form">
      <label for="secret-key">Secret key</label>
      <input id="secret-key" name="key" type="password" autocomplete="off" spellcheck="false" required placeholder="secret_…">
      <button type="submit" class="btn primary">Sign in</button>
    </form>
  </div>
</main>"#
                ),
            )
        }
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stowage dashboard</title>
{metas}
<link rel="icon" href="{icon}" type="image/svg+xml">
{tags}</head>
<body>
{body}
</body>
</html>
"#
    )
}

fn html(status: StatusCode, text: String) -> Response {
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        text,
    )
        .into_response();
    page_headers(&mut resp);
    resp
}

async fn shell(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(data) = SessionData::from_headers(state.master_key(), &headers, now()) {
        if let Ok((_, key)) = session::principal(&state, &data).await {
            return html(
                StatusCode::OK,
                shell_html(Some((&data, &key.row.display)), None),
            );
        }
    }
    html(StatusCode::OK, shell_html(None, None))
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

/// The key from a sign-in body: form-encoded `key=…` or JSON `{"key": …}`.
fn key_from_body(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if json {
        let v: Value = serde_json::from_slice(body).ok()?;
        return v.get("key")?.as_str().map(|s| s.trim().to_string());
    }
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.trim().to_string())
}

async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let json = wants_json(&headers);
    match open_session(&state, &headers, &uri, &body).await {
        Ok((data, display)) => {
            let sealed = data.seal(state.master_key());
            let mut resp = if json {
                Json(json!({
                    "accountId": data.account,
                    "key": display,
                    "expiresAt": data.expires,
                }))
                .into_response()
            } else {
                redirect("/dashboard")
            };
            resp.headers_mut()
                .insert(header::SET_COOKIE, session::set_cookie(&state, &sealed));
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) if json => e.into_response(),
        Err(e) => html(e.status(), shell_html(None, Some(&e))),
    }
}

/// Validates a sign-in: same origin (no login CSRF), a secret key that the
/// usual auth code accepts.
async fn open_session(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> AppResult<(SessionData, String)> {
    if (headers.contains_key(header::ORIGIN) || headers.contains_key(header::REFERER))
        && !session::same_origin(state, headers, uri)
    {
        return Err(csrf_refused(
            "Sign-in must come from the dashboard page.",
            "Open /dashboard on this server and sign in there.",
        ));
    }
    if body.len() > 8192 {
        return Err(AppError::invalid_request(
            "The sign-in form is too large.",
            "Send only the key.",
        ));
    }
    let key = key_from_body(headers, body)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            AppError::invalid_request(
                "No secret key was given.",
                "Paste a secret key (secret_…) into the Secret key field.",
            )
        })?;
    if key.starts_with("public_") {
        return Err(AppError::bad_credentials(
            CredentialError::InvalidApiKey,
            "Public keys cannot sign in to the dashboard.",
            "Use a secret key (secret_…); public keys belong in browser code.",
        ));
    }
    // The existing auth code decides (format, lookup by hash, revocation).
    let mut carrier = HeaderMap::new();
    carrier.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            AppError::bad_credentials(
                CredentialError::InvalidApiKey,
                "The API key is not valid.",
                "Check the key was copied whole.",
            )
        })?,
    );
    let principal = state.auth.principal(&carrier, None).await?;
    let Via::ApiKey {
        key_type: KeyType::Secret,
        ..
    } = principal.via
    else {
        return Err(AppError::bad_credentials(
            CredentialError::InvalidApiKey,
            "Only secret API keys can sign in to the dashboard.",
            "Paste a secret key (secret_…).",
        ));
    };
    let account = principal.account.clone().unwrap_or_default();
    let hash = auth::keys::hash(&key);
    let resolved = state.auth.live_key_by_hash(&hash).await?;
    Ok((
        SessionData::new(hash, account, now()),
        resolved.row.display.clone(),
    ))
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(data) = SessionData::from_headers(state.master_key(), &headers, now()) {
        if let Err(e) = check_csrf(&state, &headers, &uri, &data) {
            return e.into_response();
        }
        // Ended on the server, for every node: the cookie, replayed, opens nothing.
        if let Err(e) = state
            .auth
            .end_dashboard_session(&data.id, data.expires)
            .await
        {
            return e.into_response();
        }
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(&state));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The session's principal for the dashboard's own JSON routes.
async fn session_of(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> AppResult<(SessionData, Principal, std::sync::Arc<auth::ResolvedKey>)> {
    if session::cross_origin(state, headers, uri) {
        return Err(csrf_refused(
            "The request came from another origin.",
            "Use the dashboard page itself.",
        ));
    }
    let data = SessionData::from_headers(state.master_key(), headers, now())
        .ok_or_else(|| session::ended("There is no dashboard session, or it has expired."))?;
    let (p, key) = session::principal(state, &data).await?;
    Ok((data, p, key))
}

fn no_store(value: Value) -> Response {
    let mut resp = Json(value).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Who the session is, and what its key may do (the UI hides the rest).
async fn me(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> AppResult<Response> {
    let (data, principal, key) = session_of(&state, &headers, &uri).await?;
    let account = load_account(&state, &data.account).await?;
    let rules: Vec<RuleSpec> = serde_json::from_str(&key.row.rules).unwrap_or_default();
    let mut anywhere = serde_json::Map::new();
    let mut root = serde_json::Map::new();
    for op in Op::ALL {
        let somewhere = if rules.is_empty() {
            principal.grants.allows(op, "/")
        } else {
            rules.iter().any(|r| r.ops.contains(&op))
        };
        anywhere.insert(op.name().to_string(), json!(somewhere));
        root.insert(
            op.name().to_string(),
            json!(principal.grants.allows(op, "/")),
        );
    }
    Ok(no_store(json!({
        "accountId": data.account,
        "sandbox": account.sandbox,
        "key": {
            "keyId": key.row.id,
            "display": key.row.display,
            "type": key.key_type.name(),
            "name": key.row.name,
            "rules": rules,
        },
        "capabilities": anywhere,
        "rootCapabilities": root,
        "expiresAt": data.expires,
        "publicUrl": state.public_url,
    })))
}

/// File count, bytes and limits (needs `list` or `admin` on the account root).
async fn account_summary(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> AppResult<Response> {
    let (data, principal, _) = session_of(&state, &headers, &uri).await?;
    if !principal.grants.allows(Op::List, "/") && !principal.grants.allows(Op::Admin, "/") {
        return Err(AppError::forbidden(
            "This key may not see the account's totals.",
            "Sign in with a key that has 'list' or 'admin' on the whole account.",
        ));
    }
    let account = load_account(&state, &data.account).await?;
    let usage = state.meta.account_usage(&data.account).await?;
    let server_max = state.config.max_file_size;
    Ok(no_store(json!({
        "accountId": account.id,
        "sandbox": account.sandbox,
        "createdAt": account.created_at,
        "usage": usage,
        "limits": {
            "maxFileSize": account.max_file_size.map(|v| v as u64).unwrap_or(server_max),
            "accountMaxFileSize": account.max_file_size,
            "serverMaxFileSize": server_max,
            "allowedMime": account.allowed_mime,
            "sandboxTtlSeconds": if account.sandbox { Some(state.config.sandbox_ttl) } else { None },
        },
    })))
}

async fn asset(Path((hash, name)): Path<(String, String)>) -> Response {
    let Some(a) = assets::find(&hash, &name) else {
        return AppError::NotFound {
            what: "Dashboard asset".into(),
        }
        .into_response();
    };
    let mut resp = Response::new(Body::from(a.bytes));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", a.hash)) {
        h.insert(header::ETAG, v);
    }
    resp
}
