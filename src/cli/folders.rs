//! `stowage folders …`: visibility presets.

use super::require_account;
use clap::Subcommand;
use stowage::config::Config;

#[derive(Subcommand)]
pub enum FoldersCommand {
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

pub async fn run(config: &Config, cmd: FoldersCommand) -> Result<(), String> {
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
            let view = folders::FolderView {
                path,
                row,
                perms: std::sync::Arc::new(perms),
            };
            let details = stowage::http::folders::details_json(&view);
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
