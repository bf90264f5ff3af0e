//! SPEC §6: raw downloads behave as nginx does for status codes and headers.

use crate::both;
use crate::common::{sha256_hex, Backend, Options, TestApp};
use reqwest::header::HeaderMap;
use serde_json::Value;

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Vec<u8>) {
    let mut req = app.client.get(app.raw(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

async fn download_headers(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.client
        .post(app.api("/uploads/binary"))
        .query(&[
            ("filePath", "/d/page.html"),
            ("originalFileName", "résumé \"v2\".html"),
        ])
        .bearer_auth(&app.secret)
        .header("content-type", "text/html")
        .body("<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    let (status, h, body) = get(&app, "/d/page.html", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, b"<script>alert(1)</script>");
    assert_eq!(h["content-type"], "text/html");
    assert_eq!(h["content-length"], "25");
    assert_eq!(
        h["etag"].to_str().unwrap(),
        format!("\"{}\"", sha256_hex(b"<script>alert(1)</script>"))
    );
    assert!(httpdate::parse_http_date(h["last-modified"].to_str().unwrap()).is_ok());
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(
        h["content-security-policy"],
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
    );
    assert_eq!(h["cache-control"], "public, max-age=3600");
    let id = h["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok() && id.len() == 36, "{id}");
    assert!(!h.contains_key("content-disposition"));
    // A client's own request id comes back (to find its request in the logs).
    let (_, h, _) = get(&app, "/d/page.html", &[("x-request-id", "trace-7f3a")]).await;
    assert_eq!(h["x-request-id"], "trace-7f3a");

    let (_, h, _) = get(
        &app,
        "/d/page.html?download=true&cache_ttl=60&auth=true&version=3",
        &[],
    )
    .await;
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"r_sum_ _v2_.html\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.html"
    );
    assert_eq!(h["cache-control"], "public, max-age=60");
    let (_, h, _) = get(&app, "/d/page.html?cache-ttl=5", &[]).await;
    assert_eq!(h["cache-control"], "public, max-age=5");

    // Served because of credentials → private.
    let resp = app
        .client
        .get(app.raw("/d/page.html"))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "private, max-age=3600");

    // HEAD: same headers, no body.
    let resp = app
        .client
        .head(app.raw("/d/page.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-length"], "25");
    assert_eq!(resp.headers()["content-type"], "text/html");
    assert!(resp.bytes().await.unwrap().is_empty());

    // Missing file: a JSON 404 (the default folder is public, so anyone may know).
    let (status, h, body) = get(&app, "/d/nope.html", &[]).await;
    assert_eq!(status, 404);
    assert_eq!(h["content-type"], "application/json");
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"]["code"], "file_not_found");

    // An HTML file is not an image: 415 without decoding (tests/it/images.rs has the rest).
    let resp = app
        .client
        .get(format!(
            "{}/{}/image/d/page.html?w=10",
            app.url, app.account
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["error"]["code"], "unsupported_image");
}
both!(download_headers);

/// Range handling, on a file served from memory and on one streamed from the store.
async fn ranges(b: Backend) {
    for cache in [1024 * 1024, 0] {
        let app = TestApp::spawn_with(
            b,
            Options {
                cache_max_file_size: cache,
                ..Options::default()
            },
        )
        .await;
        app.put("/r.txt", b"0123456789").await;
        let (s, h, body) = get(&app, "/r.txt", &[("range", "bytes=2-4")]).await;
        assert_eq!((s, body.as_slice()), (206, &b"234"[..]));
        assert_eq!(h["content-range"], "bytes 2-4/10");
        assert_eq!(h["content-length"], "3");
        // Suffix and open ranges.
        let (s, h, body) = get(&app, "/r.txt", &[("range", "bytes=-3")]).await;
        assert_eq!((s, body.as_slice()), (206, &b"789"[..]));
        assert_eq!(h["content-range"], "bytes 7-9/10");
        let (s, _, body) = get(&app, "/r.txt", &[("range", "bytes=6-")]).await;
        assert_eq!((s, body.as_slice()), (206, &b"6789"[..]));
        // An end past the file is clamped, as nginx does.
        let (s, h, body) = get(&app, "/r.txt", &[("range", "bytes=8-100")]).await;
        assert_eq!((s, body.as_slice()), (206, &b"89"[..]));
        assert_eq!(h["content-range"], "bytes 8-9/10");
        // Several ranges: the whole file.
        let (s, _, body) = get(&app, "/r.txt", &[("range", "bytes=0-1,5-6")]).await;
        assert_eq!((s, body.as_slice()), (200, &b"0123456789"[..]));
        // Unsatisfiable.
        let (s, h, body) = get(&app, "/r.txt", &[("range", "bytes=10-20")]).await;
        assert_eq!(s, 416);
        assert_eq!(h["content-range"], "bytes */10");
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "range_not_satisfiable");
        // Not a byte range: ignored.
        let (s, _, body) = get(&app, "/r.txt", &[("range", "items=1-2")]).await;
        assert_eq!((s, body.len()), (200, 10));
        // If-Range with the current ETag honours the range; a stale one does not.
        let (_, h, _) = get(&app, "/r.txt", &[]).await;
        let etag = h["etag"].to_str().unwrap().to_string();
        let lm = h["last-modified"].to_str().unwrap().to_string();
        let (s, _, _) = get(
            &app,
            "/r.txt",
            &[("range", "bytes=0-0"), ("if-range", &etag)],
        )
        .await;
        assert_eq!(s, 206);
        let (s, _, _) = get(&app, "/r.txt", &[("range", "bytes=0-0"), ("if-range", &lm)]).await;
        assert_eq!(s, 206);
        let (s, _, body) = get(
            &app,
            "/r.txt",
            &[("range", "bytes=0-0"), ("if-range", "\"stale\"")],
        )
        .await;
        assert_eq!((s, body.len()), (200, 10));
    }
}
both!(ranges);

async fn conditional_requests(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/c.txt", b"conditional").await;
    let (_, h, _) = get(&app, "/c.txt", &[]).await;
    let etag = h["etag"].to_str().unwrap().to_string();
    let lm = h["last-modified"].to_str().unwrap().to_string();

    let (s, h304, body) = get(&app, "/c.txt", &[("if-none-match", &etag)]).await;
    assert_eq!(s, 304);
    assert!(body.is_empty());
    assert_eq!(h304["etag"].to_str().unwrap(), etag);
    let weak = format!("W/{etag}");
    let (s, _, _) = get(
        &app,
        "/c.txt",
        &[("if-none-match", &format!("\"x\", {weak}"))],
    )
    .await;
    assert_eq!(s, 304);
    let (s, _, _) = get(&app, "/c.txt", &[("if-none-match", "*")]).await;
    assert_eq!(s, 304);
    let (s, _, _) = get(&app, "/c.txt", &[("if-none-match", "\"other\"")]).await;
    assert_eq!(s, 200);
    // If-Modified-Since: equal → 304; earlier → 200; ignored when If-None-Match is present.
    let (s, _, _) = get(&app, "/c.txt", &[("if-modified-since", &lm)]).await;
    assert_eq!(s, 304);
    let (s, _, _) = get(
        &app,
        "/c.txt",
        &[("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT")],
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, _) = get(
        &app,
        "/c.txt",
        &[("if-modified-since", &lm), ("if-none-match", "\"other\"")],
    )
    .await;
    assert_eq!(s, 200);
    // After an overwrite the old ETag no longer matches.
    app.put("/c.txt", b"changed").await;
    app.state.files.forget(&app.account, "/c.txt").await;
    let (s, _, body) = get(&app, "/c.txt", &[("if-none-match", &etag)]).await;
    assert_eq!((s, body.as_slice()), (200, &b"changed"[..]));
}
both!(conditional_requests);
