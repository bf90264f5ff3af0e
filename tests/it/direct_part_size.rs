//! Direct-to-S3 part URLs sign the part's exact `Content-Length`: a store
//! that checks signatures (S3, Garage) refuses a body of any other size. Runs
//! on an `s3://` STOWAGE_TEST_STORAGE_URL; moto does not check signatures, so
//! the refusals are asserted only with STOWAGE_TEST_S3_CHECKS_SIGNATURES=1
//! (the unit test `blobs::direct::tests` checks the signature itself).

use crate::both;
use crate::common::{Backend, Options, TestApp};
use serde_json::{json, Value};

fn on_s3() -> bool {
    std::env::var("STOWAGE_TEST_STORAGE_URL").is_ok_and(|u| u.starts_with("s3://"))
}

fn store_checks_signatures() -> bool {
    std::env::var("STOWAGE_TEST_S3_CHECKS_SIGNATURES").is_ok_and(|v| v == "1")
}

/// The store's status; 0 when it closed the connection instead (a store may
/// answer a refused body early and hang up while it is still being sent).
async fn put(app: &TestApp, url: &str, len: usize) -> u16 {
    match app.client.put(url).body(vec![5u8; len]).send().await {
        Ok(resp) => resp.status().as_u16(),
        Err(_) => 0,
    }
}

async fn part_urls_take_only_the_parts_size(b: Backend) {
    if !on_s3() {
        return;
    }
    let opts = Options {
        direct_parts: true,
        ..Options::default()
    };
    let app = TestApp::spawn_with(b, opts).await;
    let size = 5 * 1024 * 1024 + 300;
    let started: Value = app
        .client
        .post(app.api("/uploads"))
        .bearer_auth(&app.secret)
        .json(&json!({"size": size, "protocol": "1.1", "path": "/direct/sized.bin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = started["uploadParts"]["first"]["uploadUrl"]
        .as_str()
        .unwrap();
    let url = url::Url::parse(first).unwrap();
    let signed = url
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-SignedHeaders")
        .map(|(_, v)| v.into_owned());
    assert_eq!(signed.as_deref(), Some("content-length;host"), "{first}");
    // The part's size is the range the server gave (8 MiB parts: this
    // upload is one part of 5 MiB + 300 bytes).
    let range = &started["uploadParts"]["first"]["range"];
    let part = (range["inclusiveEnd"].as_i64().unwrap() - range["inclusiveStart"].as_i64().unwrap()
        + 1) as usize;
    assert_eq!(part, size, "{range}");
    if store_checks_signatures() {
        // 403 (signature), or 400 / a closed connection (Garage refuses an
        // empty body before it checks the signature): never stored.
        for (len, what) in [
            (part + 1, "one byte more"),
            (part - 1, "one byte less"),
            (0, "empty"),
        ] {
            let status = put(&app, first, len).await;
            assert!([0, 400, 403].contains(&status), "{what}: {status}");
        }
    }
    assert_eq!(put(&app, first, part).await, 200, "the exact size");
}
both!(part_urls_take_only_the_parts_size);
