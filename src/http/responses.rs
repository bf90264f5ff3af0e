//! The responses many operations share, named once for `/openapi.json`
//! (SPEC §8, §13): the §8 error sets (`responses(…, Common)` instead of a
//! list per handler), each error with the header fields its status carries
//! (`Retry-After` and the rate-limit fields on 429, `Retry-After` on 503),
//! and a CDN download's 200/206/304 with `ETag`, `Last-Modified`,
//! `Content-Length`, `Accept-Ranges`, `Content-Range`.

use std::collections::BTreeMap;
use utoipa::openapi::header::Header;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::IntoResponses;

type Responses = BTreeMap<String, RefOr<Response>>;

/// A response header field: its name, description and schema type.
fn header(description: &str, of: Type) -> Header {
    let mut h = Header::new(ObjectBuilder::new().schema_type(of));
    h.description = Some(description.to_string());
    h
}

/// `Retry-After` (seconds).
pub fn retry_after() -> Header {
    header("Seconds to wait before retrying.", Type::Integer)
}

/// The IETF httpapi rate-limit fields (SPEC §12), on the responses of a
/// request that met a limit.
pub fn rate_limit_fields() -> [(&'static str, Header); 2] {
    [
        (
            "RateLimit-Policy",
            header(
                "The limit the request met, e.g. `\"uploads\";q=600;w=60` (when a limit applies).",
                Type::String,
            ),
        ),
        (
            "RateLimit",
            header(
                "What is left of it, e.g. `\"uploads\";r=599;t=1` (when a limit applies).",
                Type::String,
            ),
        ),
    ]
}

/// What each error status means here.
fn describe(status: u16) -> &'static str {
    match status {
        400 => "The request is not valid",
        401 => "Missing or bad credentials",
        403 => "Not allowed",
        404 => "Not found",
        408 => "The body was too slow",
        409 => "Conflict",
        412 => "Precondition failed (Tus-Resumable)",
        413 => "Too large (a limit, a quota, a form field)",
        415 => "Type not allowed",
        416 => "Range not satisfiable",
        429 => "Rate limited",
        460 => "Checksum mismatch",
        502 => "The source failed",
        503 => "Unavailable",
        507 => "The store is full",
        _ => "Error",
    }
}

/// The error responses `statuses`, each with the body schema `schema`.
fn errors_with(schema: &str, statuses: &[u16]) -> Responses {
    statuses
        .iter()
        .map(|&status| {
            let content = Content::new(Some(Ref::from_schema_name(schema)));
            let mut r = ResponseBuilder::new()
                .description(describe(status))
                .content("application/json", content);
            if matches!(status, 429 | 503) {
                r = r.header("Retry-After", retry_after());
            }
            if status == 429 {
                for (name, h) in rate_limit_fields() {
                    r = r.header(name, h);
                }
            }
            (status.to_string(), RefOr::T(r.build()))
        })
        .collect()
}

/// The §8 error responses `statuses`.
pub fn errors(statuses: &[u16]) -> Responses {
    errors_with("ErrorBody", statuses)
}

/// A set of §8 error responses, named for `responses(…)`.
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident = $schema:literal: $($status:literal),+) => {
        $(#[$doc])*
        pub struct $name;
        impl IntoResponses for $name {
            fn responses() -> Responses {
                errors_with($schema, &[$($status),+])
            }
        }
    };
}

error_set!(
    /// Most API routes: 400, 401, 403, 404, 429.
    Common = "ErrorBody": 400, 401, 403, 404, 429
);
error_set!(
    /// Routes that can meet an existing path: [`Common`] and 409.
    WithConflict = "ErrorBody": 400, 401, 403, 404, 409, 429
);
error_set!(
    /// Uploads: 400, 401, 403, 408, 413, 415, 429, 503, 507.
    Upload = "ErrorBody": 400, 401, 403, 408, 413, 415, 429, 503, 507
);
error_set!(
    /// Uploads to a path that may be taken: [`Upload`] and 409.
    UploadWithConflict = "ErrorBody": 400, 401, 403, 408, 409, 413, 415, 429, 503, 507
);
error_set!(
    /// ImageKit's upload routes: [`Upload`]'s statuses in ImageKit's shape.
    ImageKitUpload = "ImageKitError": 400, 401, 403, 408, 413, 415, 429, 503, 507
);
error_set!(
    /// CDN reads: [`Common`] and 416.
    Download = "ErrorBody": 400, 401, 403, 404, 416, 429
);
error_set!(
    /// A multipart part's bytes (signed URL: 401 without its signature).
    UploadPart = "ErrorBody": 400, 401, 403, 404, 408, 413, 429, 503, 507
);
error_set!(
    /// tus creation: [`Upload`] and 412.
    TusCreate = "ErrorBody": 400, 401, 403, 408, 412, 413, 415, 429, 503, 507
);
error_set!(
    /// A tus PATCH: every [`TusCreate`] status, 404, 409 (offset) and 460.
    TusPatch = "ErrorBody": 400, 401, 403, 404, 408, 409, 412, 413, 415, 429, 460, 503, 507
);
error_set!(
    /// tus requests on an upload: 401, 403, 404, 412, 429.
    TusUpload = "ErrorBody": 401, 403, 404, 412, 429
);

/// A CDN read's successes (SPEC §6): 200, 206 and 304, with the header
/// fields clients rely on.
pub struct Served;

impl IntoResponses for Served {
    fn responses() -> Responses {
        let validators = |description: &str| {
            let r = ResponseBuilder::new().description(description);
            with(
                r,
                &[
                    (
                        "ETag",
                        "The stored bytes' entity tag (quoted).",
                        Type::String,
                    ),
                    (
                        "Last-Modified",
                        "When the file was written (HTTP date).",
                        Type::String,
                    ),
                ],
            )
        };
        let bytes = |description: &str| {
            let format = utoipa::openapi::KnownFormat::Binary;
            let schema = ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(format)));
            let r = validators(description)
                .content("application/octet-stream", Content::new(Some(schema)));
            with(
                r,
                &[
                    ("Content-Length", "Bytes in this response.", Type::Integer),
                    ("Accept-Ranges", "`bytes`: ranges are served.", Type::String),
                ],
            )
        };
        let ok = bytes("The bytes");
        let range = ("Content-Range", "`bytes first-last/size`.", Type::String);
        let partial = with(bytes("Partial content (a Range request)"), &[range]);
        let not_modified = validators("Not modified (If-None-Match or If-Modified-Since)");
        [("200", ok), ("206", partial), ("304", not_modified)]
            .into_iter()
            .map(|(s, r)| (s.to_string(), RefOr::T(r.build())))
            .collect()
    }
}

/// Adds the rate-limit fields to every 2xx response of an operation that
/// can answer 429: any request may meet a limit (uploads, transformations,
/// anonymous requests; SPEC §12), and then its response carries them.
pub fn add_rate_limit_fields(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
        ];
        for op in ops.into_iter().flatten() {
            let responses = &mut op.responses.responses;
            if !responses.contains_key("429") {
                continue;
            }
            for (status, resp) in responses.iter_mut() {
                if let (true, RefOr::T(resp)) = (status.starts_with('2'), resp) {
                    for (name, h) in rate_limit_fields() {
                        resp.headers.entry(name.to_string()).or_insert(h);
                    }
                }
            }
        }
    }
}

/// `r` with the header fields `fields` (name, description, type).
fn with(mut r: ResponseBuilder, fields: &[(&str, &str, Type)]) -> ResponseBuilder {
    for (name, description, of) in fields {
        r = r.header(*name, header(description, of.clone()));
    }
    r
}

/// A tus 1.0 success: `status` with `Tus-Resumable` and `fields`.
fn tus(status: u16, description: &str, fields: &[(&str, &str, Type)]) -> Responses {
    let resumable = (
        "Tus-Resumable",
        "The protocol version: `1.0.0`.",
        Type::String,
    );
    let r = with(
        ResponseBuilder::new().description(description),
        &[resumable],
    );
    BTreeMap::from([(status.to_string(), RefOr::T(with(r, fields).build()))])
}

const OFFSET: (&str, &str, Type) = ("Upload-Offset", "Bytes received so far.", Type::Integer);
const EXPIRES: (&str, &str, Type) = (
    "Upload-Expires",
    "When an unfinished upload is removed (HTTP date).",
    Type::String,
);

/// A tus success response, named for `responses(…)`.
macro_rules! tus_response {
    ($(#[$doc:meta])* $name:ident = $status:literal, $description:literal, [$($field:expr),*]) => {
        $(#[$doc])*
        pub struct $name;
        impl IntoResponses for $name {
            fn responses() -> Responses {
                tus($status, $description, &[$($field),*])
            }
        }
    };
}

tus_response!(
    /// OPTIONS: what the server speaks.
    TusCapabilities = 204, "Capabilities", [
        ("Tus-Version", "`1.0.0`.", Type::String),
        ("Tus-Extension", "creation, creation-with-upload, termination, checksum, expiration.", Type::String),
        ("Tus-Checksum-Algorithm", "The Upload-Checksum algorithms (sha1, sha256).", Type::String),
        ("Tus-Max-Size", "The largest Upload-Length accepted for these credentials.", Type::Integer)
    ]
);
tus_response!(
    /// POST: the upload is created.
    TusCreated = 201, "Created", [
        ("Location", "The upload's URL, for HEAD, PATCH and DELETE.", Type::String),
        OFFSET,
        EXPIRES
    ]
);
tus_response!(
    /// HEAD: where the upload is.
    TusStatus = 200, "The upload's offset", [
        OFFSET,
        ("Upload-Length", "The upload's size, once declared.", Type::Integer),
        ("Upload-Metadata", "The Upload-Metadata given at creation.", Type::String),
        ("Cache-Control", "`no-store`.", Type::String)
    ]
);
tus_response!(
    /// PATCH: bytes appended.
    TusAppended = 204, "Appended", [OFFSET, EXPIRES]
);
tus_response!(
    /// DELETE: the upload is gone.
    TusTerminated = 204, "Terminated", []
);
