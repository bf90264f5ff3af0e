//! Configuration: built-in defaults, then `config/stowage.toml` (or `--config`),
//! then environment variables (`STOWAGE_*` and `DATABASE_URL`), as SPEC §9 names them.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Server configuration. Every field can be set in the TOML file under the same
/// name, or by the environment variable listed in [`ENV_VARS`].
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the server binds (`STOWAGE_LISTEN`).
    pub listen: String,
    /// Base of every URL the server returns (`STOWAGE_PUBLIC_URL`); empty = `http://<listen>`.
    pub public_url: String,
    /// `sqlite://…` or `postgres://…` (`DATABASE_URL`).
    pub database_url: String,
    /// object_store URL (`STOWAGE_STORAGE_URL`).
    pub storage_url: String,
    /// Master key, 64 hex characters (`STOWAGE_SECRET_KEY`); empty: generated into
    /// `<data_dir>/secret_key` on first start, with any database.
    pub secret_key: String,
    /// Server default maximum file size in bytes (`STOWAGE_MAX_FILE_SIZE`).
    pub max_file_size: u64,
    /// Comma-separated origins allowed with credentials (`STOWAGE_ALLOWED_ORIGINS`).
    pub allowed_origins: String,
    /// Seconds before a sandbox account's files are deleted (`STOWAGE_SANDBOX_TTL`).
    pub sandbox_ttl: u64,
    /// Directory for local state: the generated master key (any database) and, by
    /// default, the SQLite file and blobs (`STOWAGE_DATA_DIR`).
    pub data_dir: String,
    /// Seconds between sweeps of abandoned and dropped blobs (`STOWAGE_SWEEP_INTERVAL`).
    pub sweep_interval: u64,
    /// Seconds an unfinished upload's bytes are kept before the sweeper removes
    /// them (`STOWAGE_ABANDONED_UPLOAD_TTL`).
    pub abandoned_upload_ttl: u64,
    /// On S3, multipart part `uploadUrl`s are presigned S3 `UploadPart` URLs:
    /// part bytes go from the client to the bucket, never through stowage
    /// (`STOWAGE_DIRECT_PARTS`, default false).
    pub direct_parts: bool,
    /// Files up to this many bytes are kept in the in-memory download cache
    /// (`STOWAGE_CACHE_MAX_FILE_SIZE`); 0 disables it.
    pub cache_max_file_size: u64,
    /// Total bytes of the in-memory download cache (`STOWAGE_CACHE_CAPACITY`).
    pub cache_capacity: u64,
    /// Seconds in-flight requests get to finish after SIGTERM (`STOWAGE_DRAIN_TIMEOUT`).
    pub drain_timeout: u64,
    /// Print the first account's keys when the database has no account (`STOWAGE_BOOTSTRAP`).
    pub bootstrap: bool,
    /// Serve the web dashboard at `/dashboard` (`STOWAGE_DASHBOARD`).
    pub dashboard: bool,
    /// Seconds a request body may send nothing before 408 `body_timeout`
    /// (`STOWAGE_BODY_TIMEOUT`).
    pub body_timeout: u64,
    /// Bytes/s a request body must average once 10 s have passed since it was
    /// first read, else 408 `body_timeout` (`STOWAGE_BODY_MIN_RATE`); 0 = none.
    pub body_min_rate: u64,
    /// Seconds a connection may take to send a request's headers, and may stay
    /// idle between requests (`STOWAGE_HEADER_TIMEOUT`).
    pub header_timeout: u64,
    /// Open connections served at once; more wait to be accepted
    /// (`STOWAGE_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Largest source image (in pixels, from its header) a transformation
    /// decodes (`STOWAGE_IMAGE_MAX_PIXELS`).
    pub image_max_pixels: u64,
    /// CIDRs that uploads from a URL, webhooks and the upload hook may reach
    /// although private or loopback (`STOWAGE_FETCH_ALLOWED_NETWORKS`).
    pub fetch_allowed_networks: String,
    /// Uploads per minute per principal, also the burst (`STOWAGE_RATE_UPLOADS`,
    /// SPEC §12); 0 = no limit.
    pub rate_uploads: u32,
    /// Transformations not cached yet, per minute per principal, also the
    /// burst (`STOWAGE_RATE_TRANSFORMS`); 0 = no limit.
    pub rate_transforms: u32,
    /// Anonymous requests per second per client IP, also the burst
    /// (`STOWAGE_RATE_ANONYMOUS`); 0 = no limit.
    pub rate_anonymous: u32,
    /// CIDRs of proxies whose `X-Forwarded-For` names the client
    /// (`STOWAGE_TRUSTED_PROXIES`, comma-separated; default none).
    pub trusted_proxies: String,
    /// Seconds before a failed webhook delivery's first retry; retry n waits
    /// this × 6ⁿ (`STOWAGE_WEBHOOK_RETRY_BASE`, default 5; fractions allowed).
    pub webhook_retry_base: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            database_url: "sqlite://./data/stowage.db".into(),
            storage_url: "file://./data/blobs".into(),
            secret_key: String::new(),
            max_file_size: 5 * 1024 * 1024 * 1024,
            allowed_origins: String::new(),
            sandbox_ttl: 86_400,
            data_dir: "./data".into(),
            sweep_interval: 60,
            abandoned_upload_ttl: 86_400,
            direct_parts: false,
            cache_max_file_size: 256 * 1024,
            cache_capacity: 256 * 1024 * 1024,
            drain_timeout: 30,
            bootstrap: true,
            dashboard: true,
            body_timeout: 60,
            body_min_rate: 1024,
            header_timeout: 30,
            max_connections: 4096,
            image_max_pixels: 100_000_000,
            fetch_allowed_networks: String::new(),
            rate_uploads: 600,
            rate_transforms: 120,
            rate_anonymous: 0,
            trusted_proxies: String::new(),
            webhook_retry_base: 5.0,
        }
    }
}

/// Environment variables and the field each one sets.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("STOWAGE_LISTEN", "listen"),
    ("STOWAGE_PUBLIC_URL", "public_url"),
    ("DATABASE_URL", "database_url"),
    ("STOWAGE_STORAGE_URL", "storage_url"),
    ("STOWAGE_SECRET_KEY", "secret_key"),
    ("STOWAGE_MAX_FILE_SIZE", "max_file_size"),
    ("STOWAGE_ALLOWED_ORIGINS", "allowed_origins"),
    ("STOWAGE_SANDBOX_TTL", "sandbox_ttl"),
    ("STOWAGE_DATA_DIR", "data_dir"),
    ("STOWAGE_SWEEP_INTERVAL", "sweep_interval"),
    ("STOWAGE_ABANDONED_UPLOAD_TTL", "abandoned_upload_ttl"),
    ("STOWAGE_DIRECT_PARTS", "direct_parts"),
    ("STOWAGE_CACHE_MAX_FILE_SIZE", "cache_max_file_size"),
    ("STOWAGE_CACHE_CAPACITY", "cache_capacity"),
    ("STOWAGE_DRAIN_TIMEOUT", "drain_timeout"),
    ("STOWAGE_BOOTSTRAP", "bootstrap"),
    ("STOWAGE_DASHBOARD", "dashboard"),
    ("STOWAGE_BODY_TIMEOUT", "body_timeout"),
    ("STOWAGE_BODY_MIN_RATE", "body_min_rate"),
    ("STOWAGE_HEADER_TIMEOUT", "header_timeout"),
    ("STOWAGE_MAX_CONNECTIONS", "max_connections"),
    ("STOWAGE_IMAGE_MAX_PIXELS", "image_max_pixels"),
    ("STOWAGE_FETCH_ALLOWED_NETWORKS", "fetch_allowed_networks"),
    ("STOWAGE_RATE_UPLOADS", "rate_uploads"),
    ("STOWAGE_RATE_TRANSFORMS", "rate_transforms"),
    ("STOWAGE_RATE_ANONYMOUS", "rate_anonymous"),
    ("STOWAGE_TRUSTED_PROXIES", "trusted_proxies"),
    ("STOWAGE_WEBHOOK_RETRY_BASE", "webhook_retry_base"),
];

impl Config {
    /// Loads the file (when `path` is given it must exist; otherwise
    /// `config/stowage.toml` is read if present), then applies the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, String> {
        let default_path = PathBuf::from("config/stowage.toml");
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None if default_path.exists() => Some(default_path),
            None => None,
        };
        let mut config = match file {
            Some(p) => {
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read config file {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("config file {}: {e}", p.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        crate::outbound::Allowed::parse(&config.fetch_allowed_networks)?;
        crate::ratelimit::parse_proxies(&config.trusted_proxies)?;
        if !(config.webhook_retry_base.is_finite() && config.webhook_retry_base > 0.0) {
            return Err("STOWAGE_WEBHOOK_RETRY_BASE must be a positive number of seconds".into());
        }
        Ok(config)
    }

    /// Overrides fields from environment variables (the lookup is a parameter so
    /// tests need not touch the process environment).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        for (var, field) in ENV_VARS {
            let Some(value) = get(var) else { continue };
            let bad = |e: &dyn std::fmt::Display| format!("{var}={value:?}: {e}");
            match *field {
                "listen" => self.listen = value,
                "public_url" => self.public_url = value,
                "database_url" => self.database_url = value,
                "storage_url" => self.storage_url = value,
                "secret_key" => self.secret_key = value,
                "allowed_origins" => self.allowed_origins = value,
                "fetch_allowed_networks" => self.fetch_allowed_networks = value,
                "trusted_proxies" => self.trusted_proxies = value,
                "rate_uploads" => self.rate_uploads = value.parse().map_err(|e| bad(&e))?,
                "rate_transforms" => self.rate_transforms = value.parse().map_err(|e| bad(&e))?,
                "rate_anonymous" => self.rate_anonymous = value.parse().map_err(|e| bad(&e))?,
                "data_dir" => self.data_dir = value,
                "max_file_size" => self.max_file_size = value.parse().map_err(|e| bad(&e))?,
                "sandbox_ttl" => self.sandbox_ttl = value.parse().map_err(|e| bad(&e))?,
                "sweep_interval" => self.sweep_interval = value.parse().map_err(|e| bad(&e))?,
                "abandoned_upload_ttl" => {
                    self.abandoned_upload_ttl = value.parse().map_err(|e| bad(&e))?
                }
                "cache_max_file_size" => {
                    self.cache_max_file_size = value.parse().map_err(|e| bad(&e))?
                }
                "cache_capacity" => self.cache_capacity = value.parse().map_err(|e| bad(&e))?,
                "bootstrap" => self.bootstrap = value.parse().map_err(|e| bad(&e))?,
                "direct_parts" => self.direct_parts = value.parse().map_err(|e| bad(&e))?,
                "dashboard" => self.dashboard = value.parse().map_err(|e| bad(&e))?,
                "image_max_pixels" => self.image_max_pixels = value.parse().map_err(|e| bad(&e))?,
                "drain_timeout" => self.drain_timeout = value.parse().map_err(|e| bad(&e))?,
                "body_timeout" => self.body_timeout = value.parse().map_err(|e| bad(&e))?,
                "body_min_rate" => self.body_min_rate = value.parse().map_err(|e| bad(&e))?,
                "header_timeout" => self.header_timeout = value.parse().map_err(|e| bad(&e))?,
                "max_connections" => self.max_connections = value.parse().map_err(|e| bad(&e))?,
                "webhook_retry_base" => {
                    self.webhook_retry_base = value.parse().map_err(|e| bad(&e))?
                }
                other => unreachable!("ENV_VARS names unknown field {other}"),
            }
        }
        Ok(())
    }

    /// The configured allowed origins, trimmed, without empties.
    pub fn allowed_origins(&self) -> Vec<String> {
        self.allowed_origins
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// True when running on the embedded default (SQLite).
    pub fn is_embedded(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// The master key as bytes: the configured one, or the one kept in
    /// `<data_dir>/secret_key`, generated on first use (any database); see
    /// [`crate::master_key`]. Prints the multi-node notice when it generates one.
    pub fn master_key(&self) -> Result<[u8; 32], String> {
        let key = crate::master_key::resolve(&self.secret_key, Path::new(&self.data_dir))?;
        if let Some(notice) = key.notice() {
            eprintln!("{notice}");
        }
        Ok(key.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_defaults() {
        let mut c = Config::default();
        c.apply_env(|k| match k {
            "STOWAGE_LISTEN" => Some("0.0.0.0:9000".into()),
            "DATABASE_URL" => Some("postgres://x/y".into()),
            "STOWAGE_MAX_FILE_SIZE" => Some("1048576".into()),
            "STOWAGE_ALLOWED_ORIGINS" => Some("http://a.test, http://b.test/".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.database_url, "postgres://x/y");
        assert_eq!(c.max_file_size, 1_048_576);
        assert_eq!(c.allowed_origins(), vec!["http://a.test", "http://b.test"]);
        assert!(!c.is_embedded());
    }

    #[test]
    fn bad_number_names_the_variable() {
        let mut c = Config::default();
        let err = c
            .apply_env(|k| (k == "STOWAGE_MAX_FILE_SIZE").then(|| "5GB".into()))
            .unwrap_err();
        assert!(err.contains("STOWAGE_MAX_FILE_SIZE"), "{err}");
    }

    #[test]
    fn shipped_config_file_parses_to_defaults() {
        let text = std::fs::read_to_string("config/stowage.toml").unwrap();
        let c: Config = toml::from_str(&text).unwrap();
        let d = Config::default();
        assert_eq!(c.listen, d.listen);
        assert_eq!(c.database_url, d.database_url);
        assert_eq!(c.storage_url, d.storage_url);
        assert_eq!(c.max_file_size, d.max_file_size);
        assert_eq!(c.body_timeout, d.body_timeout);
        assert_eq!(c.body_min_rate, d.body_min_rate);
        assert_eq!(c.header_timeout, d.header_timeout);
        assert_eq!(c.max_connections, d.max_connections);
        assert_eq!(c.image_max_pixels, d.image_max_pixels);
        assert_eq!(c.rate_uploads, d.rate_uploads);
        assert_eq!(c.rate_transforms, d.rate_transforms);
        assert_eq!(c.rate_anonymous, d.rate_anonymous);
        assert_eq!(c.trusted_proxies, d.trusted_proxies);
        assert_eq!(c.webhook_retry_base, d.webhook_retry_base);
    }
}
