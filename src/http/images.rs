//! Image transformations on the CDN side (SPEC §6.1):
//! `GET|HEAD /{acc}/image{filePath}?…` and `/{acc}/{preset}{filePath}`, served
//! with [`cdn::serve`] like raw files; and the presets API,
//! `/v2/accounts/{acc}/transformations[/{preset}]` (admin).

use super::cdn::{self, RawQuery, ServeOptions, DEFAULT_TTL};
use super::{header_str, AppJson, AppPath};
use crate::auth::Principal;
use crate::domain::{images, presets};
use crate::error::AppResult;
use crate::meta::PresetRow;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_transformed_file))
        .routes(routes!(list_presets))
        .routes(routes!(get_preset, put_preset, delete_preset))
}

/// A transformed file. The dashboard's session principal (attached by its
/// gate) is honoured like on raw downloads, so its thumbnails of private
/// files work.
#[utoipa::path(
    get,
    path = "/{account}/{slug}/{*path}",
    tag = "cdn",
    summary = "A transformed file (preset slug or image)",
    params(("account" = String, Path, description = "Account ID"), ("slug" = String, Path), ("path" = String, Path), super::cdn::RawQuery),
    responses(
        super::responses::Served,
        super::responses::Download
    ),
    security((), ("bearer" = []), ("session" = [])),
)]
async fn get_transformed_file(
    State(state): State<AppState>,
    AppPath((account, slug, path)): AppPath<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    dashboard: Option<axum::Extension<Principal>>,
) -> AppResult<Response> {
    cdn::require_account_route(&account, &method, &uri)?;
    let q = RawQuery::of_shared(&uri)?;
    let path = format!("/{path}");
    let principal = match dashboard {
        Some(axum::Extension(p)) => p,
        None => state.auth.cdn_principal(&headers, &account, None).await?,
    };
    let req = images::Request {
        account: &account,
        path: &path,
        slug: &slug,
        query: uri.query().unwrap_or(""),
        accept: header_str(&headers, header::ACCEPT),
    };
    let rendered = images::render(&state, &principal, req).await?;
    let opts = ServeOptions {
        head: method == Method::HEAD,
        download: q.download.as_deref() == Some("true"),
        ttl: q.cache_ttl.unwrap_or(DEFAULT_TTL),
        access: rendered.access,
        vary_accept: rendered.vary_accept,
        bytes: rendered.bytes,
    };
    cdn::serve(&state, &rendered.served, &headers, opts).await
}

/// A transformation preset (SPEC §6).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Preset {
    /// Its name, the slug in `/{account}/{preset}/{path}`.
    preset: String,
    /// The transformation parameters, as a query string (`w=200&f=webp`).
    params: String,
    /// Milliseconds since the epoch.
    created_at: i64,
}

/// An account's presets.
#[derive(Serialize, ToSchema)]
struct Presets {
    items: Vec<Preset>,
}

fn preset_json(row: &PresetRow) -> Preset {
    Preset {
        preset: row.name.clone(),
        params: row.params.clone(),
        created_at: row.created_at,
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PutPreset {
    params: String,
}

#[utoipa::path(
    put,
    path = "/v2/accounts/{account}/transformations/{preset}",
    tag = "transformations",
    summary = "Create or replace a preset",
    params(("account" = String, Path, description = "Account ID"), ("preset" = String, Path)),
    request_body = PutPreset,
    responses(
        (status = 200, description = "Preset", body = Preset),
        super::responses::Common
    ),
)]
async fn put_preset(
    State(state): State<AppState>,
    principal: Principal,
    AppPath((account, name)): AppPath<(String, String)>,
    AppJson(body): AppJson<PutPreset>,
) -> AppResult<Json<Preset>> {
    let row = presets::put(&state, &principal, &account, &name, &body.params).await?;
    Ok(Json(preset_json(&row)))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/transformations/{preset}",
    tag = "transformations",
    summary = "A preset",
    params(("account" = String, Path, description = "Account ID"), ("preset" = String, Path)),
    responses(
        (status = 200, description = "Preset", body = Preset),
        super::responses::Common
    ),
)]
async fn get_preset(
    State(state): State<AppState>,
    principal: Principal,
    AppPath((account, name)): AppPath<(String, String)>,
) -> AppResult<Json<Preset>> {
    let row = presets::get(&state, &principal, &account, &name).await?;
    Ok(Json(preset_json(&row)))
}

#[utoipa::path(
    get,
    path = "/v2/accounts/{account}/transformations",
    tag = "transformations",
    summary = "List presets",
    params(("account" = String, Path, description = "Account ID")),
    responses(
        (status = 200, description = "Presets", body = Presets),
        super::responses::Common
    ),
)]
async fn list_presets(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(account): AppPath<String>,
) -> AppResult<Json<Presets>> {
    let rows = presets::list(&state, &principal, &account).await?;
    let items = rows.iter().map(preset_json).collect();
    Ok(Json(Presets { items }))
}

#[utoipa::path(
    delete,
    path = "/v2/accounts/{account}/transformations/{preset}",
    tag = "transformations",
    summary = "Delete a preset",
    params(("account" = String, Path, description = "Account ID"), ("preset" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        super::responses::Common
    ),
)]
async fn delete_preset(
    State(state): State<AppState>,
    principal: Principal,
    AppPath((account, name)): AppPath<(String, String)>,
) -> AppResult<Response> {
    presets::delete(&state, &principal, &account, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
