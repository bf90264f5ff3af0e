//! Authentication and authorization: the only place credentials are read.
//!
//! Carriers (SPEC §2, [`carriers`]) become one [`Principal`] through [`Auth`],
//! which owns every credential cache; a permission is a value ([`Need`]) the
//! principal is asked for (SPEC §3), with no existence leak.

mod authn;
pub mod carriers;
pub mod dashboard;
pub mod imagekit;
pub mod jwt;
pub mod keyring;
pub mod keys;
pub mod rules;
pub mod secrets;
pub mod signed;
pub mod tokens;
pub mod visibility;

pub use authn::{Auth, SignedLink, CACHE_TTL};

use crate::error::{AppError, AppResult};
use crate::meta::ApiKeyRow;
use keys::KeyType;
use rules::{Grants, Op, Ops, Rule, RuleSpec};
use std::sync::Arc;

/// What a request is, after authentication.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The credential's account; None for anonymous requests.
    pub account: Option<String>,
    pub grants: Arc<Grants>,
    pub via: Via,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Via {
    Anonymous,
    ApiKey {
        key_id: String,
        key_type: KeyType,
    },
    /// A JWT alone (`Authorization: Bearer eyJ…`).
    Jwt {
        sub: String,
    },
    /// An API key plus an `Authorization-Token` JWT.
    ApiKeyAndJwt {
        key_id: String,
        key_type: KeyType,
        sub: String,
    },
    /// The session cookie set by the access-token endpoint (CDN reads only).
    Cookie,
    /// A signed download link for one file.
    SignedUrl,
    /// A single-use upload token (`Bearer token_…`), not yet spent: the upload
    /// route spends it.
    UploadToken {
        token_hash: String,
    },
    /// A client upload token (ImageKit V1/V2) already verified and spent: it may
    /// create exactly one path.
    ClientToken,
    /// The operator at the command line (`stowage import`/`export`): whoever
    /// can reach the database and the store already holds everything.
    Operator,
}

impl Principal {
    pub fn anonymous() -> Principal {
        static NONE: std::sync::LazyLock<Arc<Grants>> =
            std::sync::LazyLock::new(|| Arc::new(Grants::None));
        Principal {
            account: None,
            grants: NONE.clone(),
            via: Via::Anonymous,
        }
    }

    /// A live API key's principal: exactly the key's grants.
    pub fn of_key(key: &ResolvedKey) -> Principal {
        Principal {
            account: Some(key.row.account_id.clone()),
            grants: key.grants.clone(),
            via: Via::ApiKey {
                key_id: key.row.id.clone(),
                key_type: key.key_type,
            },
        }
    }

    /// The command line's principal for `account`: every operation
    /// everywhere in it, as a secret key without rules.
    pub fn operator(account: &str) -> Principal {
        Principal {
            account: Some(account.to_string()),
            grants: Arc::new(Grants::Everywhere(rules::Ops::all())),
            via: Via::Operator,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.via == Via::Anonymous
    }

    /// The operator's own command line (`stowage import`): not a client, so
    /// neither the upload hook nor the upload rate limit applies.
    pub fn is_operator(&self) -> bool {
        self.via == Via::Operator
    }

    /// A principal of `account` with exactly `ops` on the one path `path`.
    pub fn scoped(account: &str, path: &str, ops: Vec<Op>, via: Via) -> AppResult<Principal> {
        let rule = Rule::compile(RuleSpec {
            path: globset::escape(path),
            ops,
        })?;
        Ok(Principal {
            account: Some(account.to_string()),
            grants: Arc::new(Grants::Rules(vec![rule])),
            via,
        })
    }

    /// Who owns what this principal begins (multipart and tus sessions): the
    /// key id, the JWT `sub`, or the upload token; None for anonymous requests.
    pub fn owner(&self) -> Option<String> {
        match &self.via {
            Via::ApiKey { key_id, .. } => Some(format!("key:{key_id}")),
            Via::ApiKeyAndJwt { key_id, sub, .. } => Some(format!("key:{key_id}:jwt:{sub}")),
            Via::Jwt { sub } => Some(format!("jwt:{sub}")),
            Via::UploadToken { token_hash } => Some(format!("token:{token_hash}")),
            Via::Operator => Some("operator".to_string()),
            Via::Anonymous | Via::Cookie | Via::SignedUrl | Via::ClientToken => None,
        }
    }

    /// SPEC §3 on the principal's own grants (folder visibility is not
    /// consulted: see [`Auth::require_read`] for downloads).
    pub fn require(&self, account: &str, need: Need) -> AppResult<()> {
        decide(self, account, need, None, false).map(|_| ())
    }

    /// SPEC §3 on the principal's own grants for a download of `path`
    /// through `slug` (`raw` the original): the decision `/raw` and
    /// transformations make, without folder visibility, as on every API
    /// route. Making a signed link or a copy needs it with `raw` (SPEC §6),
    /// so a credential that may only read a preset cannot reach the original.
    pub fn require_download(&self, account: &str, path: &str, slug: &str) -> AppResult<()> {
        decide(self, account, Need::read(path), Some(slug), false).map(|_| ())
    }

    /// Refuses, before a body is read, a principal that may not do `op`
    /// anywhere in `account` (wrong account, anonymous, or no rule with `op`):
    /// the same answer [`Principal::require`] gives for any path.
    pub fn require_somewhere(&self, account: &str, op: Op) -> AppResult<()> {
        let own = self.account.as_deref() == Some(account);
        if own && self.grants.allows_somewhere(op) {
            return Ok(());
        }
        // No path is allowed: let `decide` phrase the refusal.
        decide(self, account, Need { op, path: "/" }, None, false).map(|_| ())
    }

    /// Whether [`Principal::require`] would allow `need`.
    pub fn may(&self, account: &str, need: Need) -> bool {
        self.require(account, need).is_ok()
    }
}

/// An operation on a path, as asked of a principal.
#[derive(Clone, Copy, Debug)]
pub struct Need<'a> {
    pub op: Op,
    pub path: &'a str,
}

impl<'a> Need<'a> {
    pub fn read(path: &'a str) -> Need<'a> {
        Need { op: Op::Read, path }
    }
    pub fn list(path: &'a str) -> Need<'a> {
        Need { op: Op::List, path }
    }
    pub fn create(path: &'a str) -> Need<'a> {
        Need {
            op: Op::Create,
            path,
        }
    }
    pub fn overwrite(path: &'a str) -> Need<'a> {
        Need {
            op: Op::Overwrite,
            path,
        }
    }
    pub fn delete(path: &'a str) -> Need<'a> {
        Need {
            op: Op::Delete,
            path,
        }
    }
    pub fn folders(path: &'a str) -> Need<'a> {
        Need {
            op: Op::Folders,
            path,
        }
    }
    /// Key management: `admin` on the account root.
    pub fn admin() -> Need<'static> {
        Need {
            op: Op::Admin,
            path: "/",
        }
    }
}

/// How access was granted: decides `Cache-Control: public` vs `private`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Through the principal's own grants.
    Credential,
    /// Because the folder lets anyone download.
    Public,
}

/// SPEC §3's decision. `public_read` says whether folder visibility lets anyone
/// read the path; it only counts for reads. A download names its `slug`,
/// which then decides the principal's own read grant.
fn decide(
    principal: &Principal,
    account: &str,
    need: Need,
    slug: Option<&str>,
    public_read: bool,
) -> AppResult<Access> {
    let Need { op, path } = need;
    if let Some(own) = &principal.account {
        if own != account {
            return Err(AppError::AccountMismatch {
                url_account: account.to_string(),
            });
        }
        let own_grant = match slug {
            Some(slug) if op == Op::Read => principal.grants.allows_download(path, slug),
            _ => principal.grants.allows(op, path),
        };
        if own_grant {
            return Ok(Access::Credential);
        }
    }
    if op == Op::Read && public_read {
        return Ok(Access::Public);
    }
    if principal.is_anonymous() {
        Err(AppError::Unauthorized)
    } else {
        Err(AppError::forbidden(
            format!("This credential may not {} {path}.", op.name()),
            format!(
                "Use a key whose rules grant '{}' on this path (or a secret key without rules).",
                op.name()
            ),
        ))
    }
}

/// A key as the auth layer caches it: the row plus its compiled grants.
#[derive(Debug)]
pub struct ResolvedKey {
    pub row: ApiKeyRow,
    pub key_type: KeyType,
    pub grants: Arc<Grants>,
    /// Set once this cached copy has asked for `last_used_at` to be updated,
    /// so a busy key writes at most once per cache load (`Auth::touch`).
    pub(crate) touched: std::sync::atomic::AtomicBool,
}

impl ResolvedKey {
    pub fn from_row(row: ApiKeyRow) -> AppResult<ResolvedKey> {
        let key_type = KeyType::parse(&row.key_type)
            .ok_or_else(|| AppError::internal(format!("key {} has bad type", row.id)))?;
        let specs: Vec<RuleSpec> = serde_json::from_str(&row.rules).map_err(AppError::internal)?;
        let grants = if specs.is_empty() {
            match key_type {
                KeyType::Secret => Grants::Everywhere(Ops::all()),
                KeyType::Public => Grants::Everywhere(Ops::of(&[Op::Create, Op::Read])),
            }
        } else {
            Grants::Rules(
                specs
                    .into_iter()
                    .map(Rule::compile)
                    .collect::<AppResult<Vec<_>>>()?,
            )
        };
        Ok(ResolvedKey {
            row,
            key_type,
            grants: Arc::new(grants),
            touched: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

/// The name of the session cookie for an account (as Bytescale names it).
pub fn cookie_name(account: &str) -> String {
    format!("{COOKIE_PREFIX}{account}")
}

/// What every account's session cookie name starts with.
pub const COOKIE_PREFIX: &str = "access-token-";

/// Scope bound into signed download links.
pub const DOWNLOAD_SCOPE: &str = "download";

/// What a download link signs: the CDN path and the version it serves.
pub fn download_link_subject(account: &str, path: &str, version_id: &str) -> String {
    format!("/{account}/raw{path}\n{version_id}")
}

/// A key's grants with a JWT's rules added; a JWT rule replaces a key rule with
/// the same glob (SPEC §3).
fn merge(key: &Grants, jwt_rules: &[Rule]) -> Grants {
    let mut rules: Vec<Rule> = match key {
        Grants::None => Vec::new(),
        Grants::Everywhere(ops) => vec![Rule::compile(RuleSpec {
            path: "/**".into(),
            ops: ops.list(),
        })
        .expect("static glob")],
        Grants::Rules(r) => r.clone(),
    };
    rules.retain(|r| !jwt_rules.iter().any(|j| j.spec.path == r.spec.path));
    rules.extend(jwt_rules.iter().cloned());
    Grants::Rules(rules)
}
