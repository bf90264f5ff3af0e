//! The `stowage` binary: parses the command line and runs it (see `cli/`).

mod cli;

use clap::Parser;
use std::process::ExitCode;

// The system allocator (glibc). Measured on the same build
// (docs/performance.md): mimalloc kept 75 MiB idle after a 100 MiB upload and
// peaked at 370 MiB under 100 concurrent downloads; jemalloc (2 arenas, 1 s
// decay) held 21 MiB idle and served small files fastest but made image
// transformations ~45 % slower (12 MP → 400 px: ~155 ms vs ~105 ms); glibc
// stays at ~19 MiB idle, ~50 MiB peak and keeps images fast.

#[tokio::main]
async fn main() -> ExitCode {
    // `stowage __avif-decode`: the AVIF decoder process (src/images/avif_proc.rs).
    if let Some(code) = stowage::images::decoder_main() {
        return ExitCode::from(code);
    }
    if let Ok(exe) = std::env::current_exe() {
        stowage::images::set_avif_decoder(exe);
    }
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
