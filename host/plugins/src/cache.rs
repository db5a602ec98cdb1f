//! The on-disk compile cache, authenticated.
//!
//! A cached component is native code: wasmtime maps it executable and jumps into it, outside the
//! sandbox. So the cache must only ever hand back bytes this user's engine wrote. Whoever can
//! write the folder could otherwise run code as the host, so every entry carries an HMAC under a
//! key that only this user can read, and the folder and key are refused when anyone else could
//! write or read them.
//!
//! Layout of the folder (created with mode 0700, refused if writable by group or others or not
//! owned by the current user):
//!
//! - `cache.key`: 32 random bytes from the OS, mode 0600, created on first use; refused if it
//!   has any group or other permission bit, is not owned by the current user, is not a regular
//!   file or is not exactly 32 bytes long.
//! - `<sha256 of the component>-<engine hash>.cwasm`, one per compiled component: the
//!   serialized artifact ‖ tag (32 bytes) ‖ `MAGIC` (8 bytes, `weirmac3`), where
//!   tag = BLAKE3 keyed hash (key, `DOMAIN` ‖ file name ‖ `0x00` ‖ artifact). The file name is
//!   covered so that a valid entry of one component or engine cannot be passed off as another's.
//!
//! Why this shape (format 1 was `weirmac1` ‖ HMAC-SHA256 tag ‖ artifact, read whole into
//! memory; its entries, and format 2's, are refused and rewritten): the tag is checked on every
//! cached load, over the whole artifact, and a Python component's is 36 MB. HMAC-SHA256 took
//! about 25 ms of a hot swap on this project's 2-core machine; BLAKE3's keyed mode is a MAC of
//! the same strength several times faster. And with the artifact first, wasmtime can map the
//! file itself ([`Verified::path`]) instead of getting a copy from memory: no 36 MB read into
//! fresh memory and copied again, and the module's initial memory is mapped copy-on-write from
//! the file rather than written into a memfd for every version.
//!
//! The tag is checked by reading the file through one open descriptor, and wasmtime maps that
//! same file (through `/proc/self/fd`), so renaming another file over the entry in between
//! changes nothing. Only a process of this same user could change the file's bytes in place
//! after the check, and such a process can read the key and forge any tag anyway: the cache
//! defends against other users and against corrupt or foreign files, not against the user
//! running Weir.
//!
//! This module only handles bytes and files; turning verified bytes into a component is the
//! caller's (`PluginEngine::compile`), next to its `unsafe` block.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rand::TryRngCore;
use weir_support::{sync_dir, write_atomic_via, WriteError};

/// Name of the key file inside the cache folder.
pub(crate) const KEY_FILE: &str = "cache.key";
/// Length of the key, in bytes.
pub(crate) const KEY_LEN: usize = 32;
/// Last bytes of every entry: says the file is a Weir cache entry of this format (a bare
/// `.cwasm` from before entries were authenticated, or an entry of an older format, ends
/// otherwise).
pub(crate) const MAGIC: &[u8; 8] = b"weirmac3";
/// Length of a tag (a BLAKE3 keyed hash).
pub(crate) const TAG_LEN: usize = 32;
/// Prefix of every MAC input, so that the key authenticates nothing but cache entries.
const DOMAIN: &[u8] = b"weir-plugin-cache-v3\0";
/// Bytes after the artifact: the tag and [`MAGIC`].
const TRAILER_LEN: usize = TAG_LEN + MAGIC.len();
/// How much of an entry is read at a time to check its tag.
const CHECK_CHUNK: usize = 1 << 20;

/// Permission bits that let group or others write.
const WRITABLE_BY_OTHERS: u32 = 0o022;
/// Permission bits that let group or others do anything.
const ANY_OTHER_ACCESS: u32 = 0o077;

/// Makes temporary names unique among threads of one process (the pid covers processes).
static NONCE: AtomicU64 = AtomicU64::new(0);

/// Why the cache folder as a whole is not used. The engine then compiles without it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheError {
    /// The folder could not be created or inspected.
    #[error("cannot use the compile cache folder {}: {source}", dir.display())]
    Dir {
        /// The cache folder.
        dir: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The path exists but is not a folder.
    #[error("the compile cache path {} is not a folder", dir.display())]
    NotADir {
        /// The cache path.
        dir: PathBuf,
    },
    /// Group or others may write the folder, so they could plant entries or swap the key.
    #[error("the compile cache folder {} is writable by group or others (mode {mode:04o}); not trusting it", dir.display())]
    DirWritableByOthers {
        /// The cache folder.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The folder or the key belongs to another user, who could therefore change it.
    #[error("{} is owned by uid {owner}, not by the current user (uid {uid}); not trusting the compile cache", path.display())]
    NotOwned {
        /// The folder or key file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The current (effective) user.
        uid: u32,
    },
    /// Group or others may read (or write) the key, so they could forge entries.
    #[error("the compile cache key {} is accessible to group or others (mode {mode:04o}); not trusting the compile cache", path.display())]
    KeyExposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is not a regular file of exactly [`KEY_LEN`] bytes.
    #[error("the compile cache key {} is not a regular file of {KEY_LEN} bytes (found {len} bytes); not trusting the compile cache", path.display())]
    KeyMalformed {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// Reading, creating or probing a file in the folder failed.
    #[error("compile cache: cannot {step} {}: {source}", path.display())]
    Io {
        /// What was being done.
        step: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The OS gave no random bytes for a new key.
    #[error("compile cache: no random bytes for a new key: {0}")]
    Random(#[source] rand::rand_core::OsError),
    /// Writing an entry failed at one of its steps.
    #[error("cannot write the compile cache: {0}")]
    Write(#[source] WriteError),
}

/// Why one entry was not used. Only this entry is affected; it is recompiled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EntryError {
    /// The file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The entry file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The file is not an entry this key authenticated: tampered, foreign, or of an older
    /// format. It must be deleted, never loaded.
    #[error("{} failed authentication ({reason})", path.display())]
    Rejected {
        /// The entry file.
        path: PathBuf,
        /// What was wrong with it.
        reason: Rejection,
    },
}

/// What is wrong with an entry that is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Rejection {
    /// Too short for the header, or not starting with [`MAGIC`].
    #[error("no Weir cache header")]
    NoHeader,
    /// The tag does not match the name and artifact under this key.
    #[error("MAC mismatch")]
    BadTag,
}

/// An opened, checked cache folder and its key.
pub(crate) struct CompileCache {
    dir: PathBuf,
    key: [u8; KEY_LEN],
}

impl std::fmt::Debug for CompileCache {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompileCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl CompileCache {
    /// Creates the folder (0700) if needed, checks that only the current user can write it,
    /// and reads its key, creating it (0600) on first use. Checked on every open, not once per
    /// engine, so a folder whose permissions were loosened later is refused from then on.
    pub(crate) fn open(dir: &Path) -> Result<CompileCache, CacheError> {
        ensure_private_dir(dir)?;
        let uid = current_uid(dir)?;
        check_owner(dir, dir_owner(dir)?, uid)?;
        let key = load_or_create_key(dir, uid)?;
        Ok(CompileCache {
            dir: dir.to_path_buf(),
            key,
        })
    }

    /// The file of the entry called `name`.
    pub(crate) fn entry_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Entry `name`, open and authenticated, or `None` if there is none.
    pub(crate) fn load(&self, name: &str) -> Result<Option<Verified>, EntryError> {
        let path = self.entry_path(name);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(EntryError::Read { path, source }),
        };
        match check_file(&self.key, name, &file) {
            Ok(Ok(artifact_len)) => Ok(Some(Verified { file, artifact_len })),
            Ok(Err(reason)) => Err(EntryError::Rejected { path, reason }),
            Err(source) => Err(EntryError::Read { path, source }),
        }
    }

    /// Writes entry `name` for `artifact` durably: temporary file, fsync, rename, fsync of the
    /// folder, so a crash leaves either no entry or a whole one.
    pub(crate) fn store(&self, name: &str, artifact: &[u8]) -> Result<(), CacheError> {
        let tag = seal(&self.key, name, artifact);
        let tmp = self.dir.join(temp_name(name));
        write_atomic_via(&tmp, &self.entry_path(name), &[artifact, &tag, MAGIC])
            .map_err(CacheError::Write)
    }

    /// Deletes entry `name` (a refused or unusable one), so it is rewritten by the next store.
    pub(crate) fn discard(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.entry_path(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// An authenticated cache entry, still open: the file whose bytes were checked.
pub(crate) struct Verified {
    file: File,
    artifact_len: u64,
}

impl Verified {
    /// A path that opens this very file, whatever is at the entry's name by now: for
    /// wasmtime's `deserialize_file`, which maps the file. (The bytes after the artifact, the
    /// trailer, are past the end of the ELF image; wasmtime does not read them.)
    pub(crate) fn path(&self) -> PathBuf {
        use std::os::fd::AsRawFd as _;
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }

    /// The artifact's bytes, read into memory: for when the file cannot be mapped (a folder
    /// on a `noexec` mount, no `/proc`).
    pub(crate) fn read_artifact(&self) -> io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt as _;
        let len = usize::try_from(self.artifact_len).map_err(io::Error::other)?;
        let mut bytes = vec![0; len];
        self.file.read_exact_at(&mut bytes, 0)?;
        Ok(bytes)
    }
}

/// The MAC so far of entry `name`, before its artifact.
fn mac_of(key: &[u8; KEY_LEN], name: &str) -> blake3::Hasher {
    let mut mac = blake3::Hasher::new_keyed(key);
    mac.update(DOMAIN);
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac
}

/// The tag stored after `artifact` in entry `name`.
pub(crate) fn seal(key: &[u8; KEY_LEN], name: &str, artifact: &[u8]) -> [u8; TAG_LEN] {
    let mut mac = mac_of(key, name);
    mac.update(artifact);
    *mac.finalize().as_bytes()
}

/// Splits an entry's trailer into its tag, or says why it is not one of this format.
fn trailer_tag(trailer: &[u8]) -> Result<[u8; TAG_LEN], Rejection> {
    let (tag, magic) = trailer.split_at(TAG_LEN);
    if magic != MAGIC {
        return Err(Rejection::NoHeader);
    }
    tag.try_into().map_err(|_| Rejection::NoHeader)
}

/// Checks the trailer and tag of the bytes of entry `name` (the whole file), the tag in
/// constant time.
#[cfg(test)]
pub(crate) fn open_entry(key: &[u8; KEY_LEN], name: &str, file: &[u8]) -> Result<(), Rejection> {
    let Some(split) = file.len().checked_sub(TRAILER_LEN) else {
        return Err(Rejection::NoHeader);
    };
    let (artifact, trailer) = file.split_at(split);
    let tag = trailer_tag(trailer)?;
    let mut mac = mac_of(key, name);
    mac.update(artifact);
    // `blake3::Hash`'s equality is constant-time.
    if mac.finalize() == tag {
        Ok(())
    } else {
        Err(Rejection::BadTag)
    }
}

/// Checks entry `name` in `file`, read in chunks through the descriptor: the artifact's length
/// when it is authentic, else why not. An I/O error (the file shrank meanwhile, say) is the
/// outer error.
fn check_file(key: &[u8; KEY_LEN], name: &str, file: &File) -> io::Result<Result<u64, Rejection>> {
    use std::os::unix::fs::FileExt as _;
    let total = file.metadata()?.len();
    let Some(artifact_len) = total.checked_sub(TRAILER_LEN as u64) else {
        return Ok(Err(Rejection::NoHeader));
    };
    let mut trailer = [0u8; TRAILER_LEN];
    file.read_exact_at(&mut trailer, artifact_len)?;
    let tag = match trailer_tag(&trailer) {
        Ok(tag) => tag,
        Err(reason) => return Ok(Err(reason)),
    };
    let mut mac = mac_of(key, name);
    let mut buf = vec![0u8; CHECK_CHUNK.min(usize::try_from(artifact_len).unwrap_or(CHECK_CHUNK))];
    let mut at = 0u64;
    while at < artifact_len {
        let n = buf
            .len()
            .min(usize::try_from(artifact_len - at).unwrap_or(buf.len()));
        file.read_exact_at(&mut buf[..n], at)?;
        mac.update(&buf[..n]);
        at += n as u64;
    }
    // `blake3::Hash`'s equality is constant-time.
    Ok(if mac.finalize() == tag {
        Ok(artifact_len)
    } else {
        Err(Rejection::BadTag)
    })
}

/// A name for a temporary file next to `base`, unique among threads and processes.
fn temp_name(base: &str) -> String {
    let n = NONCE.fetch_add(1, Ordering::Relaxed);
    format!(".{base}.{}.{n}.tmp", std::process::id())
}

/// Creates `dir` with mode 0700 if missing (its parents with default permissions), then
/// refuses it unless it is a folder that group and others cannot write.
fn ensure_private_dir(dir: &Path) -> Result<(), CacheError> {
    let dir_err = |source| CacheError::Dir {
        dir: dir.to_path_buf(),
        source,
    };
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(dir_err)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(dir_err(e)),
        _ => {}
    }
    let meta = fs::metadata(dir).map_err(dir_err)?;
    if !meta.is_dir() {
        return Err(CacheError::NotADir {
            dir: dir.to_path_buf(),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & WRITABLE_BY_OTHERS != 0 {
        return Err(CacheError::DirWritableByOthers {
            dir: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// The owner of `dir`.
fn dir_owner(dir: &Path) -> Result<u32, CacheError> {
    fs::metadata(dir)
        .map(|m| m.uid())
        .map_err(|source| CacheError::Dir {
            dir: dir.to_path_buf(),
            source,
        })
}

/// The current (effective) user, learnt without libc: the owner of a file just created in
/// `dir`, which the OS sets to the creating user.
fn current_uid(dir: &Path) -> Result<u32, CacheError> {
    let probe = dir.join(temp_name("owner-probe"));
    let io_err = |step, source| CacheError::Io {
        step,
        path: probe.clone(),
        source,
    };
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)
        .map_err(|e| io_err("create", e))?;
    let uid = file.metadata().map(|m| m.uid());
    drop(file);
    let removed = fs::remove_file(&probe);
    let uid = uid.map_err(|e| io_err("inspect", e))?;
    removed.map_err(|e| io_err("remove", e))?;
    Ok(uid)
}

/// Refuses `path` unless `owner` is `uid`.
fn check_owner(path: &Path, owner: u32, uid: u32) -> Result<(), CacheError> {
    if owner == uid {
        return Ok(());
    }
    Err(CacheError::NotOwned {
        path: path.to_path_buf(),
        owner,
        uid,
    })
}

/// Reads the key of the folder, or creates it when there is none yet.
fn load_or_create_key(dir: &Path, uid: u32) -> Result<[u8; KEY_LEN], CacheError> {
    let path = dir.join(KEY_FILE);
    match File::open(&path) {
        Ok(file) => read_key(&path, file, uid),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_key(dir, &path, uid),
        Err(source) => Err(CacheError::Io {
            step: "open",
            path,
            source,
        }),
    }
}

/// Reads an existing key, checking the opened file itself (not the path again) so what is
/// checked is what is read.
fn read_key(path: &Path, mut file: File, uid: u32) -> Result<[u8; KEY_LEN], CacheError> {
    let io_err = |step, source| CacheError::Io {
        step,
        path: path.to_path_buf(),
        source,
    };
    let meta = file.metadata().map_err(|e| io_err("inspect", e))?;
    check_owner(path, meta.uid(), uid)?;
    let mode = meta.mode() & 0o7777;
    if mode & ANY_OTHER_ACCESS != 0 {
        return Err(CacheError::KeyExposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    if !meta.is_file() || meta.len() != KEY_LEN as u64 {
        return Err(CacheError::KeyMalformed {
            path: path.to_path_buf(),
            len: meta.len(),
        });
    }
    let mut key = [0u8; KEY_LEN];
    file.read_exact(&mut key).map_err(|e| io_err("read", e))?;
    Ok(key)
}

/// Creates the key: written whole to a 0600 temporary file, synced, then hard-linked to its
/// name, which fails if another process got there first (then its key is read). So the key
/// appears under its name only complete, and two first uses cannot end with two keys.
fn create_key(dir: &Path, path: &Path, uid: u32) -> Result<[u8; KEY_LEN], CacheError> {
    let mut key = [0u8; KEY_LEN];
    rand::rngs::OsRng
        .try_fill_bytes(&mut key)
        .map_err(CacheError::Random)?;
    let tmp = dir.join(temp_name(KEY_FILE));
    let linked = write_private(&tmp, &key).and_then(|()| {
        fs::hard_link(&tmp, path).map_err(|source| CacheError::Io {
            step: "create",
            path: path.to_path_buf(),
            source,
        })
    });
    // Whether the link worked or not, the temporary name has served.
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(CacheError::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {
            let file = File::open(path).map_err(|source| CacheError::Io {
                step: "open",
                path: path.to_path_buf(),
                source,
            })?;
            return read_key(path, file, uid);
        }
        Err(e) => return Err(e),
    }
    sync_dir(dir).map_err(|source| CacheError::Io {
        step: "fsync",
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(key)
}

/// Writes `bytes` to the new file `path`, mode 0600, and syncs it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let io_err = |step, source| CacheError::Io {
        step,
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err("create", e))?;
    file.write_all(bytes).map_err(|e| io_err("write", e))?;
    file.sync_all().map_err(|e| io_err("fsync", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const KEY: [u8; KEY_LEN] = [7; KEY_LEN];

    fn entry(key: &[u8; KEY_LEN], name: &str, artifact: &[u8]) -> Vec<u8> {
        let mut out = artifact.to_vec();
        out.extend_from_slice(&seal(key, name, artifact));
        out.extend_from_slice(MAGIC);
        out
    }

    #[test]
    fn a_sealed_entry_opens_and_any_change_is_refused() {
        let good = entry(&KEY, "a.cwasm", b"native code");
        assert_eq!(open_entry(&KEY, "a.cwasm", &good), Ok(()));
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 1;
            assert!(open_entry(&KEY, "a.cwasm", &bad).is_err(), "byte {i}");
        }
        // Another name, another key, a truncated or a bare (unsealed) file.
        assert_eq!(open_entry(&KEY, "b.cwasm", &good), Err(Rejection::BadTag));
        assert_eq!(
            open_entry(&[8; KEY_LEN], "a.cwasm", &good),
            Err(Rejection::BadTag)
        );
        assert_eq!(
            open_entry(&KEY, "a.cwasm", &good[1..]),
            Err(Rejection::BadTag)
        );
        assert_eq!(
            open_entry(&KEY, "a.cwasm", &good[..good.len() - 1]),
            Err(Rejection::NoHeader)
        );
        assert_eq!(
            open_entry(
                &KEY,
                "a.cwasm",
                b"\x7fELF bare artifact, longer than a trailer"
            ),
            Err(Rejection::NoHeader)
        );
        assert_eq!(
            open_entry(&KEY, "a.cwasm", b"short"),
            Err(Rejection::NoHeader)
        );
        // Entries of the earlier formats (`weirmac1`/`weirmac2` ‖ tag ‖ artifact) are refused
        // as such, so the caller deletes them and compiles again.
        for magic in [b"weirmac1", b"weirmac2"] {
            let mut previous = magic.to_vec();
            previous.extend_from_slice(&[0x5a; TAG_LEN]);
            previous.extend_from_slice(b"native code");
            assert_eq!(
                open_entry(&KEY, "a.cwasm", &previous),
                Err(Rejection::NoHeader)
            );
        }
    }

    /// The tag is BLAKE3's keyed hash of the documented input, byte for byte: entries written
    /// by one build are read by the next.
    #[test]
    fn the_tag_is_blake3_keyed_over_domain_name_and_artifact() {
        let mut input = b"weir-plugin-cache-v3\0".to_vec();
        input.extend_from_slice(b"a.cwasm\0native code");
        assert_eq!(
            seal(&KEY, "a.cwasm", b"native code"),
            *blake3::keyed_hash(&KEY, &input).as_bytes()
        );
    }

    #[test]
    fn open_creates_a_private_folder_and_key_and_reads_the_same_key_again() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("nested/cache");
        let first = CompileCache::open(&dir).expect("open");
        let dir_mode = fs::metadata(&dir).expect("dir").permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let key = fs::metadata(dir.join(KEY_FILE)).expect("key");
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
        assert_eq!(key.len(), KEY_LEN as u64);
        let again = CompileCache::open(&dir).expect("reopen");
        assert_eq!(first.key, again.key);
        // Only the key is left behind: probes and temporary files are gone.
        let names: Vec<_> = fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [KEY_FILE]);
    }

    #[test]
    fn store_then_load_round_trips_and_a_tampered_entry_is_rejected() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cache = CompileCache::open(tmp.path()).expect("open");
        assert!(cache.load("x.cwasm").expect("absent").is_none());
        // Longer than one chunk of the check, and not a multiple of it.
        let artifact: Vec<u8> = (0..CHECK_CHUNK * 2 + 17).map(|i| (i % 251) as u8).collect();
        cache.store("x.cwasm", &artifact).expect("store");
        let verified = cache.load("x.cwasm").expect("load").expect("present");
        assert_eq!(verified.read_artifact().expect("read"), artifact);
        // The path reaches the file that was checked, even once another is renamed over it.
        let path = cache.entry_path("x.cwasm");
        cache.store("x.cwasm", b"another").expect("replace");
        assert_eq!(
            fs::read(verified.path()).expect("via fd").len(),
            artifact.len() + TRAILER_LEN
        );
        assert_eq!(
            cache
                .load("x.cwasm")
                .expect("load")
                .expect("present")
                .read_artifact()
                .expect("read"),
            b"another"
        );
        let mut bytes = fs::read(&path).expect("read");
        bytes[0] ^= 0x80;
        fs::write(&path, &bytes).expect("tamper");
        assert!(matches!(
            cache.load("x.cwasm"),
            Err(EntryError::Rejected {
                reason: Rejection::BadTag,
                ..
            })
        ));
        cache.discard("x.cwasm").expect("discard");
        assert!(!path.exists());
        cache
            .discard("x.cwasm")
            .expect("discarding nothing is fine");
    }

    #[test]
    fn a_folder_writable_by_others_is_refused_and_left_untouched() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = CompileCache::open(tmp.path()).expect_err("refused");
        assert!(
            matches!(err, CacheError::DirWritableByOthers { mode: 0o777, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("(mode 0777)"), "{err}");
        assert!(!tmp.path().join(KEY_FILE).exists());
    }

    #[test]
    fn a_key_readable_by_others_or_of_the_wrong_size_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        CompileCache::open(tmp.path()).expect("open");
        let key = tmp.path().join(KEY_FILE);
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = CompileCache::open(tmp.path()).expect_err("exposed key");
        assert!(
            matches!(err, CacheError::KeyExposed { mode: 0o644, .. }),
            "{err}"
        );
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod");
        fs::write(&key, b"short").expect("truncate");
        let err = CompileCache::open(tmp.path()).expect_err("short key");
        assert!(
            matches!(err, CacheError::KeyMalformed { len: 5, .. }),
            "{err}"
        );
    }

    #[test]
    fn ownership_is_compared_with_the_current_user() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let uid = current_uid(tmp.path()).expect("uid");
        assert_eq!(uid, dir_owner(tmp.path()).expect("owner"));
        let err = check_owner(tmp.path(), uid.wrapping_add(1), uid).expect_err("other owner");
        assert!(err.to_string().contains("not by the current user"), "{err}");
    }
}
