//! `GET /openapi.json` (SPEC §13): the OpenAPI 3.1 document of every API
//! route, generated from the handlers' own `#[utoipa::path]` attributes. The
//! routers of src/http/*.rs are `utoipa_axum` `OpenApiRouter`s: a route is
//! served and documented by the same `routes!(…)` call, so the two cannot drift.

use crate::state::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::Value;
use std::sync::OnceLock;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// The document's fixed parts: info, tags, security schemes, the §8 error.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "stowage",
        description = "Self-hosted upload and CDN server speaking the Bytescale HTTP API (and ImageKit's upload API).",
        license(name = "MIT")
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody, ErrorDetail, FileDetails, UploadResponse)),
    security(("bearer" = []), ("apiKeyHeader" = [])),
    tags(
        (name = "uploads", description = "Basic, multipart, URL and upload-token uploads (SPEC §5)"),
        (name = "tus", description = "tus 1.0 resumable uploads (SPEC §5)"),
        (name = "imagekit", description = "ImageKit-compatible uploads (SPEC §5)"),
        (name = "cdn", description = "Raw and transformed file reads (SPEC §6)"),
        (name = "session", description = "The CDN session cookie (SPEC §6)"),
        (name = "files", description = "File details, copy, delete, versions, signed URLs (SPEC §7)"),
        (name = "folders", description = "Folders (SPEC §7)"),
        (name = "keys", description = "API keys, JWT keys, signing keys (SPEC §2, §9)"),
        (name = "transformations", description = "Transformation presets (SPEC §6)"),
        (name = "webhooks", description = "Webhooks and the upload hook (SPEC §11)"),
        (name = "accounts", description = "Limits and usage (SPEC §10, §12)"),
        (name = "health", description = "Liveness, readiness, metrics"),
    )
)]
struct Base;

/// SPEC §2's credentials.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A secret_/public_ API key, a JWT signed by a registered key (accountId claim), or a single-use upload token (token_…).",
            ))
            .build();
        c.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let basic = HttpBuilder::new()
            .scheme(HttpAuthScheme::Basic)
            .description(Some(
                "ImageKit style: base64(apikey:KEY) or base64(KEY:anything).",
            ))
            .build();
        c.add_security_scheme("basic", SecurityScheme::Http(basic));
        c.add_security_scheme(
            "apiKeyHeader",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "A secret_ or public_ API key (without a 'Bearer ' prefix).",
            ))),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "access-token-{account}",
                "Set by PUT /api/v1/access_tokens/{account}; honoured on CDN GET/HEAD only.",
            ))),
        );
    }
}

/// Every error (SPEC §8).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// snake_case, stable (e.g. `file_not_found`).
    code: String,
    /// What happened.
    message: String,
    /// What to do about it.
    suggestion: String,
    /// Extra fields, per code.
    #[schema(value_type = Object)]
    details: Value,
}

/// The FileDetails object (SPEC §7).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct FileDetails {
    account_id: String,
    file_path: String,
    file_url: String,
    etag: String,
    size: i64,
    mime: String,
    original_file_name: Option<String>,
    /// Milliseconds since the epoch.
    last_modified: i64,
    #[schema(value_type = Object)]
    metadata: Value,
    tags: Vec<String>,
}

/// The BasicUploadResponse plus `size` and `mime` (SPEC §5).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UploadResponse {
    account_id: String,
    etag: String,
    file_path: String,
    file_url: String,
    size: i64,
    mime: String,
}

/// Raw bytes in a request body (`type: string, format: binary`).
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Binary {}

/// Every documented route, with its handler (the routers of src/http).
pub fn api_routes() -> OpenApiRouter<AppState> {
    use super::*;
    OpenApiRouter::with_openapi(Base::openapi())
        .merge(health::router())
        .merge(uploads::router())
        .merge(multipart::router())
        .merge(files::router())
        .merge(folders::router())
        .merge(keys::router())
        .merge(accounts::router())
        .merge(webhooks::router())
        .merge(upload_hook::router())
        .merge(tokens::router())
        .merge(tus::router())
        .merge(imagekit::router())
        .merge(session::router())
        .merge(cdn::router())
        .merge(images::router())
}

/// The document: axum's `{*path}` wildcards become OpenAPI's `{path}`.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = api_routes().into_openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(p, item)| (p.replace("{*", "{"), item))
        .collect();
    doc
}

/// The document as JSON, built once.
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        document()
            .to_json()
            .expect("the OpenAPI document serializes")
    })
}

/// `GET /openapi.json` (public).
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}
