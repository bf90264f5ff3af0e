//! Folder visibility (SPEC §4): which files anyone may download.

use super::rules::slug_matches;
use crate::error::{AppError, AppResult};
use crate::meta::{parent_of, MetaStore};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One `publicPermissions` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicPermission {
    pub scope: Scope,
    #[serde(default)]
    pub permissions: PublicFilePermissions,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Scope {
    This,
    Children,
    #[serde(rename = "Grandchildren+")]
    Grandchildren,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PublicFilePermissions {
    #[serde(default)]
    pub file: PublicFileGrant,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PublicFileGrant {
    #[serde(rename = "downloadFile", default)]
    pub download_file: Vec<String>,
}

impl PublicPermission {
    pub fn new(scope: Scope, slugs: &[&str]) -> PublicPermission {
        PublicPermission {
            scope,
            permissions: PublicFilePermissions {
                file: PublicFileGrant {
                    download_file: slugs.iter().map(|s| s.to_string()).collect(),
                },
            },
        }
    }
}

/// The named presets: Public, Private, Limited (only the given slugs).
pub fn preset(name: &str, slugs: &[&str]) -> Option<Vec<PublicPermission>> {
    let both = |s: &[&str]| {
        vec![
            PublicPermission::new(Scope::Children, s),
            PublicPermission::new(Scope::Grandchildren, s),
        ]
    };
    match name {
        "public" => Some(both(&["*"])),
        "private" => Some(Vec::new()),
        "limited" => Some(both(slugs)),
        _ => None,
    }
}

/// Folder path → its own `publicPermissions`, for one account.
pub type FolderPermissions = HashMap<String, Vec<PublicPermission>, foldhash::fast::RandomState>;

/// Reads every folder's `publicPermissions` in the account.
pub async fn load(meta: &dyn MetaStore, account: &str) -> AppResult<FolderPermissions> {
    let mut map = FolderPermissions::default();
    for (path, settings) in meta.folder_settings(account).await? {
        let v: serde_json::Value = serde_json::from_str(&settings).map_err(AppError::internal)?;
        if let Some(pp) = v.get("publicPermissions") {
            let entries: Vec<PublicPermission> =
                serde_json::from_value(pp.clone()).map_err(AppError::internal)?;
            map.insert(path, entries);
        }
    }
    Ok(map)
}

/// The nearest folder at or above `folder` that has `publicPermissions`.
pub fn effective<'a>(
    perms: &'a FolderPermissions,
    folder: &str,
) -> Option<(&'a str, &'a Vec<PublicPermission>)> {
    let mut f = folder;
    loop {
        if let Some((k, v)) = perms.get_key_value(f) {
            return Some((k.as_str(), v));
        }
        if f == "/" || f.is_empty() {
            return None;
        }
        f = parent_of(f);
    }
}

/// Whether anyone may download the file at `path` through `slug` (`raw` the
/// original, `image` a transformation, or a preset's name); a folder's `*`
/// grants every slug.
pub fn slug_is_public(perms: &FolderPermissions, path: &str, slug: &str) -> bool {
    let mut folder = parent_of(path);
    let mut depth = 1;
    loop {
        if let Some(entries) = perms.get(folder) {
            let scope = if depth == 1 {
                Scope::Children
            } else {
                Scope::Grandchildren
            };
            return entries.iter().any(|e| {
                e.scope == scope
                    && e.permissions
                        .file
                        .download_file
                        .iter()
                        .any(|s| slug_matches(s, slug))
            });
        }
        if folder == "/" {
            return true;
        }
        folder = parent_of(folder);
        depth += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(entries: &[(&str, Vec<PublicPermission>)]) -> FolderPermissions {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn nearest_setting_decides() {
        let p = perms(&[
            ("/a", preset("private", &[]).unwrap()),
            ("/a/b", preset("public", &[]).unwrap()),
            ("/c", vec![PublicPermission::new(Scope::Children, &["*"])]),
            ("/d", preset("limited", &["thumbnail"]).unwrap()),
        ]);
        assert!(slug_is_public(&p, "/x.txt", "raw"), "default public");
        assert!(!slug_is_public(&p, "/a/x", "raw"));
        assert!(!slug_is_public(&p, "/a/z/x", "raw"));
        assert!(slug_is_public(&p, "/a/b/x", "raw"));
        assert!(slug_is_public(&p, "/a/b/c/x", "raw"));
        assert!(slug_is_public(&p, "/c/x", "raw"));
        assert!(
            !slug_is_public(&p, "/c/y/x", "raw"),
            "Children-only leaves grandchildren private"
        );
        assert!(
            !slug_is_public(&p, "/d/x", "raw"),
            "limited keeps raw private"
        );
        assert!(!slug_is_public(&p, "/d/x", "image"));
        assert!(slug_is_public(&p, "/d/x", "thumbnail"));
        assert!(slug_is_public(&p, "/d/y/x", "thumbnail"));
        assert!(slug_is_public(&p, "/a/b/x", "image"), "* is every slug");
        assert!(!slug_is_public(&p, "/a/x", "thumbnail"));
        assert_eq!(effective(&p, "/a/z").unwrap().0, "/a");
        assert!(effective(&p, "/q").is_none());
    }

    #[test]
    fn bytescale_shape_round_trips() {
        let v = serde_json::json!([{"scope": "Grandchildren+", "permissions": {"file": {"downloadFile": ["*"]}}}]);
        let p: Vec<PublicPermission> = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(p[0].scope, Scope::Grandchildren);
        assert_eq!(serde_json::to_value(&p).unwrap(), v);
    }
}
