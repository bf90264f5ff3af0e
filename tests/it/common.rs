//! The test harness: a real stowage server on 127.0.0.1:0 over a fresh metadata
//! store (SQLite in a temp dir, or a fresh PostgreSQL schema when
//! STOWAGE_TEST_DATABASE_URL is set) and a fresh object store (a temp dir, or the
//! S3-compatible server named by STOWAGE_TEST_STORAGE_URL).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stowage::auth::keys::KeyType;
use stowage::auth::rules::RuleSpec;
use stowage::blobs::Blobs;
use stowage::config::Config;
use stowage::meta::{Meta, PgMeta, SqliteMeta};
use stowage::state::AppState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend: `both!(name)` makes
/// `name::sqlite` and `name::postgres` tests from `async fn name(Backend)`.
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::common::postgres_url().is_some() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            }
        }
    };
}

static SKIP_NOTICE: AtomicBool = AtomicBool::new(false);

pub fn postgres_url() -> Option<String> {
    let url = std::env::var("STOWAGE_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty());
    if url.is_none() && !SKIP_NOTICE.swap(true, Ordering::SeqCst) {
        eprintln!("notice: STOWAGE_TEST_DATABASE_URL is unset; PostgreSQL variants are skipped");
    }
    url
}

pub struct TestApp {
    pub url: String,
    pub state: AppState,
    pub account: String,
    pub secret: String,
    pub public: String,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), String>>>,
    pg_schema: Option<(String, String)>,
    db_url: String,
    storage_url: String,
    _dir: Option<tempfile::TempDir>,
}

pub struct Options {
    pub max_file_size: u64,
    pub cache_max_file_size: u64,
    /// PostgreSQL only: reach the database through this address (a proxy the
    /// test controls) instead of the configured one.
    pub postgres_via: Option<std::net::SocketAddr>,
    pub abandoned_upload_ttl: u64,
    pub allowed_origins: String,
    pub sandbox_ttl: u64,
    pub body_timeout: u64,
    pub body_min_rate: u64,
    pub header_timeout: u64,
    pub max_connections: usize,
    pub direct_parts: bool,
    /// This object store instead of STOWAGE_TEST_STORAGE_URL or a temp dir.
    pub storage_url: Option<String>,
    /// STOWAGE_FETCH_ALLOWED_NETWORKS (tests' own servers on loopback).
    pub fetch_allowed_networks: String,
    /// SPEC §12's rate limits and trusted proxies.
    pub rate_uploads: u32,
    pub rate_transforms: u32,
    pub rate_anonymous: u32,
    pub trusted_proxies: String,
    /// STOWAGE_WEBHOOK_RETRY_BASE, seconds.
    pub webhook_retry_base: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_file_size: Config::default().max_file_size,
            cache_max_file_size: Config::default().cache_max_file_size,
            postgres_via: None,
            abandoned_upload_ttl: Config::default().abandoned_upload_ttl,
            direct_parts: false,
            storage_url: None,
            fetch_allowed_networks: String::new(),
            allowed_origins: String::new(),
            sandbox_ttl: Config::default().sandbox_ttl,
            body_timeout: Config::default().body_timeout,
            body_min_rate: Config::default().body_min_rate,
            header_timeout: Config::default().header_timeout,
            max_connections: Config::default().max_connections,
            rate_uploads: Config::default().rate_uploads,
            rate_transforms: Config::default().rate_transforms,
            rate_anonymous: Config::default().rate_anonymous,
            trusted_proxies: String::new(),
            webhook_retry_base: Config::default().webhook_retry_base,
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, opts: Options) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let (db_url, pg_schema) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/stowage.db", dir.path().display()),
                None,
            ),
            Backend::Postgres => {
                let url = postgres_url().expect("postgres url");
                let schema = format!("stowage_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&url).await.unwrap();
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
                (url.clone(), Some((url, schema)))
            }
        };
        let storage_url = opts
            .storage_url
            .clone()
            .or_else(|| std::env::var("STOWAGE_TEST_STORAGE_URL").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("file://{}/blobs", dir.path().display()));
        let schema = pg_schema.as_ref().map(|(_, s)| s.clone());
        let master: [u8; 32] = rand::random();
        let mut app = TestApp::start(
            &db_url,
            schema.as_deref(),
            &storage_url,
            &opts,
            dir.path(),
            master,
        )
        .await;
        app.pg_schema = pg_schema;
        app._dir = Some(dir);
        app.account = stowage::domain::keys::create_account(app.state.meta.as_ref(), false)
            .await
            .unwrap()
            .id;
        app.secret = app.key(KeyType::Secret, &[]).await;
        app.public = app.key(KeyType::Public, &[]).await;
        app
    }

    /// A second server (own caches, own connections) on the same database and
    /// object store: another node of the same deployment.
    pub async fn spawn_peer(&self) -> TestApp {
        self.spawn_peer_with(&Options::default()).await
    }

    /// [`TestApp::spawn_peer`] with these options.
    pub async fn spawn_peer_with(&self, opts: &Options) -> TestApp {
        let schema = self.pg_schema.as_ref().map(|(_, s)| s.clone());
        let dir = self._dir.as_ref().unwrap().path().to_path_buf();
        let mut peer = TestApp::start(
            &self.db_url,
            schema.as_deref(),
            &self.storage_url,
            opts,
            &dir,
            *self.state.master_key().master(),
        )
        .await;
        peer.account = self.account.clone();
        peer.secret = self.secret.clone();
        peer.public = self.public.clone();
        peer
    }

    async fn start(
        db_url: &str,
        schema: Option<&str>,
        storage_url: &str,
        opts: &Options,
        dir: &std::path::Path,
        master: [u8; 32],
    ) -> TestApp {
        let meta: Meta = match schema {
            None => Arc::new(SqliteMeta::connect(db_url).await.unwrap()),
            Some(schema) => {
                let mut url = url::Url::parse(db_url).unwrap();
                if let Some(via) = opts.postgres_via {
                    url.set_host(Some(&via.ip().to_string())).unwrap();
                    url.set_port(Some(via.port())).unwrap();
                }
                Arc::new(PgMeta::connect(url.as_str(), Some(schema)).await.unwrap())
            }
        };
        let blobs = Blobs::from_url(storage_url).unwrap();
        let config = Config {
            max_file_size: opts.max_file_size,
            cache_max_file_size: opts.cache_max_file_size,
            abandoned_upload_ttl: opts.abandoned_upload_ttl,
            direct_parts: opts.direct_parts,
            allowed_origins: opts.allowed_origins.clone(),
            sandbox_ttl: opts.sandbox_ttl,
            body_timeout: opts.body_timeout,
            body_min_rate: opts.body_min_rate,
            header_timeout: opts.header_timeout,
            max_connections: opts.max_connections,
            fetch_allowed_networks: opts.fetch_allowed_networks.clone(),
            rate_uploads: opts.rate_uploads,
            rate_transforms: opts.rate_transforms,
            rate_anonymous: opts.rate_anonymous,
            trusted_proxies: opts.trusted_proxies.clone(),
            webhook_retry_base: opts.webhook_retry_base,
            data_dir: dir.display().to_string(),
            ..Config::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let state = AppState::new(config, meta, blobs, master, url.clone()).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(stowage::server::serve(state.clone(), listener, async {
            let _ = rx.await;
        }));
        TestApp {
            url,
            state,
            account: String::new(),
            secret: String::new(),
            public: String::new(),
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
            pg_schema: None,
            db_url: db_url.to_string(),
            storage_url: storage_url.to_string(),
            _dir: None,
        }
    }

    /// The environment a `stowage` child process needs to work on this app's
    /// database and object store (its PostgreSQL schema included).
    pub fn cli_env(&self) -> Vec<(&'static str, String)> {
        let db = match &self.pg_schema {
            None => self.db_url.clone(),
            Some((url, schema)) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}options[search_path]={schema}")
            }
        };
        let dir = self._dir.as_ref().map(|d| d.path().display().to_string());
        vec![
            ("DATABASE_URL", db),
            ("STOWAGE_STORAGE_URL", self.storage_url.clone()),
            ("STOWAGE_DATA_DIR", dir.unwrap_or_default()),
        ]
    }

    /// A new key of this app's account with the given rules (`/x/*:read,create`).
    pub async fn key(&self, kind: KeyType, rules: &[&str]) -> String {
        self.key_for(&self.account, kind, rules).await
    }

    pub async fn key_for(&self, account: &str, kind: KeyType, rules: &[&str]) -> String {
        let rules = rules
            .iter()
            .map(|r| RuleSpec::parse_cli(r).unwrap())
            .collect();
        stowage::domain::keys::create_key(self.state.meta.as_ref(), account, kind, "test", rules)
            .await
            .unwrap()
            .1
    }

    /// Runs `sql` (one or more statements) directly on this app's database.
    pub async fn exec_sql(&self, sql: &str) {
        match &self.pg_schema {
            None => {
                let pool = sqlx::SqlitePool::connect(&self.db_url).await.unwrap();
                sqlx::raw_sql(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Some((url, schema)) => {
                let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
                let opts = opts.options([("search_path", schema.as_str())]);
                let pool = sqlx::PgPool::connect_with(opts).await.unwrap();
                sqlx::raw_sql(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
    }

    pub fn api(&self, rest: &str) -> String {
        format!("{}/v2/accounts/{}{}", self.url, self.account, rest)
    }

    pub fn raw(&self, path: &str) -> String {
        format!("{}/{}/raw{}", self.url, self.account, path)
    }

    /// Starts the graceful shutdown (what SIGTERM does in the binary).
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits for the server task to finish after [`TestApp::begin_shutdown`].
    pub async fn stopped(&mut self) -> Result<(), String> {
        self.server.take().unwrap().await.unwrap()
    }

    /// Uploads `bytes` to `path` with `key` through `/uploads/binary`.
    pub async fn upload(
        &self,
        key: &str,
        path: &str,
        bytes: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.api("/uploads/binary"))
            .query(&[("filePath", path)])
            .bearer_auth(key)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    /// Uploads and asserts success; returns the response JSON.
    pub async fn put(&self, path: &str, bytes: &[u8]) -> serde_json::Value {
        let resp = self.upload(&self.secret, path, bytes.to_vec()).await;
        assert_eq!(
            resp.status(),
            200,
            "upload {path}: {}",
            resp.text().await.unwrap()
        );
        resp.json().await.unwrap()
    }

    pub async fn get_bytes(&self, path: &str) -> (reqwest::StatusCode, Vec<u8>) {
        let resp = self.client.get(self.raw(path)).send().await.unwrap();
        (resp.status(), resp.bytes().await.unwrap().to_vec())
    }

    /// Every object key stored for this account.
    pub async fn blob_keys(&self) -> Vec<String> {
        self.state.blobs.list(&self.account).await.unwrap()
    }

    /// Polls `check` until it holds (or fails after `limit`).
    pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while !check().await {
            assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends raw bytes over a fresh TCP connection and returns what the server
    /// answered before closing (for requests a normal client will not send).
    pub async fn raw_http(&self, request: &[u8]) -> String {
        let addr = self.url.trim_start_matches("http://");
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some((url, schema)) = self.pg_schema.take() {
            // Drop the schema on a separate runtime: Drop cannot await.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                        let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                            .execute(&pool)
                            .await;
                        pool.close().await;
                    }
                });
            })
            .join()
            .ok();
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
