//! An action's spool on the cluster (`[cluster]`): the same entries as a spool file, kept in
//! one replicated log that every host shares ([`SpoolLog`], the stream `<PREFIX>_SPOOLS`), so
//! that what a host acknowledged and had not delivered yet is delivered by another host when
//! it dies, not when it comes back.
//!
//! **Where entries go.** Each running pipeline writes under a path of its own:
//! `<rule>.<action>.<writer>`, where `<rule>` is the rule's name made one subject token,
//! `<action>` the action's folder name of a file spool (its identity, see [`super`]) and
//! `<writer>` is `<host>-<n>`: the id this process uses on the cluster (new at every start)
//! and a counter. An append returns once the log acknowledged every entry, that is once a
//! quorum of replicas stored it; only then are the messages acknowledged. A flush that
//! delivered everything purges the writer's path.
//!
//! **Who adopts what.** A pipeline takes over the paths of its action that no writer is
//! using any more, when it starts and then every [`ADOPT_EVERY`] while it runs:
//! - a path of this process that no running pipeline of this process writes (a pipeline that
//!   stopped with records it could not place, at a reload);
//! - a path of another host that is gone: each host renews a presence lease
//!   (`leases/spool-hosts/<host>`), and [`SpoolLog::claim_gone`] takes a lapsed one over for
//!   the adopting host, so of two live hosts only one adopts a dead host's paths at a time.
//!
//! Adopting copies the entries into the adopter's own path (acknowledged), then purges the
//! old path only up to the last entry read: an entry appended later (its writer was not dead
//! after all, only cut off longer than the lease) stays. A crash between the two delivers
//! those records twice: at least once, as a spool file's adoption.
//!
//! With `adopt` at start, the action's spool files on this host's disk (kept before the host
//! joined a cluster) are adopted the same way, so nothing spooled locally is stranded.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weir_support::lock;

use super::{SpoolEntry, SpoolError, Spooled};

/// How often a running pipeline looks for paths of its action that their writers left.
pub const ADOPT_EVERY: Duration = Duration::from_secs(2);

/// The cluster's spool log as the spools use it.
pub trait SpoolLog: Send + Sync + std::fmt::Debug {
    /// This process's id on the cluster (letters and digits): the first part of its writers'
    /// names.
    fn host(&self) -> &str;
    /// Appends `entries` under `path` and returns once every one is durable on the cluster.
    fn append(&self, path: &[&str], entries: &[&[u8]]) -> std::io::Result<()>;
    /// The writers (the last part of the path) that hold entries under the action `action`.
    fn writers(&self, action: &[&str]) -> std::io::Result<Vec<String>>;
    /// Every entry under `path`, oldest first, with the last one's sequence.
    fn read(&self, path: &[&str]) -> std::io::Result<(Vec<Vec<u8>>, Option<u64>)>;
    /// Removes the entries under `path`: all, or up to the sequence `through`.
    fn purge(&self, path: &[&str], through: Option<u64>) -> std::io::Result<()>;
    /// Whether `host` is gone (its presence lease lapsed); when it is, its spools are this
    /// host's to adopt for a lease's time, and no other host's.
    fn claim_gone(&self, host: &str) -> std::io::Result<bool>;
    /// Where `path` lives, for messages.
    fn describe(&self, path: &[&str]) -> String;
}

/// The spool of one action on the cluster: the log and the action's path in it.
#[derive(Clone)]
pub struct SharedSpec {
    pub log: Arc<dyn SpoolLog>,
    /// `[<rule>, <action>]`: see the module documentation.
    pub action: [String; 2],
}

impl SharedSpec {
    /// The action `folder` (the name of its spool folder) of `rule` in `log`.
    pub fn new(log: Arc<dyn SpoolLog>, rule: &str, folder: &str) -> SharedSpec {
        SharedSpec {
            log,
            action: [token(rule), token(folder)],
        }
    }
}

/// `name` as one subject token: letters, digits, `-` and `_` kept; anything else becomes `_`
/// and a hash of the original follows, so two names cannot meet.
pub fn token(name: &str) -> String {
    super::reduce_name(
        name,
        |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'),
        |n| !n.is_empty(),
        '_',
    )
}

/// The writer paths this process is writing or adopting now (`<rule>.<action>.<writer>`):
/// never adopted by another of its pipelines.
static LIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// A path's place in [`LIVE`] while it is held.
struct Held(String);

impl Held {
    /// Claims `key`; `None` when this process holds it already.
    fn claim(key: String) -> Option<Held> {
        // Not `then_some(Held(..))`: its argument is built either way, and dropping an unused
        // one would remove the key it did not claim (under the lock still held here).
        let fresh = lock(&LIVE).insert(key.clone());
        if fresh {
            Some(Held(key))
        } else {
            None
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        lock(&LIVE).remove(&self.0);
    }
}

/// A running pipeline's spool on the cluster.
pub struct SharedSpool {
    spec: SharedSpec,
    writer: String,
    /// Entries appended since the last reset.
    len: u64,
    next_adoption: Instant,
    _held: Held,
}

impl SharedSpool {
    /// A new writer for the action; with `adopt`, first takes over what gone writers left
    /// under it and the action's spool files in `dir` (returned, and durable in this spool).
    pub fn open(
        spec: &SharedSpec,
        dir: &Path,
        adopt: bool,
    ) -> Result<(SharedSpool, Vec<Spooled>), SpoolError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let writer = format!(
            "{}-{}",
            spec.log.host(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let key = format!("{}.{}.{writer}", spec.action[0], spec.action[1]);
        let held = Held::claim(key).ok_or_else(|| SpoolError {
            path: PathBuf::from(&writer),
            what: "claiming a writer name twice",
            source: std::io::Error::other("writer names are unique per process"),
        })?;
        let mut spool = SharedSpool {
            spec: spec.clone(),
            writer,
            len: 0,
            next_adoption: Instant::now() + ADOPT_EVERY,
            _held: held,
        };
        if !adopt {
            return Ok((spool, Vec::new()));
        }
        let mut adopted = spool.adopt_files(dir)?;
        // Not fatal: the cluster may be briefly unreachable, and the running pipeline looks
        // again every [`ADOPT_EVERY`].
        match spool.adopt_left() {
            Ok(got) => adopted.extend(got),
            Err(e) => {
                tracing::warn!(error = %e, cause = %e.source, "cannot look for spools that gone writers left; the pipeline tries again while it runs");
            }
        }
        Ok((spool, adopted))
    }

    fn path(&self) -> [&str; 3] {
        [&self.spec.action[0], &self.spec.action[1], &self.writer]
    }

    fn error(&self, path: &[&str], what: &'static str, source: std::io::Error) -> SpoolError {
        SpoolError {
            path: PathBuf::from(self.spec.log.describe(path)),
            what,
            source,
        }
    }

    /// Appends `entries` under this writer's path; returns once the cluster acknowledged them.
    pub fn append<'a>(
        &mut self,
        entries: impl IntoIterator<Item = SpoolEntry<'a>>,
    ) -> Result<(), SpoolError> {
        let bodies: Vec<Vec<u8>> = entries
            .into_iter()
            .map(|e| {
                let mut body = Vec::new();
                e.encode(&mut body);
                body
            })
            .collect();
        self.append_bodies(&bodies)
    }

    fn append_bodies(&mut self, bodies: &[Vec<u8>]) -> Result<(), SpoolError> {
        if bodies.is_empty() {
            return Ok(());
        }
        let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        let path = self.path();
        self.spec
            .log
            .append(&path, &refs)
            .map_err(|e| self.error(&path, "appending", e))?;
        self.len += bodies.len() as u64;
        Ok(())
    }

    /// Purges this writer's path: everything in it was delivered or handed on. If the purge
    /// is lost (a crash), the records are delivered again: at least once.
    pub fn reset(&mut self) -> Result<(), SpoolError> {
        if self.len == 0 {
            return Ok(());
        }
        let path = self.path();
        self.spec
            .log
            .purge(&path, None)
            .map_err(|e| self.error(&path, "emptying", e))?;
        self.len = 0;
        Ok(())
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// When [`SharedSpool::adopt_left`] is due next.
    pub fn next_adoption(&self) -> Instant {
        self.next_adoption
    }

    /// Takes over the paths of this action whose writers are gone (see the module
    /// documentation): their entries are appended here, then purged there. An error after
    /// some paths were adopted ends the round with what was adopted (those records are in
    /// this spool now and must reach the buffer); the rest waits for the next round.
    pub fn adopt_left(&mut self) -> Result<Vec<Spooled>, SpoolError> {
        self.next_adoption = Instant::now() + ADOPT_EVERY;
        let mut out = Vec::new();
        match self.adopt_round(&mut out) {
            Ok(()) => Ok(out),
            Err(e) if out.is_empty() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, cause = %e.source, adopted = out.len(), "adopting spools stopped part way; the rest waits for the next round");
                Ok(out)
            }
        }
    }

    fn adopt_round(&mut self, out: &mut Vec<Spooled>) -> Result<(), SpoolError> {
        let log = self.spec.log.clone();
        let [rule, action] = self.spec.action.clone();
        let writers = log
            .writers(&[&rule, &action])
            .map_err(|e| self.error(&[&rule, &action], "listing its writers", e))?;
        for writer in writers {
            if writer == self.writer {
                continue;
            }
            let Some(held) = Held::claim(format!("{rule}.{action}.{writer}")) else {
                continue; // written, or being adopted, by this process
            };
            let host = writer.split_once('-').map_or(writer.as_str(), |(h, _)| h);
            let path = [rule.as_str(), action.as_str(), writer.as_str()];
            if host != log.host() {
                match log.claim_gone(host) {
                    Ok(true) => {}
                    Ok(false) => continue, // its host is alive, or another adopts it
                    Err(e) => return Err(self.error(&path, "checking its writer's host", e)),
                }
            }
            let (bodies, last) = log
                .read(&path)
                .map_err(|e| self.error(&path, "reading a spool its writer left", e))?;
            let mut kept = Vec::with_capacity(bodies.len());
            let mut entries = Vec::with_capacity(bodies.len());
            for body in bodies {
                match super::decode(&body) {
                    Some(entry) => {
                        entries.push(entry);
                        kept.push(body);
                    }
                    None => {
                        tracing::warn!(spool = %log.describe(&path), bytes = body.len(), "a spool entry that does not decode; ignored");
                    }
                }
            }
            self.append_bodies(&kept)?;
            if let Err(e) = log.purge(&path, last) {
                tracing::warn!(spool = %log.describe(&path), error = %e, "cannot purge an adopted spool; its records may be delivered again");
            }
            drop(held);
            if !entries.is_empty() {
                tracing::info!(spool = %log.describe(&path), records = entries.len(), "adopted a spool its writer left");
            }
            out.extend(entries);
        }
        Ok(())
    }

    /// The action's spool files on this host's disk that no pipeline of this process holds:
    /// appended here, then removed.
    fn adopt_files(&mut self, dir: &Path) -> Result<Vec<Spooled>, SpoolError> {
        let files = match super::leftovers(dir) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(SpoolError {
                    path: dir.to_path_buf(),
                    what: "listing its folder",
                    source,
                })
            }
        };
        let held = lock(&super::LIVE).clone();
        let mut out = Vec::new();
        for file in files.into_iter().filter(|f| !held.contains(f)) {
            let (entries, _) = super::read_all(&file).map_err(|source| SpoolError {
                path: file.clone(),
                what: "reading a spool file left from before the cluster",
                source,
            })?;
            self.append(entries.iter().map(Spooled::entry))?;
            if let Err(e) = std::fs::remove_file(&file) {
                tracing::warn!(path = %file.display(), error = %e, "cannot remove an adopted spool; its records may be delivered again");
            }
            tracing::info!(path = %file.display(), records = entries.len(), "spool file from before the cluster moved to the cluster");
            out.extend(entries);
        }
        Ok(out)
    }

    /// Ends the writer. Nothing to do: an empty writer's path holds nothing (every flush
    /// purged it), and one with records stays for the next pipeline of the action to adopt,
    /// on this host or another.
    pub fn close(self) {}
}

#[cfg(test)]
mod tests;
