//! What an object store's failure means for the client (SPEC §8, issue #33):
//!
//! - **Full**: the disk under the file store (`ENOSPC`, `EDQUOT`), or an
//!   S3-style store that says so (507 Insufficient Storage, MinIO's
//!   `XMinioStorageFull`, a bucket quota such as Garage's 403 "quota is
//!   reached") → 507 `insufficient_storage`, no `Retry-After`.
//! - **Refused**: the store answered a 4xx other than 404/408/429: the store
//!   is up and refused what stowage sent, which is a bug of ours (or a store
//!   set up wrongly), never an outage → 500 `internal_error`, its cause
//!   logged once, no "retry in 2 s".
//! - **Unreachable**: anything else (connection refused, timeouts, 5xx after
//!   object_store's own retries) → 503 `service_unavailable` with
//!   `Retry-After`.
//!
//! object_store keeps its HTTP error type private, so the answer is read from
//! the error chain: `std::io::Error`s are looked at by kind, everything else
//! by the text object_store gives it ("… status code: 400 Bad Request: <body>").

use super::AppError;
use std::error::Error;

/// How a store failure is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    Full,
    Refused,
    Unreachable,
}

/// At most this many errors of a chain are looked at.
const MAX_DEPTH: usize = 16;

/// Classifies any error whose chain may hold an object store or I/O failure.
pub fn classify(err: &(dyn Error + 'static)) -> StoreFailure {
    let mut text = String::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(err);
    for _ in 0..MAX_DEPTH {
        let Some(e) = next else { break };
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io_full(io) {
                return StoreFailure::Full;
            }
            // An io::Error's `source()` skips the error it wraps.
            if let Some(inner) = io.get_ref() {
                next = Some(inner);
                continue;
            }
        }
        text.push_str(&e.to_string());
        text.push('\n');
        next = e.source();
    }
    classify_text(&text)
}

fn io_full(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
}

/// Signs of a full store in the text of an error chain (error bodies of 4xx
/// answers are kept by object_store; those of 5xx answers are not, so a 507
/// is known by its status line).
const FULL_SIGNS: [&str; 8] = [
    "status code: 507",
    "insufficient storage",
    "<code>insufficientstorage</code>",
    "xminiostoragefull",
    "quota is reached",
    "quotaexceeded",
    "no space left on device",
    "disk quota exceeded",
];

fn classify_text(text: &str) -> StoreFailure {
    let lower = text.to_ascii_lowercase();
    if FULL_SIGNS.iter().any(|s| lower.contains(s)) {
        return StoreFailure::Full;
    }
    match http_status(&lower) {
        Some(404 | 408 | 429) | None => StoreFailure::Unreachable,
        Some(s) if (400..500).contains(&s) => StoreFailure::Refused,
        Some(_) => StoreFailure::Unreachable,
    }
}

/// The HTTP status object_store quotes ("… non-2xx status code: 400 …").
fn http_status(lower: &str) -> Option<u16> {
    let (_, rest) = lower.split_once("status code: ")?;
    rest.get(..3)?.parse().ok()
}

impl AppError {
    /// The answer to a store failure `err`, with `context` in the logged cause.
    pub fn from_store(context: &str, err: &(dyn Error + 'static)) -> AppError {
        let cause = if context.is_empty() {
            err.to_string()
        } else {
            format!("{context}: {err}")
        };
        match classify(err) {
            StoreFailure::Full => AppError::InsufficientStorage { cause },
            StoreFailure::Refused => AppError::Internal {
                cause: format!("the object store refused a request (a stowage bug): {cause}"),
            },
            StoreFailure::Unreachable => AppError::Unavailable { cause },
        }
    }
}

impl From<object_store::Error> for AppError {
    fn from(e: object_store::Error) -> Self {
        use object_store::Error as E;
        match &e {
            E::NotFound { .. } => AppError::NotFound {
                what: "Stored object".into(),
            },
            // Answers that name a request stowage should not have sent (or a
            // store set up wrongly): a bug, unless they say the store is full.
            E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::Precondition { .. }
            | E::AlreadyExists { .. }
            | E::NotModified { .. }
            | E::NotImplemented
            | E::NotSupported { .. }
            | E::InvalidPath { .. }
            | E::UnknownConfigurationKey { .. } => match classify(&e) {
                StoreFailure::Full => AppError::InsufficientStorage {
                    cause: e.to_string(),
                },
                _ => AppError::Internal {
                    cause: format!("the object store refused a request: {e}"),
                },
            },
            _ => AppError::from_store("", &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(source: impl Error + Send + Sync + 'static) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(source),
        }
    }

    #[derive(Debug)]
    struct Text(&'static str);
    impl std::fmt::Display for Text {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for Text {}

    #[test]
    fn enospc_deep_in_a_chain_is_full() {
        let disk = std::io::Error::from_raw_os_error(28);
        let local = object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(disk),
        };
        // What object_store's BufWriter hands back: an io::Error around it.
        let io = std::io::Error::other(local);
        let outer = generic(io);
        assert_eq!(classify(&outer), StoreFailure::Full);
        let e = AppError::from(outer);
        assert_eq!(
            (e.status().as_u16(), e.code()),
            (507, "insufficient_storage")
        );
        assert_eq!(e.retry_after(), None);
        let quota = std::io::Error::from_raw_os_error(122);
        assert_eq!(classify(&quota), StoreFailure::Full);
    }

    #[test]
    fn a_4xx_is_a_bug_not_an_outage() {
        let garage = Text(
            "Error performing PUT http://127.0.0.1:3900/b/k?partNumber=1 in 2ms - Server \
             returned non-2xx status code: 400 Bad Request: <Error><Code>InvalidRequest</Code>\
             <Message>Bad request: Empty body</Message></Error>",
        );
        let e = AppError::from(generic(garage));
        assert_eq!((e.status().as_u16(), e.code()), (500, "internal_error"));
        assert_eq!(e.retry_after(), None);
        assert!(!e.message().contains("unreachable"), "{}", e.message());
    }

    #[test]
    fn full_stores_by_status_body_or_quota() {
        for text in [
            "Server returned non-2xx status code: 507 Insufficient Storage: ",
            "Server returned non-2xx status code: 507 Insufficient Storage",
            "status code: 403 Forbidden: <Code>AccessDenied</Code><Message>Forbidden: Bucket \
             size quota is reached, maximum total size of objects for this bucket: 1000</Message>",
            "<Code>XMinioStorageFull</Code>",
        ] {
            assert_eq!(classify(&Text(text)), StoreFailure::Full, "{text}");
        }
        let denied = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: Box::new(Text("status code: 403 Forbidden: quota is reached")),
        };
        assert_eq!(AppError::from(denied).code(), "insufficient_storage");
    }

    #[test]
    fn outages_stay_503() {
        for text in [
            "Server returned non-2xx status code: 503 Service Unavailable",
            "error sending request: Connection refused",
            "Server returned non-2xx status code: 429 Too Many Requests: SlowDown",
        ] {
            let e = AppError::from(generic(Text(text)));
            assert_eq!(
                (e.status().as_u16(), e.retry_after()),
                (503, Some(2)),
                "{text}"
            );
        }
        let e = AppError::from(object_store::Error::PermissionDenied {
            path: "k".into(),
            source: Box::new(Text("status code: 403 Forbidden: SignatureDoesNotMatch")),
        });
        assert_eq!(e.code(), "internal_error");
    }
}
