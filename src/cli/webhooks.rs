//! `stowage webhooks …`: an account's webhooks (SPEC §11).

use super::require_account;
use clap::Subcommand;
use stowage::config::Config;

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// Register a webhook, e.g. `webhooks add --account A https://example.com/hook
    /// --events file.created,file.deleted`; prints its secret (shown only now).
    Add {
        #[arg(long)]
        account: String,
        /// Where events are POSTed (SPEC §5.7's address rules apply).
        url: String,
        /// Comma-separated: file.created, file.deleted, folder.updated,
        /// webhook.test, or * for all.
        #[arg(long, default_value = "*", value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List the account's webhooks (id, URL, events, description).
    List {
        #[arg(long)]
        account: String,
    },
    /// Delete a webhook (its pending deliveries go with it).
    Delete {
        #[arg(long)]
        account: String,
        webhook_id: String,
    },
}

pub async fn run(config: &Config, cmd: WebhooksCommand) -> Result<(), String> {
    use stowage::domain::events;
    let meta = stowage::meta::connect(&config.database_url).await?;
    let meta = meta.as_ref();
    let explain = |e: stowage::error::AppError| format!("{} {}", e.message(), e.suggestion());
    match cmd {
        WebhooksCommand::Add {
            account,
            url,
            events: types,
            description,
        } => {
            require_account(meta, &account).await?;
            let keys = stowage::auth::keyring::Keyring::new(config.master_key()?);
            let outbound = stowage::outbound::Outbound::new(&config.fetch_allowed_networks)?;
            let new = events::NewWebhook {
                url,
                events: types,
                description,
            };
            let (row, secret) = events::register(meta, &keys, &outbound, &account, new)
                .await
                .map_err(explain)?;
            println!("webhookId: {}\nsecret:    {secret}", row.webhook_id);
            eprintln!("the secret is shown only now; verify deliveries with it");
        }
        WebhooksCommand::List { account } => {
            require_account(meta, &account).await?;
            for w in meta.list_webhooks(&account).await.map_err(explain)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    w.webhook_id, w.url, w.events, w.description
                );
            }
        }
        WebhooksCommand::Delete {
            account,
            webhook_id,
        } => {
            require_account(meta, &account).await?;
            if !meta
                .delete_webhook(&account, &webhook_id)
                .await
                .map_err(explain)?
            {
                return Err(format!("account {account} has no webhook {webhook_id}"));
            }
            eprintln!("deleted webhook {webhook_id}");
        }
    }
    Ok(())
}
