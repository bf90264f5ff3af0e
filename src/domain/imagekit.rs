//! ImageKit-compatible uploads (SPEC §5.5): `POST /api/v1/files/upload` and
//! `POST /api/v2/files/upload`. Server-side callers authenticate with a secret
//! key (Basic); browsers with a token made by the backend from a signing key:
//! V2 an HS256 JWT binding every form field, V1 an HMAC-SHA1 signature of
//! `token + expire`. Each client token is accepted once, on every node.

mod remote;

use crate::auth::keys;
use crate::auth::rules::Op;
use crate::auth::{Principal, Via};
use crate::domain::forms::{Form, Part};
use crate::domain::from_url;
use crate::domain::ingest::{detached, StagedBlob};
use crate::domain::paths;
use crate::domain::plan::{self, effective_mime, Intent, Uploader};
use crate::error::{AppError, AppResult};
use crate::meta::FileRow;
use crate::state::{AppState, ANONYMOUS_STAGING_LIMIT};
use bytes::Bytes;
use futures::StreamExt;
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

/// The `file` field: bytes staged as they arrived, or a URL to fetch once
/// the form's credentials have been checked.
pub enum FileField {
    Staged(Staged),
    Remote(String),
}

/// Decides whether the file may be stored, and commits it (a remote file is
/// fetched only now, once the token has been checked).
pub async fn finish(
    state: &AppState,
    version: Version,
    principal: &Principal,
    fields: &BTreeMap<String, String>,
    file: &FileField,
) -> AppResult<FileRow> {
    let path = target_path(fields)?;
    let overwrite = truthy(fields, "overwriteFile", true);
    let (account, principal) =
        authorize(state, version, principal, fields, &path, overwrite).await?;
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
    let mut intent = Intent {
        account: account.clone(),
        path: Some(plan::exact(&path)),
        metadata: json!({ "isPrivateFile": truthy(fields, "isPrivateFile", false) }),
        tags,
        no_overwrite: !overwrite,
        ..Intent::default()
    };
    let staged = match file {
        FileField::Remote(url) => {
            let who = Uploader::new(principal);
            let prepared = from_url::fetch_and_stage(state, who, url, intent).await?;
            return prepared.commit(state).await;
        }
        FileField::Staged(staged) => staged,
    };
    intent.original_file_name = staged.original_name.clone();
    // ImageKit guesses a missing type from the stored name.
    intent.mime = Some(effective_mime(staged.content_type.as_deref(), Some(&path))?);
    intent.declared_size = Some(staged.blob.size);
    let planned = plan::plan(state, Uploader::new(principal), intent).await?;
    // Copy the staged object under the account's prefix, then commit.
    let b = &staged.blob;
    let blob = StagedBlob::copy(state, &account, b.key(), b.size, &b.sha256).await?;
    planned.with_blob(blob).commit(state).await
}

/// The account and the principal that uploads: a key's, or one scoped to
/// the path by the form's ImageKit client token.
async fn authorize(
    state: &AppState,
    version: Version,
    principal: &Principal,
    fields: &BTreeMap<String, String>,
    path: &str,
    overwrite: bool,
) -> AppResult<(String, Principal)> {
    if let Some(acc) = &principal.account {
        if !matches!(principal.via, Via::UploadToken { .. }) {
            return Ok((acc.clone(), principal.clone()));
        }
    }
    let account = match version {
        Version::V2 => state.auth.verify_imagekit_v2(fields).await?,
        Version::V1 => state.auth.verify_imagekit_v1(fields).await?,
    };
    // Token uploads may create exactly this path. Overwriting needs a V2
    // token, whose signature covers overwriteFile and the path; V1 signs
    // only token + expire, so a V1 client could otherwise name any
    // existing file.
    let ops = if overwrite && version == Version::V2 {
        vec![Op::Create, Op::Overwrite]
    } else {
        vec![Op::Create]
    };
    let scoped = Principal::scoped(&account, path, ops, Via::ClientToken)?;
    Ok((account, scoped))
}

/// An ImageKit upload form (SPEC §5.5): the `file` part may come before the
/// fields that say where it goes and whether it may (the client token), so
/// it is staged first, and committed only once every field checks out.
pub async fn upload<F: Form>(
    state: &AppState,
    version: Version,
    principal: Principal,
    mut form: F,
) -> AppResult<FileRow> {
    // Before its token is checked, an upload without a key stages at most
    // ANONYMOUS_STAGING_LIMIT bytes, and only a few at a time. An upload token
    // is no key here: these routes take ImageKit's client tokens instead.
    let anonymous = principal.account.is_none() || matches!(principal.via, Via::UploadToken { .. });
    let limit = if anonymous {
        state.config.max_file_size.min(ANONYMOUS_STAGING_LIMIT)
    } else {
        state.config.max_file_size
    };
    // A slot is taken before any body byte is read; when every slot is in use
    // the upload is refused at once (429 `busy`), never queued.
    let slot = match anonymous {
        true => Some(
            state
                .anonymous_staging
                .clone()
                .try_acquire_owned()
                .map_err(|_| AppError::Busy {
                    what: "too many uploads without credentials are in progress".into(),
                    retry_after: 5,
                })?,
        ),
        false => None,
    };
    let state = state.clone();
    detached(async move {
        let _slot = slot;
        let mut fields = BTreeMap::new();
        let mut staged: Option<FileField> = None;
        while let Some(part) = form.next().await? {
            let name = part.name().to_string();
            if name == "file" && staged.is_none() {
                staged = Some(stage_part(&state, part, limit).await?);
            } else {
                fields.insert(name, part.text().await?);
            }
        }
        let staged = staged.ok_or_else(|| {
            AppError::invalid_request("Missing file parameter for upload.", "Send the file field.")
        })?;
        let result = finish(&state, version, &principal, &fields, &staged).await;
        if let FileField::Staged(staged) = staged {
            staged.blob.discard().await;
        }
        result
    })
    .await
}

/// The `file` part: a file input or base64 text (data URLs too), streamed
/// into a staged blob; or an `http(s)://` URL, kept to be fetched later.
async fn stage_part<P: Part>(state: &AppState, part: P, limit: u64) -> AppResult<FileField> {
    let file_name = part.file_name().map(str::to_string);
    if file_name.is_some() {
        let ct = part.content_type();
        let staged = stage(state, part.bytes(), limit, file_name, ct).await?;
        return Ok(FileField::Staged(staged));
    }
    let (head, rest) = remote::peek(part.bytes()).await?;
    if remote::is_url(&head) {
        return Ok(FileField::Remote(remote::whole_url(head, rest).await?));
    }
    let text = futures::stream::once(async move { Ok(head) })
        .chain(rest)
        .boxed();
    let staged = stage(
        state,
        crate::domain::base64::decode_stream(text),
        limit,
        None,
        None,
    )
    .await
    .map_err(|e| match e {
        AppError::UploadIncomplete { message } if message.contains("base64") => {
            AppError::invalid_request(
                "The file field is neither a file, base64 data nor an http(s) URL.",
                "Send the file as a file part, as base64, or as a URL to fetch.",
            )
        }
        other => other,
    })?;
    Ok(FileField::Staged(staged))
}
