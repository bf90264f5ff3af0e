//! SPEC §7 / issue #33: versions are listed in commit order, so after any
//! number of concurrent overwrites `versions[0]` is what `raw` serves.

use crate::both;
use crate::common::{sha256_hex, Backend, TestApp};
use serde_json::Value;

async fn versions(app: &TestApp, path: &str) -> Vec<Value> {
    let v: Value = app
        .client
        .get(app.api("/files/versions"))
        .query(&[("filePath", path)])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["versions"].as_array().unwrap().clone()
}

async fn concurrent_overwrites_list_the_served_version_first(b: Backend) {
    let app = TestApp::spawn(b).await;
    for round in 0..3 {
        let uploads = (0..20).map(|i| {
            let app = &app;
            async move {
                app.put("/race.txt", format!("round {round} body {i}").as_bytes())
                    .await
            }
        });
        for up in futures::future::join_all(uploads).await {
            assert!(up["etag"].is_string(), "{up}");
        }
        let (status, served) = app.get_bytes("/race.txt").await;
        assert_eq!(status, 200);
        let list = versions(&app, "/race.txt").await;
        assert_eq!(list.len(), 20 * (round + 1), "every version kept");
        assert_eq!(
            list[0]["etag"].as_str().unwrap(),
            sha256_hex(&served),
            "round {round}: versions[0] is not the file served ({:?})",
            String::from_utf8_lossy(&served)
        );
        let times: Vec<i64> = list
            .iter()
            .map(|v| v["lastModified"].as_i64().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] > w[1]),
            "strictly newest first: {times:?}"
        );
    }
}
both!(concurrent_overwrites_list_the_served_version_first);
