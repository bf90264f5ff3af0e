//! The `stowage` command line (SPEC §9).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use stowage::admin;
use stowage::auth::keys::KeyType;
use stowage::auth::rules::RuleSpec;
use stowage::config::Config;

#[derive(Parser)]
#[command(name = "stowage", version, about = "Self-hosted upload and CDN server")]
struct Cli {
    /// Configuration file (default: config/stowage.toml when present).
    #[arg(long, global = true, env = "STOWAGE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Folder visibility: Public, Private or Limited, inherited by subfolders.
    #[command(subcommand)]
    Folders(FoldersCommand),
    /// Manage signing keys for client-side ImageKit-style uploads.
    #[command(subcommand, name = "signing-keys")]
    SigningKeys(SigningKeysCommand),
    /// Manage the public keys that verify an account's JWTs.
    #[command(subcommand, name = "jwt-keys")]
    JwtKeys(JwtKeysCommand),
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

#[derive(Subcommand)]
enum FoldersCommand {
    /// Set a folder's visibility (`inherit` removes its own setting).
    Set {
        #[arg(long)]
        account: String,
        path: String,
        #[arg(value_parser = ["public", "private", "limited", "inherit"])]
        visibility: String,
        /// With `limited`: the transformation slugs anyone may download.
        #[arg(long, value_delimiter = ',')]
        slugs: Vec<String>,
    },
    /// Print a folder's details (own and inherited settings) as JSON.
    Show {
        #[arg(long)]
        account: String,
        path: String,
    },
}

#[derive(Subcommand)]
enum SigningKeysCommand {
    /// Create a signing key and print its kid and secret (shown once).
    Create {
        #[arg(long)]
        account: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List an account's signing keys (without secrets).
    List {
        #[arg(long)]
        account: String,
    },
}

#[derive(Subcommand)]
enum JwtKeysCommand {
    /// Register an RS256 or ES256 public key (PEM) and print its kid.
    Add {
        #[arg(long)]
        account: String,
        #[arg(long)]
        pem: PathBuf,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List an account's JWT keys.
    List {
        #[arg(long)]
        account: String,
    },
    /// Delete a JWT key by its kid.
    Delete {
        #[arg(long)]
        account: String,
        kid: String,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Create an account and print its id.
    Create {
        /// Files of a sandbox account are deleted after STOWAGE_SANDBOX_TTL seconds.
        #[arg(long)]
        sandbox: bool,
    },
    /// List accounts: id and live/sandbox.
    List,
    /// Set an account's upload limits (omit a flag to restore the server default).
    Limits {
        #[arg(long)]
        account: String,
        /// Maximum file size in bytes (default: STOWAGE_MAX_FILE_SIZE).
        #[arg(long)]
        max_file_size: Option<u64>,
        /// Allowed MIME patterns, e.g. 'image/*,application/pdf' (default: any).
        #[arg(long)]
        allowed_mime: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it (shown once).
    Create {
        #[arg(long)]
        account: String,
        #[arg(long = "type", value_parser = ["secret", "public"])]
        key_type: String,
        #[arg(long, default_value = "")]
        name: String,
        /// A path rule, e.g. '/photos/*:read,create' (repeatable).
        #[arg(long = "rule", value_parser = RuleSpec::parse_cli)]
        rules: Vec<RuleSpec>,
    },
    /// List an account's live keys (masked).
    List {
        #[arg(long)]
        account: String,
    },
    /// Revoke a key by its id.
    Revoke {
        #[arg(long)]
        account: String,
        key_id: String,
    },
}

/// mimalloc: small-request allocation churn is a visible share of the CDN hot path.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli).await {
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

async fn run(cli: Cli) -> Result<(), String> {
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
        Command::RotateSecretKey { new_key } => {
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
        Command::Migrate => {
            let meta = stowage::meta::connect(&config.database_url).await?;
            println!("migrated {} database", meta.backend());
            Ok(())
        }
        Command::Accounts(cmd) => {
            let meta = stowage::meta::connect(&config.database_url).await?;
            match cmd {
                AccountsCommand::Create { sandbox } => {
                    let a = admin::create_account(meta.as_ref(), sandbox)
                        .await
                        .map_err(|e| e.to_string())?;
                    println!("{}", a.id);
                }
                AccountsCommand::Limits {
                    account,
                    max_file_size,
                    allowed_mime,
                } => {
                    let size = max_file_size.map(|s| s.min(i64::MAX as u64) as i64);
                    let done = meta
                        .set_account_limits(&account, size, allowed_mime.as_deref())
                        .await
                        .map_err(|e| e.to_string())?;
                    if !done {
                        return Err(format!(
                            "no account {account} (see `stowage accounts list`)"
                        ));
                    }
                    println!(
                        "{account}: max file size {}, allowed types {}",
                        max_file_size.map_or("server default".into(), |s| format!("{s} bytes")),
                        allowed_mime.as_deref().unwrap_or("any")
                    );
                }
                AccountsCommand::List => {
                    for a in meta.list_accounts().await.map_err(|e| e.to_string())? {
                        println!("{}\t{}", a.id, if a.sandbox { "sandbox" } else { "live" });
                    }
                }
            }
            Ok(())
        }
        Command::Folders(cmd) => {
            use stowage::auth::visibility;
            use stowage::domain::folders::{self, Change, SettingsChange};
            let meta = stowage::meta::connect(&config.database_url).await?;
            let show = |account: String, path: String| {
                let meta = meta.clone();
                async move {
                    let path = folders::normalize(&path).map_err(|e| e.message())?;
                    let row = meta
                        .get_folder(&account, &path)
                        .await
                        .map_err(|e| e.to_string())?;
                    let perms = visibility::load(meta.as_ref(), &account)
                        .await
                        .map_err(|e| e.message())?;
                    let details = folders::details(&path, row.as_ref(), &perms);
                    println!("{}", serde_json::to_string_pretty(&details).expect("json"));
                    Ok::<(), String>(())
                }
            };
            match cmd {
                FoldersCommand::Set {
                    account,
                    path,
                    visibility: vis,
                    slugs,
                } => {
                    require_account(meta.as_ref(), &account).await?;
                    let value = if vis == "inherit" {
                        None
                    } else {
                        let slugs: Vec<&str> = slugs.iter().map(String::as_str).collect();
                        let preset = visibility::preset(&vis, &slugs).expect("clap checked it");
                        Some(serde_json::to_value(preset).expect("json"))
                    };
                    let change = SettingsChange {
                        public_permissions: Some(Change { set: true, value }),
                        ..Default::default()
                    };
                    let path_n = folders::normalize(&path).map_err(|e| e.message())?;
                    folders::apply(meta.as_ref(), &account, &path_n, &change)
                        .await
                        .map_err(|e| e.message())?;
                    show(account, path).await?;
                }
                FoldersCommand::Show { account, path } => show(account, path).await?,
            }
            Ok(())
        }
        Command::SigningKeys(cmd) => {
            let meta = stowage::meta::connect(&config.database_url).await?;
            match cmd {
                SigningKeysCommand::Create { account, name } => {
                    require_account(meta.as_ref(), &account).await?;
                    let master = config.master_key()?;
                    let (row, secret) =
                        admin::create_signing_key(meta.as_ref(), &master, &account, &name)
                            .await
                            .map_err(|e| e.message())?;
                    println!("kid:    {}\nsecret: {secret}", row.kid);
                    eprintln!("the secret is shown only now; it is stored encrypted with STOWAGE_SECRET_KEY");
                }
                SigningKeysCommand::List { account } => {
                    for k in meta
                        .list_signing_keys(&account)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        println!("{}\t{}", k.kid, k.name);
                    }
                }
            }
            Ok(())
        }
        Command::JwtKeys(cmd) => {
            let meta = stowage::meta::connect(&config.database_url).await?;
            match cmd {
                JwtKeysCommand::Add { account, pem, name } => {
                    require_account(meta.as_ref(), &account).await?;
                    let text = std::fs::read_to_string(&pem)
                        .map_err(|e| format!("cannot read {}: {e}", pem.display()))?;
                    let row = admin::add_jwt_key(meta.as_ref(), &account, &text, &name)
                        .await
                        .map_err(|e| e.message())?;
                    println!("{}", row.kid);
                    eprintln!(
                        "{} key registered; sign JWTs with header kid {:?}",
                        row.alg, row.kid
                    );
                }
                JwtKeysCommand::List { account } => {
                    for k in meta
                        .list_jwt_keys(&account)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        println!("{}\t{}\t{}", k.kid, k.alg, k.name);
                    }
                }
                JwtKeysCommand::Delete { account, kid } => {
                    if !meta
                        .delete_jwt_key(&account, &kid)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        return Err(format!("account {account} has no JWT key {kid}"));
                    }
                    println!("deleted {kid}");
                }
            }
            Ok(())
        }
        Command::Keys(cmd) => {
            let meta = stowage::meta::connect(&config.database_url).await?;
            match cmd {
                KeysCommand::Create {
                    account,
                    key_type,
                    name,
                    rules,
                } => {
                    if meta
                        .get_account(&account)
                        .await
                        .map_err(|e| e.to_string())?
                        .is_none()
                    {
                        return Err(format!(
                            "no account {account} (see `stowage accounts list`)"
                        ));
                    }
                    let kind = KeyType::parse(&key_type).expect("clap checked the type");
                    let (row, key) = admin::create_key(meta.as_ref(), &account, kind, &name, rules)
                        .await
                        .map_err(|e| e.to_string())?;
                    println!("{key}");
                    eprintln!(
                        "key id {} ({}); the key is shown only now",
                        row.id, row.display
                    );
                }
                KeysCommand::List { account } => {
                    for k in meta
                        .list_api_keys(&account)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            k.id, k.key_type, k.display, k.name, k.rules
                        );
                    }
                }
                KeysCommand::Revoke { account, key_id } => {
                    let done = meta
                        .revoke_api_key(&account, &key_id, stowage::meta::now_ms())
                        .await
                        .map_err(|e| e.to_string())?;
                    if !done {
                        return Err(format!("account {account} has no live key {key_id}"));
                    }
                    println!("revoked {key_id}");
                }
            }
            Ok(())
        }
    }
}

async fn require_account(meta: &dyn stowage::meta::MetaStore, account: &str) -> Result<(), String> {
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
