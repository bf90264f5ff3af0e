//! SPEC §12 rate limits: a bucket per principal whose burst is the figure,
//! then 429 `rate_limited` with `Retry-After`; the `RateLimit-Policy` and
//! `RateLimit` header fields; keys kept apart; uncached transformations
//! only; anonymous requests per client IP, `X-Forwarded-For` believed only
//! from trusted proxies.

use crate::both;
use crate::common::{Backend, Options, TestApp};
use crate::images::jpeg;
use serde_json::Value;
use stowage::auth::keys::KeyType;

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn uploads_burst_then_refuse(b: Backend) {
    let opts = Options {
        rate_uploads: 3,
        ..Options::default()
    };
    let app = TestApp::spawn_with(b, opts).await;
    for left in [2, 1, 0] {
        let resp = app
            .upload(&app.secret, &format!("/r{left}.txt"), b"x".to_vec())
            .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "ratelimit-policy"), "\"uploads\";q=3;w=60");
        let state = header(&resp, "ratelimit");
        assert!(
            state.starts_with(&format!("\"uploads\";r={left};t=")),
            "{state}"
        );
    }
    let resp = app.upload(&app.secret, "/over.txt", b"x".to_vec()).await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = header(&resp, "retry-after").parse().unwrap();
    assert!((1..=20).contains(&retry), "one token every 20 s: {retry}");
    assert_eq!(header(&resp, "ratelimit-policy"), "\"uploads\";q=3;w=60");
    assert_eq!(
        header(&resp, "ratelimit"),
        format!("\"uploads\";r=0;t={retry}")
    );
    let e = resp.json::<Value>().await.unwrap()["error"].clone();
    assert_eq!(e["code"], "rate_limited");
    assert_eq!(e["details"]["policy"], "uploads");
    assert_eq!(app.get_bytes("/over.txt").await.0, 404, "nothing stored");
    // Another key has its own bucket; reads are not uploads.
    let other = app.key(KeyType::Secret, &[]).await;
    let resp = app.upload(&other, "/other.txt", b"y".to_vec()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "ratelimit"), format!("\"uploads\";r=2;t=20"));
    let resp = app.client.get(app.raw("/r2.txt")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "ratelimit"), "", "not a limited response");
}
both!(uploads_burst_then_refuse);

async fn only_uncached_transformations_count(b: Backend) {
    let opts = Options {
        rate_transforms: 2,
        ..Options::default()
    };
    let app = TestApp::spawn_with(b, opts).await;
    app.put("/p.jpg", &jpeg(64, 32)).await;
    let get = |w: u32| {
        let app = &app;
        async move {
            let url = format!("{}/{}/image/p.jpg?w={w}", app.url, app.account);
            app.client.get(url).send().await.unwrap()
        }
    };
    for (w, left) in [(10, 1), (20, 0)] {
        let resp = get(w).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "ratelimit-policy"), "\"transforms\";q=2;w=60");
        assert!(header(&resp, "ratelimit").contains(&format!(";r={left};")));
    }
    let resp = get(30).await;
    assert_eq!(resp.status(), 429);
    assert!(!header(&resp, "retry-after").is_empty());
    let e = resp.json::<Value>().await.unwrap()["error"].clone();
    assert_eq!(
        (e["code"].as_str(), e["details"]["policy"].as_str()),
        (Some("rate_limited"), Some("transforms"))
    );
    // A cached result is served whatever the bucket holds.
    let resp = get(10).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "ratelimit"), "");
}
both!(only_uncached_transformations_count);

async fn anonymous_requests_per_client_ip(b: Backend) {
    let opts = Options {
        rate_anonymous: 2,
        ..Options::default()
    };
    let app = TestApp::spawn_with(b, opts).await;
    let health = |xff: Option<&'static str>| {
        let app = &app;
        async move {
            let mut req = app.client.get(format!("{}/healthz", app.url));
            if let Some(xff) = xff {
                req = req.header("x-forwarded-for", xff);
            }
            req.send().await.unwrap()
        }
    };
    assert_eq!(health(None).await.status(), 200);
    let resp = health(Some("1.2.3.4")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "ratelimit-policy"), "\"anonymous\";q=2;w=1");
    // X-Forwarded-For from an untrusted peer is ignored: the same bucket.
    let resp = health(Some("5.6.7.8")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "retry-after"), "1");
    assert_eq!(header(&resp, "ratelimit"), "\"anonymous\";r=0;t=1");
    // A request with credentials is not anonymous.
    let resp = app
        .client
        .get(app.api("/usage"))
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
both!(anonymous_requests_per_client_ip);

async fn forwarded_for_from_trusted_proxies(b: Backend) {
    let opts = Options {
        rate_anonymous: 1,
        trusted_proxies: "127.0.0.1/32, 10.0.0.0/8".into(),
        ..Options::default()
    };
    let app = TestApp::spawn_with(b, opts).await;
    let health = |xff: &'static str| {
        let app = &app;
        async move {
            let url = format!("{}/healthz", app.url);
            let resp = app
                .client
                .get(url)
                .header("x-forwarded-for", xff)
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }
    };
    // The peer (127.0.0.1) is trusted: the right-most untrusted address counts.
    assert_eq!(health("1.1.1.1").await, 200);
    assert_eq!(
        health("9.9.9.9, 1.1.1.1").await,
        429,
        "the client is 1.1.1.1"
    );
    assert_eq!(health("1.1.1.1, 2.2.2.2, 10.0.0.1").await, 200, "2.2.2.2");
    assert_eq!(health("3.3.3.3").await, 200);
    assert_eq!(health("3.3.3.3").await, 429);
}
both!(forwarded_for_from_trusted_proxies);
