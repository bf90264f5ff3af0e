//! CORS (SPEC §9), one policy per kind of route:
//! - API routes (`/v2/…`, the ImageKit routes): any origin, no credentials.
//! - Routes a browser calls with cookies (the access-token endpoint, CDN
//!   downloads): an `Origin` on the configured list is echoed with
//!   `Access-Control-Allow-Credentials: true`; any other origin gets `*` without
//!   credentials, so public files stay fetchable but cookies do not travel.
//!
//! Preflights are answered before routing, for every route (`http/edge.rs`).

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

const EXPOSE: &str = "ETag, Content-Range, Content-Length, Content-Disposition, x-request-id, \
     Repr-Digest, Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, \
     Upload-File-Path, Upload-File-Url, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, \
     Tus-Checksum-Algorithm";
/// Includes the tus request headers (SPEC §5.6), so browsers can speak tus.
const ALLOW_HEADERS: &str = "authorization, authorization-token, content-type, x-api-key, \
     x-upload-metadata, x-upload-tags, range, if-none-match, if-modified-since, if-range, \
     content-digest, repr-digest, want-repr-digest, \
     tus-resumable, upload-length, upload-offset, upload-metadata, upload-checksum, \
     upload-defer-length, x-requested-with";
const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Whether a path belongs to the credentialed group.
fn credentialed(path: &str) -> bool {
    if path.starts_with("/api/v1/access_tokens/") {
        return true;
    }
    !(path.starts_with("/v2/") || path.starts_with("/api/") || path == "/")
}

/// What the CORS policy decided from a request, before it is routed.
pub struct Cors {
    origin: Option<HeaderValue>,
    trusted: bool,
    /// An `OPTIONS` preflight: answered by [`Cors::preflight`], not routed.
    pub preflight: bool,
}

impl Cors {
    pub fn of(allowed: &[String], req: &Request) -> Cors {
        let origin = req.headers().get(header::ORIGIN).cloned();
        let trusted = origin.is_some()
            && credentialed(req.uri().path())
            && origin
                .as_ref()
                .and_then(|o| o.to_str().ok())
                .is_some_and(|o| allowed.iter().any(|a| a == o));
        let preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        Cors {
            origin,
            trusted,
            preflight,
        }
    }

    /// The answer to a preflight (the origin headers come from [`Cors::finish`]).
    pub fn preflight() -> Response {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        r
    }

    /// Adds the origin headers to any response of a request with `Origin`.
    pub fn finish(self, mut resp: Response) -> Response {
        let Some(origin) = self.origin else {
            return resp;
        };
        let h = resp.headers_mut();
        if self.trusted {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            h.append(header::VARY, HeaderValue::from_static("Origin"));
        } else {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_groups() {
        assert!(super::credentialed("/api/v1/access_tokens/abc"));
        assert!(super::credentialed("/A623uY2/raw/x.png"));
        assert!(!super::credentialed("/v2/accounts/A623uY2/uploads"));
        assert!(!super::credentialed("/api/v1/files/upload"));
    }
}
