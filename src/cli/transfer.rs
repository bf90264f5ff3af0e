//! `stowage import` and `stowage export` (SPEC §13): the arguments, the
//! progress display (a bar on a terminal, a plain line every 2 s
//! otherwise) and the summary; the copying is `domain::transfer`.

use clap::Args;
use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stowage::config::Config;
use stowage::domain::transfer::{self, Progress, Summary, DEFAULT_CONCURRENCY};
use stowage::state::AppState;

#[derive(Args)]
pub struct ImportArgs {
    /// A directory, a file:// URL, or an object store prefix in the form of
    /// STOWAGE_STORAGE_URL (s3://bucket/prefix?endpoint=…&region=…).
    pub source: String,
    #[arg(long)]
    pub account: String,
    /// The folder the source's files go under, keeping their relative paths.
    #[arg(long)]
    pub to: String,
    /// Files copied at the same time.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Check every file (path, limits, an identical file already there)
    /// without copying anything; the summary says what would be imported.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long)]
    pub account: String,
    /// The folder to export (with its subfolders).
    pub folder: String,
    /// The local directory to write into (created if missing).
    pub dest: PathBuf,
    /// Files copied at the same time.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
}

pub async fn import(config: &Config, args: ImportArgs) -> Result<(), String> {
    let source = stowage::blobs::source::Source::open(&args.source)
        .map_err(|e| format!("cannot open the source {}: {e}", args.source))?;
    let state = open_state(config).await?;
    super::require_account(state.meta.as_ref(), &args.account).await?;
    let job = transfer::import::Import {
        account: args.account,
        to: args.to,
        concurrency: args.concurrency,
        dry_run: args.dry_run,
    };
    let progress = Arc::new(Progress::default());
    let display = Display::start("import", progress.clone());
    let interrupts = tokio::spawn(stop_on_ctrl_c(progress.clone()));
    let result = transfer::import::run(&state, &source, &job, &progress).await;
    interrupts.abort();
    display.finish().await;
    let verb = if job.dry_run {
        "would import (dry run)"
    } else {
        "imported"
    };
    report(verb, result.map_err(explain)?)
}

pub async fn export(config: &Config, args: ExportArgs) -> Result<(), String> {
    let state = open_state(config).await?;
    super::require_account(state.meta.as_ref(), &args.account).await?;
    let job = transfer::export::Export {
        account: args.account,
        folder: args.folder,
        dest: args.dest,
        concurrency: args.concurrency,
    };
    let progress = Arc::new(Progress::default());
    let display = Display::start("export", progress.clone());
    let result = transfer::export::run(&state, &job, &progress).await;
    display.finish().await;
    report("exported", result.map_err(explain)?)
}

/// The first Ctrl-C (SIGINT) starts no new file and lets the ones in
/// progress finish, so the summary is true and nothing is left half-staged;
/// a second one quits at once (still safe: each file is committed whole or
/// not at all).
async fn stop_on_ctrl_c(progress: Arc<Progress>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    progress.request_stop();
    eprintln!("stowage: interrupted; finishing the files in progress (Ctrl-C again to quit now)");
    if tokio::signal::ctrl_c().await.is_ok() {
        std::process::exit(130);
    }
}

/// The stores, as the server opens them. Import and export sign and seal
/// nothing, so the master key is a throwaway one (no key file is created).
async fn open_state(config: &Config) -> Result<AppState, String> {
    let (meta, blobs) = stowage::server::open_stores(config).await?;
    let public_url = match config.public_url.as_str() {
        "" => format!("http://{}", config.listen),
        url => url.to_string(),
    };
    AppState::new(config.clone(), meta, blobs, rand::random(), public_url)
}

/// An error that stopped the whole transfer, with what to do about it.
fn explain(e: stowage::error::AppError) -> String {
    format!("{} {}", e.message(), e.suggestion())
}

/// Prints the summary; an error (exit status 1) when any file failed.
fn report(verb: &str, s: Summary) -> Result<(), String> {
    println!(
        "{verb} {} file(s) ({}), skipped {} already there, failed {}",
        s.copied,
        HumanBytes(s.copied_bytes),
        s.skipped,
        s.failed.len()
    );
    for (path, why) in &s.failed {
        println!("  failed {path}: {why}");
    }
    if s.not_started > 0 {
        return Err(format!(
            "interrupted: {} file(s) not started; run the same command again to resume",
            s.not_started
        ));
    }
    match s.failed.len() {
        0 => Ok(()),
        n => Err(format!("{n} file(s) failed (listed above)")),
    }
}

/// The progress display, refreshed from [`Progress`] by its own task.
struct Display {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Display {
    fn start(what: &'static str, progress: Arc<Progress>) -> Display {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let terminal = std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let bar = terminal.then(new_bar);
            let every = Duration::from_millis(if terminal { 200 } else { 2000 });
            let begun = Instant::now();
            loop {
                let done = tokio::select! {
                    _ = &mut stopped => true,
                    _ = tokio::time::sleep(every) => false,
                };
                if progress.started.load(std::sync::atomic::Ordering::Acquire) {
                    match &bar {
                        Some(bar) => update_bar(bar, &progress),
                        None => eprintln!("{what}: {}", plain_line(&progress, begun)),
                    }
                }
                if done {
                    if let Some(bar) = bar {
                        bar.finish_and_clear();
                    }
                    return;
                }
            }
        });
        Display { stop, task }
    }

    async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
    )
    .expect("template");
    bar.set_style(style);
    bar
}

fn update_bar(bar: &ProgressBar, progress: &Progress) {
    let (files, total_files, bytes, total_bytes) = progress.snapshot();
    bar.set_length(total_bytes);
    bar.set_position(bytes);
    let more = if progress.is_listed() { "" } else { "+" };
    bar.set_message(format!("{files}/{total_files}{more} files"));
}

/// `12/40 files, 3.2 MiB/10.0 MiB, 1.1 MiB/s, ETA 6 seconds` (`40+` while
/// the source is still being listed).
fn plain_line(progress: &Progress, begun: Instant) -> String {
    let (files, total_files, bytes, total_bytes) = progress.snapshot();
    let secs = begun.elapsed().as_secs_f64().max(0.001);
    let rate = bytes as f64 / secs;
    let eta = if rate > 0.0 {
        HumanDuration(Duration::from_secs_f64(
            total_bytes.saturating_sub(bytes) as f64 / rate,
        ))
        .to_string()
    } else {
        "unknown".to_string()
    };
    let more = if progress.is_listed() { "" } else { "+" };
    format!(
        "{files}/{total_files}{more} files, {}/{}, {}/s, ETA {eta}",
        HumanBytes(bytes),
        HumanBytes(total_bytes),
        HumanBytes(rate as u64)
    )
}
