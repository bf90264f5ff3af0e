//! `stowage accounts …`

use clap::Subcommand;
use stowage::config::Config;
use stowage::domain::keys as admin;
use stowage::domain::quotas;
use stowage::meta::AccountLimits;

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
    /// Set an account's upload limits and quotas (each flag omitted is reset
    /// to its default: the server's max file size, any type, no quota — a
    /// sandbox account's quotas default to 1 GiB and 10 000 files).
    Limits {
        #[arg(long)]
        account: String,
        /// Maximum file size in bytes (default: STOWAGE_MAX_FILE_SIZE).
        #[arg(long)]
        max_file_size: Option<u64>,
        /// Allowed MIME patterns, e.g. 'image/*,application/pdf' (default: any).
        #[arg(long)]
        allowed_mime: Option<String>,
        /// Quota on the bytes of every kept version (SPEC §12).
        #[arg(long)]
        max_storage_bytes: Option<u64>,
        /// Quota on the number of files.
        #[arg(long)]
        max_files: Option<u64>,
    },
    /// Show what an account stores (files, versions, bytes, stored bytes).
    Usage {
        #[arg(long)]
        account: String,
        /// Recount from the files, versions and blobs, and repair the row.
        #[arg(long)]
        recount: bool,
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
            max_storage_bytes,
            max_files,
        } => {
            let n = |v: Option<u64>| v.map(|s| s.min(i64::MAX as u64) as i64);
            let limits = AccountLimits {
                max_file_size: n(max_file_size),
                allowed_mime,
                max_storage_bytes: n(max_storage_bytes),
                max_files: n(max_files),
            };
            quotas::set_limits(meta.as_ref(), &account, limits.clone())
                .await
                .map_err(|e| e.to_string())?;
            let or = |v: Option<i64>, unit: &str, default: &str| {
                v.map_or(default.to_string(), |v| format!("{v}{unit}"))
            };
            println!(
                "{account}: max file size {}, allowed types {}, max storage {}, max files {}",
                or(limits.max_file_size, " bytes", "server default"),
                limits.allowed_mime.as_deref().unwrap_or("any"),
                or(limits.max_storage_bytes, " bytes", "default"),
                or(limits.max_files, "", "default"),
            );
        }
        AccountsCommand::Usage { account, recount } => {
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
            let row = if recount {
                meta.recount_usage(&account).await
            } else {
                meta.usage_row(&account)
                    .await
                    .map(Option::unwrap_or_default)
            }
            .map_err(|e| e.to_string())?;
            println!(
                "{account}: files {}, versions {}, bytes {}, stored bytes {}",
                row.files, row.versions, row.bytes, row.stored_bytes
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
