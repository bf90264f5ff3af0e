//! `GET /openapi.json` (SPEC §13): the OpenAPI 3.1 document of every API
//! route, generated from the handlers' own `#[utoipa::path]` attributes. The
//! routers of src/http/*.rs are `utoipa_axum` `OpenApiRouter`s: a route is
//! served and documented by the same `routes!(…)` call, so the two cannot drift.

use crate::state::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::Value;
use std::sync::OnceLock;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
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
    components(schemas(ErrorBody, ErrorDetail, ImageKitError, FileDetails, UploadResponse)),
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
    details: ErrorDetails,
}

/// The FileDetails object (SPEC §7), as every route that answers with a
/// file serializes it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileDetails {
    pub account_id: String,
    pub file_path: String,
    pub file_url: String,
    /// Null until the bytes are whole (the file of a multipart upload begun).
    pub etag: Option<String>,
    pub size: i64,
    pub mime: String,
    pub original_file_name: Option<String>,
    /// Milliseconds since the epoch.
    pub last_modified: i64,
    pub metadata: Metadata,
    pub tags: Vec<String>,
}

/// The BasicUploadResponse plus `size` and `mime` (SPEC §5).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    pub account_id: String,
    pub etag: String,
    pub file_path: String,
    pub file_url: String,
    pub size: i64,
    pub mime: String,
}

/// ImageKit's error shape, on its upload routes only (SPEC §8).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImageKitError {
    /// What happened.
    message: String,
    /// What to do about it.
    help: String,
}

/// A named schema for a JSON object whose fields are the client's own
/// (`additionalProperties: true`), serialized as the value it wraps.
macro_rules! free_form {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Serialize, serde::Deserialize, Debug, Clone, Default)]
        #[serde(transparent)]
        pub struct $name(pub Value);

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some($doc))
                    .additional_properties(Some(AdditionalProperties::FreeForm(true)))
                    .into()
            }
        }

        impl ToSchema for $name {}

        impl $name {
            /// `{}`.
            pub fn default_object() -> Self {
                $name(Value::Object(Default::default()))
            }
        }
    };
}

free_form!(
    Metadata,
    "The file's metadata: any JSON object the uploader gave."
);
free_form!(FolderSettings, "A folder's own settings (SPEC §7), as set.");
free_form!(
    KeyRule,
    "A permission rule of SPEC §3 (paths, permissions, expiry)."
);
free_form!(
    Permission,
    "A public permission of a folder (SPEC §4): a scope and what it allows."
);
free_form!(ErrorDetails, "Extra fields of an error, per code.");

impl Metadata {
    /// Stored JSON text as an object (`{}` when it is not one).
    pub fn parse(text: &str) -> Metadata {
        match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Metadata(v),
            _ => Metadata::default_object(),
        }
    }
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
    super::responses::add_rate_limit_fields(&mut doc);
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
