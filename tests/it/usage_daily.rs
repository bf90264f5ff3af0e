//! SPEC §7, stowage's own: `GET …/usage/daily` (uploads, bytes in and out,
//! transformations, requests), counted in memory and flushed.

use crate::both;
use crate::common::{Backend, TestApp};
use serde_json::Value;

async fn daily(app: &TestApp, key: &str, days: &str) -> (u16, Value) {
    let resp = app
        .client
        .get(app.api("/usage/daily"))
        .query(&[("days", days)])
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn counts_a_day_of_activity(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, v) = daily(&app, &app.secret, "3").await;
    assert_eq!(s, 200, "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(items[2]["date"], today.as_str());
    assert_eq!(items[0]["uploads"], 0);
    let requests_before = items[2]["requests"].as_i64().unwrap();
    app.put("/d/a.bin", b"0123456789").await;
    app.put("/d/b.bin", b"01234").await;
    assert_eq!(app.get_bytes("/d/a.bin").await.1.len(), 10);
    assert_eq!(app.get_bytes("/d/b.bin").await.1.len(), 5);
    let png = crate::images::jpeg(20, 10);
    app.put("/d/p.jpg", &png).await;
    let url = format!("{}/{}/image/d/p.jpg?w=10", app.url, app.account);
    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let transformed = resp.bytes().await.unwrap().len() as i64;
    let (_, v) = daily(&app, &app.secret, "1").await;
    let day = &v["items"][0];
    assert_eq!(day["date"], today.as_str());
    assert_eq!(day["uploads"], 3, "{v}");
    assert_eq!(day["bytesIn"], 15 + png.len() as i64, "{v}");
    assert_eq!(day["bytesOut"], 15 + transformed, "{v}");
    assert_eq!(day["transformations"], 1, "{v}");
    // Five uploads and downloads, one render and the previous read.
    assert!(
        day["requests"].as_i64().unwrap() >= requests_before + 7,
        "{v}"
    );
    let (s, v) = daily(&app, &app.secret, "0").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let (s, _) = daily(&app, &app.public, "30").await;
    assert_eq!(s, 403);
}
both!(counts_a_day_of_activity);
