//! The helpers that every Weir crate would otherwise write again: locks that survive a
//! poisoned mutex, the wall clock in milliseconds, and the two steps of a durable file write.
//! Also the small-document store with compare-and-set (`docstore`: catalogs and checkpoints,
//! one host's folder or a cluster's key-value bucket), a lease over it (`lease`: one host at
//! a time for a piece of work), the egress policy (`egress`): which addresses an outbound
//! request whose URL an API caller chose may reach, and the CRC-framed log (`framed`) that the
//! streams segments, the action spool and the key-value table are written in. Standard library
//! plus `crc32c` only (`cargo xtask deps` holds it to that), so any crate may depend on this
//! one (the pure `weir-rules` does not: it has no locks, clock or files).

pub mod docstore;
pub mod egress;
pub mod framed;
pub mod lease;
pub mod nats_names;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Locks `m`, taking the data even if a thread panicked while holding it. Every structure
/// Weir guards stays consistent between statements (a panic cannot leave half an update), so
/// refusing service after one would turn one bad call into an outage.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// [`lock`] for a reader of an `RwLock`.
pub fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

/// [`lock`] for a writer of an `RwLock`.
pub fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Owner-only permissions for a file about to be created (no effect where they do not exist).
fn private(o: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600)
    }
    #[cfg(not(unix))]
    {
        o
    }
}

/// Syncs a folder so that a create, rename or unlink inside it survives a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `fs::create_dir_all` that also makes each folder it creates durable: after creating a
/// folder it syncs the parent, so a file later acknowledged inside it (and synced with its own
/// folder) cannot vanish with its folder at a power cut. Folders that already exist are left
/// alone. Safe against another thread creating the same folders at once.
pub fn create_dir_all_synced(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    // The missing folders, deepest first, up to the first that exists.
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.as_os_str().is_empty() || d.is_dir() {
            break;
        }
        missing.push(d);
        at = d.parent();
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            // Made by someone else meanwhile, who may not have synced its parent yet: sync it
            // here too, so this caller's acknowledgement never outruns it.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(e),
        }
        let parent = match d.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        sync_dir(parent)?;
    }
    Ok(())
}

/// Writes `chunks` to the new file `tmp`, syncs it, renames it to `path` and syncs the folder.
/// `tmp` must be in `path`'s folder (so the rename is atomic) and must not exist. When this
/// returns `Ok` the whole file is on disk under its final name; if it fails or the process
/// dies, the final name holds the old content or nothing. On error `tmp` is removed and the
/// error says which step failed. The file is created readable and writable by its owner only
/// (mode 0600): what goes through here is Weir's own state (catalogs, keys such as
/// `iterator.key`, table snapshots, compiled-plugin caches), not for other users to read.
pub fn write_atomic_via(tmp: &Path, path: &Path, chunks: &[&[u8]]) -> Result<(), WriteError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let step = |step: &'static str, at: &Path| {
        let at = at.to_path_buf();
        move |source| WriteError {
            step,
            path: at,
            source,
        }
    };
    let result = (|| {
        let mut f = private(File::options().write(true).create_new(true))
            .open(tmp)
            .map_err(step("create", tmp))?;
        for c in chunks {
            f.write_all(c).map_err(step("write", tmp))?;
        }
        f.sync_all().map_err(step("fsync", tmp))?;
        drop(f);
        fs::rename(tmp, path).map_err(step("rename into place", path))?;
        sync_dir(dir).map_err(step("fsync folder", dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// A failed step of [`write_atomic_via`].
#[derive(Debug)]
pub struct WriteError {
    /// What was being done: create, write, fsync, rename into place, fsync folder.
    pub step: &'static str,
    /// The file or folder it was done to.
    pub path: std::path::PathBuf,
    /// What the OS said.
    pub source: io::Error,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot {} {}: {}",
            self.step,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl From<WriteError> for io::Error {
    fn from(e: WriteError) -> io::Error {
        io::Error::new(e.source.kind(), e)
    }
}

/// An error and its causes on one line, `outer: cause: root`, for the places that keep a reason
/// as text (an error-action payload, a log field, the binary's last words). A cause whose text
/// the line already holds is not repeated (some errors print their source themselves).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

/// A boxed cause: lets a typed error keep whatever failed below it, whatever its type.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    #[cfg(unix)]
    fn atomically_written_files_are_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("weir-support-mode-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("iterator.key");
        write_atomic_via(&dir.join("iterator.tmp"), &path, &[b"secret"]).expect("write");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read(&path).expect("read"), b"secret");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_chain_names_every_cause_once() {
        let w = WriteError {
            step: "fsync",
            path: "/d/f".into(),
            source: io::Error::other("disk full"),
        };
        // WriteError prints its source itself: not repeated.
        assert_eq!(error_chain(&w), "cannot fsync /d/f: disk full");
        #[derive(Debug)]
        struct Outer(WriteError);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("storage /d")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let o = Outer(WriteError {
            step: "fsync",
            path: "/d/f".into(),
            source: io::Error::other("disk full"),
        });
        assert_eq!(error_chain(&o), "storage /d: cannot fsync /d/f: disk full");
    }

    #[test]
    fn a_poisoned_lock_still_serves_its_data() {
        let m = Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock();
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 2);
    }

    #[test]
    fn folders_are_created_whole_by_any_number_of_threads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let deep = Arc::new(dir.path().join("a/b/c"));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let deep = deep.clone();
                std::thread::spawn(move || create_dir_all_synced(&deep))
            })
            .collect();
        for t in threads {
            t.join().expect("thread").expect("create");
        }
        assert!(deep.is_dir());
        create_dir_all_synced(&deep).expect("already there");
        // A file where a folder should be is an error, not a success.
        std::fs::write(dir.path().join("f"), b"x").expect("file");
        assert!(create_dir_all_synced(&dir.path().join("f/g")).is_err());
    }

    #[test]
    fn atomic_write_replaces_whole_and_cleans_up_on_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"old").expect("seed");
        write_atomic_via(&dir.path().join(".f.tmp"), &path, &[b"ne", b"w"]).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        assert!(!dir.path().join(".f.tmp").exists());
        // The temp name exists already: create fails, the target keeps its content.
        std::fs::write(dir.path().join(".busy"), b"x").expect("seed");
        let e = write_atomic_via(&dir.path().join(".busy"), &path, &[b"lost"]).expect_err("exists");
        assert_eq!(e.step, "create");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        // Into a folder that does not exist: the error names the step and the path.
        let e = write_atomic_via(&dir.path().join("no/.t"), &dir.path().join("no/f"), &[b"x"])
            .expect_err("no folder");
        assert!(e.to_string().starts_with("cannot create "), "{e}");
        assert!(now_ms() > 1_600_000_000_000);
    }
}
