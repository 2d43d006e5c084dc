//! Removing the service's own files from a local storage directory (`db clean`, `db reinit`).
//!
//! `STORAGE_DIR` may be shared with other files, so only the service's top-level key prefixes
//! (one directory per media type, `uploads/`, `health/`, `exports/`) are removed; anything else in the
//! directory is left alone, and the directory itself stays. A root whose pruning could still
//! reach a user's own files (`/`, the home directory or one of its ancestors) is refused.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::objects::{EXPORTS_PREFIX, HEALTH_PREFIX, RECORD_PREFIXES, UPLOADS_PREFIX};

/// Every top-level key prefix the service writes (a directory each in local storage).
pub fn owned_prefixes() -> impl Iterator<Item = &'static str> {
    RECORD_PREFIXES.into_iter().chain([UPLOADS_PREFIX, HEALTH_PREFIX, EXPORTS_PREFIX])
}

/// What [`clean_local`] did.
#[derive(Debug, Default)]
pub struct CleanReport {
    /// Prefix directories removed (with everything under them).
    pub removed: Vec<PathBuf>,
    /// Prefix names found but left alone, with why (a symlink, or not a directory).
    pub skipped: Vec<(PathBuf, &'static str)>,
}

/// Refuses a storage root that is the filesystem root, the home directory (`home`) or an
/// ancestor of it. Returns the root with symlinks resolved, or `None` when it does not exist
/// (nothing to clean).
pub fn check_clean_root(root: &Path, home: Option<&Path>) -> anyhow::Result<Option<PathBuf>> {
    let resolved = match root.canonicalize() {
        Ok(path) => path,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("resolving STORAGE_DIR {}", root.display())),
    };
    if resolved.parent().is_none() {
        bail!(
            "refusing to clean STORAGE_DIR {} ({}): it is the filesystem root; point STORAGE_DIR at the service's own directory",
            root.display(),
            resolved.display()
        );
    }
    if let Some(home) = home.and_then(|h| h.canonicalize().ok())
        && home.starts_with(&resolved)
    {
        bail!(
            "refusing to clean STORAGE_DIR {} ({}): it is the home directory {} or contains it; point STORAGE_DIR at the service's own directory",
            root.display(),
            resolved.display(),
            home.display()
        );
    }
    Ok(Some(resolved))
}

/// Removes the service's prefix directories under `root` (already checked with
/// [`check_clean_root`]). Symlinks are never followed: a prefix that is a symlink is left alone,
/// and links inside a prefix are removed as links, never their targets.
pub fn clean_local(root: &Path) -> anyhow::Result<CleanReport> {
    let mut report = CleanReport::default();
    for prefix in owned_prefixes() {
        let path = root.join(prefix);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("inspecting {}", path.display())),
        };
        if meta.file_type().is_symlink() {
            report.skipped.push((path, "a symlink"));
        } else if !meta.is_dir() {
            report.skipped.push((path, "not a directory"));
        } else {
            // remove_dir_all does not follow symlinks below `path`.
            std::fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
            report.removed.push(path);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MediaType;

    #[test]
    fn the_owned_prefixes_cover_every_media_type() {
        let owned: Vec<_> = owned_prefixes().collect();
        for media in MediaType::ALL {
            assert!(owned.contains(&media.as_str()), "{media} objects would survive a clean");
        }
        assert!(owned.contains(&"uploads") && owned.contains(&"health"));
    }

    #[test]
    fn refuses_the_filesystem_root_and_the_home_directory_and_its_ancestors() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home/someone");
        std::fs::create_dir_all(home.join("corpus-data")).unwrap();
        let err = check_clean_root(Path::new("/"), Some(&home)).unwrap_err().to_string();
        assert!(err.contains("filesystem root"), "{err}");
        for refused in [home.clone(), tmp.path().join("home"), home.join("..")] {
            let err = check_clean_root(&refused, Some(&home)).unwrap_err().to_string();
            assert!(err.contains("home directory"), "{}: {err}", refused.display());
        }
        let own = check_clean_root(&home.join("corpus-data"), Some(&home)).unwrap();
        assert_eq!(own, Some(home.join("corpus-data").canonicalize().unwrap()));
        assert_eq!(check_clean_root(&tmp.path().join("missing"), Some(&home)).unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn leaves_symlinked_prefixes_and_their_targets_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("keep.txt"), b"x").unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("audio")).unwrap();
        std::fs::create_dir_all(root.join("video")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("video/link")).unwrap();

        let report = clean_local(&root).unwrap();
        assert_eq!(report.removed, vec![root.join("video")]);
        assert_eq!(report.skipped, vec![(root.join("audio"), "a symlink")]);
        assert!(elsewhere.join("keep.txt").exists(), "a link's target is never touched");
        assert!(root.join("audio").exists());
    }
}
