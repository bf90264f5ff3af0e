//! ImageKit-compatible uploads (SPEC §5.5): `POST /api/v1/files/upload` and
//! `POST /api/v2/files/upload`. Server-side callers authenticate with a secret
//! key (Basic); browsers with a token made by the backend from a signing key:
//! V2 an HS256 JWT binding every form field, V1 an HMAC-SHA1 signature of
//! `token + expire`. Each client token is accepted once, on every node.

use crate::auth::keys;
use crate::auth::rules::Op;
use crate::auth::{Need, Principal, Via};
use crate::domain::ingest::{self, NewFile, StagedBlob};
use crate::domain::paths;
use crate::domain::uploads::{self, effective_mime};
use crate::error::{AppError, AppResult};
use crate::meta::FileRow;
use crate::state::AppState;
use bytes::Bytes;
use serde_json::json;
use std::collections::BTreeMap;

/// Which route: the token scheme differs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Version {
    V1,
    V2,
}

/// A file already streamed into a fresh blob (GC-registered), waiting for the
/// rest of the form to say whether it may be committed.
pub struct Staged {
    pub blob: StagedBlob,
    pub original_name: Option<String>,
    pub content_type: Option<String>,
}

/// Streams the `file` part into a new blob under `limit` bytes.
pub async fn stage<S, E>(
    state: &AppState,
    body: S,
    limit: u64,
    original_name: Option<String>,
    content_type: Option<String>,
) -> AppResult<Staged>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    Ok(Staged {
        blob: StagedBlob::stream(state, "imagekit", body, limit).await?,
        original_name,
        content_type,
    })
}

fn bad(message: impl Into<String>, help: impl Into<String>) -> AppError {
    AppError::invalid_request(message, help)
}

fn truthy(fields: &BTreeMap<String, String>, name: &str, default: bool) -> bool {
    match fields.get(name).map(|s| s.trim().to_ascii_lowercase()) {
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        _ => default,
    }
}

/// The stored path: `folder` + `fileName`, with ImageKit's random suffix
/// (`name_<random>.ext`) unless `useUniqueFileName` is `false`.
fn target_path(fields: &BTreeMap<String, String>) -> AppResult<String> {
    let name = fields
        .get("fileName")
        .map(|s| paths::clean_original_name(s))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            bad(
                "Missing fileName parameter for upload.",
                "Send the fileName field.",
            )
        })?;
    let name = if truthy(fields, "useUniqueFileName", true) {
        let (stem, ext) = match name.rfind('.') {
            Some(i) if i > 0 => (&name[..i], &name[i..]),
            _ => (name.as_str(), ""),
        };
        format!("{stem}_{}{ext}", keys::random_base58(9))
    } else {
        name
    };
    let folder = fields.get("folder").map(String::as_str).unwrap_or("/");
    let folder = format!("/{}", folder.trim_matches('/'));
    let path = if folder == "/" {
        format!("/{name}")
    } else {
        format!("{folder}/{name}")
    };
    paths::validate_file_path(&path)?;
    Ok(path)
}

/// Decides whether the staged file may be stored, and commits it.
pub async fn finish(
    state: &AppState,
    version: Version,
    principal: &Principal,
    fields: &BTreeMap<String, String>,
    staged: &Staged,
) -> AppResult<FileRow> {
    let path = target_path(fields)?;
    let overwrite = truthy(fields, "overwriteFile", true);
    let (account, principal) = match &principal.account {
        Some(acc) if !matches!(principal.via, Via::UploadToken { .. }) => {
            (acc.clone(), principal.clone())
        }
        _ => {
            let account = match version {
                Version::V2 => state.auth.verify_imagekit_v2(fields).await?,
                Version::V1 => state.auth.verify_imagekit_v1(fields).await?,
            };
            // Token uploads may create exactly this path. Overwriting needs a
            // V2 token, whose signature covers overwriteFile and the path; V1
            // signs only token + expire, so a V1 client could otherwise name
            // any existing file.
            let ops = if overwrite && version == Version::V2 {
                vec![Op::Create, Op::Overwrite]
            } else {
                vec![Op::Create]
            };
            let scoped = Principal::scoped(&account, &path, ops, Via::ClientToken)?;
            (account, scoped)
        }
    };
    principal.require(&account, Need::create(&path))?;
    let acc = uploads::account(state, &account).await?;
    let limits = uploads::limits(state, &acc);
    limits.check_declared(Some(staged.blob.size))?;
    let mime = effective_mime(staged.content_type.as_deref(), Some(&path))?;
    uploads::check_mime(limits.allowed_mime.as_deref(), &mime)?;
    let tags: Vec<String> = fields
        .get("tags")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    // Copy the staged object under the account's prefix, then commit.
    let b = &staged.blob;
    let blob = StagedBlob::copy(state, &account, b.key(), b.size, &b.sha256).await?;
    let file = NewFile {
        account,
        path,
        fallback: None,
        mime,
        original_file_name: staged.original_name.clone(),
        metadata: json!({ "isPrivateFile": truthy(fields, "isPrivateFile", false) }),
        tags,
        allow_overwrite: overwrite,
    };
    ingest::commit(state, &principal, file, blob).await
}
