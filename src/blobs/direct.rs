//! Direct part uploads (`STOWAGE_DIRECT_PARTS`): a presigned S3 `UploadPart`
//! URL, so a client's part bytes go to the bucket without passing through
//! stowage. object_store presigns only whole-object requests, so the part's
//! query (`partNumber`, `uploadId`) is signed here with `aws-sigv4`, using
//! object_store's own endpoint, addressing style, credentials and region.

use super::Blobs;
use crate::error::{AppError, AppResult};
use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use object_store::signer::Signer;
use std::time::{Duration, SystemTime};

impl Blobs {
    /// Whether this store can take parts directly (it is S3).
    pub fn presigns_parts(&self) -> bool {
        self.s3.is_some()
    }

    /// A URL that accepts `PUT` of part `part_number` (1-based) of the
    /// store-side multipart upload `upload_id` of `key`, until `expires_in`.
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u64,
        expires_in: Duration,
    ) -> AppResult<String> {
        let s3 = self
            .s3
            .as_ref()
            .ok_or_else(|| AppError::internal("direct parts need an S3 store"))?;
        // object_store's whole-object URL gives the endpoint, the addressing
        // style and (in X-Amz-Credential) the region it signs for.
        let mut url = s3
            .signed_url(axum::http::Method::PUT, &key.into(), expires_in)
            .await?;
        let region = url
            .query_pairs()
            .find(|(k, _)| k == "X-Amz-Credential")
            .and_then(|(_, v)| v.split('/').nth(2).map(str::to_string))
            .ok_or_else(|| AppError::internal("presigned URL without a credential scope"))?;
        url.set_query(None);
        url.query_pairs_mut()
            .append_pair("partNumber", &part_number.to_string())
            .append_pair("uploadId", upload_id);
        let cred = s3.credentials().get_credential().await?;
        let identity = aws_credential_types::Credentials::new(
            cred.key_id.clone(),
            cred.secret_key.clone(),
            cred.token.clone(),
            None,
            "stowage",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(AppError::internal)?
            .into();
        let host = url[url::Position::BeforeHost..url::Position::AfterPort].to_string();
        let request = SignableRequest::new(
            "PUT",
            url.as_str(),
            std::iter::once(("host", host.as_str())),
            SignableBody::UnsignedPayload,
        )
        .map_err(AppError::internal)?;
        let (instructions, _) = sign(request, &params)
            .map_err(AppError::internal)?
            .into_parts();
        for (name, value) in instructions.params() {
            url.query_pairs_mut().append_pair(name, value);
        }
        Ok(url.to_string())
    }

    /// The size of a stored object (a completed direct upload is checked
    /// against the size the client declared).
    pub async fn size_of(&self, key: &str) -> AppResult<u64> {
        Ok(self.store.head(&key.into()).await?.size)
    }
}
