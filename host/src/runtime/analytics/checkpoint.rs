//! A running application's checkpoint, `STORAGE/analytics/checkpoints/NAME.json`: where
//! each input's shards were read to and the engine's state (windows, joins, ROWTIME) at that
//! point, written together (atomically, fsync'd), so a restart or LAST_STOPPED_POINT resumes
//! from a consistent pair.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where an input's shards are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Positions {
    /// The last sequence number read, by shard.
    pub after: BTreeMap<String, String>,
    /// Closed shards read to their end.
    pub ended: Vec<String>,
    /// Where a shard not read yet starts: fixed when the application was started (from
    /// TRIM_HORIZON, or at the start's time for NOW), so a crash before anything was read
    /// resumes where the start said.
    #[serde(default)]
    pub from: Option<From>,
}

/// The start of a shard with no position yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum From {
    TrimHorizon,
    /// Records that arrived from this time (epoch ms) on.
    At(i64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    /// The application's creation time: another application of the same name does not
    /// resume from it.
    pub created_ms: i64,
    /// The code (and input and reference columns) the state belongs to: another
    /// configuration starts with empty windows.
    pub code: String,
    /// When it was written.
    pub saved_ms: i64,
    /// The last ROWTIME stamped.
    pub rowtime: i64,
    /// By input id.
    pub positions: BTreeMap<String, Positions>,
    pub engine: serde_json::Value,
}

/// The checkpoint file of application `name` under `dir`.
pub(crate) fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// Reads a checkpoint; none yet is `None`, an unreadable one an error (a restart must not
/// silently start over).
pub(crate) fn load(path: &Path) -> std::io::Result<Option<Checkpoint>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn save(path: &Path, c: &Checkpoint) -> std::io::Result<()> {
    let body = serde_json::to_vec(c).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    // One writer per application: a temporary file left by a crash is stale.
    let _ = std::fs::remove_file(&tmp);
    weir_support::write_atomic_via(&tmp, path, &[&body])?;
    Ok(())
}
