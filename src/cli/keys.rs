//! `stowage keys …`, `jwt-keys …` and `signing-keys …`.

use super::require_account;
use clap::Subcommand;
use std::path::PathBuf;
use stowage::auth::keys::KeyType;
use stowage::auth::rules::RuleSpec;
use stowage::config::Config;
use stowage::domain::keys as admin;

#[derive(Subcommand)]
pub enum KeysCommand {
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

#[derive(Subcommand)]
pub enum JwtKeysCommand {
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
pub enum SigningKeysCommand {
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

pub async fn run_keys(config: &Config, cmd: KeysCommand) -> Result<(), String> {
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

pub async fn run_jwt_keys(config: &Config, cmd: JwtKeysCommand) -> Result<(), String> {
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

pub async fn run_signing_keys(config: &Config, cmd: SigningKeysCommand) -> Result<(), String> {
    let meta = stowage::meta::connect(&config.database_url).await?;
    match cmd {
        SigningKeysCommand::Create { account, name } => {
            require_account(meta.as_ref(), &account).await?;
            let master = stowage::auth::keyring::Keyring::new(config.master_key()?);
            let (row, secret) = admin::create_signing_key(meta.as_ref(), &master, &account, &name)
                .await
                .map_err(|e| e.message())?;
            println!("kid:    {}\nsecret: {secret}", row.kid);
            eprintln!(
                "the secret is shown only now; it is stored encrypted with STOWAGE_SECRET_KEY"
            );
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
