//! The one upload plan (SPEC §5). Every route that writes a file — binary,
//! form_data, `POST /`, ImageKit, multipart begin, tus creation, copy — says
//! what it wants as an [`Intent`], and [`plan`] decides it, once, in one
//! order: the upload token (checked, then spent), the path (resolved,
//! validated, an upload token's exact path), `create` permission, metadata
//! and tag sizes, the account's upload hook (SPEC §11: it may refuse, or set
//! the path, metadata and tags, checked again), the account's limits (declared size, MIME type), then
//! overwrite or fallback (409 now rather than after the bytes), then the
//! account's quotas (SPEC §12: a new file at `maxFiles`, a declared size past
//! `maxStorageBytes`; the commit checks them again, exactly).
//!
//! The [`Plan`] it returns is the file to be written ([`NewFile`], the one
//! description every protocol keeps: sessions store it as JSON), the byte
//! limit, and the principal that commits it. A route then either streams
//! bytes into it ([`Plan::stream`]), or hands it a blob it already has
//! ([`Plan::with_blob`]: ImageKit's staged file, a copy's shared one), and
//! [`Prepared::commit`] makes the file visible (`ingest::commit`).

use crate::auth::{Need, Principal, Via};
use crate::blobs::digest::Expected;
use crate::domain::ingest::{self, NewFile, StagedBlob};
use crate::domain::paths::{self, PathContext, PathSpec};
use crate::domain::quotas;
use crate::domain::upload_hook;
use crate::error::{AppError, AppResult};
use crate::meta::{now_ms, Account, FileRow, UploadTokenRow};
use crate::state::AppState;
use bytes::Bytes;
use futures::Stream;
use serde_json::Value;

/// The largest metadata object or tag list an upload may carry (SPEC §8).
pub const MAX_METADATA: usize = 64 * 1024;

/// What a route asks to write, before anything is decided.
#[derive(Clone, Debug, Default)]
pub struct Intent {
    pub account: String,
    /// The requested path; None: an upload token's own path, else the
    /// default folder and name (SPEC §5.1).
    pub path: Option<PathSpec>,
    pub original_file_name: Option<String>,
    /// The client's Content-Type, if it sent a meaningful one.
    pub mime: Option<String>,
    /// A size known before the bytes (`Content-Length`, a declared size).
    pub declared_size: Option<u64>,
    pub metadata: Value,
    pub tags: Vec<String>,
    /// The upload must never replace an existing file (ImageKit
    /// `overwriteFile=false`).
    pub no_overwrite: bool,
    /// The path is fixed before the bytes arrive (multipart, tus), so it
    /// cannot name the file by its hash.
    pub path_before_bytes: bool,
}

/// Who uploads: the request's principal, and the upload token it carries.
pub struct Uploader {
    principal: Principal,
    token: Option<UploadTokenRow>,
    /// Whether `token` is already spent (and `principal` scoped to it).
    spent: bool,
}

impl Uploader {
    /// The request's principal; an upload token is spent by [`plan`], once
    /// everything that can fail without spending it has been checked.
    pub fn new(principal: Principal) -> Uploader {
        Uploader {
            principal,
            token: None,
            spent: false,
        }
    }

    /// Spends the principal's upload token now (a form names its path only
    /// in its body, and a token is spent when its upload starts: SPEC §5.4).
    pub async fn spend_now(state: &AppState, principal: Principal) -> AppResult<Uploader> {
        if !matches!(principal.via, Via::UploadToken { .. }) {
            return Ok(Uploader::new(principal));
        }
        let (row, scoped) = state.auth.spend_upload_token(&principal).await?;
        Ok(Uploader {
            principal: scoped,
            token: Some(row),
            spent: true,
        })
    }

    /// The account an upload of this principal goes to, if it names one.
    pub fn account(&self) -> Option<&str> {
        self.token
            .as_ref()
            .map(|t| t.account_id.as_str())
            .or(self.principal.account.as_deref())
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The token's row (loaded, and checked usable, if not spent yet).
    async fn token(&mut self, state: &AppState) -> AppResult<Option<&UploadTokenRow>> {
        if let (None, Via::UploadToken { token_hash }) = (&self.token, &self.principal.via) {
            let row = state.meta.get_upload_token(token_hash).await?;
            self.token = Some(crate::auth::tokens::usable(row, now_ms())?);
        }
        Ok(self.token.as_ref())
    }

    async fn spend(&mut self, state: &AppState) -> AppResult<()> {
        if self.token.is_some() && !self.spent {
            let (row, scoped) = state.auth.spend_upload_token(&self.principal).await?;
            (self.token, self.principal, self.spent) = (Some(row), scoped, true);
        }
        Ok(())
    }
}

/// A decided upload: the file it becomes, its byte limit, who commits it.
#[derive(Debug)]
pub struct Plan {
    pub file: NewFile,
    /// The most bytes the upload may have.
    pub limit: u64,
    pub declared_size: Option<u64>,
    pub principal: Principal,
}

/// Decides an upload (see the module documentation for the order).
pub async fn plan(state: &AppState, mut who: Uploader, intent: Intent) -> AppResult<Plan> {
    let token = who.token(state).await?.cloned();
    let spec = match (&intent.path, &token) {
        (Some(spec), _) => spec.clone(),
        (None, Some(t)) => exact(&t.path),
        (None, None) => PathSpec::default(),
    };
    let resolved = resolve(&spec, &intent)?;
    if let Some(t) = token.as_ref().filter(|t| t.path != resolved.path) {
        return Err(AppError::PathMismatch {
            expected: t.path.clone(),
            got: resolved.path,
        });
    }
    // Not for `stowage import`: with the default 600 a minute it failed most
    // of a 10 000-file import.
    let limited = !who.principal.is_operator();
    if let Some(uploads) = state.rates.uploads.as_ref().filter(|_| limited) {
        uploads.check(&crate::ratelimit::key_of(who.principal.owner()))?;
    }
    who.spend(state).await?;
    let principal = who.principal;
    principal.require(&intent.account, Need::create(&resolved.path))?;
    bounded_metadata(&intent.metadata, &intent.tags)?;
    let (resolved, intent) = hooked(state, &principal, resolved, intent).await?;
    let account = &intent.account;

    let owner = load_account(state, account).await?;
    let mut limits = limits(state, &owner);
    if let Some(t) = &token {
        limits.restrict(t.max_size.map(|m| m.max(0) as u64), t.mime.as_deref());
    }
    limits.check_declared(intent.declared_size)?;
    let name = intent
        .original_file_name
        .as_deref()
        .or(Some(paths::file_name(&resolved.path)));
    let mime = effective_mime(intent.mime.as_deref(), name)?;
    limits.check_mime(&mime)?;

    let path = if intent.no_overwrite {
        resolved.path.clone()
    } else {
        ingest::target_path(state, &principal, account, &resolved).await?
    };
    let new_file = async {
        Ok(path.contains(paths::HASH_VARIABLE)
            || state.meta.get_file(account, &path).await?.is_none())
    };
    quotas::check_before_bytes(state, &owner, intent.declared_size, new_file).await?;
    Ok(Plan {
        file: NewFile {
            account: account.clone(),
            path,
            fallback: resolved.fallback,
            mime,
            original_file_name: intent
                .original_file_name
                .as_deref()
                .map(paths::clean_original_name),
            metadata: object_or_empty(intent.metadata),
            tags: intent.tags,
            allow_overwrite: !intent.no_overwrite,
        },
        limit: limits.max_file_size,
        declared_size: intent.declared_size,
        principal,
    })
}

/// The upload hook's say (SPEC §11), before any byte is read: a path it
/// sets is checked like the client's; metadata and tags it sets replace the
/// client's, within the same bounds.
async fn hooked(
    state: &AppState,
    principal: &Principal,
    mut resolved: paths::Resolved,
    mut intent: Intent,
) -> AppResult<(paths::Resolved, Intent)> {
    let asked = upload_hook::Asked {
        account: &intent.account,
        path: &resolved.path,
        size: intent.declared_size,
        mime: intent.mime.as_deref(),
        original_file_name: intent.original_file_name.as_deref(),
        metadata: &intent.metadata,
        tags: &intent.tags,
    };
    let changes = upload_hook::authorize(state, principal, asked).await?;
    if let Some(path) = changes.path.filter(|p| *p != resolved.path) {
        paths::validate_file_path(&path)?;
        principal.require(&intent.account, Need::create(&path))?;
        resolved = paths::Resolved {
            path,
            fallback: None,
        };
    }
    intent.metadata = changes.metadata.unwrap_or(intent.metadata);
    intent.tags = changes.tags.unwrap_or(intent.tags);
    bounded_metadata(&intent.metadata, &intent.tags)?;
    Ok((resolved, intent))
}

/// A path spec naming `path` exactly (no variables expanded).
pub fn exact(path: &str) -> PathSpec {
    PathSpec {
        file_name_variables_enabled: Some(false),
        folder_path_variables_enabled: Some(false),
        ..PathSpec::from_file_path(path)
    }
}

fn resolve(spec: &PathSpec, intent: &Intent) -> AppResult<paths::Resolved> {
    let ctx = PathContext {
        now: chrono::Utc::now(),
        original_file_name: intent.original_file_name.as_deref(),
    };
    let resolved = paths::resolve(spec, &ctx)?;
    if intent.path_before_bytes && resolved.path.contains(paths::HASH_VARIABLE) {
        return Err(AppError::invalid_request(
            "{FILE_HASH_SHA256} cannot be used with multipart uploads: the path is fixed before the bytes arrive.",
            "Use /uploads/binary or /uploads/form_data for hash-named files.",
        ));
    }
    paths::validate_file_path(&paths::fill_hash(&resolved.path, &"0".repeat(64)))?;
    Ok(resolved)
}

/// Metadata and tags are at most [`MAX_METADATA`] bytes each, on every route.
fn bounded_metadata(metadata: &Value, tags: &[String]) -> AppResult<()> {
    let too_large = |name: &str| AppError::FieldTooLarge {
        name: name.to_string(),
        limit: MAX_METADATA,
    };
    if !metadata.is_null() && metadata.to_string().len() > MAX_METADATA {
        return Err(too_large("metadata"));
    }
    if tags.iter().map(|t| t.len() + 1).sum::<usize>() > MAX_METADATA {
        return Err(too_large("tags"));
    }
    Ok(())
}

fn object_or_empty(v: Value) -> Value {
    match v {
        Value::Object(_) => v,
        _ => Value::Object(Default::default()),
    }
}

impl Plan {
    /// Streams `body` into a fresh blob within the plan's limit, checking the
    /// client's digests and declared size; the file is not visible yet.
    pub async fn stream<S, E>(
        self,
        state: &AppState,
        body: S,
        digest: Option<Expected>,
    ) -> AppResult<Prepared>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let _in_flight = crate::metrics::InFlight::start();
        let prefix = self.file.account.clone();
        let blob = StagedBlob::stream_verified(state, &prefix, body, self.limit, digest).await?;
        if let Some(declared) = self.declared_size.filter(|d| *d != blob.size) {
            let got = blob.size;
            blob.discard().await;
            return Err(AppError::UploadIncomplete {
                message: format!("The body had {got} bytes but {declared} were declared."),
            });
        }
        Ok(self.with_blob(blob))
    }

    /// The plan with bytes already stored (staged elsewhere, or shared).
    pub fn with_blob(self, blob: StagedBlob) -> Prepared {
        Prepared { plan: self, blob }
    }
}

/// An upload whose bytes are stored but not yet visible: [`Prepared::commit`]
/// makes it so; dropped, its bytes are deleted.
pub struct Prepared {
    plan: Plan,
    blob: StagedBlob,
}

impl Prepared {
    /// Makes the file visible (or deletes its bytes).
    pub async fn commit(self, state: &AppState) -> AppResult<FileRow> {
        ingest::commit(state, &self.plan.principal, self.plan.file, self.blob).await
    }

    /// Deletes the bytes now.
    pub async fn discard(self) {
        self.blob.discard().await;
    }
}

/// An upload's whole way in: plan, stream, commit.
pub async fn ingest<S, E>(
    state: &AppState,
    who: Uploader,
    intent: Intent,
    body: S,
    digest: Option<Expected>,
) -> AppResult<FileRow>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let planned = plan(state, who, intent).await?;
    planned
        .stream(state, body, digest)
        .await?
        .commit(state)
        .await
}

/// The effective limits of an account.
pub struct Limits {
    pub max_file_size: u64,
    /// Comma-separated MIME patterns, each list of which a type must match.
    allowed_mime: Vec<String>,
}

impl Limits {
    /// Tighter limits (an upload token's `max_size`/`mime`).
    pub fn restrict(&mut self, max_size: Option<u64>, mime: Option<&str>) {
        if let Some(max) = max_size {
            self.max_file_size = self.max_file_size.min(max);
        }
        self.allowed_mime
            .extend(mime.filter(|m| !m.trim().is_empty()).map(str::to_string));
    }

    /// 413 before any byte is read when the declared size is over the limit.
    pub fn check_declared(&self, declared: Option<u64>) -> AppResult<()> {
        match declared {
            Some(d) if d > self.max_file_size => Err(AppError::FileTooLarge {
                limit: self.max_file_size,
                declared: Some(d),
            }),
            _ => Ok(()),
        }
    }

    /// 415 unless `mime` matches every allow-list.
    pub fn check_mime(&self, mime: &str) -> AppResult<()> {
        self.allowed_mime
            .iter()
            .try_for_each(|allowed| check_mime(Some(allowed), mime))
    }
}

pub async fn load_account(state: &AppState, id: &str) -> AppResult<Account> {
    state
        .meta
        .get_account(id)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: format!("Account {id}"),
        })
}

pub fn limits(state: &AppState, account: &Account) -> Limits {
    Limits {
        max_file_size: account
            .max_file_size
            .map(|v| v.max(0) as u64)
            .unwrap_or(state.config.max_file_size),
        allowed_mime: account
            .allowed_mime
            .clone()
            .filter(|s| !s.trim().is_empty())
            .into_iter()
            .collect(),
    }
}

/// The mime to store: the client's, else guessed from the name.
/// A given type must parse as one MIME type and is stored in canonical form, so
/// what the allow-list checked is what `Content-Type` later says.
pub fn effective_mime(given: Option<&str>, name: Option<&str>) -> AppResult<String> {
    let given = given
        .map(|m| m.trim())
        .filter(|m| !m.is_empty() && !m.starts_with("application/x-www-form-urlencoded"));
    match given {
        Some(m) => m.parse::<mime::Mime>().map(|m| m.to_string()).map_err(|_| {
            AppError::invalid_request(
                format!("{m:?} is not a valid MIME type."),
                "Send one type such as image/png (with optional parameters), or none to have it guessed from the name.",
            )
        }),
        None => Ok(name
            .and_then(|n| mime_guess::from_path(n).first_raw())
            .unwrap_or("application/octet-stream")
            .to_string()),
    }
}

/// Checks `mime` against comma-separated patterns such as `image/*,application/pdf`
/// (None: any type).
pub fn check_mime(allowed: Option<&str>, mime: &str) -> AppResult<()> {
    let Some(allowed) = allowed else {
        return Ok(());
    };
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = allowed.split(',').map(str::trim).any(|p| {
        let p = p.to_ascii_lowercase();
        p == "*"
            || p == "*/*"
            || p == essence
            || p.strip_suffix("/*")
                .is_some_and(|t| essence.split('/').next() == Some(t))
    });
    if ok {
        Ok(())
    } else {
        Err(AppError::MimeTypeNotAllowed {
            mime: essence,
            allowed: allowed.to_string(),
        })
    }
}
