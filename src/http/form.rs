//! The one `multipart/form-data` reader. Every form route (form_data, `POST /`,
//! the ImageKit routes) streams its body through [`Form`], so the per-field
//! and per-request limits of SPEC §8 live here and nowhere else: text fields
//! of at most [`MAX_TEXT_FIELD`] bytes, at most [`MAX_PARTS`] parts, file
//! parts streamed (never held whole), base64 file fields decoded as they stream.
//!
//! Before a part's body, multer holds what it reads: the form's preamble and
//! each part's header block, at most [`MAX_PART_HEAD`] bytes each (413
//! `field_too_large`), which [`scan`] enforces on the raw body as multer reads it.
//!
//! A `Content-Digest`/`Repr-Digest` on a form covers the whole request body
//! (SPEC §5): the raw body is hashed as it flows into multer, and the form's
//! end (the last [`Form::next`]) drains what follows the closing boundary and
//! fails with 400 `digest_mismatch` if it does not match. Since that is known
//! only at the end, routes stage every file first and commit none before the
//! end when [`Form::has_digest`] (nothing is ever visible, so nothing needs
//! rolling back).

mod scan;

pub use scan::MAX_PART_HEAD;

use super::header_str;
use super::limits::{self, Verdict};
use crate::blobs::digest::Digester;
use crate::domain::forms;
use crate::error::{AppError, AppResult};
use axum::body::{Body, BodyDataStream};
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use scan::{Overflow, Scanner};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// The largest text field (and metadata or tags value) accepted.
pub const MAX_TEXT_FIELD: usize = 64 * 1024;
/// The most parts one form may have.
pub const MAX_PARTS: usize = 1000;

/// A form being read, part by part, in order.
pub struct Form {
    /// The parts, or why the body is not a form (answered by the first
    /// [`Form::next`], so a route refuses credentials first).
    inner: Result<multer::Multipart<'static>, Option<AppError>>,
    parts: usize,
    /// The raw body and its digest, when the request declared one.
    tap: Option<Arc<Mutex<Tap>>>,
}

/// The request body as multer reads it, hashed on the way.
struct Tap {
    body: BodyDataStream,
    digester: Option<Digester>,
}

impl Tap {
    fn poll(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Bytes, axum::Error>>> {
        let r = self.body.poll_next_unpin(cx);
        if let (Poll::Ready(Some(Ok(chunk))), Some(d)) = (&r, &mut self.digester) {
            d.update(chunk);
        }
        r
    }
}

/// The raw body as multer reads it, through a [`Scanner`]: the first chunk
/// that makes a preamble or a header block too long fails the form (and every
/// read after it) instead of reaching multer's buffer. The failure is also
/// the request's verdict, so the answer is the 413 whichever read meets it
/// first (multer reads ahead, possibly while a route streams an earlier part).
struct Scanned {
    scanner: Scanner,
    inner: BoxStream<'static, Result<Bytes, axum::Error>>,
    failed: Option<Overflow>,
    verdict: Option<Arc<Verdict>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Stream for Scanned {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(o) = &this.failed {
            return Poll::Ready(Some(Err(Box::new(o.clone()))));
        }
        let chunk = match this.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => chunk,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        match this.scanner.feed(&chunk) {
            Ok(()) => Poll::Ready(Some(Ok(chunk))),
            Err(o) => {
                if let Some(v) = &this.verdict {
                    v.set(too_large(&o));
                }
                this.failed = Some(o.clone());
                Poll::Ready(Some(Err(Box::new(o))))
            }
        }
    }
}

fn too_large(o: &Overflow) -> AppError {
    AppError::FieldTooLarge {
        name: o.field_name(),
        limit: MAX_PART_HEAD,
    }
}

/// One part of a [`Form`]: a text field or a file.
pub struct Part {
    field: multer::Field<'static>,
}

impl Form {
    /// The form in `body`; its first [`Form::next`] answers 400 with
    /// `suggestion` when the request is not `multipart/form-data` (or its
    /// digest fields are malformed).
    pub fn new(headers: &HeaderMap, body: Body, suggestion: &str) -> Form {
        Form::open(headers, body, suggestion).unwrap_or_else(|e| Form {
            inner: Err(Some(e)),
            parts: 0,
            tap: None,
        })
    }

    fn open(headers: &HeaderMap, body: Body, suggestion: &str) -> AppResult<Form> {
        let boundary = header_str(headers, header::CONTENT_TYPE)
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| {
                AppError::invalid_request("The body is not multipart/form-data.", suggestion)
            })?;
        let expected = super::request_digest(headers)?;
        let (raw, tap): (BoxStream<'static, _>, _) = match expected {
            None => (body.into_data_stream().boxed(), None),
            Some(expected) => {
                let tap = Arc::new(Mutex::new(Tap {
                    body: body.into_data_stream(),
                    digester: Some(Digester::new(Some(expected))),
                }));
                let reader = tap.clone();
                let raw = futures::stream::poll_fn(move |cx| lock(&reader).poll(cx));
                (raw.boxed(), Some(tap))
            }
        };
        let scanned = Scanned {
            scanner: Scanner::new(&boundary),
            inner: raw,
            failed: None,
            verdict: limits::request_verdict(),
        };
        Ok(Form {
            inner: Ok(multer::Multipart::new(scanned, boundary)),
            parts: 0,
            tap,
        })
    }

    /// At the end of the form: hashes what follows the closing boundary (at
    /// most [`MAX_TEXT_FIELD`] bytes) and compares the declared digest.
    async fn verify(&mut self) -> AppResult<()> {
        let Some(tap) = self.tap.take() else {
            return Ok(());
        };
        let mut epilogue = 0;
        while let Some(chunk) = futures::future::poll_fn(|cx| lock(&tap).poll(cx)).await {
            let chunk = chunk.map_err(|e| AppError::UploadIncomplete {
                message: format!("The request body ended early or failed: {e}."),
            })?;
            epilogue += chunk.len();
            if epilogue > MAX_TEXT_FIELD {
                return Err(AppError::FieldTooLarge {
                    name: "(epilogue after the closing boundary)".into(),
                    limit: MAX_TEXT_FIELD,
                });
            }
        }
        let digester = lock(&tap).digester.take();
        match digester {
            Some(d) => d.verify().map(|_| ()).map_err(AppError::from),
            None => Ok(()),
        }
    }

    /// The next part; None at the end of the form (after its digest, if any,
    /// checked out).
    pub async fn next(&mut self) -> AppResult<Option<Part>> {
        let inner = match &mut self.inner {
            Ok(inner) => inner,
            Err(refused) => {
                return Err(refused.take().unwrap_or_else(|| {
                    AppError::invalid_request("The body is not multipart/form-data.", "")
                }))
            }
        };
        match inner.next_field().await.map_err(form_error)? {
            None => {
                self.verify().await?;
                Ok(None)
            }
            Some(_) if self.parts >= MAX_PARTS => Err(AppError::TooManyParts { limit: MAX_PARTS }),
            Some(field) => {
                self.parts += 1;
                Ok(Some(Part { field }))
            }
        }
    }
}

impl Part {
    /// The part's field name (`""` when it has none).
    pub fn name(&self) -> &str {
        self.field.name().unwrap_or("")
    }

    /// The file name, if the part is a file input (`filename=` present).
    pub fn file_name(&self) -> Option<&str> {
        self.field.file_name()
    }

    pub fn content_type(&self) -> Option<String> {
        self.field.content_type().map(|m| m.to_string())
    }

    /// The whole value of a text field, at most [`MAX_TEXT_FIELD`] bytes (413
    /// `field_too_large` as soon as it passes that, without reading further).
    pub async fn text(mut self) -> AppResult<String> {
        let name = self.name().to_string();
        let mut buf = Vec::new();
        while let Some(chunk) = self.field.chunk().await.map_err(form_error)? {
            if buf.len() + chunk.len() > MAX_TEXT_FIELD {
                return Err(AppError::FieldTooLarge {
                    name,
                    limit: MAX_TEXT_FIELD,
                });
            }
            buf.extend_from_slice(&chunk);
        }
        String::from_utf8(buf).map_err(|_| {
            AppError::invalid_request(
                format!("The field {name:?} is not UTF-8 text."),
                "Send text fields as UTF-8.",
            )
        })
    }

    /// The part's bytes as they arrive.
    pub fn stream(self) -> impl Stream<Item = Result<Bytes, String>> + Send + 'static {
        self.field.map_err(|e| form_error(e).to_string())
    }
}

#[async_trait::async_trait]
impl forms::Form for Form {
    type Part = Part;

    async fn next(&mut self) -> AppResult<Option<Part>> {
        Form::next(self).await
    }
}

#[async_trait::async_trait]
impl forms::Part for Part {
    fn name(&self) -> &str {
        Part::name(self)
    }
    fn file_name(&self) -> Option<&str> {
        Part::file_name(self)
    }
    fn content_type(&self) -> Option<String> {
        Part::content_type(self)
    }
    async fn text(self) -> AppResult<String> {
        Part::text(self).await
    }
    fn bytes(self) -> forms::PartStream {
        self.stream().boxed()
    }
}

fn lock(tap: &Mutex<Tap>) -> std::sync::MutexGuard<'_, Tap> {
    tap.lock().unwrap_or_else(|e| e.into_inner())
}

/// A multer error as the §8 error a client gets.
fn form_error(e: multer::Error) -> AppError {
    match e {
        multer::Error::StreamReadFailed(inner) => match inner.downcast_ref::<Overflow>() {
            Some(o) => too_large(o),
            None => AppError::UploadIncomplete {
                message: format!("The request body ended early or failed: {inner}."),
            },
        },
        other => AppError::invalid_request(
            format!("The multipart body is malformed: {other}."),
            "Send a well-formed multipart/form-data body (a browser form or curl -F does).",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::base64::Base64Decoder;
    use base64::Engine;

    fn decode_in_chunks(input: &str, size: usize) -> Result<Vec<u8>, String> {
        let mut d = Base64Decoder::default();
        let mut out = Vec::new();
        for c in input.as_bytes().chunks(size) {
            out.extend_from_slice(&d.feed(c)?);
        }
        out.extend_from_slice(&d.finish()?);
        Ok(out)
    }

    fn form_of(body: &[u8], chunk: usize) -> Form {
        let chunks: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut h = HeaderMap::new();
        let ct = "multipart/form-data; boundary=XyZ".parse().unwrap();
        h.insert(header::CONTENT_TYPE, ct);
        Form::new(&h, Body::from_stream(futures::stream::iter(chunks)), "")
    }

    fn text_part(headers: &str, value: &str) -> Vec<u8> {
        format!("--XyZ\r\ncontent-disposition: form-data; {headers}\r\n\r\n{value}\r\n")
            .into_bytes()
    }

    fn too_large_name(e: AppError) -> String {
        match e {
            AppError::FieldTooLarge { name, limit } if limit == MAX_PART_HEAD => name,
            other => panic!("{other:?}"),
        }
    }

    /// Every part's name and text, or the first error.
    async fn read_all(f: &mut Form) -> AppResult<Vec<(String, String)>> {
        let mut got = Vec::new();
        while let Some(p) = f.next().await? {
            let name = p.name().to_string();
            got.push((name, p.text().await?));
        }
        Ok(got)
    }

    #[tokio::test]
    async fn multer_reads_what_the_scanner_passes_and_nothing_past_it() {
        let pad = "v".repeat(15 * 1024);
        let big = text_part(&format!("name=\"b\"\r\nx-pad: {pad}"), "two");
        for chunk in [1, 5, 4096, 1 << 20] {
            // A preamble of 16 KiB and a 15 KiB header: the form reads whole.
            let body = [
                &[b'a'; MAX_PART_HEAD][..],
                &text_part("name=\"a\"", "one"),
                &big,
                b"--XyZ--\r\n",
            ]
            .concat();
            let got = read_all(&mut form_of(&body, chunk)).await.unwrap();
            assert_eq!(
                got,
                [("a".into(), "one".into()), ("b".into(), "two".into())]
            );

            // One byte more of preamble: refused at the first part.
            let body = [
                &[b'a'; MAX_PART_HEAD + 1][..],
                &text_part("name=\"a\"", "one"),
            ]
            .concat();
            let err = form_of(&body, chunk).next().await.err().unwrap();
            assert_eq!(too_large_name(err), "(preamble)", "chunk {chunk}");

            // A second part whose headers never end.
            let endless = format!("--XyZ\r\nx-pad: {}", "v".repeat(3 * MAX_PART_HEAD));
            let body = [&text_part("name=\"a\"", "one"), endless.as_bytes()].concat();
            // multer reads ahead: the error may come with part 1 or after it.
            let err = read_all(&mut form_of(&body, chunk)).await.unwrap_err();
            assert_eq!(
                too_large_name(err),
                "(header block of part 2)",
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn base64_decodes_in_any_chunking() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        for size in [1, 3, 4, 7, 64, 5000] {
            assert_eq!(decode_in_chunks(&b64, size).unwrap(), data, "chunk {size}");
            let url = format!("data:image/png;base64,{b64}");
            assert_eq!(
                decode_in_chunks(&url, size).unwrap(),
                data,
                "url chunk {size}"
            );
        }
        assert_eq!(decode_in_chunks("aGVs\nbG8=", 2).unwrap(), b"hello");
        assert!(decode_in_chunks("not base64!", 3).is_err());
        assert!(decode_in_chunks("data:no-comma", 3).is_err());
    }
}
