//! Forms as the domain reads them: a `multipart/form-data` body, part by part.
//! `http/form.rs` implements these traits over the wire (multer, the limits
//! of SPEC §8, the whole-body digest); the upload routes that take forms
//! (`uploads::form_data`, `tokens::upload_form`, `imagekit::upload`) loop
//! over the parts here, stage every file, and commit only once the form has
//! ended well: a form refused anywhere (a part too large, too many parts, a
//! digest mismatch, a body cut short) leaves nothing visible and no bytes.

use crate::error::AppResult;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;

/// A part's bytes as they arrive; an error names what went wrong.
pub type PartStream = BoxStream<'static, Result<Bytes, String>>;

/// A form being read, in order.
#[async_trait::async_trait]
pub trait Form: Send + 'static {
    type Part: Part;

    /// The next part; None at the end of the form, once the form as a whole
    /// checked out (its digest, what follows the closing boundary).
    async fn next(&mut self) -> AppResult<Option<Self::Part>>;
}

/// One part of a [`Form`]: a text field or a file.
#[async_trait::async_trait]
pub trait Part: Send + Sized + 'static {
    /// The field name (`""` when it has none).
    fn name(&self) -> &str;
    /// The file name, if the part is a file input (`filename=` present).
    fn file_name(&self) -> Option<&str>;
    fn content_type(&self) -> Option<String>;
    /// The whole value of a text field, within the text field limit (413
    /// `field_too_large` past it, without reading further).
    async fn text(self) -> AppResult<String>;
    /// The part's bytes as they arrive.
    fn bytes(self) -> PartStream;
}

/// Reads every remaining part (text fields within their limit, files
/// dropped as they stream) up to the form's end and its checks.
pub async fn drain<F: Form>(form: &mut F) -> AppResult<()> {
    while let Some(part) = form.next().await? {
        if part.file_name().is_none() {
            part.text().await?;
            continue;
        }
        let mut bytes = part.bytes();
        while let Some(chunk) = bytes.next().await {
            chunk.map_err(|message| crate::error::AppError::UploadIncomplete { message })?;
        }
    }
    Ok(())
}

/// The field name a part is reported under (`file` when it has none).
pub fn field_name<P: Part>(part: &P) -> String {
    match part.name() {
        "" => "file".to_string(),
        n => n.to_string(),
    }
}
