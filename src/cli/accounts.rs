//! `stowage accounts …`

use clap::Subcommand;
use stowage::config::Config;
use stowage::domain::keys as admin;

#[derive(Subcommand)]
pub enum AccountsCommand {
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

pub async fn run(config: &Config, cmd: AccountsCommand) -> Result<(), String> {
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
