//! Cleartext HTTP/2 (h2c, prior knowledge): one connection carries at most
//! `server::H2_MAX_STREAMS` requests at once, so the connection cap
//! (`STOWAGE_MAX_CONNECTIONS`) bounds requests in flight on HTTP/2 too.

use crate::common::{Backend, TestApp};
use bytes::Bytes;
use futures::StreamExt;
use std::time::Duration;
use stowage::server::H2_MAX_STREAMS;

/// An upload body that sends one byte, then waits for `release`.
fn held_body(mut release: tokio::sync::watch::Receiver<bool>) -> reqwest::Body {
    let first = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"x"))]);
    let rest = futures::stream::once(async move {
        let _ = release.wait_for(|go| *go).await;
        Ok(Bytes::new())
    });
    reqwest::Body::wrap_stream(first.chain(rest))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_h2_connection_serves_at_most_the_stream_limit_at_once() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let healthz = format!("{}/healthz", app.url);
    // Open the one connection first.
    let resp = h2.get(&healthz).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);

    // H2_MAX_STREAMS uploads in flight on it, each waiting for its body.
    let (release, held) = tokio::sync::watch::channel(false);
    let n = H2_MAX_STREAMS as usize;
    let uploads: Vec<_> = (0..n)
        .map(|i| {
            let req = h2
                .post(app.api("/uploads/binary"))
                .query(&[("filePath", format!("/h2/{i}.txt"))])
                .bearer_auth(&app.secret)
                .header("content-type", "application/octet-stream")
                .body(held_body(held.clone()));
            tokio::spawn(req.send())
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // One more request on the same connection is not served while they are.
    let probe = tokio::spawn(h2.get(&healthz).send());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !probe.is_finished(),
        "request {} on one HTTP/2 connection was served at once",
        n + 1
    );

    // Once the uploads finish, it is, and every upload was served whole.
    release.send(true).unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), probe)
        .await
        .expect("served once streams are free")
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 200);
    for (i, upload) in uploads.into_iter().enumerate() {
        let resp = upload.await.unwrap().unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        let (status, bytes) = app.get_bytes(&format!("/h2/{i}.txt")).await;
        assert_eq!(status, 200);
        assert_eq!(bytes, b"x");
    }
}
