//! The dashboard's static files, embedded in the binary. Each is served at
//! `/dashboard/assets/<hash>/<name>`, the hash being the first 12 hex digits of
//! the SHA-256 of its bytes, so it can be cached forever.

use sha2::{Digest, Sha256};
use std::sync::LazyLock;

pub struct Asset {
    pub name: &'static str,
    pub mime: &'static str,
    pub bytes: &'static [u8],
    pub hash: String,
}

impl Asset {
    /// The URL path the shell links to.
    pub fn href(&self) -> String {
        format!("/dashboard/assets/{}/{}", self.hash, self.name)
    }
}

fn asset(name: &'static str, mime: &'static str, bytes: &'static [u8]) -> Asset {
    let hash = hex::encode(Sha256::digest(bytes))[..12].to_string();
    Asset {
        name,
        mime,
        bytes,
        hash,
    }
}

pub static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        asset(
            "app.js",
            "text/javascript; charset=utf-8",
            include_bytes!("assets/app.js"),
        ),
        asset(
            "wave3.js",
            "text/javascript; charset=utf-8",
            include_bytes!("assets/wave3.js"),
        ),
        asset(
            "app.css",
            "text/css; charset=utf-8",
            include_bytes!("assets/app.css"),
        ),
        asset(
            "icon.svg",
            "image/svg+xml",
            include_bytes!("assets/icon.svg"),
        ),
    ]
});

pub fn by_name(name: &str) -> &'static Asset {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .expect("embedded asset")
}

/// The asset at `/dashboard/assets/{hash}/{name}`, if the hash is current.
pub fn find(hash: &str, name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name && a.hash == hash)
}
