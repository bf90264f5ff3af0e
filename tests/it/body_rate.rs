//! SPEC §8/§9: a request body that averages under `STOWAGE_BODY_MIN_RATE`
//! bytes/s once 10 s have passed ends with 408 `body_timeout`, nothing kept;
//! so trickling clients cannot hold the anonymous ImageKit staging slots.

use crate::both;
use crate::common::{Backend, Options, TestApp};
use crate::form_memory::read_response;
use serde_json::Value;
use std::time::{Duration, Instant};
use stowage::state::ANONYMOUS_STAGING_SLOTS;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const FILE_HEAD: &[u8] = b"--XyZ\r\ncontent-disposition: form-data; name=\"file\"; \
    filename=\"a.bin\"\r\ncontent-type: application/octet-stream\r\n\r\n";

/// Sends `head` and `start` at once, then `per_tick` bytes every `tick` up to
/// `total` bytes of body; answers (status, JSON body, seconds taken).
async fn send_paced(
    app: &TestApp,
    head: String,
    start: &[u8],
    per_tick: usize,
    tick: Duration,
    total: usize,
) -> (u16, Value, f64) {
    let addr = app.url.trim_start_matches("http://").to_string();
    let started = Instant::now();
    let (mut r, mut w) = TcpStream::connect(&addr).await.unwrap().into_split();
    let start = start.to_vec();
    let writer = tokio::spawn(async move {
        w.write_all(head.as_bytes()).await?;
        w.write_all(&start).await?;
        let mut sent = start.len();
        while sent < total {
            tokio::time::sleep(tick).await;
            let n = per_tick.min(total - sent);
            w.write_all(&vec![b'z'; n]).await?;
            sent += n;
        }
        std::io::Result::Ok(w)
    });
    let (status, body) = read_response(&mut r, Duration::from_secs(40)).await;
    writer.abort();
    (status, body, started.elapsed().as_secs_f64())
}

fn head(app: &TestApp, path: &str, auth: Option<&str>, form: bool, len: usize) -> String {
    let host = app.url.trim_start_matches("http://");
    let auth = auth.map_or(String::new(), |k| format!("authorization: Bearer {k}\r\n"));
    let ct = if form {
        "multipart/form-data; boundary=XyZ"
    } else {
        "application/octet-stream"
    };
    format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\n{auth}content-type: {ct}\r\n\
         content-length: {len}\r\n\r\n"
    )
}

/// 100 bytes/s (10 every 100 ms) of a form's file part, 100 000 bytes declared.
async fn trickle(app: &TestApp, path: &str, auth: Option<&str>) -> (u16, Value, f64) {
    let h = head(app, path, auth, true, 100_000);
    send_paced(app, h, FILE_HEAD, 10, Duration::from_millis(100), 100_000).await
}

async fn trickles_end_with_408(b: Backend) {
    let app = TestApp::spawn(b).await;
    let imagekit = "/api/v2/files/upload";
    let form_data = format!(
        "/v2/accounts/{}/uploads/form_data?filePath=/slow/f.bin",
        app.account
    );
    let binary = format!(
        "/v2/accounts/{}/uploads/binary?filePath=/slow/steady.bin",
        app.account
    );
    // Eight anonymous ImageKit uploads take every staging slot and trickle.
    let slots = futures::future::join_all(
        (0..ANONYMOUS_STAGING_SLOTS).map(|_| trickle(&app, imagekit, None)),
    );
    let keyed = trickle(&app, &form_data, Some(&app.secret));
    // 3 KiB/s for 12 s: slow, but above the 1024 bytes/s default.
    let steady_len = 36 * 1024;
    let steady = send_paced(
        &app,
        head(&app, &binary, Some(&app.secret), false, steady_len),
        b"",
        768,
        Duration::from_millis(250),
        steady_len,
    );
    // With STOWAGE_BODY_MIN_RATE=0, a trickle is only held to the idle timeout.
    let unbounded = TestApp::spawn_with(
        b,
        Options {
            body_min_rate: 0,
            ..Options::default()
        },
    )
    .await;
    let path = format!(
        "/v2/accounts/{}/uploads/binary?filePath=/slow/trickle.bin",
        unbounded.account
    );
    let h = head(&unbounded, &path, Some(&unbounded.secret), false, 1200);
    let trickle_ok = send_paced(&unbounded, h, b"", 10, Duration::from_millis(100), 1200);
    // While they trickle, a ninth anonymous upload finds no slot.
    let ninth = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let body = [FILE_HEAD, b"x\r\n--XyZ--\r\n"].concat();
        let h = head(&app, imagekit, None, true, body.len());
        send_paced(&app, h, &body, 0, Duration::ZERO, body.len()).await
    };
    let (slots, keyed, steady, ninth, trickle_ok) =
        tokio::join!(slots, keyed, steady, ninth, trickle_ok);

    assert_eq!(ninth.0, 429, "{:?}", ninth.1);
    for (status, body, secs) in slots {
        assert_eq!(status, 408, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("bytes/s"), "{body}");
        assert!(
            body["help"]
                .as_str()
                .unwrap()
                .contains("STOWAGE_BODY_MIN_RATE"),
            "{body}"
        );
        assert!((9.5..25.0).contains(&secs), "408 after {secs} s");
    }
    let (status, body, secs) = keyed;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (408, Some("body_timeout")),
        "{body}"
    );
    assert_eq!(
        body["error"]["details"]["setting"], "STOWAGE_BODY_MIN_RATE",
        "{body}"
    );
    assert_eq!(body["error"]["details"]["minRate"], 1024, "{body}");
    assert!((9.5..25.0).contains(&secs), "408 after {secs} s");
    let (status, body, secs) = steady;
    assert_eq!(status, 200, "{body} after {secs} s");
    assert!(secs > 11.0, "{secs}");
    assert_eq!(
        app.get_bytes("/slow/steady.bin").await.1,
        vec![b'z'; steady_len]
    );
    let (status, body, secs) = trickle_ok;
    assert_eq!(status, 200, "{body} after {secs} s");
    assert!(secs > 11.0, "{secs}");
    assert_eq!(
        unbounded.get_bytes("/slow/trickle.bin").await.1,
        vec![b'z'; 1200]
    );

    // Nothing of the trickles was kept, and every slot is free again.
    assert_eq!(app.get_bytes("/slow/f.bin").await.0, 404);
    assert_eq!(
        app.blob_keys().await.len(),
        1,
        "{:?}",
        app.blob_keys().await
    );
    assert!(app.state.blobs.list("imagekit").await.unwrap().is_empty());
    assert!(app
        .state
        .meta
        .gc_due(i64::MAX, 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        app.state.anonymous_staging.available_permits(),
        ANONYMOUS_STAGING_SLOTS
    );
}
both!(trickles_end_with_408);
