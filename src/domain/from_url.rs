//! Uploads from a URL (SPEC §5.7): `uploads/url` and ImageKit's remote
//! `file`. stowage GETs the URL through `outbound/` (its address rules,
//! checked redirects, a paced body) and streams the answer through the one
//! upload plan: the same permissions, limits, digests, deduplication and
//! commit as any upload. Nothing is kept when anything fails.

use crate::auth::rules::Op;
use crate::auth::Principal;
use crate::domain::ingest::detached;
use crate::domain::plan::{self, Intent, Plan, Prepared, Uploader};
use crate::error::{AppError, AppResult};
use crate::meta::FileRow;
use crate::outbound::fetch::{Fetched, Pace};
use crate::state::AppState;
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `uploads/url`: checks the principal may create in the account and the URL
/// may be fetched, fetches it, then plans the upload with what its headers
/// say (type, name, length) before a byte of its body is read.
pub async fn upload(
    state: &AppState,
    principal: Principal,
    url: &str,
    intent: Intent,
) -> AppResult<FileRow> {
    principal.require_somewhere(&intent.account, Op::Create)?;
    let state = state.clone();
    let url = url.to_string();
    detached(async move {
        let prepared = fetch_and_stage(&state, Uploader::new(principal), &url, intent).await?;
        prepared.commit(&state).await
    })
    .await
}

/// Fetches `url` into a staged blob planned from `intent` (the request's
/// `mime` and `originalFileName` win over the source's headers).
pub async fn fetch_and_stage(
    state: &AppState,
    who: Uploader,
    url: &str,
    mut intent: Intent,
) -> AppResult<Prepared> {
    let url = state.outbound.check(url)?;
    let Fetched {
        mime,
        content_length,
        file_name,
        body,
    } = state.outbound.fetch(url, pace(state)).await?;
    intent.mime = intent.mime.or(mime);
    intent.original_file_name = intent.original_file_name.or(file_name);
    intent.declared_size = content_length;
    let planned: Plan = plan::plan(state, who, intent).await?;
    // The fetch's own error (a timeout, a failure) wins over what the
    // blob writer makes of the cut-short stream.
    let why: Arc<Mutex<Option<AppError>>> = Arc::default();
    let seen = why.clone();
    let body = body.map(move |chunk| {
        chunk.map_err(|e| {
            let text = e.to_string();
            *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            text
        })
    });
    match planned.stream(state, body, None).await {
        Ok(prepared) => Ok(prepared),
        Err(e) => Err(why
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or(e)),
    }
}

/// The pace a source must keep: SPEC §8's, as for bodies clients send.
fn pace(state: &AppState) -> Pace {
    Pace {
        idle: Duration::from_secs(state.config.body_timeout.max(1)),
        min_rate: state.config.body_min_rate,
    }
}
