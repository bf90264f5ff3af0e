//! Direct uploads (SPEC §5.2): a raw body (`uploads/binary`) or a form of
//! one or more files (`uploads/form_data`), through the one upload plan.

use crate::auth::rules::Op;
use crate::auth::Principal;
use crate::blobs::digest::Expected;
use crate::domain::forms::{self, Form, Part};
use crate::domain::ingest::detached;
use crate::domain::plan::{self, Intent, Prepared, Uploader};
use crate::error::{AppError, AppResult};
use crate::meta::FileRow;
use crate::state::AppState;
use bytes::Bytes;
use futures::Stream;

/// `uploads/binary`: plans, streams and commits one file, in its own task
/// (a client that goes away never cuts a commit short).
pub async fn binary<S, E>(
    state: &AppState,
    principal: Principal,
    intent: Intent,
    body: S,
    digest: Option<Expected>,
) -> AppResult<FileRow>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let state = state.clone();
    detached(
        async move { plan::ingest(&state, Uploader::new(principal), intent, body, digest).await },
    )
    .await
}

/// What a form upload did, per file part (by field name).
#[derive(Default)]
pub struct FormOutcome {
    pub files: Vec<(String, FileRow)>,
    pub errors: Vec<(String, AppError)>,
}

/// `uploads/form_data`: every file part as `base` says (its own name and
/// type added). Files are staged as they stream and committed once the
/// form has ended well; a form refused as a whole leaves nothing.
pub async fn form_data<F: Form>(
    state: &AppState,
    principal: Principal,
    base: Intent,
    form: F,
) -> AppResult<FormOutcome> {
    // Refused before any body byte is read when nothing could be created.
    principal.require_somewhere(&base.account, Op::Create)?;
    let state = state.clone();
    detached(async move {
        let mut staged = Vec::new();
        let mut done = FormOutcome::default();
        let read = read_files(&state, &principal, &base, form, &mut staged, &mut done).await;
        if let Err(e) = read {
            for (_, prepared) in staged {
                prepared.discard().await;
            }
            return Err(e);
        }
        for (field, prepared) in staged {
            match prepared.commit(&state).await {
                Ok(row) => done.files.push((field, row)),
                Err(e) => done.errors.push((field, e)),
            }
        }
        Ok(done)
    })
    .await
}

async fn read_files<F: Form>(
    state: &AppState,
    principal: &Principal,
    base: &Intent,
    mut form: F,
    staged: &mut Vec<(String, Prepared)>,
    done: &mut FormOutcome,
) -> AppResult<()> {
    while let Some(part) = form.next().await? {
        // A text field (within its limit), or a file input left empty.
        let Some(file_name) = part
            .file_name()
            .filter(|n| !n.is_empty())
            .map(str::to_string)
        else {
            part.text().await?;
            continue;
        };
        let field = forms::field_name(&part);
        let intent = Intent {
            original_file_name: Some(base.original_file_name.clone().unwrap_or(file_name)),
            mime: part.content_type(),
            ..base.clone()
        };
        let outcome = async {
            let planned = plan::plan(state, Uploader::new(principal.clone()), intent).await?;
            planned.stream(state, part.bytes(), None).await
        };
        match outcome.await {
            Ok(prepared) => staged.push((field, prepared)),
            Err(e) if refuses_form(&e) => return Err(e),
            Err(e) => done.errors.push((field, e)),
        }
    }
    Ok(())
}

/// Errors after which the rest of the body cannot be trusted, or that every
/// part would meet (a credential refused once is refused for every part).
pub fn refuses_form(e: &AppError) -> bool {
    matches!(
        e,
        AppError::FileTooLarge { .. }
            | AppError::UploadIncomplete { .. }
            | AppError::Unauthorized
            | AppError::InvalidCredentials { .. }
            | AppError::AccountMismatch { .. }
            | AppError::Forbidden { .. }
    )
}
