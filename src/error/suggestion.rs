//! What an error tells the client to do (SPEC §8 `suggestion`): one text per
//! variant, matched exhaustively so a new variant must be given its own.

use super::{AppError, ImageLimit};

const INVALID_PATH: &str = "Use an absolute path such as /photos/a.jpg: it must start with '/', \
                 and may not contain empty, '.' or '..' segments, backslashes, control characters \
                 or a trailing '/'; segments up to 255 bytes, paths up to 1024 bytes.";
const UPLOAD_INCOMPLETE: &str = "Send the whole body; the upload was discarded and can be retried.";
const DIGEST_MISMATCH: &str =
    "Compute the digest over exactly the bytes sent (for multipart/form-data, the whole \
                 request body), e.g. openssl dgst -sha256 -binary FILE | base64, and retry.";
const UNAUTHORIZED: &str =
    "Send an API key as 'Authorization: Bearer <key>', or make the folder public.";
const ACCOUNT_MISMATCH: &str =
    "Use a key of the account named in the URL, or change the URL's account id.";
const PATH_MISMATCH: &str =
    "Upload to exactly the path the token was issued for, or ask for a new token.";
const FILE_NOT_FOUND: &str =
    "Check the path (it is case-sensitive) or list the folder to see what exists.";
const NOT_FOUND: &str = "Check the identifier in the URL.";
const ROUTE_NOT_FOUND: &str = "See the README for the routes stowage serves (e.g. /v2/accounts/{account}/uploads/binary, /{account}/raw/{path}).";
const FILE_ALREADY_EXISTS: &str =
    "Use a credential with the 'overwrite' permission, pick another path, \
                 or pass fileNameFallback (e.g. 'a{UNIQUE_DIGITS_4}.jpg').";
const FILE_TOO_LARGE: &str =
    "Upload a smaller file, or raise the limit with STOWAGE_MAX_FILE_SIZE \
                 (server default) or the account's max_file_size.";
const FIELD_TOO_LARGE: &str =
    "Keep text fields, metadata and tags under 64 KiB, and a form's preamble and each \
                 part's headers under 16 KiB; send file contents as a file part.";
const TOO_MANY_PARTS: &str =
    "Send at most 1000 parts per form; split the upload into several requests.";
const MIME_TYPE_NOT_ALLOWED: &str =
    "Send a Content-Type the account allows, or change the account's allowed MIME types.";
const RANGE_NOT_SATISFIABLE: &str =
    "Request a range within the file, e.g. 'Range: bytes=0-' for all of it.";
const INVALID_TRANSFORMATION: &str =
    "Use w, h (1-8192), fit (max, crop, pad, stretch), f and f2 (auto, jpg, png, \
                 webp, avif), q (1-100) and bg (a hex colour), each at most once.";
const IMAGE_TOO_LARGE: &str =
    "Ask for a smaller output (w, h) or transform a smaller image, or raise \
     STOWAGE_IMAGE_MAX_PIXELS on the server.";
const AVIF_TOO_LARGE: &str = "Ask for a smaller w/h, or another format (f=webp).";
const UNSUPPORTED_IMAGE: &str =
    "Transform JPEG, PNG, WebP, GIF, BMP, TIFF or AVIF files; download others with \
                 /{account}/raw/{path}.";
const PRESET_NOT_FOUND: &str =
    "Create it with PUT /v2/accounts/{account}/transformations/{preset}, or use \
                 /{account}/image/{path}?w=… instead.";
const UNAVAILABLE: &str = "Retry after a few seconds.";
const INSUFFICIENT_STORAGE: &str = "Free space first (delete files or old versions you no longer need), or ask the \
                 operator to add capacity to the object store or raise its quota; then upload again.";
const BUSY: &str = "Retry after the number of seconds in Retry-After.";
const BODY_TIMEOUT: &str =
    "Send the body without long pauses (STOWAGE_BODY_TIMEOUT sets the limit), then retry.";
const BODY_TOO_SLOW: &str =
    "Send the body faster (the server's STOWAGE_BODY_MIN_RATE sets the least average \
                 rate, in bytes/s), then retry.";
const URL_NOT_ALLOWED: &str =
    "Use an http(s) URL whose host resolves to a public address; the operator can allow \
     private or loopback networks with STOWAGE_FETCH_ALLOWED_NETWORKS.";
const INTERNAL: &str = "Retry; if it keeps failing, report the x-request-id to the operator.";

impl AppError {
    pub fn suggestion(&self) -> String {
        match self {
            AppError::InvalidPath { .. } => INVALID_PATH.into(),
            AppError::InvalidRequest { suggestion, .. }
            | AppError::InvalidCredentials { suggestion, .. }
            | AppError::Forbidden { suggestion, .. } => suggestion.clone(),
            AppError::UploadIncomplete { .. } => UPLOAD_INCOMPLETE.into(),
            AppError::DigestMismatch { .. } => DIGEST_MISMATCH.into(),
            AppError::Unauthorized => UNAUTHORIZED.into(),
            AppError::AccountMismatch { .. } => ACCOUNT_MISMATCH.into(),
            AppError::PathMismatch { .. } => PATH_MISMATCH.into(),
            AppError::FileNotFound { .. } => FILE_NOT_FOUND.into(),
            AppError::NotFound { .. } => NOT_FOUND.into(),
            AppError::RouteNotFound { .. } => ROUTE_NOT_FOUND.into(),
            AppError::FileAlreadyExists { .. } => FILE_ALREADY_EXISTS.into(),
            AppError::FileTooLarge { .. } => FILE_TOO_LARGE.into(),
            AppError::FieldTooLarge { .. } => FIELD_TOO_LARGE.into(),
            AppError::TooManyParts { .. } => TOO_MANY_PARTS.into(),
            AppError::MimeTypeNotAllowed { .. } => MIME_TYPE_NOT_ALLOWED.into(),
            AppError::RangeNotSatisfiable { .. } => RANGE_NOT_SATISFIABLE.into(),
            AppError::InvalidTransformation { .. } => INVALID_TRANSFORMATION.into(),
            AppError::ImageTooLarge {
                what: ImageLimit::Pixels,
                ..
            } => IMAGE_TOO_LARGE.into(),
            AppError::ImageTooLarge {
                what: ImageLimit::AvifOutput,
                ..
            } => AVIF_TOO_LARGE.into(),
            AppError::UnsupportedImage { .. } => UNSUPPORTED_IMAGE.into(),
            AppError::PresetNotFound { .. } => PRESET_NOT_FOUND.into(),
            AppError::Tus(t) => t.suggestion().into(),
            AppError::Unavailable { .. } => UNAVAILABLE.into(),
            AppError::InsufficientStorage { .. } => INSUFFICIENT_STORAGE.into(),
            AppError::Busy { .. } => BUSY.into(),
            AppError::BodyTimeout { .. } => BODY_TIMEOUT.into(),
            AppError::BodyTooSlow { .. } => BODY_TOO_SLOW.into(),
            AppError::UrlNotAllowed { .. } => URL_NOT_ALLOWED.into(),
            AppError::Internal { .. } => INTERNAL.into(),
        }
    }
}
