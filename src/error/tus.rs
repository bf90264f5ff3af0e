//! tus protocol refusals (SPEC §5.6).

use axum::http::StatusCode;

/// tus protocol refusals (SPEC §5.6), each with the status tus clients expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TusError {
    /// 412: no `Tus-Resumable: 1.0.0`.
    UnsupportedVersion,
    /// 409: the PATCH's `Upload-Offset` is not the upload's offset.
    OffsetMismatch { expected: u64, got: u64 },
    /// 460: the chunk's `Upload-Checksum` did not match; the chunk was discarded.
    ChecksumMismatch,
    /// 423: another PATCH of this upload is in progress.
    Locked,
    /// 410: the upload expired (only its owner learns this; others get 404).
    Expired,
    /// 413: the PATCH goes past `Upload-Length`; nothing of it was kept.
    PastLength { length: u64 },
    /// 415: a PATCH without `Content-Type: application/offset+octet-stream`.
    ContentType,
}

impl TusError {
    pub(super) fn status(self) -> StatusCode {
        match self {
            TusError::UnsupportedVersion => StatusCode::PRECONDITION_FAILED,
            TusError::OffsetMismatch { .. } => StatusCode::CONFLICT,
            TusError::ChecksumMismatch => StatusCode::from_u16(460).expect("valid status"),
            TusError::Locked => StatusCode::LOCKED,
            TusError::Expired => StatusCode::GONE,
            TusError::PastLength { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            TusError::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    pub(super) fn code(self) -> &'static str {
        match self {
            TusError::UnsupportedVersion => "tus_version_unsupported",
            TusError::OffsetMismatch { .. } => "upload_offset_mismatch",
            TusError::ChecksumMismatch => "checksum_mismatch",
            TusError::Locked => "upload_locked",
            TusError::Expired => "upload_expired",
            TusError::PastLength { .. } => "upload_length_exceeded",
            TusError::ContentType => "invalid_content_type",
        }
    }

    pub(super) fn message(self) -> String {
        match self {
            TusError::UnsupportedVersion => {
                "This tus request has no 'Tus-Resumable: 1.0.0'.".into()
            }
            TusError::OffsetMismatch { expected, got } => {
                format!("Upload-Offset is {got}, but the upload is at {expected}.")
            }
            TusError::ChecksumMismatch => {
                "The chunk does not match its Upload-Checksum; it was discarded.".into()
            }
            TusError::Locked => "Another PATCH of this upload is in progress.".into(),
            TusError::Expired => "This upload has expired.".into(),
            TusError::PastLength { length } => {
                format!(
                    "The chunk goes past the upload's length ({length} bytes); it was discarded."
                )
            }
            TusError::ContentType => {
                "A PATCH body must have 'Content-Type: application/offset+octet-stream'.".into()
            }
        }
    }

    pub(super) fn suggestion(self) -> &'static str {
        match self {
            TusError::UnsupportedVersion => {
                "Send 'Tus-Resumable: 1.0.0' on every tus request but OPTIONS."
            }
            TusError::OffsetMismatch { .. } => {
                "Ask HEAD for the current Upload-Offset and resume from there."
            }
            TusError::ChecksumMismatch => "Send the chunk again from the same offset.",
            TusError::Locked => "Retry in a few seconds.",
            TusError::Expired => "Create a new upload (unfinished uploads expire after 24 hours).",
            TusError::PastLength { .. } => "Send at most Upload-Length − Upload-Offset bytes.",
            TusError::ContentType => "Send 'Content-Type: application/offset+octet-stream'.",
        }
    }
}
