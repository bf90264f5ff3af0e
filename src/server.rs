//! Starting stowage: open the stores, bootstrap the first account, run the
//! sweeper and serve HTTP until shutdown (draining in-flight requests).

use crate::auth::keys::KeyType;
use crate::blobs::Blobs;
use crate::config::Config;
use crate::domain::keys as admin;
use crate::meta::{self, Meta};
use crate::state::AppState;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// Opens the metadata store (migrating it) and the object store.
pub async fn open_stores(config: &Config) -> Result<(Meta, Blobs), String> {
    let meta = meta::connect(&config.database_url).await?;
    let blobs = Blobs::from_url(&config.storage_url)?;
    Ok((meta, blobs))
}

/// The URL prefix of returned URLs: the configured one, else `http://<bound addr>`.
pub fn public_url(config: &Config, bound: SocketAddr) -> String {
    if config.public_url.is_empty() {
        format!("http://{bound}")
    } else {
        config.public_url.clone()
    }
}

/// On a database with no account: creates one with a secret and a public key and
/// returns the lines to print (the keys are shown this once).
pub async fn bootstrap(meta: &Meta) -> Result<Option<String>, String> {
    if !meta
        .list_accounts()
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Ok(None);
    }
    let account = admin::create_account(meta.as_ref(), false)
        .await
        .map_err(|e| e.to_string())?;
    let (_, secret) = admin::create_key(
        meta.as_ref(),
        &account.id,
        KeyType::Secret,
        "bootstrap",
        vec![],
    )
    .await
    .map_err(|e| e.to_string())?;
    let (_, public) = admin::create_key(
        meta.as_ref(),
        &account.id,
        KeyType::Public,
        "bootstrap",
        vec![],
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(Some(format!(
        "Created the first account. These keys are shown once; keep them.\n  \
         account:    {}\n  secret key: {secret}\n  public key: {public}",
        account.id
    )))
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let master_key = config.master_key()?;
    let (meta, blobs) = open_stores(&config).await?;
    if config.bootstrap {
        if let Some(msg) = bootstrap(&meta).await? {
            println!("{msg}");
        }
    }
    let state = AppState::new(
        config.clone(),
        meta,
        blobs,
        master_key,
        public_url(&config, bound),
    )?;
    tracing::info!(
        listen = %bound,
        database = state.meta.backend(),
        storage = state.blobs.describe(),
        "stowage listening"
    );
    serve(state, listener, shutdown).await
}

/// Runs the app, the sweeper and the webhook delivery worker on an already
/// opened state.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    migrate_to_subkeys(&state).await?;
    // Alive before the first upload can name this node (issue #33).
    crate::domain::sweeper::heartbeat(&state).await;
    // The recorder, and its upkeep thread (`metrics::handle`).
    crate::metrics::handle();
    let drain = Duration::from_secs(state.config.drain_timeout);
    let interval = Duration::from_secs(state.config.sweep_interval.max(1));
    let sweeper = tokio::spawn(crate::domain::sweeper::run(state.clone(), interval));
    let webhooks = tokio::spawn(crate::domain::events::run(state.clone()));
    let daily = tokio::spawn(crate::domain::daily::run(state.clone()));
    let limits = ConnLimits::of(&state.config);
    let state_for_flush = state.clone();
    let app = crate::build_app(state);
    let graceful = GracefulShutdown::new();
    // The signal runs in its own task (as axum::serve does): a panic there,
    // e.g. logging to a closed stderr, must not take the server down.
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        shutdown.await;
        let _ = signalled_tx.send(());
    });
    let signalled = async move {
        let _ = signalled_rx.await;
    };
    accept_loop(listener, app, &limits, &graceful, signalled).await;
    // Shutdown stops accepting and lets in-flight requests finish, for at most
    // `drain` after the signal.
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(?drain, "drain timeout: closing remaining connections");
    }
    sweeper.abort();
    webhooks.abort();
    daily.abort();
    // What this node counted since the last flush.
    let _ = crate::domain::daily::flush(&state_for_flush).await;
    Ok(())
}

/// The master key's subkeys (`auth/keyring.rs`, docs/decisions.md): URLs
/// signed with the master key itself pass while they can only have been made
/// before subkeys came into use (within the longest URL lifetime after that),
/// and signing-key secrets still sealed with it are re-sealed.
async fn migrate_to_subkeys(state: &AppState) -> Result<(), String> {
    let since_ms = state
        .meta
        .subkeys_since()
        .await
        .map_err(|e| format!("reading when subkeys came into use: {e}"))?;
    let longest = crate::domain::files::MAX_LINK_SECS
        .max(i64::try_from(state.config.abandoned_upload_ttl).unwrap_or(i64::MAX));
    let keys = state.master_key();
    keys.accept_legacy_urls_until((since_ms / 1000).saturating_add(longest));
    match crate::auth::secrets::reseal_legacy(state.meta.as_ref(), keys).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(signing_keys = n, "re-sealed signing keys under the subkey"),
        Err(e) => {
            tracing::warn!(error = %e, "re-sealing signing keys failed; will retry at next start")
        }
    }
    Ok(())
}

/// Requests one HTTP/2 connection may carry at once (its
/// `SETTINGS_MAX_CONCURRENT_STREAMS`; hyper's default is 200). With the
/// connection cap, requests in flight stay at most this × `STOWAGE_MAX_CONNECTIONS`;
/// a client's further streams wait for one to finish (or are refused with
/// `REFUSED_STREAM` if it ignores the setting).
pub const H2_MAX_STREAMS: u32 = 32;

/// Per-connection bounds (SPEC §8 "Bounded work per request").
struct ConnLimits {
    /// Connections served at once (`STOWAGE_MAX_CONNECTIONS`).
    max: Arc<Semaphore>,
    /// Time to send a request head, or to stay idle between requests
    /// (`STOWAGE_HEADER_TIMEOUT`).
    header_timeout: Duration,
}

impl ConnLimits {
    fn of(config: &Config) -> ConnLimits {
        ConnLimits {
            max: Arc::new(Semaphore::new(config.max_connections.max(1))),
            header_timeout: Duration::from_secs(config.header_timeout.max(1)),
        }
    }
}

/// Accepts connections until `shutdown` resolves, at most `limits.max` open at
/// once (the rest wait in the kernel's accept queue), each with a header-read
/// timeout and watched by `graceful`.
async fn accept_loop(
    listener: TcpListener,
    app: axum::Router,
    limits: &ConnLimits,
    graceful: &GracefulShutdown,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout))
        .max_concurrent_streams(H2_MAX_STREAMS);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.as_mut() => return,
            accepted = accept(&listener, &limits.max) => accepted,
        };
        let Some((tcp, peer, permit)) = accepted else {
            continue;
        };
        // Head and body go out in separate writes; Nagle would hold the body ~40 ms.
        let _ = tcp.set_nodelay(true);
        let service =
            TowerToHyperService::new(app.clone().map_request(move |req: Request<Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            }));
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
}

/// The next connection once a slot is free; None after a failed accept (which
/// is logged and briefly backed off, e.g. when out of file descriptors).
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(tokio::net::TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let permit = slots.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((tcp, peer)) => Some((tcp, peer, permit)),
        Err(e) => {
            tracing::warn!(error = %e, "accept failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}
