//! Image transformations (SPEC §6.1): `/{acc}/image{path}?…` and
//! `/{acc}/{preset}{path}`. Reads the source through the download permission
//! path (the slug decides), looks the result up by source version +
//! normalised parameters, else renders it on the bounded pool and stores it
//! through [`StagedBlob`] + `meta.put_derived` (crash-safe: the blob is in the
//! GC queue until the row that owns it is committed).

use crate::auth::{Access, Principal};
use crate::cache::Served;
use crate::domain::files;
use crate::domain::ingest::{self, StagedBlob};
use crate::domain::paths;
use crate::error::{AppError, AppResult, ImageLimit};
use crate::images::{self, Busy, EngineError, Format, ParamError, Params, Rect};
use crate::meta::{now_ms, DerivedRow, FileRow, ProbeRow};
use crate::state::AppState;
use bytes::{Bytes, BytesMut};
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The slug of `/{acc}/image/…` URLs.
pub const IMAGE_SLUG: &str = "image";
/// How much of a source is read to recognise it and read its size.
const HEAD_BYTES: u64 = 256 * 1024;
/// Largest `.crop` file read.
const MAX_CROP_BYTES: i64 = 64 * 1024;

/// One transformation request, as the URL gives it.
pub struct Request<'a> {
    pub account: &'a str,
    pub path: &'a str,
    /// `image`, or a preset's name.
    pub slug: &'a str,
    /// The raw query string (without `?`).
    pub query: &'a str,
    /// The request's `Accept` header (for `f=auto`).
    pub accept: Option<&'a str>,
}

/// A result to serve: `row` describes it like a stored file (its blob is the
/// cached result); `bytes` holds it when it was rendered by this request.
pub struct Rendered {
    pub served: Arc<Served>,
    pub bytes: Option<Bytes>,
    pub access: Access,
    /// The format came from `Accept` (`Vary: Accept`).
    pub vary_accept: bool,
}

/// What a transformation reads: the image, and the `.crop` file that cuts it.
struct Source {
    /// Shared with the path cache: the cached path clones nothing.
    image: Arc<Served>,
    crop: Option<(Arc<FileRow>, Rect)>,
    access: Access,
}

pub fn param_error(e: ParamError) -> AppError {
    AppError::InvalidTransformation {
        parameter: e.name,
        message: e.message,
    }
}

/// Maps the engine's refusals onto SPEC §6.1's errors.
pub fn engine_error(e: EngineError) -> AppError {
    match e {
        EngineError::Unsupported(reason) => AppError::UnsupportedImage { reason },
        EngineError::TooLarge { pixels, limit } => AppError::ImageTooLarge {
            pixels,
            limit,
            what: ImageLimit::Pixels,
        },
        EngineError::OutputTooLarge { pixels, limit, .. } => AppError::ImageTooLarge {
            pixels,
            limit,
            what: ImageLimit::AvifOutput,
        },
        EngineError::Invalid(msg) if msg.starts_with("crop file") => {
            AppError::InvalidTransformation {
                parameter: "crop".into(),
                message: msg,
            }
        }
        EngineError::Invalid(msg) => AppError::invalid_request(
            format!("The image cannot be read: {msg}."),
            "Upload a valid image, or download the original with /{account}/raw/{path}.",
        ),
        EngineError::Internal(cause) => AppError::Internal { cause },
    }
}

/// The query's parameters: any on `/image/`; on a preset URL only the
/// format and quality (SPEC §6.1: a preset URL is exactly its preset).
/// Checked before the permission: the answer says nothing about the file.
fn query_params(req: &Request<'_>) -> AppResult<Params> {
    let parse = if req.slug == IMAGE_SLUG {
        images::parse_query
    } else {
        images::parse_preset_query
    };
    parse(req.query).map_err(param_error)
}

/// The parameters of a request: the query, over the preset's when the slug
/// names one (the query may only set `f`, `f2`, `q` there). Called once the
/// principal may read the file, so an unknown preset's 404 is only told to
/// those (SPEC §6.1).
async fn params(state: &AppState, req: &Request<'_>, query: Params) -> AppResult<Params> {
    if req.slug == IMAGE_SLUG {
        return Ok(query);
    }
    let preset = state
        .meta
        .get_preset(req.account, req.slug)
        .await?
        .ok_or_else(|| AppError::PresetNotFound {
            name: req.slug.to_string(),
        })?;
    let base = Params::from_preset(&preset.params).map_err(param_error)?;
    Ok(base.merge(&query))
}

/// Renders (or finds in the cache) the transformation `req` asks for.
pub async fn render(
    state: &AppState,
    principal: &Principal,
    req: Request<'_>,
) -> AppResult<Rendered> {
    let query = query_params(&req)?;
    let source = source(state, principal, &req).await?;
    let params = params(state, &req, query).await?;
    let image = &source.image.row;
    let source_format = match mime_format(&image.mime) {
        Some(f) => f,
        None => sniffed_format(state, image).await?,
    };
    let (out, vary_accept) = images::choose_format(&params, source_format, req.accept);
    let mut cache_key = params.cache_key(out);
    if let Some((crop, _)) = &source.crop {
        cache_key = format!("crop={}&{cache_key}", crop.version_id);
    }
    let row_of = |blob_key: String, size: i64, etag: String| {
        result_row(&source, req.path, out, blob_key, size, etag)
    };
    let cached = state
        .files
        .derived(&state.meta, &image.version_id, &cache_key, |hit| {
            Served::new(row_of(hit.blob_key.clone(), hit.size, hit.etag.clone()))
        })
        .await?;
    if let Some(served) = cached {
        return Ok(Rendered {
            served,
            bytes: None,
            access: source.access,
            vary_accept,
        });
    }
    if let Some(limit) = &state.rates.transforms {
        limit.check(&crate::ratelimit::key_of(principal.owner()))?;
    }
    let probe = probe_source(state, image).await?;
    let crop = source.crop.as_ref().map(|(_, r)| *r);
    let cost = cost(state, &probe, &params, out, crop)?;
    let input = Arc::new(image.clone());
    let bytes = run_transform(state, input, cost, params, out, crop).await?;
    state
        .daily
        .add(req.account, crate::meta::Daily::Transformation);
    let derived = DerivedRow {
        blob_key: String::new(),
        account_id: req.account.to_string(),
        source_version_id: image.version_id.clone(),
        crop_version_id: source.crop.as_ref().map(|(c, _)| c.version_id.clone()),
        cache_key,
        size: bytes.len() as i64,
        mime: out.mime().to_string(),
        etag: String::new(),
        created_at: now_ms(),
    };
    let (blob_key, etag) = store(state, derived, bytes.clone()).await;
    Ok(Rendered {
        served: Arc::new(Served::new(row_of(blob_key, bytes.len() as i64, etag))),
        bytes: Some(bytes),
        access: source.access,
        vary_accept,
    })
}

/// The file rows a request reads, each checked with the request's slug: the
/// image itself, or for a `.crop` file, the crop file and its input.
async fn source(state: &AppState, principal: &Principal, req: &Request<'_>) -> AppResult<Source> {
    let (served, access) =
        files::for_download(state, principal, req.account, req.path, None, req.slug).await?;
    if !req.path.ends_with(".crop") {
        return Ok(Source {
            image: served,
            crop: None,
            access,
        });
    }
    let row = Arc::new(served.row.clone());
    if row.size > MAX_CROP_BYTES {
        return Err(engine_error(EngineError::Invalid(
            "crop file: larger than 64 KiB".into(),
        )));
    }
    let json = read_range(state, &row, 0..row.size as u64).await?;
    let spec = images::parse_crop(&json).map_err(engine_error)?;
    let folder = paths::parent(req.path);
    let input = if folder == "/" {
        format!("/{}", spec.input_path)
    } else {
        format!("{folder}/{}", spec.input_path)
    };
    let (input_served, input_access) =
        files::for_download(state, principal, req.account, &input, None, req.slug).await?;
    let image = input_served;
    let access = if access == Access::Public && input_access == Access::Public {
        Access::Public
    } else {
        Access::Credential
    };
    Ok(Source {
        image,
        crop: Some((row, spec.rect())),
        access,
    })
}

/// How a result is described to `cdn::serve`: like a file at the requested
/// path, modified when its source last was, named with the output's extension.
fn result_row(
    source: &Source,
    path: &str,
    out: Format,
    blob_key: String,
    size: i64,
    etag: String,
) -> FileRow {
    let modified = match &source.crop {
        Some((crop, _)) => crop.created_at.max(source.image.row.created_at),
        None => source.image.row.created_at,
    };
    let name = paths::file_name(path);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    FileRow {
        account_id: source.image.row.account_id.clone(),
        path: path.to_string(),
        version_id: source.image.row.version_id.clone(),
        blob_key,
        size,
        mime: out.mime().to_string(),
        original_file_name: Some(format!("{stem}.{}", out.ext())),
        metadata: "{}".into(),
        tags: "[]".into(),
        created_at: modified,
        // The etag is the SHA-256 of the derived bytes, so Repr-Digest holds.
        sha256: Some(etag.clone()).filter(|e| e.len() == 64),
        etag,
    }
}

/// The format a stored MIME type names, when it is an image the engine reads.
fn mime_format(mime: &str) -> Option<Format> {
    let essence = mime.split(';').next().unwrap_or("").trim();
    Some(match essence {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Format::Jpeg,
        "image/png" => Format::Png,
        "image/webp" => Format::WebP,
        "image/gif" => Format::Gif,
        "image/bmp" | "image/x-ms-bmp" => Format::Bmp,
        "image/tiff" => Format::Tiff,
        _ => return None,
    })
}

/// The format of a source whose MIME type does not name one: probed once
/// per version, then remembered.
async fn sniffed_format(state: &AppState, image: &FileRow) -> AppResult<Format> {
    if let Some(f) = state.files.format_of(&image.version_id).await {
        return Ok(f);
    }
    let format = probe_source(state, image).await?.format;
    state.files.remember_format(&image.version_id, format).await;
    Ok(format)
}

/// The pixels a transformation handles, source + output (SPEC §6.1: the
/// output counts against the same budget): over `STOWAGE_IMAGE_MAX_PIXELS`
/// → 413, and an AVIF output over 16 MP → 413, before anything is read.
fn cost(
    state: &AppState,
    probe: &images::Probe,
    params: &Params,
    out: Format,
    crop: Option<Rect>,
) -> AppResult<u64> {
    let output = images::output_pixels(probe.width, probe.height, params, crop);
    if out == Format::Avif && output > images::AVIF_MAX_PIXELS {
        return Err(AppError::ImageTooLarge {
            pixels: output,
            limit: images::AVIF_MAX_PIXELS,
            what: ImageLimit::AvifOutput,
        });
    }
    let cost = probe.pixels().saturating_add(output);
    let max = state.config.image_max_pixels;
    if cost > max {
        return Err(AppError::ImageTooLarge {
            pixels: cost,
            limit: max,
            what: ImageLimit::Pixels,
        });
    }
    Ok(cost)
}

/// What a source version is, from the remembered probe or else from its
/// first [`HEAD_BYTES`] (never more: SPEC §6.1), then remembered, so a
/// repeat reads nothing. A file that is not a readable image there is 415
/// `unsupported_image`: junk behind an image's magic bytes, and also a real
/// image whose header lies further in (a JPEG with more than 256 KiB of
/// metadata before its frame header; see docs/images.md).
async fn probe_source(state: &AppState, row: &FileRow) -> AppResult<images::Probe> {
    if let Some(known) = state.meta.get_image_probe(&row.version_id).await? {
        return remembered(known);
    }
    let head = read_range(state, row, 0..(row.size as u64).min(HEAD_BYTES)).await?;
    let probed = images::probe(&head).and_then(|p| plausible_size(p, row.size as u64));
    let (format, (width, height), error) = match &probed {
        Ok(p) => (Some(p.format.ext().to_string()), (p.width, p.height), None),
        Err(EngineError::Unsupported(reason) | EngineError::Invalid(reason)) => {
            (None, (0, 0), Some(unreadable(reason)))
        }
        // Nothing else comes out of a probe; not remembered.
        Err(_) => return probed.map_err(engine_error),
    };
    let row = ProbeRow {
        version_id: row.version_id.clone(),
        format,
        width: i64::from(width),
        height: i64::from(height),
        error,
        created_at: now_ms(),
    };
    if let Err(e) = state.meta.put_image_probe(&row).await {
        tracing::warn!(error = %e, "image probe not remembered");
    }
    remembered(row)
}

/// A remembered probe as the request's answer.
fn remembered(row: ProbeRow) -> AppResult<images::Probe> {
    let format = row.format.as_deref().and_then(format_of_ext);
    match (format, row.error) {
        (Some(format), None) => Ok(images::Probe {
            format,
            width: u32::try_from(row.width).unwrap_or(u32::MAX),
            height: u32::try_from(row.height).unwrap_or(u32::MAX),
        }),
        (_, error) => Err(AppError::UnsupportedImage {
            reason: error.unwrap_or_else(|| "not a readable image".into()),
        }),
    }
}

/// The 415 reason for a file whose first bytes are not a readable image.
fn unreadable(reason: &str) -> String {
    if reason.starts_with("unrecognised") || reason.starts_with("the file is") {
        return reason.to_string();
    }
    format!(
        "not a readable image in its first {} KiB ({reason})",
        HEAD_BYTES / 1024
    )
}

fn format_of_ext(ext: &str) -> Option<Format> {
    [
        Format::Jpeg,
        Format::Png,
        Format::WebP,
        Format::Avif,
        Format::Gif,
        Format::Bmp,
        Format::Tiff,
    ]
    .into_iter()
    .find(|f| f.ext() == ext)
}

/// Room for metadata (EXIF, ICC, XMP, a thumbnail) beyond the pixels.
const METADATA_SLACK: u64 = 16 << 20;

/// Refuses a file far larger than any encoding of the size its header
/// states (16 bytes a pixel, RGBA at 32 bits a channel, plus 16 MiB): a
/// small header in front of a mass of junk is never read whole.
fn plausible_size(p: images::Probe, size: u64) -> Result<images::Probe, EngineError> {
    let most = p.pixels().saturating_mul(16).saturating_add(METADATA_SLACK);
    if size > most {
        return Err(EngineError::Unsupported(format!(
            "the file is {size} bytes, more than a {}×{} image takes",
            p.width, p.height
        )));
    }
    Ok(p)
}

/// The largest source file worth reading: an image's file is never larger
/// than its pixels uncompressed (RGBA, 16 bit) plus room for metadata.
fn max_source_bytes(state: &AppState) -> u64 {
    state
        .config
        .image_max_pixels
        .saturating_mul(8)
        .saturating_add(64 << 20)
}

fn too_big_source(size: u64, limit: u64) -> AppError {
    AppError::UnsupportedImage {
        reason: format!(
            "the file is {size} bytes, more than any image this server decodes ({limit} bytes)"
        ),
    }
}

/// Reads `range` of a file's blob into memory.
async fn read_range(
    state: &AppState,
    row: &FileRow,
    range: std::ops::Range<u64>,
) -> AppResult<Bytes> {
    let stream = state.blobs.get_range(&row.blob_key, range).await?;
    let buf = stream
        .map_err(AppError::internal)
        .try_fold(BytesMut::new(), |mut acc, chunk| async move {
            acc.extend_from_slice(&chunk);
            Ok(acc)
        })
        .await?;
    Ok(buf.freeze())
}

/// Reads the whole source and transforms it on the pool, which admits the
/// job by its `cost` in pixels (source + output). The source is read inside
/// the pool job, so at most one source per worker is in memory however many
/// requests wait.
async fn run_transform(
    state: &AppState,
    image: Arc<FileRow>,
    cost: u64,
    params: Params,
    out: Format,
    crop: Option<Rect>,
) -> AppResult<Bytes> {
    let size = image.size as u64;
    let limit = max_source_bytes(state);
    if size > limit {
        return Err(too_big_source(size, limit));
    }
    let max_pixels = state.config.image_max_pixels;
    let (job_state, rt) = (state.clone(), tokio::runtime::Handle::current());
    let job = move || -> AppResult<Bytes> {
        let src = rt.block_on(read_range(&job_state, &image, 0..size))?;
        let started = std::time::Instant::now();
        let output =
            images::transform(&src, &params, out, max_pixels, crop).map_err(engine_error)?;
        tracing::debug!(
            image.ms = started.elapsed().as_millis() as u64,
            image.width = output.width,
            image.height = output.height,
            "transformed"
        );
        Ok(Bytes::from(output.bytes))
    };
    match state.images.run(cost, job).await {
        Ok(result) => result,
        Err(Busy::Full) => Err(AppError::Busy {
            what: "every image worker is busy and the queue is full".into(),
            retry_after: 2,
        }),
        Err(Busy::Panicked(msg)) => Err(AppError::internal(format!("image job panicked: {msg}"))),
    }
}

/// Stores a fresh result (best effort: a failure is logged and the result
/// is still served). Returns its blob key (empty when not stored) and ETag.
async fn store(state: &AppState, mut row: DerivedRow, bytes: Bytes) -> (String, String) {
    let etag = hex::encode(Sha256::digest(&bytes));
    row.etag = etag.clone();
    let task_state = state.clone();
    let stored = ingest::detached(async move {
        let prefix = format!("{}/derived", row.account_id);
        let body = futures::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
        let blob = StagedBlob::stream(&task_state, &prefix, body, u64::MAX).await?;
        row.blob_key = blob.key().to_string();
        if task_state.meta.put_derived(&row).await? {
            Ok(blob.keep())
        } else {
            // Cached meanwhile by another request, or the source is gone.
            blob.discard().await;
            Ok(String::new())
        }
    })
    .await;
    match stored {
        Ok(key) => (key, etag),
        Err(e) => {
            tracing::warn!(error = %e, "transformation result not cached");
            (String::new(), etag)
        }
    }
}
