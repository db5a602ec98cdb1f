//! The folder store's side of the file system: S3 keys mapped onto paths that can never
//! leave their bucket folder ([`folder_key`], [`prepare_object_path`]), objects written
//! atomically and durably ([`write_atomic`]), and the temp files a crash leaves behind
//! removed ([`remove_temp_files`]). Moved here from the old `weir-delivery` crate with the folder-mode
//! `firehose` action, whose objects this store now writes.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Suffix of in-progress files. Readers and listings ignore them; recovery deletes them.
pub(crate) const TEMP_SUFFIX: &str = ".weir-tmp";

/// Why a key cannot become a path under the root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("key {key:?}: {reason}")]
    Unsafe { key: String, reason: &'static str },
    #[error("key {key:?} resolves to {resolved:?}, outside the root {root:?}")]
    EscapesRoot {
        key: String,
        resolved: PathBuf,
        root: PathBuf,
    },
}

/// An IO failure with the path and the operation, so a log line says what broke.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path:?}: {source}")]
pub(crate) struct FolderIoError {
    pub(crate) op: &'static str,
    pub(crate) path: PathBuf,
    #[source]
    pub(crate) source: io::Error,
}

fn io_at(op: &'static str, path: &Path, source: io::Error) -> FolderIoError {
    FolderIoError {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn at<T>(r: io::Result<T>, op: &'static str, path: &Path) -> Result<T, FolderIoError> {
    r.map_err(|source| io_at(op, path, source))
}

/// Checks the shape of a `/`-separated key: no empty, `.` or `..` components, not absolute,
/// no NUL or backslash (so the key means the same on every platform), no temp-file suffix.
pub(crate) fn check_key(key: &str) -> Result<Vec<&str>, KeyError> {
    let bad = |reason| {
        Err(KeyError::Unsafe {
            key: key.into(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty key");
    }
    if key.contains('\0') {
        return bad("contains a NUL byte");
    }
    if key.contains('\\') {
        return bad("contains a backslash");
    }
    if key.starts_with('/') {
        return bad("absolute key");
    }
    if key.ends_with('/') {
        return bad("names a folder, not an object");
    }
    let parts: Vec<&str> = key.split('/').collect();
    for p in &parts {
        match *p {
            "" => return bad("empty path component"),
            "." | ".." => return bad("`.` or `..` path component"),
            _ => {}
        }
        if p.ends_with(TEMP_SUFFIX) {
            return bad("component ends with the temp-file suffix");
        }
        // Belt and braces: the platform must agree that this is one plain component.
        let mut comps = Path::new(p).components();
        if !matches!(
            (comps.next(), comps.next()),
            (Some(Component::Normal(_)), None)
        ) {
            return bad("not a plain path component");
        }
    }
    Ok(parts)
}

/// The longest folder or file name the folder store writes (ext4, XFS, APFS and NTFS all
/// stop at 255 bytes).
pub(crate) const MAX_NAME_BYTES: usize = 255;

/// Maps an S3 object key onto the `/`-separated relative path the folder store writes it
/// as, one folder or file name per segment of the key, so that keys S3 accepts but a file
/// system cannot hold (`a//b`, `/lead`, `.`, `..`, control characters) land inside the root
/// under a name that says which key they are. In each segment:
/// - `%` becomes `%25`, a control character `%XX` (`%01`..`%1F`, `%7F`) and `\` `%5C`;
/// - a segment that is `.` or `..` becomes `%2E` or `%2E%2E`;
/// - an empty segment (from `//`, a leading or a trailing `/`) becomes `%00`;
/// - a segment ending in the temp-file suffix has that suffix's dot written `%2E`.
///
/// Percent-decoding each name, with `%00` read as an empty segment, gives the key back: the
/// mapping is reversible because `%` itself is always escaped. A key with a NUL byte, or a
/// name longer than [`MAX_NAME_BYTES`] once mapped, is refused; the result always passes
/// [`check_key`].
pub(crate) fn folder_key(key: &str) -> Result<String, KeyError> {
    let bad = |reason| KeyError::Unsafe {
        key: key.into(),
        reason,
    };
    if key.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    let mut out = String::with_capacity(key.len());
    for (i, seg) in key.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let start = out.len();
        match seg {
            "" => out.push_str("%00"),
            "." => out.push_str("%2E"),
            ".." => out.push_str("%2E%2E"),
            _ => {
                let (body, temp) = match seg.strip_suffix(TEMP_SUFFIX) {
                    Some(b) => (b, true),
                    None => (seg, false),
                };
                for c in body.chars() {
                    match c {
                        '%' => out.push_str("%25"),
                        '\\' => out.push_str("%5C"),
                        c if c.is_ascii_control() => out.push_str(&format!("%{:02X}", c as u32)),
                        c => out.push(c),
                    }
                }
                if temp {
                    // TEMP_SUFFIX starts with its dot.
                    out.push_str("%2E");
                    out.push_str(&TEMP_SUFFIX[1..]);
                }
            }
        }
        if out.len() - start > MAX_NAME_BYTES {
            return Err(bad("a folder or file name is longer than 255 bytes"));
        }
    }
    check_key(&out)?;
    Ok(out)
}

/// Creates the parent folders of `key` under `root` (whose canonical form is `root_canon`) and
/// returns the object's path. Each existing component is checked after canonicalisation, so a
/// symlink that points outside the root is refused rather than followed. Newly created folders
/// are made durable by syncing their parent.
/// `path` (a folder on `key`'s way) resolved, refused when a symlink takes it out of
/// `root_canon`.
fn canonical_inside(root_canon: &Path, key: &str, path: &Path) -> Result<PathBuf, PrepareError> {
    let canon = at(fs::canonicalize(path), "canonicalize", path)?;
    if !canon.starts_with(root_canon) {
        return Err(KeyError::EscapesRoot {
            key: key.into(),
            resolved: canon,
            root: root_canon.to_path_buf(),
        }
        .into());
    }
    Ok(canon)
}

pub(crate) fn prepare_object_path(root_canon: &Path, key: &str) -> Result<PathBuf, PrepareError> {
    let parts = check_key(key)?;
    let (name, dirs) = parts.split_last().ok_or_else(|| KeyError::Unsafe {
        key: key.into(),
        reason: "empty key",
    })?;
    let mut dir = root_canon.to_path_buf();
    for d in dirs {
        let next = dir.join(d);
        match fs::symlink_metadata(&next) {
            Ok(_) => {
                let canon = canonical_inside(root_canon, key, &next)?;
                if !canon.is_dir() {
                    return Err(KeyError::Unsafe {
                        key: key.into(),
                        reason: "a path component is an existing file",
                    }
                    .into());
                }
                dir = canon;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match fs::create_dir(&next) {
                    Ok(()) => at(weir_support::sync_dir(&dir), "fsync folder", &dir)?,
                    // Lost a race with another writer: check what is there now.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_at("create folder", &next, e).into()),
                }
                let canon = canonical_inside(root_canon, key, &next)?;
                dir = canon;
            }
            Err(e) => return Err(io_at("stat", &next, e).into()),
        }
    }
    let path = dir.join(name);
    // The final name is replaced by rename, which never follows a symlink, but an existing
    // symlink there is still refused: nothing under the root may be a door out of it.
    if let Ok(m) = fs::symlink_metadata(&path) {
        if m.file_type().is_symlink() {
            return Err(KeyError::Unsafe {
                key: key.into(),
                reason: "the object name is an existing symlink",
            }
            .into());
        }
    }
    Ok(path)
}

/// Either half of what can go wrong while resolving a key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PrepareError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Io(#[from] FolderIoError),
}

/// The temp path used while writing `path`, in the same folder so the rename is atomic.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}{TEMP_SUFFIX}", uuid::Uuid::new_v4().simple()));
    path.with_file_name(name)
}

/// Writes `chunks` to `path` atomically and durably: temp file in the same folder, fsync,
/// rename, fsync the folder. When this returns `Ok` the whole file is on disk under its final
/// name; if it fails or the process dies, the final name is either absent or the old content.
pub(crate) fn write_atomic(path: &Path, chunks: &[&[u8]]) -> Result<(), FolderIoError> {
    weir_support::write_atomic_via(&temp_path(path), path, chunks)
        .map_err(|e| io_at(e.step, &e.path, e.source))
}

/// Deletes leftover temp files under `root` (from a crash mid-write). Does not follow symlinks.
/// Returns how many were removed.
pub(crate) fn remove_temp_files(root: &Path) -> Result<usize, FolderIoError> {
    let mut removed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in at(fs::read_dir(&dir), "read folder", &dir)? {
            let entry = at(entry, "read folder", &dir)?;
            let path = entry.path();
            let ft = at(entry.file_type(), "stat", &path)?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() && entry.file_name().to_string_lossy().ends_with(TEMP_SUFFIX) {
                at(fs::remove_file(&path), "remove temp file", &path)?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_keys_keep_every_s3_key_inside_the_root() {
        for (key, want) in [
            ("a/b/c", "a/b/c"),
            ("a//b", "a/%00/b"),
            ("/lead/x", "%00/lead/x"),
            ("a/./b", "a/%2E/b"),
            ("a/../../b", "a/%2E%2E/%2E%2E/b"),
            ("..", "%2E%2E"),
            ("a.b/..c/x", "a.b/..c/x"),
            ("100%/x", "100%25/x"),
            ("tab\there/x", "tab%09here/x"),
            ("del\u{7f}/x", "del%7F/x"),
            ("back\\slash/x", "back%5Cslash/x"),
            ("caf\u{e9}/x", "caf\u{e9}/x"),
            ("x.weir-tmp/y", "x%2Eweir-tmp/y"),
            ("a/", "a/%00"),
        ] {
            let got = folder_key(key).unwrap_or_else(|e| panic!("{key:?}: {e}"));
            assert_eq!(got, want, "{key:?}");
            assert!(check_key(&got).is_ok(), "{got:?}");
        }
    }

    #[test]
    fn folder_keys_refuse_nul_and_overlong_names() {
        assert!(folder_key("a/\0/b").is_err());
        let long = "x".repeat(MAX_NAME_BYTES);
        assert!(folder_key(&format!("a/{long}")).is_ok());
        assert!(folder_key(&format!("a/{long}x")).is_err());
        // Escaping counts: 100 control characters are 300 bytes on disk.
        assert!(folder_key(&"\u{1}".repeat(100)).is_err());
    }

    #[test]
    fn mapped_keys_resolve_under_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = fs::canonicalize(dir.path()).expect("canonicalize");
        for key in ["../x", "a/../../x", "/etc/passwd", "a//b/./c"] {
            let rel = folder_key(key).expect("maps");
            let path = prepare_object_path(&root, &rel).expect("prepares");
            assert!(path.starts_with(&root), "{key:?} -> {path:?}");
        }
        // Escapes through a symlink are still refused after mapping.
        std::os::unix::fs::symlink("/tmp", root.join("out")).expect("symlink");
        let rel = folder_key("out/x").expect("maps");
        assert!(prepare_object_path(&root, &rel).is_err());
    }
}
