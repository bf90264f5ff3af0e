//! The `stowage` binary: parses the command line and runs it (see `cli/`).

mod cli;

use clap::Parser;
use std::process::ExitCode;

// jemalloc, configured to give memory back: measured on the same build
// (docs/performance.md), mimalloc served 1 KiB files about as fast but kept
// 75 MiB idle after a 100 MiB upload and peaked at 370 MiB under 100 concurrent
// 100 MiB downloads; glibc's malloc stayed at 19 MiB idle and 47 MiB peak but
// served 1 KiB files 15-20 % slower. jemalloc with two arenas, dirty pages
// returned after 1 s by its background thread: 21 MiB idle, ~60 MiB peak, and
// mimalloc's request rate.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its start (`_RJEM_MALLOC_CONF` still overrides).
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static MALLOC_CONF: &[u8] =
    b"background_thread:true,narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stowage: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}
