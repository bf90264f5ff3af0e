//! Path rules: a glob (globset, `*` never crosses `/`) and a set of operations.

use crate::error::{AppError, AppResult};
use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

/// The operations of SPEC §3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Read,
    List,
    Create,
    Overwrite,
    Delete,
    Folders,
    Admin,
}

impl Op {
    pub const ALL: [Op; 7] = [
        Op::Read,
        Op::List,
        Op::Create,
        Op::Overwrite,
        Op::Delete,
        Op::Folders,
        Op::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::List => "list",
            Op::Create => "create",
            Op::Overwrite => "overwrite",
            Op::Delete => "delete",
            Op::Folders => "folders",
            Op::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of operations (a bit set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ops(u8);

impl Ops {
    pub fn all() -> Ops {
        Ops::of(&Op::ALL)
    }
    pub fn of(ops: &[Op]) -> Ops {
        Ops(ops.iter().fold(0, |acc, op| acc | op.bit()))
    }
    pub fn contains(self, op: Op) -> bool {
        self.0 & op.bit() != 0
    }
    pub fn without(self, op: Op) -> Ops {
        Ops(self.0 & !op.bit())
    }
    pub fn list(self) -> Vec<Op> {
        Op::ALL
            .into_iter()
            .filter(|op| self.contains(*op))
            .collect()
    }
}

/// A rule as stored and as sent over the API: `{path: "/x/*", ops: ["read"]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub path: String,
    pub ops: Vec<Op>,
}

impl RuleSpec {
    /// Parses the CLI form `/x/*:read,create`.
    pub fn parse_cli(s: &str) -> Result<RuleSpec, String> {
        let (path, ops) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("rule {s:?} must look like '/x/*:read,create'"))?;
        let ops = ops
            .split(',')
            .map(|o| {
                Op::parse(o.trim()).ok_or_else(|| {
                    format!(
                        "unknown operation {o:?} in rule {s:?} (known: read, list, create, \
                         overwrite, delete, folders, admin)"
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RuleSpec {
            path: path.to_string(),
            ops,
        })
    }
}

/// Which transformation slugs (SPEC §3 `downloadFile`: `raw`, `image`, a
/// preset's name) a rule's downloads cover.
#[derive(Clone, Debug, PartialEq)]
pub enum Slugs {
    /// Every slug, whenever the rule grants `read` (API key rules, JWT `read: true`).
    All,
    /// Only slugs matching these patterns (`*` any, `prefix-*`, exact), whether
    /// or not the rule grants `read` itself (JWT `downloadFile`).
    Only(Vec<String>),
}

/// Slug patterns: `*` any, `prefix-*` a prefix, else exact.
pub fn slug_matches(pattern: &str, slug: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => slug.starts_with(prefix),
        None => pattern == slug,
    }
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub spec: RuleSpec,
    matcher: GlobMatcher,
    ops: Ops,
    slugs: Slugs,
}

impl Rule {
    pub fn compile(spec: RuleSpec) -> AppResult<Rule> {
        if !spec.path.starts_with('/') {
            return Err(AppError::invalid_request(
                format!("Rule path {:?} must start with '/'.", spec.path),
                "Write rules as absolute globs, e.g. /photos/* (children) or /photos/*/** (deeper).",
            ));
        }
        let glob = GlobBuilder::new(&spec.path)
            .literal_separator(true)
            .build()
            .map_err(|e| {
                AppError::invalid_request(
                    format!("Rule path {:?} is not a valid glob: {e}.", spec.path),
                    "Use '*' for one path segment and '**' for any depth, e.g. /photos/*/**.",
                )
            })?;
        Ok(Rule {
            ops: Ops::of(&spec.ops),
            matcher: glob.compile_matcher(),
            spec,
            slugs: Slugs::All,
        })
    }

    /// The same rule, its downloads limited to `slugs`.
    pub fn with_slugs(mut self, slugs: Slugs) -> Rule {
        self.slugs = slugs;
        self
    }

    pub fn allows(&self, op: Op, path: &str) -> bool {
        self.ops.contains(op) && self.matcher.is_match(path)
    }

    /// Whether the rule lets `path` be downloaded through `slug`.
    pub fn allows_download(&self, path: &str, slug: &str) -> bool {
        let slug_ok = match &self.slugs {
            Slugs::All => self.ops.contains(Op::Read),
            Slugs::Only(patterns) => patterns.iter().any(|p| slug_matches(p, slug)),
        };
        slug_ok && self.matcher.is_match(path)
    }
}

/// What a credential may do.
#[derive(Clone, Debug)]
pub enum Grants {
    /// Nothing (anonymous).
    None,
    /// These operations anywhere in the account (keys without rules).
    Everywhere(Ops),
    /// Exactly what the rules grant.
    Rules(Vec<Rule>),
}

impl Grants {
    /// Whether `op` is allowed on at least one path.
    pub fn allows_somewhere(&self, op: Op) -> bool {
        match self {
            Grants::None => false,
            Grants::Everywhere(ops) => ops.contains(op),
            Grants::Rules(rules) => rules.iter().any(|r| r.ops.contains(op)),
        }
    }

    pub fn allows(&self, op: Op, path: &str) -> bool {
        match self {
            Grants::None => false,
            Grants::Everywhere(ops) => ops.contains(op),
            Grants::Rules(rules) => rules.iter().any(|r| r.allows(op, path)),
        }
    }

    /// Whether a download of `path` through `slug` (`raw`, `image`, a preset)
    /// is granted: keys grant every slug with `read`, JWTs what `downloadFile` lists.
    pub fn allows_download(&self, path: &str, slug: &str) -> bool {
        match self {
            Grants::None => false,
            Grants::Everywhere(ops) => ops.contains(Op::Read),
            Grants::Rules(rules) => rules.iter().any(|r| r.allows_download(path, slug)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str) -> Rule {
        Rule::compile(RuleSpec {
            path: path.into(),
            ops: vec![Op::Read],
        })
        .unwrap()
    }

    #[test]
    fn children_glob_does_not_cross_slash() {
        let r = rule("/photos/*");
        assert!(r.allows(Op::Read, "/photos/a.jpg"));
        assert!(!r.allows(Op::Read, "/photos/2024/a.jpg"));
        assert!(!r.allows(Op::Read, "/photos"));
        assert!(!r.allows(Op::Read, "/photosx/a.jpg"));
        assert!(!r.allows(Op::Create, "/photos/a.jpg"));
    }

    #[test]
    fn grandchildren_glob_is_recursive_but_skips_children() {
        let r = rule("/photos/*/**");
        assert!(r.allows(Op::Read, "/photos/2024/a.jpg"));
        assert!(r.allows(Op::Read, "/photos/2024/06/a.jpg"));
        assert!(!r.allows(Op::Read, "/photos/a.jpg"));
        assert!(!r.allows(Op::Read, "/other/2024/a.jpg"));
    }

    #[test]
    fn exact_and_unicode_paths() {
        let r = rule("/docs/résumé.pdf");
        assert!(r.allows(Op::Read, "/docs/résumé.pdf"));
        assert!(!r.allows(Op::Read, "/docs/resume.pdf"));
        let r = rule("/写真/*");
        assert!(r.allows(Op::Read, "/写真/猫.png"));
    }

    #[test]
    fn download_slugs() {
        let r = rule("/p/*");
        assert!(r.allows_download("/p/a.jpg", "raw") && r.allows_download("/p/a.jpg", "thumb"));
        let t = rule("/p/*").with_slugs(Slugs::Only(vec!["thumb-*".into()]));
        assert!(t.allows_download("/p/a.jpg", "thumb-small"));
        assert!(!t.allows_download("/p/a.jpg", "raw"));
        assert!(!t.allows_download("/p/a.jpg", "image"));
        assert!(!t.allows_download("/q/a.jpg", "thumb-small"));
        assert!(slug_matches("*", "raw") && !slug_matches("raw", "image"));
    }

    #[test]
    fn cli_form_parses_and_rejects_unknown_ops() {
        let spec = RuleSpec::parse_cli("/x/*:read,create").unwrap();
        assert_eq!(spec.path, "/x/*");
        assert_eq!(spec.ops, vec![Op::Read, Op::Create]);
        assert!(RuleSpec::parse_cli("/x/*:read,fly").is_err());
        assert!(RuleSpec::parse_cli("/x/*").is_err());
    }
}
