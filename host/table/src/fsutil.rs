//! File-system helpers of the key-value table: IO errors that name their path and step, and
//! atomic, durable file replacement.

use std::io;
use std::path::{Path, PathBuf};

/// Suffix of in-progress files. Readers and listings ignore them; recovery deletes them.
pub const TEMP_SUFFIX: &str = ".weir-tmp";

/// An IO failure with the path and the operation, so a log line says what broke.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path:?}: {source}")]
pub struct IoAt {
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Builds an [`IoAt`].
pub fn io_at(op: &'static str, path: &Path, source: io::Error) -> IoAt {
    IoAt {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Attaches the operation and path to an IO result.
pub fn at<T>(r: io::Result<T>, op: &'static str, path: &Path) -> Result<T, IoAt> {
    r.map_err(|source| io_at(op, path, source))
}

pub use weir_support::sync_dir;

/// Writes `bytes` to `path` atomically and durably through the temp path `tmp` (in the same
/// folder, absent): write, fsync, rename, fsync the folder.
pub fn write_atomic_to(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), IoAt> {
    write_atomic_via(tmp, path, &[bytes])
}

fn write_atomic_via(tmp: &Path, path: &Path, chunks: &[&[u8]]) -> Result<(), IoAt> {
    weir_support::write_atomic_via(tmp, path, chunks).map_err(|e| io_at(e.step, &e.path, e.source))
}
