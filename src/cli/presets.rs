//! `stowage presets …`: an account's transformation presets (SPEC §6.1).

use super::require_account;
use clap::Subcommand;
use stowage::config::Config;

#[derive(Subcommand)]
pub enum PresetsCommand {
    /// Create or replace a preset, e.g. `presets set --account A thumb 'w=200&h=200&fit=crop'`.
    Set {
        #[arg(long)]
        account: String,
        /// `[a-z0-9-]{1,64}`; not raw, image, save, api, v2, dashboard or tus.
        name: String,
        /// Transformation parameters as a query string.
        params: String,
    },
    /// List the account's presets (name, tab, parameters).
    List {
        #[arg(long)]
        account: String,
    },
    /// Delete a preset.
    Delete {
        #[arg(long)]
        account: String,
        name: String,
    },
}

pub async fn run(config: &Config, cmd: PresetsCommand) -> Result<(), String> {
    use stowage::domain::presets;
    let meta = stowage::meta::connect(&config.database_url).await?;
    let meta = meta.as_ref();
    match cmd {
        PresetsCommand::Set {
            account,
            name,
            params,
        } => {
            require_account(meta, &account).await?;
            let row = presets::save(meta, &account, &name, &params)
                .await
                .map_err(|e| format!("{} {}", e.message(), e.suggestion()))?;
            println!("{}\t{}", row.name, row.params);
        }
        PresetsCommand::List { account } => {
            require_account(meta, &account).await?;
            for row in meta
                .list_presets(&account)
                .await
                .map_err(|e| e.to_string())?
            {
                println!("{}\t{}", row.name, row.params);
            }
        }
        PresetsCommand::Delete { account, name } => {
            require_account(meta, &account).await?;
            presets::remove(meta, &account, &name)
                .await
                .map_err(|e| e.message())?;
            eprintln!("deleted preset {name}");
        }
    }
    Ok(())
}
