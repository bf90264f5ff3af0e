//! Issue #28: cached transformation results are capped per source (the
//! oldest go), so a sweep over `?w=1…N` cannot grow the store without bound.

use crate::both;
use crate::common::{Backend, TestApp};
use crate::images::{image_url, jpeg};
use stowage::meta::MAX_DERIVED_PER_SOURCE;

async fn a_width_sweep_keeps_at_most_the_cap(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/sweep.jpg", &jpeg(64, 48)).await;
    let n = MAX_DERIVED_PER_SOURCE as usize + 6;
    for w in 1..=n {
        let url = image_url(&app, "image", &format!("/sweep.jpg?w={w}&f=png"));
        let resp = app
            .client
            .get(url)
            .bearer_auth(&app.secret)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "w={w}");
    }
    let rows = app.state.meta.list_derived(&app.account).await.unwrap();
    assert_eq!(rows.len(), MAX_DERIVED_PER_SOURCE as usize, "capped");
    // The evicted results' objects are queued for deletion.
    let queued = app.state.meta.gc_due(i64::MAX, 100).await.unwrap();
    let derived_queued = queued.iter().filter(|k| k.contains("/derived/")).count();
    assert_eq!(derived_queued, 6, "{queued:?}");
    // Every width still renders (re-rendered when evicted).
    let url = image_url(&app, "image", "/sweep.jpg?w=1&f=png");
    let resp = app
        .client
        .get(url)
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
both!(a_width_sweep_keeps_at_most_the_cap);
