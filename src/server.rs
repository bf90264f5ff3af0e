//! Starting stowage: open the stores, bootstrap the first account, run the
//! sweeper and serve HTTP until shutdown (draining in-flight requests).

use crate::auth::keys::KeyType;
use crate::blobs::Blobs;
use crate::config::Config;
use crate::domain::keys as admin;
use crate::meta::{self, Meta};
use crate::state::AppState;
use axum::serve::ListenerExt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

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
    );
    tracing::info!(
        listen = %bound,
        database = state.meta.backend(),
        storage = state.blobs.describe(),
        "stowage listening"
    );
    serve(state, listener, shutdown).await
}

/// Runs the app and the sweeper on an already opened state.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let metrics = crate::metrics::handle();
    // Histograms keep every sample until upkeep drains them into their
    // buckets: without this, memory grows with every request served.
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            metrics.run_upkeep();
        }
    });
    let drain = Duration::from_secs(state.config.drain_timeout);
    let interval = Duration::from_secs(state.config.sweep_interval.max(1));
    let sweeper = tokio::spawn(crate::domain::sweeper::run(state.clone(), interval));
    let app = crate::build_app(state);
    let listener = listener.tap_io(|tcp| {
        // Head and body go out in separate writes; Nagle would hold the body ~40 ms.
        let _ = tcp.set_nodelay(true);
    });
    // Shutdown stops accepting and lets in-flight requests finish, for at most
    // `drain` after the signal.
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = signalled_tx.send(());
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let deadline = async move {
        if signalled_rx.await.is_ok() {
            tokio::time::sleep(drain).await;
            tracing::warn!(?drain, "drain timeout: closing remaining connections");
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        r = server => r.map_err(|e| e.to_string()),
        _ = deadline => Ok(()),
    };
    sweeper.abort();
    upkeep.abort();
    result
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
