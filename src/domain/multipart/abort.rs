//! AbortMultipartUpload (SPEC §5.3 step 7): the session's principal ends an
//! open upload and its bytes are removed at once — the part objects, or the
//! in-place object with its store-side multipart upload. The session moves
//! from `open` to `aborting` in one conditional update, so a completion that
//! claimed it first wins (the abort is refused) and one that comes later
//! finds it no longer open; part writes in flight in this process end before
//! the bytes go, and later ones are refused.

use super::in_place::SessionLocks;
use super::session;
use crate::auth::Principal;
use crate::domain::ingest::discard;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// `DELETE /v2/accounts/{acc}/uploads/{id}`: another principal's or an
/// unknown session → 404 (as for every session route).
pub async fn abort(
    state: &AppState,
    principal: &Principal,
    account: &str,
    id: &str,
) -> AppResult<()> {
    let (s, _) = session(state, principal, account, id).await?;
    if !state.meta.abort_upload(id).await? {
        let now = state.meta.get_upload(account, id).await?;
        return match now.map(|n| n.status) {
            // Another abort of the same session is removing it.
            Some(status) if status == "aborting" => Ok(()),
            None => Err(AppError::NotFound {
                what: format!("Upload {id}"),
            }),
            Some(_) => Err(AppError::invalid_request(
                "This upload is completing: every part is confirmed, so it can no longer be aborted.",
                "Delete the file once the upload has completed, if it is not wanted.",
            )),
        };
    }
    SessionLocks::quiesce(id).await;
    remove_bytes(state, &s.account_id, id, s.blob_key.as_deref()).await?;
    state.meta.delete_upload(id).await?;
    SessionLocks::forget(id);
    Ok(())
}

/// Removes every byte stored for session `id` (abort, and the sweeper for
/// expired sessions).
pub(super) async fn remove_bytes(
    state: &AppState,
    account: &str,
    id: &str,
    in_place_key: Option<&str>,
) -> AppResult<()> {
    match in_place_key {
        // The in-place object: its store-side upload is aborted too.
        Some(key) => {
            crate::domain::sweeper::abort_and_delete(state, key).await?;
            state.meta.gc_remove(key).await?;
        }
        None => {
            let prefix = format!("{account}/uploads/{id}");
            for key in state.blobs.list(&prefix).await? {
                discard(state, &key).await;
            }
        }
    }
    Ok(())
}
