//! The local filesystem store's leftovers: object_store writes `<key>#<n>`
//! and renames it into place, so a crash mid-write leaves the staging file,
//! which no listing shows. Object keys never contain `#` (the server makes
//! them), so any file with `#` in its name is a staging file.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// Removes staging files under `root` not modified for `older_than`; returns
/// how many went.
pub(super) fn sweep_staging(root: &Path, older_than: Duration) -> usize {
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut removed = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                dirs.push(entry.path());
                continue;
            }
            let staging = entry.file_name().to_string_lossy().contains('#');
            let old = meta.modified().is_ok_and(|m| m < cutoff);
            if staging && old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// Removes the staging files of one object (`<root>/<key>#<n>`): what a
/// write that failed (a full disk) left, given back at once.
pub(super) fn remove_staging_of(root: &Path, key: &str) {
    let path = root.join(key);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!("{}#", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Removes `<root>/<key>#1` … `#8`: the names object_store's local store
/// gives a write's staging file (the first free suffix, so a key written
/// once has `#1`). O(1), unlike [`remove_staging_of`]'s directory scan: for
/// every delete, where a crash may have left one.
pub(super) fn remove_staging_candidates(root: &Path, key: &str) {
    let path = root.join(key);
    for n in 1..=8 {
        let mut staging = path.clone().into_os_string();
        staging.push(format!("#{n}"));
        if std::fs::remove_file(&staging).is_err() && n > 1 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_staging_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("acc");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("obj"), b"kept").unwrap();
        std::fs::write(sub.join("obj2#1"), b"staging").unwrap();
        assert_eq!(sweep_staging(dir.path(), Duration::from_secs(3600)), 0);
        assert_eq!(sweep_staging(dir.path(), Duration::ZERO), 1);
        assert!(sub.join("obj").exists());
        assert!(!sub.join("obj2#1").exists());
        std::fs::write(sub.join("obj#2"), b"staging").unwrap();
        std::fs::write(sub.join("obj2#3"), b"another object's").unwrap();
        remove_staging_of(dir.path(), "acc/obj");
        assert!(!sub.join("obj#2").exists());
        assert!(sub.join("obj2#3").exists() && sub.join("obj").exists());
    }
}
