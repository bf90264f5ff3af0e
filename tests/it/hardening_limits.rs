//! SPEC §8's bounded work on the routes the first pass missed (issue #25):
//! a text field over 64 KiB on form_data is refused (not skipped), a form
//! refused for its parts keeps nothing, and metadata over 64 KiB is refused
//! at multipart begin and tus creation like everywhere else.

use crate::both;
use crate::common::{Backend, TestApp};
use base64::Engine;
use serde_json::{json, Value};

async fn form(app: &TestApp, body: String) -> (u16, Value) {
    let resp = app
        .client
        .post(app.api("/uploads/form_data"))
        .bearer_auth(&app.secret)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn file_part(i: usize) -> String {
    format!(
        "--XyZ\r\ncontent-disposition: form-data; name=\"f{i}\"; filename=\"f{i}.txt\"\r\n\
         content-type: text/plain\r\n\r\nsame bytes\r\n"
    )
}

async fn big_text_field_is_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let body = format!(
        "{}--XyZ\r\ncontent-disposition: form-data; name=\"note\"\r\n\r\n{}\r\n--XyZ--\r\n",
        file_part(0),
        "n".repeat(70_000)
    );
    let (status, v) = form(&app, body).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["error"]["code"], "field_too_large", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("note"),
        "{v}"
    );
    assert!(app.blob_keys().await.is_empty(), "nothing of it is kept");
    assert_eq!(app.get_bytes("/uploads/f0.txt").await.0, 404);
}
both!(big_text_field_is_refused);

async fn too_many_parts_keep_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut body: String = (0..1001).map(file_part).collect();
    body.push_str("--XyZ--\r\n");
    let (status, v) = form(&app, body).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["error"]["code"], "too_many_parts", "{v}");
    // Deleted before the answer was sent: no object, no file.
    assert!(
        app.blob_keys().await.is_empty(),
        "{:?}",
        app.blob_keys().await
    );
    let listed: Value = app
        .client
        .get(app.api("/folders/list"))
        .query(&[("folderPath", "/"), ("recursive", "true")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]), "{listed}");
}
both!(too_many_parts_keep_nothing);

async fn metadata_is_bounded_at_begin_and_creation(b: Backend) {
    let app = TestApp::spawn(b).await;
    let huge = "x".repeat(1 << 20);
    for body in [
        json!({ "size": 10, "protocol": "1.1", "metadata": { "a": huge } }),
        json!({ "size": 10, "protocol": "1.1", "tags": vec![huge.clone()] }),
    ] {
        let resp = app
            .client
            .post(app.api("/uploads"))
            .bearer_auth(&app.secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "field_too_large", "{v}");
        assert!(
            v.to_string().len() < 4096,
            "the metadata is not echoed back"
        );
    }
    // tus: a metadata value that makes Upload-Metadata pass 64 KiB.
    let b64 = base64::engine::general_purpose::STANDARD;
    let meta = format!("{{\"a\":\"{}\"}}", "y".repeat(60_000));
    let resp = app
        .client
        .post(app.api("/tus"))
        .bearer_auth(&app.secret)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .header("upload-metadata", format!("metadata {}", b64.encode(meta)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(app.blob_keys().await.is_empty());
}
both!(metadata_is_bounded_at_begin_and_creation);
