//! The `stowage` command line (SPEC §9): one module per command group.

mod accounts;
mod folders;
mod keys;
mod presets;
mod transfer;
mod webhooks;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use stowage::config::Config;

#[derive(Parser)]
#[command(name = "stowage", version, about = "Self-hosted upload and CDN server")]
pub struct Cli {
    /// Configuration file (default: config/stowage.toml when present).
    #[arg(long, global = true, env = "STOWAGE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Folder visibility: Public, Private or Limited, inherited by subfolders.
    #[command(subcommand)]
    Folders(folders::FoldersCommand),
    /// Image transformation presets, served at /{account}/{preset}/{path}.
    #[command(subcommand)]
    Presets(presets::PresetsCommand),
    /// Webhooks: signed POSTs when files are created or deleted and folders change.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// Manage signing keys for client-side ImageKit-style uploads.
    #[command(subcommand, name = "signing-keys")]
    SigningKeys(keys::SigningKeysCommand),
    /// Manage the public keys that verify an account's JWTs.
    #[command(subcommand, name = "jwt-keys")]
    JwtKeys(keys::JwtKeysCommand),
    /// Copy a directory or an object store prefix into an account, keeping
    /// relative paths (files already there with the same bytes are skipped).
    Import(transfer::ImportArgs),
    /// Copy a folder's files to a local directory, with a manifest.jsonl.
    Export(transfer::ExportArgs),
    /// Replace the master key: re-seals every signing-key secret under the new
    /// key. Links and part upload URLs signed with the old key stop working.
    /// Stop every node first; with several nodes, set the new key on each.
    #[command(name = "rotate-secret-key")]
    RotateSecretKey {
        /// The new key, 64 hex characters (default: generate one).
        #[arg(long, env = "STOWAGE_NEW_SECRET_KEY", hide_env_values = true)]
        new_key: Option<String>,
    },
}

/// Runs one command with the configuration every command reads.
pub async fn run(cli: Cli) -> Result<(), String> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(&config.listen)
                .await
                .map_err(|e| {
                    format!(
                        "cannot listen on {}: {e} (set STOWAGE_LISTEN)",
                        config.listen
                    )
                })?;
            stowage::server::run(config, listener, stowage::server::shutdown_signal()).await
        }
        Command::Migrate => {
            let meta = stowage::meta::connect(&config.database_url).await?;
            println!("migrated {} database", meta.backend());
            Ok(())
        }
        Command::Accounts(cmd) => accounts::run(&config, cmd).await,
        Command::Folders(cmd) => folders::run(&config, cmd).await,
        Command::Keys(cmd) => keys::run_keys(&config, cmd).await,
        Command::Presets(cmd) => presets::run(&config, cmd).await,
        Command::Webhooks(cmd) => webhooks::run(&config, cmd).await,
        Command::JwtKeys(cmd) => keys::run_jwt_keys(&config, cmd).await,
        Command::SigningKeys(cmd) => keys::run_signing_keys(&config, cmd).await,
        Command::Import(args) => transfer::import(&config, args).await,
        Command::Export(args) => transfer::export(&config, args).await,
        Command::RotateSecretKey { new_key } => rotate_secret_key(&config, new_key).await,
    }
}

async fn rotate_secret_key(config: &Config, new_key: Option<String>) -> Result<(), String> {
    let r = stowage::master_key::rotate(
        &config.secret_key,
        std::path::Path::new(&config.data_dir),
        &config.database_url,
        new_key.as_deref(),
    )
    .await?;
    eprintln!(
        "re-sealed {} signing key secret(s); links signed with the old key no longer work",
        r.resealed
    );
    if let Some(path) = r.key_file {
        eprintln!("the new master key is in {}", path.display());
    }
    if let Some(key) = r.new_key_hex {
        println!("{key}");
        eprintln!("set STOWAGE_SECRET_KEY to the key above on every node, then start them");
    } else if !config.secret_key.is_empty() {
        eprintln!("set STOWAGE_SECRET_KEY to the new key on every node, then start them");
    }
    Ok(())
}

pub(crate) async fn require_account(
    meta: &dyn stowage::meta::MetaStore,
    account: &str,
) -> Result<(), String> {
    match meta.get_account(account).await.map_err(|e| e.to_string())? {
        Some(_) => Ok(()),
        None => Err(format!(
            "no account {account} (see `stowage accounts list`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
