//! `GET /openapi.json` (SPEC §13): the document is public OpenAPI 3.1, every
//! operation it lists is served, every served API route is in it (the routers
//! of src/http are utoipa-axum `OpenApiRouter`s that only add routes through
//! documented `routes!(…)`), and known operations carry their parameters.

use crate::both;
use crate::common::{Backend, TestApp};
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

async fn document(app: &TestApp) -> Value {
    let r = app
        .client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/json"), "{ct}");
    r.json().await.unwrap()
}

/// Every (METHOD, path) of the document.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if item.get(*m).is_some() {
                ops.push((m.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

async fn document_is_openapi_31(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    assert_eq!(doc["info"]["title"], "stowage");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let names: BTreeSet<&str> = schemes.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["apiKeyHeader", "basic", "bearer", "session"])
    );
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["apiKeyHeader"]["name"], "x-api-key");
    assert_eq!(schemes["session"]["in"], "cookie");
    let err = &doc["components"]["schemas"]["ErrorDetail"]["required"];
    for field in ["code", "message", "suggestion", "details"] {
        assert!(err.as_array().unwrap().iter().any(|f| f == field), "{err}");
    }
    // Every error response is the §8 body; every operation has a tag.
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(!path.contains('*'), "axum wildcard left in {path}");
        for m in METHODS {
            let Some(op) = item.get(*m) else { continue };
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{m} {path}"
            );
            // ImageKit's upload routes answer in ImageKit's shape (SPEC §8).
            let body = match path.starts_with("/api/v") && path.ends_with("/files/upload") {
                true => "#/components/schemas/ImageKitError",
                false => "#/components/schemas/ErrorBody",
            };
            for (status, resp) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &resp["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(schema, body, "{m} {path} {status}");
                }
            }
        }
    }
    // The document is the same on every request (built once).
    assert_eq!(document(&app).await, doc);
}
both!(document_is_openapi_31);

/// The routes of SPEC §5–§12 (and health) are all in the document.
const EXPECTED: &[(&str, &str)] = &[
    ("POST", "/v2/accounts/{account}/uploads/binary"),
    ("POST", "/v2/accounts/{account}/uploads/form_data"),
    ("POST", "/v2/accounts/{account}/uploads/url"),
    ("POST", "/v2/accounts/{account}/uploads"),
    (
        "PUT",
        "/v2/accounts/{account}/uploads/{upload_id}/parts/{index}",
    ),
    (
        "PUT",
        "/v2/accounts/{account}/uploads/{upload_id}/parts/{index}/bytes",
    ),
    ("POST", "/v2/accounts/{account}/tus"),
    ("PATCH", "/v2/accounts/{account}/tus/{id}"),
    ("HEAD", "/v2/accounts/{account}/tus/{id}"),
    ("POST", "/api/v1/files/upload"),
    ("POST", "/api/v2/files/upload"),
    ("POST", "/v2/accounts/{account}/upload_tokens"),
    ("POST", "/token"),
    ("POST", "/"),
    ("GET", "/{account}/raw/{path}"),
    ("GET", "/{account}/{slug}/{path}"),
    ("PUT", "/api/v1/access_tokens/{account}"),
    ("GET", "/v2/accounts/{account}/files/details"),
    ("DELETE", "/v2/accounts/{account}/files"),
    ("POST", "/v2/accounts/{account}/files/copy"),
    ("GET", "/v2/accounts/{account}/folders/list"),
    ("PUT", "/v2/accounts/{account}/folders"),
    ("POST", "/v2/accounts/{account}/api_keys"),
    ("POST", "/v2/accounts/{account}/jwt_keys"),
    ("POST", "/v2/accounts/{account}/signing_keys"),
    ("PUT", "/v2/accounts/{account}/transformations/{preset}"),
    ("POST", "/v2/accounts/{account}/webhooks"),
    ("PUT", "/v2/accounts/{account}/upload_hook"),
    ("POST", "/v2/accounts/{account}/upload_hook/test"),
    ("PUT", "/v2/accounts/{account}/limits"),
    ("GET", "/v2/accounts/{account}/usage"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
];

/// Every documented operation is served (never `route_not_found`), the SPEC
/// routes are documented, and no module adds a route outside `routes!(…)`.
async fn document_matches_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = document(&app).await;
    let ops = operations(&doc);
    for (m, p) in EXPECTED {
        assert!(
            ops.iter().any(|(om, op)| om == m && op == p),
            "{m} {p} undocumented"
        );
    }
    assert!(ops.len() >= 55, "{} operations", ops.len());
    for (m, p) in &ops {
        let path = p
            .replace("{account}", &app.account)
            .replace("{index}", "0")
            .replace("{path}", "a/b.txt")
            .replace('{', "x")
            .replace('}', "");
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let r = app
            .client
            .request(method, format!("{}{path}", app.url))
            .bearer_auth(&app.secret)
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(status != 405, "{m} {p}: 405 {body}");
        assert!(
            !body.contains("route_not_found"),
            "{m} {p}: {status} {body}"
        );
    }
    sources_add_routes_only_through_routes_macro();
}
both!(document_matches_routes);

/// A route added with plain axum `.route(…)` in src/http would be served but
/// not documented: only the dashboard (not an API of SPEC §5–§12) may.
fn sources_add_routes_only_through_routes_macro() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("OpenApiRouter::new()", "");
        for forbidden in [
            ".route(",
            ".nest_service(",
            ".route_service(",
            "Router::new()",
        ] {
            assert!(!text.contains(forbidden), "{}: {forbidden}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 15, "{checked}");
    let lib = std::fs::read_to_string(dir.join("../lib.rs")).unwrap();
    assert_eq!(lib.matches(".route(").count(), 1, "only /openapi.json");
}

/// Known operations carry their parameters and bodies.
async fn operations_have_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = document(&app).await;
    let params = |m: &str, p: &str| -> Vec<(String, String, bool)> {
        doc["paths"][p][m]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{m} {p}"))
            .iter()
            .map(|x| {
                let name = x["name"].as_str().unwrap().to_string();
                let place = x["in"].as_str().unwrap().to_string();
                (name, place, x["required"].as_bool().unwrap_or(false))
            })
            .collect()
    };
    let details = params("get", "/v2/accounts/{account}/files/details");
    assert!(details.contains(&("account".into(), "path".into(), true)));
    assert!(details.contains(&("filePath".into(), "query".into(), true)));
    let raw = params("get", "/{account}/raw/{path}");
    assert!(
        raw.contains(&("path".into(), "path".into(), true)),
        "{raw:?}"
    );
    assert!(raw.iter().any(|(n, p, _)| n == "download" && p == "query"));
    let ok = &doc["paths"]["/v2/accounts/{account}/files/details"]["get"]["responses"]["200"];
    assert_eq!(
        ok["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/FileDetails"
    );
    let binary = &doc["paths"]["/v2/accounts/{account}/uploads/binary"]["post"];
    let bytes = &binary["requestBody"]["content"]["application/octet-stream"]["schema"];
    assert_eq!(bytes["type"], "string", "{bytes}");
    assert_eq!(bytes["format"], "binary", "{bytes}");
    let url = &doc["paths"]["/v2/accounts/{account}/uploads/url"]["post"]["requestBody"];
    let schema = &url["content"]["application/json"]["schema"]["$ref"];
    let name = schema.as_str().unwrap().rsplit('/').next().unwrap();
    let props = &doc["components"]["schemas"][name]["required"];
    assert!(
        props.as_array().unwrap().iter().any(|f| f == "url"),
        "{props}"
    );
    let imagekit = &doc["paths"]["/api/v1/files/upload"]["post"]["security"];
    assert_eq!(imagekit[0]["basic"], serde_json::json!([]));
    assert_eq!(
        doc["paths"]["/healthz"]["get"]["security"][0],
        serde_json::json!({})
    );
    let patch = params("patch", "/v2/accounts/{account}/tus/{id}");
    assert!(patch.contains(&("Upload-Offset".into(), "header".into(), true)));
}
both!(operations_have_parameters);

/// Why `schema` (reached from `at`) is not a described shape: an empty
/// schema, an object without properties that is not a named free-form
/// one, an array without items. None when every schema it reaches is typed.
fn untyped(
    doc: &Value,
    schema: &Value,
    at: &str,
    named: bool,
    seen: &mut BTreeSet<String>,
) -> Option<String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap().to_string();
        if !seen.insert(name.clone()) {
            return None;
        }
        let target = &doc["components"]["schemas"][&name];
        if target.is_null() {
            return Some(format!("{at}: dangling {r}"));
        }
        return untyped(doc, target, &format!("{at} > {name}"), true, seen);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(branches) = schema[key].as_array() {
            return branches
                .iter()
                .find_map(|b| untyped(doc, b, &format!("{at}.{key}"), false, seen));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.contains(&"array") {
        return match schema.get("items") {
            Some(items) => untyped(doc, items, &format!("{at}[]"), false, seen),
            None => Some(format!("{at}: an array without items")),
        };
    }
    if types.is_empty() || types.contains(&"object") {
        if let Some(props) = schema["properties"].as_object().filter(|p| !p.is_empty()) {
            return props
                .iter()
                .find_map(|(k, p)| untyped(doc, p, &format!("{at}.{k}"), false, seen));
        }
        return match (&schema["additionalProperties"], named) {
            (Value::Bool(true), true) => None,
            (extra @ Value::Object(_), _) => {
                untyped(doc, extra, &format!("{at}{{*}}"), false, seen)
            }
            _ if types.is_empty() && schema.get("enum").is_some() => None,
            _ => Some(format!("{at}: an untyped object {schema}")),
        };
    }
    None
}

/// Every 2xx JSON answer is a described shape (named types, not `Object`),
/// so a handler cannot go back to an undocumented `json!{}`.
async fn json_responses_are_typed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = document(&app).await;
    // The check itself catches what it is for.
    let mut seen = BTreeSet::new();
    for bad in [
        serde_json::json!({}),
        serde_json::json!({"type": "object"}),
        serde_json::json!({"type": "array"}),
        serde_json::json!({"type": "object", "additionalProperties": true}),
        serde_json::json!({"type": "object", "properties": {"a": {"type": "object"}}}),
    ] {
        assert!(
            untyped(&doc, &bad, "probe", false, &mut seen).is_some(),
            "{bad}"
        );
    }
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            let Some(op) = item.get(*m) else { continue };
            for (status, resp) in op["responses"].as_object().unwrap() {
                let schema = &resp["content"]["application/json"]["schema"];
                if !status.starts_with('2') || schema.is_null() {
                    continue;
                }
                let at = format!("{m} {path} {status}");
                if let Some(why) = untyped(&doc, schema, &at, false, &mut BTreeSet::new()) {
                    panic!("{why}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 45, "{checked} JSON responses");
    // Free-form JSON (a file's metadata) is a named schema that says so.
    let meta = &doc["components"]["schemas"]["Metadata"];
    assert_eq!(meta["additionalProperties"], true, "{meta}");
    let details = &doc["components"]["schemas"]["FileDetails"]["properties"]["metadata"];
    assert_eq!(
        details["$ref"], "#/components/schemas/Metadata",
        "{details}"
    );
}
both!(json_responses_are_typed);

/// The response header fields clients rely on are in the document.
async fn response_headers_are_documented(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = document(&app).await;
    let headers = |p: &str, m: &str, status: &str| -> BTreeSet<String> {
        let h = &doc["paths"][p][m]["responses"][status]["headers"];
        h.as_object()
            .unwrap_or_else(|| panic!("{m} {p} {status}: no headers"))
            .keys()
            .cloned()
            .collect()
    };
    let has = |p: &str, m: &str, status: &str, names: &[&str]| {
        let got = headers(p, m, status);
        for n in names {
            assert!(
                got.contains(*n),
                "{m} {p} {status}: {n} missing from {got:?}"
            );
        }
    };
    let raw = "/{account}/raw/{path}";
    has(
        raw,
        "get",
        "200",
        &["ETag", "Last-Modified", "Content-Length", "Accept-Ranges"],
    );
    has(raw, "get", "206", &["Content-Range", "ETag"]);
    has(raw, "get", "304", &["ETag"]);
    has(
        raw,
        "get",
        "429",
        &["Retry-After", "RateLimit-Policy", "RateLimit"],
    );
    has(
        "/{account}/{slug}/{path}",
        "get",
        "200",
        &["ETag", "RateLimit"],
    );
    let tus = "/v2/accounts/{account}/tus";
    has(
        tus,
        "post",
        "201",
        &["Location", "Tus-Resumable", "Upload-Offset"],
    );
    has(tus, "post", "503", &["Retry-After"]);
    has(tus, "options", "204", &["Tus-Version", "Tus-Max-Size"]);
    let upload = "/v2/accounts/{account}/tus/{id}";
    has(
        upload,
        "head",
        "200",
        &["Upload-Offset", "Upload-Length", "Tus-Resumable"],
    );
    has(upload, "patch", "204", &["Upload-Offset", "Tus-Resumable"]);
    let part = "/v2/accounts/{account}/uploads/{upload_id}/parts/{index}/bytes";
    has(part, "put", "200", &["ETag"]);
    let binary = "/v2/accounts/{account}/uploads/binary";
    has(binary, "post", "200", &["RateLimit-Policy", "RateLimit"]);
    let retry = &doc["paths"][binary]["post"]["responses"]["429"]["headers"]["Retry-After"];
    assert_eq!(retry["schema"]["type"], "integer", "{retry}");
    // Every 429 says when to come back.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            let Some(resp) = item.get(*m).and_then(|op| op["responses"].get("429")) else {
                continue;
            };
            assert!(resp["headers"].get("Retry-After").is_some(), "{m} {path}");
        }
    }
}
both!(response_headers_are_documented);
