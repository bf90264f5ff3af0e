//! Direct part uploads (`STOWAGE_DIRECT_PARTS`): a presigned S3 `UploadPart`
//! URL, so a client's part bytes go to the bucket without passing through
//! stowage. object_store presigns only whole-object requests, so the part's
//! query (`partNumber`, `uploadId`) is signed here with `aws-sigv4`, using
//! object_store's own endpoint, addressing style, credentials and region.
//! The part's exact length is signed too (`Content-Length` is a signed
//! header), so the store refuses a body of any other size: without it one part
//! URL would take up to S3's 5 GiB part limit.

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
    /// store-side multipart upload `upload_id` of `key`, exactly `len` bytes,
    /// until `expires_in`.
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u64,
        len: u64,
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
        let len = len.to_string();
        let request = SignableRequest::new(
            "PUT",
            url.as_str(),
            [("host", host.as_str()), ("content-length", len.as_str())].into_iter(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    use std::collections::BTreeMap;

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    /// RFC 3986 unreserved characters stay, every other byte is `%XX` (SigV4).
    fn aws_encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// The SigV4 query signature of `url` (presigned, unsigned payload) with
    /// `headers` signed, written from AWS's description of the algorithm
    /// (independent of `aws-sigv4`).
    fn sigv4(method: &str, url: &url::Url, headers: &[(&str, &str)], secret: &str) -> String {
        let q: BTreeMap<String, String> = url
            .query_pairs()
            .filter(|(k, _)| k != "X-Amz-Signature")
            .map(|(k, v)| (aws_encode(&k), aws_encode(&v)))
            .collect();
        let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
        let request = format!(
            "{method}\n{}\n{}\n{canonical_headers}\n{}\nUNSIGNED-PAYLOAD",
            url.path(),
            query.join("&"),
            signed.join(";")
        );
        let pairs: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        let when = &pairs["X-Amz-Date"];
        let scope = pairs["X-Amz-Credential"].split_once('/').unwrap().1;
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{when}\n{scope}\n{}",
            hex::encode(Sha256::digest(request.as_bytes()))
        );
        let mut key = format!("AWS4{secret}").into_bytes();
        for part in scope.split('/') {
            key = hmac(&key, part);
        }
        hex::encode(hmac(&key, &to_sign))
    }

    /// The helper reproduces AWS's published presigned-URL example.
    #[test]
    fn the_reference_sigv4_matches_aws_example() {
        let url = url::Url::parse(
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host",
        )
        .unwrap();
        let sig = sigv4(
            "GET",
            &url,
            &[("host", "examplebucket.s3.amazonaws.com")],
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
        assert_eq!(
            sig,
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    /// A part URL signs `Content-Length`: a store that checks signatures
    /// (S3, Garage) refuses a body of any other size.
    #[tokio::test]
    async fn part_urls_sign_the_exact_length() {
        let secret = "stowageTestSecretKey/1234567890abcdef";
        let blobs = Blobs::from_url(&format!(
            "s3://parts?endpoint=http://127.0.0.1:9&allow_http=true&region=eu-west-3\
             &access_key_id=AKIDSTOWAGETEST&secret_access_key={}",
            aws_encode(secret)
        ))
        .unwrap();
        let len = 5 * 1024 * 1024 + 7;
        let url = blobs
            .presign_part("acc/k1", "upl-1", 3, len, Duration::from_secs(600))
            .await
            .unwrap();
        let url = url::Url::parse(&url).unwrap();
        let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["X-Amz-SignedHeaders"], "content-length;host", "{url}");
        assert_eq!(
            (q["partNumber"].as_str(), q["uploadId"].as_str()),
            ("3", "upl-1")
        );
        assert_eq!(q["X-Amz-Expires"], "600");
        assert!(q["X-Amz-Credential"].contains("/eu-west-3/s3/aws4_request"));
        let host = "127.0.0.1:9";
        let exact = sigv4(
            "PUT",
            &url,
            &[("content-length", &len.to_string()), ("host", host)],
            secret,
        );
        assert_eq!(q["X-Amz-Signature"], exact);
        // The same URL sent with another length does not verify.
        for other in [len - 1, len + 1, 5 * 1024 * 1024 * 1024] {
            let sig = sigv4(
                "PUT",
                &url,
                &[("content-length", &other.to_string()), ("host", host)],
                secret,
            );
            assert_ne!(q["X-Amz-Signature"], sig);
        }
    }
}
