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
            for (status, resp) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &resp["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorBody",
                        "{m} {path} {status}"
                    );
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
