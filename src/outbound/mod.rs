//! Outbound HTTP: the one way stowage opens connections to addresses users
//! name — uploads from a URL (SPEC §5.7), webhook deliveries and the upload
//! hook (SPEC §11) — and the one owner of their address rules
//! ([`address`]).
//!
//! - Only `http` and `https`; a literal address in the URL (any spelling the
//!   URL standard accepts: `0`, `2130706433`, `0177.0.0.1`,
//!   `[::ffff:127.0.0.1]`) is checked before anything is sent.
//! - A host name is resolved once, by [`CheckedResolver`]: every address it
//!   resolves to is checked, one refused address refuses the host, and the
//!   connection goes to the checked addresses (reqwest connects to what the
//!   resolver returned: no second lookup, no DNS rebinding).
//! - Redirects (fetches only) are followed at most [`MAX_REDIRECTS`] times,
//!   each target checked again; deliveries never follow them.
//! - No proxy from the environment; TLS verified with the platform's roots.

pub mod address;
mod deliver;
pub mod fetch;

pub use address::Allowed;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Redirects a fetch follows at most.
pub const MAX_REDIRECTS: usize = 5;
/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a destination may not be reached.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("only http and https URLs can be fetched, not {0:?}")]
    Scheme(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{host} is a {class} address ({addr}), which this server does not reach")]
    Address {
        host: String,
        addr: IpAddr,
        class: &'static str,
    },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
}

/// A refused destination is 400 `url_not_allowed` (SPEC §5.7), wherever
/// the URL came from (an upload from a URL, a webhook, the upload hook).
impl From<Refusal> for crate::error::AppError {
    fn from(r: Refusal) -> Self {
        crate::error::AppError::Fetch(crate::error::FetchError::NotAllowed {
            reason: r.to_string(),
        })
    }
}

/// The outbound HTTP component (one per server).
#[derive(Clone)]
pub struct Outbound {
    allowed: Arc<Allowed>,
    /// Follows checked redirects (uploads from a URL).
    fetch: reqwest::Client,
    /// Follows none (webhooks, the upload hook).
    post: reqwest::Client,
}

impl Outbound {
    /// `allowed`: `STOWAGE_FETCH_ALLOWED_NETWORKS`.
    pub fn new(allowed: &str) -> Result<Outbound, String> {
        let allowed = Arc::new(Allowed::parse(allowed)?);
        let checked = allowed.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            // `previous` holds the first URL too: MAX_REDIRECTS hops, then no more.
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(Refusal::TooManyRedirects);
            }
            match check_url(attempt.url(), &checked) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(refusal),
            }
        });
        Ok(Outbound {
            fetch: client(allowed.clone(), policy)?,
            post: client(allowed.clone(), reqwest::redirect::Policy::none())?,
            allowed,
        })
    }

    /// Parses and checks a URL a user gave: scheme, and its address when it
    /// is a literal one (names are checked when they are resolved).
    pub fn check(&self, raw: &str) -> Result<Url, Refusal> {
        let url = Url::parse(raw.trim())
            .map_err(|e| Refusal::Invalid(format!("{raw:?} is not a URL: {e}")))?;
        check_url(&url, &self.allowed)?;
        Ok(url)
    }

    /// [`Outbound::check`], and for a host name its addresses now (a URL
    /// that is saved to be called later: a webhook, the upload hook).
    pub async fn check_now(&self, raw: &str) -> Result<Url, Refusal> {
        let url = self.check(raw)?;
        if let Some(url::Host::Domain(name)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(80);
            match resolve(name, port, &self.allowed).await {
                Ok(_) | Err(Checked::Lookup(_)) => {}
                Err(Checked::Refused(r)) => return Err(r),
            }
        }
        Ok(url)
    }

    /// The client for fetches (redirects followed, each checked).
    pub fn fetcher(&self) -> &reqwest::Client {
        &self.fetch
    }

    /// The client for deliveries (no redirects).
    pub fn poster(&self) -> &reqwest::Client {
        &self.post
    }
}

/// The [`Refusal`] behind a failed request, if it was one of ours.
pub fn refusal_of(err: &reqwest::Error) -> Option<Refusal> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(r) = e.downcast_ref::<Refusal>() {
            return Some(r.clone());
        }
        source = e.source();
    }
    None
}

fn client(
    allowed: Arc<Allowed>,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(redirects)
        .dns_resolver(Arc::new(CheckedResolver { allowed }))
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("stowage/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("outbound HTTP client: {e}"))
}

/// Scheme, and a literal address's class.
fn check_url(url: &Url, allowed: &Allowed) -> Result<(), Refusal> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(Refusal::Scheme(other.to_string())),
    }
    let literal: Option<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(v4.into()),
        Some(url::Host::Ipv6(v6)) => Some(v6.into()),
        Some(url::Host::Domain(_)) => None,
        None => return Err(Refusal::Invalid(format!("{url} names no host"))),
    };
    match literal.map(|ip| (ip, address::refused(ip, allowed))) {
        Some((addr, Some(class))) => Err(Refusal::Address {
            host: url.host_str().unwrap_or_default().to_string(),
            addr,
            class,
        }),
        _ => Ok(()),
    }
}

/// Resolves host names for the outbound clients, refusing a name any of whose
/// addresses is refused.
struct CheckedResolver {
    allowed: Arc<Allowed>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.allowed.clone();
        Box::pin(async move {
            match resolve(name.as_str(), 0, &allowed).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(Checked::Refused(r)) => Err(Box::new(r) as _),
                Err(Checked::Lookup(e)) => Err(Box::new(e) as _),
            }
        })
    }
}

enum Checked {
    Refused(Refusal),
    Lookup(std::io::Error),
}

/// Every address `host` resolves to, each checked.
async fn resolve(host: &str, port: u16, allowed: &Allowed) -> Result<Vec<SocketAddr>, Checked> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(Checked::Lookup)?
        .collect();
    for a in &addrs {
        if let Some(class) = address::refused(a.ip(), allowed) {
            return Err(Checked::Refused(Refusal::Address {
                host: host.to_string(),
                addr: a.ip(),
                class,
            }));
        }
    }
    if addrs.is_empty() {
        return Err(Checked::Lookup(std::io::Error::other(format!(
            "{host} has no address"
        ))));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_spelling_of_a_local_address_is_refused() {
        let out = Outbound::new("").unwrap();
        for url in [
            "http://127.0.0.1/",
            "http://0/",
            "http://0.0.0.0:8080/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://10.1.2.3/",
            "http://100.64.0.1/",
        ] {
            match out.check(url) {
                Err(Refusal::Address { .. }) => {}
                other => panic!("{url}: {other:?}"),
            }
        }
        for url in ["ftp://example.com/", "file:///etc/passwd", "gopher://x/"] {
            assert!(matches!(out.check(url), Err(Refusal::Scheme(_))), "{url}");
        }
        match out.check_now("http://localhost:9/").await {
            Err(Refusal::Address { class, .. }) => assert_eq!(class, "loopback"),
            other => panic!("localhost: {other:?}"),
        }
        assert!(out.check("https://example.com/a.png").is_ok());
        let open = Outbound::new("127.0.0.1/32").unwrap();
        assert!(open.check("http://127.0.0.1:9/").is_ok());
        assert!(open.check("http://127.0.0.2:9/").is_err());
    }
}
