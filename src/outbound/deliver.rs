//! Webhook deliveries (SPEC §11): one POST, no redirects, every address
//! checked (the [`Outbound`] delivery client), bounded in time.

use super::{refusal_of, Outbound};
use std::time::Duration;

impl Outbound {
    /// POSTs `body` (JSON) with `headers` to `url`; the response's status, or
    /// why there was none (refused address, connection error, timeout).
    /// The status counts only once the whole answer arrived within `timeout`.
    pub async fn deliver(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
        timeout: Duration,
    ) -> Result<u16, String> {
        let req = self.json_post(url, headers, body)?.timeout(timeout);
        let failed = |e: reqwest::Error| match refusal_of(&e) {
            Some(refusal) => refusal.to_string(),
            None if e.is_timeout() => format!("no answer within {} s", timeout.as_secs()),
            None => e.without_url().to_string(),
        };
        let mut resp = req.send().await.map_err(failed)?;
        let status = resp.status().as_u16();
        // Read the answer chunk by chunk, keeping none of it (memory stays
        // bounded), so a 2xx counts only when it is complete in time.
        while resp.chunk().await.map_err(failed)?.is_some() {}
        Ok(status)
    }
}

impl Outbound {
    /// A POST of `body` (JSON) with `headers` to `url`, once `url` is checked.
    fn json_post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<reqwest::RequestBuilder, String> {
        let url = self.check(url).map_err(|r| r.to_string())?;
        let mut req = self
            .post
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        Ok(req)
    }
}

/// A hook's answer: its status and at most `max` bytes of its body.
pub struct Answer {
    pub status: u16,
    pub body: bytes::Bytes,
}

impl Outbound {
    /// POSTs `body` (JSON) with `headers` to `url` and reads the answer, at
    /// most `max` bytes of it (the rest is read and dropped), all within
    /// `timeout`: the upload hook (SPEC §11).
    pub async fn call(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
        timeout: Duration,
        max: usize,
    ) -> Result<Answer, String> {
        let req = self.json_post(url, headers, body)?;
        let failed = |e: reqwest::Error| match refusal_of(&e) {
            Some(refusal) => refusal.to_string(),
            None => e.without_url().to_string(),
        };
        let exchange = async {
            let mut resp = req.send().await.map_err(failed)?;
            let status = resp.status().as_u16();
            let mut kept = bytes::BytesMut::new();
            while let Some(chunk) = resp.chunk().await.map_err(failed)? {
                let room = max.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(Answer {
                status,
                body: kept.freeze(),
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
    }
}
