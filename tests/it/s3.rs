//! Asking the S3 server of STOWAGE_TEST_STORAGE_URL directly, signed (SigV4)
//! with the URL's own credentials: servers that check signatures (Garage)
//! refuse anonymous requests.

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use std::time::SystemTime;

/// The S3 URL's endpoint, bucket, region and credentials (None: not S3).
struct Target {
    endpoint: String,
    bucket: String,
    region: String,
    key_id: String,
    secret: String,
}

fn target(storage: &str) -> Option<Target> {
    let url = url::Url::parse(storage).ok()?;
    if url.scheme() != "s3" {
        return None;
    }
    let q = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
    };
    Some(Target {
        endpoint: q("endpoint")?,
        bucket: url.host_str()?.to_string(),
        region: q("region").unwrap_or_else(|| "us-east-1".into()),
        key_id: q("access_key_id")?,
        secret: q("secret_access_key")?,
    })
}

/// `GET <endpoint>/<bucket>?<query>`, signed; the body's text.
pub(crate) async fn signed_get(storage: &str, query: &str) -> Option<String> {
    let t = target(storage)?;
    let url = format!("{}/{}?{query}", t.endpoint, t.bucket);
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let identity =
        aws_credential_types::Credentials::new(&t.key_id, &t.secret, None, None, "tests").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&t.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let parsed = url::Url::parse(&url).unwrap();
    let host = parsed[url::Position::BeforeHost..url::Position::AfterPort].to_string();
    let request = SignableRequest::new(
        "GET",
        &url,
        std::iter::once(("host", host.as_str())),
        SignableBody::Bytes(&[]),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let mut req = reqwest::Client::new().get(&url);
    for (name, value) in instructions.headers() {
        req = req.header(name, value);
    }
    let resp = req.send().await.ok()?;
    assert!(
        resp.status().is_success(),
        "S3 GET ?{query}: {}",
        resp.status()
    );
    resp.text().await.ok()
}

/// Whether an S3 multipart upload of `key` is open (None: not S3).
pub(crate) async fn upload_open(storage: &str, key: &str) -> Option<bool> {
    let text = signed_get(storage, "uploads").await?;
    Some(text.contains(&format!("<Key>{key}</Key>")))
}
