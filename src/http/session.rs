//! The access-token session for `<img>` tags (SPEC §6):
//! `PUT|DELETE /api/v1/access_tokens/{account}?set-cookie=true|false`.

use super::{AppJson, AppPath, AppQuery};
use crate::auth::cookie_name;
use crate::error::AppResult;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_access_token, delete_access_token))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CookieQuery {
    #[serde(rename = "set-cookie")]
    set_cookie: Option<bool>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct AccessTokenBody {
    access_token: String,
}

/// The session: the JWT and how long it (and the cookie) lasts.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Session {
    access_token: String,
    ttl_seconds: i64,
}

/// `SameSite=Lax` on http; `SameSite=None; Secure` when the public URL is https
/// (a page on another site can then use the cookie for `<img>` tags).
fn session_cookie(state: &AppState, account: &str, value: String, max_age: i64) -> String {
    let secure = state.public_url.starts_with("https://");
    Cookie::build((cookie_name(account), value))
        .path(format!("/{account}/"))
        .http_only(true)
        .secure(secure)
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

#[utoipa::path(
    put,
    path = "/api/v1/access_tokens/{account}",
    tag = "session",
    summary = "Set the CDN session cookie from a JWT",
    params(("account" = String, Path, description = "Account ID"), CookieQuery),
    request_body = AccessTokenBody,
    responses(
        (status = 200, description = "The session", body = Session, headers(("Set-Cookie" = String, description = "access-token-{account}, with ?set-cookie=true"))),
        super::responses::Common
    ),
    security(()),
)]
async fn put_access_token(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
    AppQuery(q): AppQuery<CookieQuery>,
    headers: HeaderMap,
    AppJson(body): AppJson<AccessTokenBody>,
) -> AppResult<Response> {
    let jwt = state
        .auth
        .verified_jwt(&body.access_token, Some(&account), &headers)
        .await?;
    let ttl = (jwt.exp - chrono::Utc::now().timestamp()).max(1);
    let cookie = q
        .set_cookie
        .unwrap_or(false)
        .then(|| session_cookie(&state, &account, body.access_token.clone(), ttl));
    let mut resp = Json(Session {
        access_token: body.access_token,
        ttl_seconds: ttl,
    })
    .into_response();
    if let Some(c) = cookie {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

#[utoipa::path(
    delete,
    path = "/api/v1/access_tokens/{account}",
    tag = "session",
    summary = "Clear the session cookie",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 204, description = "Cleared", headers(("Set-Cookie" = String, description = "The cookie, expired"))),
        (status = 400, description = "The request is not valid", body = super::openapi::ErrorBody)
    ),
    security(()),
)]
async fn delete_access_token(
    State(state): State<AppState>,
    AppPath(account): AppPath<String>,
) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let c = session_cookie(&state, &account, String::new(), 0);
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}
