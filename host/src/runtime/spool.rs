//! An action's buffer on disk, so that a message can be acknowledged as soon as it is in the
//! buffer instead of when the buffer flushes.
//!
//! A buffer flushes on its record count, byte size or age; a Firehose-style archive may wait
//! minutes. Holding a QoS 1 PUBACK that long would stall every publisher whose inflight window
//! is full. So a record that stays in a buffer is first appended here (and synced unless
//! `[storage] fsync = "never"`), and only then does it give up its share of the message's
//! acknowledgement. When the buffer has been delivered (or handed to the error action or the
//! dead-letter store), the spool is emptied. After a crash, a pipeline starts by putting what
//! its spool holds back into its buffer: delivered at least once.
//!
//! Files: `STORAGE/spool/<rule>/<action>/<generation>.spool`, where `<action>` is named by
//! what the action is, not by where it stands in its rule: a readable slug of its label and a
//! hash of its identity (`Destination::identity`: its kind and target, without key template,
//! buffering or plugins; an error action's identity is marked as such; the second of two
//! identical actions in one rule hashes its occurrence too). So moving an action, inserting
//! another before it or changing how it batches keeps its spool, and a spooled record is never
//! handed to another destination. Each running pipeline writes a file of its own (a reload
//! starts the new plan's pipelines while the old ones drain, so two pipelines of one action
//! can run at once). A pipeline that stops cleanly with nothing left removes its file. When a
//! plan starts (the host's first, or a reload's), each action's pipeline adopts the files in
//! its folder that no running pipeline of this process holds (left by an earlier run, or by a
//! pipeline that stopped with records it could not place): it copies their records into its
//! own file and removes them. A folder no action claims is reported, never removed, and its
//! records are delivered as soon as an action with its identity comes back.
//!
//! Spools of versions that named the folder by the action's index (`<index>:<label>`, made
//! file-safe) are migrated once: an action whose index and label both match takes that
//! folder's files (moved into its own folder, both folders synced), which is what the earlier
//! version would have done; any other such folder is reported like an orphan.
//!
//! Durability of names: a new spool file's folder, and every folder created on the way to it,
//! is synced before the first append, so an acknowledged record cannot vanish with its file's
//! name at a power cut.
//! Each entry is a `weir_support::framed` frame (`u32 length | u32 CRC-32C | body`, little
//! endian); the body holds the record and its message's metadata as length-prefixed fields.
//! A torn or corrupt tail (a crash mid-append) is ignored; what came before it is kept.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use weir_plugins::Record;
use weir_support::framed::{self, FrameBatch, FrameLimits, Visit};
use weir_support::lock;

/// The spool files this process's pipelines hold open. A plan built while another runs (a
/// reload) adopts only files outside this set: the rest are still being written.
static LIVE: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Syncs a folder so a file created (or moved) in it keeps its name at a power cut. Tests
/// see every call, with the spool files present at that moment.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(test)]
    tests::saw_dir_sync(dir);
    weir_support::sync_dir(dir)
}

/// Why the spool could not be used.
#[derive(Debug, thiserror::Error)]
#[error("spool {}: {what}", path.display())]
pub struct SpoolError {
    pub path: PathBuf,
    pub what: &'static str,
    #[source]
    pub source: std::io::Error,
}

/// One spooled record with what its message contributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    pub record: Record,
    /// The destination key (`Meta::key`).
    pub key: String,
    /// The original message, for the error action.
    pub topic: String,
    pub payload: Vec<u8>,
    pub client_id: Option<String>,
    pub arrival_ms: i64,
}

/// The spool of one action: a file on this host's disk, or (with `[cluster]`) a path in the
/// cluster's replicated spool stream ([`shared`]).
pub struct Spool(Backend);

enum Backend {
    File(FileSpool),
    Shared(shared::SharedSpool),
}

impl Spool {
    /// The spool file of a new pipeline in `dir`; see [`FileSpool::open`].
    pub fn open(dir: &Path, sync: bool, adopt: bool) -> Result<(Spool, Vec<Spooled>), SpoolError> {
        let (f, adopted) = FileSpool::open(dir, sync, adopt)?;
        Ok((Spool(Backend::File(f)), adopted))
    }

    /// A new pipeline's spool on the cluster; see [`shared::SharedSpool::open`]. `dir` is the
    /// action's folder on this host, whose files (from before the host joined a cluster) are
    /// adopted too.
    pub fn open_shared(
        spec: &shared::SharedSpec,
        dir: &Path,
        adopt: bool,
    ) -> Result<(Spool, Vec<Spooled>), SpoolError> {
        let (s, adopted) = shared::SharedSpool::open(spec, dir, adopt)?;
        Ok((Spool(Backend::Shared(s)), adopted))
    }

    /// Appends `entries` and makes them durable (synced, or replicated by a quorum); only
    /// then may their messages be acknowledged.
    pub fn append<'a>(
        &mut self,
        entries: impl IntoIterator<Item = SpoolEntry<'a>>,
    ) -> Result<(), SpoolError> {
        match &mut self.0 {
            Backend::File(f) => f.append(entries),
            Backend::Shared(s) => s.append(entries),
        }
    }

    /// Empties the spool: everything in it was delivered or handed on.
    pub fn reset(&mut self) -> Result<(), SpoolError> {
        match &mut self.0 {
            Backend::File(f) => f.reset(),
            Backend::Shared(s) => s.reset(),
        }
    }

    /// When to look for spools of this action that their writers left (a host of the cluster
    /// that died); never for a file spool, which adopts only when its pipeline starts.
    pub fn next_adoption(&self) -> Option<std::time::Instant> {
        match &self.0 {
            Backend::File(_) => None,
            Backend::Shared(s) => Some(s.next_adoption()),
        }
    }

    /// Takes over what writers that are gone left in this action's spool: their records are
    /// made durable in this spool and returned, for the buffer.
    pub fn adopt_left(&mut self) -> Result<Vec<Spooled>, SpoolError> {
        match &mut self.0 {
            Backend::File(_) => Ok(Vec::new()),
            Backend::Shared(s) => s.adopt_left(),
        }
    }

    /// Whether nothing is spooled.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Backend::File(f) => f.len == 0,
            Backend::Shared(s) => s.is_empty(),
        }
    }

    /// The file of a file spool.
    #[cfg(test)]
    fn path(&self) -> &Path {
        match &self.0 {
            Backend::File(f) => &f.path,
            Backend::Shared(_) => Path::new(""),
        }
    }

    /// Ends the spool: an empty one leaves nothing behind; one with records stays for the
    /// next plan, run or host to adopt.
    pub fn close(self) {
        match self.0 {
            Backend::File(f) => f.close(),
            Backend::Shared(s) => s.close(),
        }
    }
}

/// The spool of one action in a file.
pub struct FileSpool {
    path: PathBuf,
    file: File,
    sync: bool,
    /// Bytes written since the last reset.
    len: u64,
    /// Keeps the file out of other plans' adoption while this spool exists.
    _live: Live,
}

/// Entries larger than this are corrupt: a record is at most a few MiB.
const LIMITS: FrameLimits = FrameLimits::new(0, 256 << 20);

/// A name for this process's spool files that no other run or plan uses.
fn generation() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static START: OnceLock<u128> = OnceLock::new();
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let start = START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    });
    format!(
        "{start:x}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

impl FileSpool {
    /// Creates this pipeline's spool file in `dir` (the file and any folder created for it are
    /// synced when `sync`, before anything is appended). With `adopt`, first takes over the
    /// files there that no running pipeline of this process holds (an earlier run's, or a
    /// stopped pipeline's): their records are copied into the new file (synced) and returned,
    /// and the old files removed.
    pub fn open(
        dir: &Path,
        sync: bool,
        adopt: bool,
    ) -> Result<(FileSpool, Vec<Spooled>), SpoolError> {
        let path = dir.join(format!("{}.spool", generation()));
        // Claimed before it exists, so no plan building meanwhile can take it.
        lock(&LIVE).insert(path.clone());
        let live = Live(path.clone());
        let err = |what, source| SpoolError {
            path: path.clone(),
            what,
            source,
        };
        if sync {
            weir_support::create_dir_all_synced(dir)
        } else {
            std::fs::create_dir_all(dir)
        }
        .map_err(|e| err("creating its folder", e))?;
        let mut entries = Vec::new();
        let mut adopted = Vec::new();
        if adopt {
            let found = leftovers(dir).map_err(|e| err("listing its folder", e))?;
            let held = lock(&LIVE).clone();
            for old in found.into_iter().filter(|f| !held.contains(f)) {
                let (got, ignored) = read_all(&old).map_err(|e| SpoolError {
                    path: old.clone(),
                    what: "reading a spool left by an earlier run",
                    source: e,
                })?;
                if ignored > 0 {
                    tracing::warn!(path = %old.display(), kept = got.len(), ignored_bytes = ignored, "spool had a torn or corrupt tail; ignored");
                }
                entries.extend(got);
                adopted.push(old);
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| err("creating", e))?;
        if sync {
            sync_dir(dir).map_err(|e| err("syncing its folder", e))?;
        }
        let mut spool = FileSpool {
            path,
            file,
            sync,
            len: 0,
            _live: live,
        };
        if !entries.is_empty() {
            spool.append(entries.iter().map(Spooled::entry))?;
        }
        for old in adopted {
            if let Err(e) = std::fs::remove_file(&old) {
                tracing::warn!(path = %old.display(), error = %e, "cannot remove an adopted spool; its records may be delivered again");
            }
        }
        Ok((spool, entries))
    }

    /// Appends `entries` and makes them durable; only then may their messages be acknowledged.
    pub fn append<'a>(
        &mut self,
        entries: impl IntoIterator<Item = SpoolEntry<'a>>,
    ) -> Result<(), SpoolError> {
        let mut buf = FrameBatch::with_capacity(LIMITS, 0);
        for e in entries {
            buf.push(|body| e.encode(body))
                .map_err(|e| self.error("appending an entry too large to read back", e.into()))?;
        }
        // Written at the spool's end by offset, so a failed append cut back needs no seek.
        let write = || {
            self.file.write_all_at(buf.bytes(), self.len)?;
            if self.sync {
                // Through the process-wide group commit: one round syncs every spool, shard
                // and Firehose buffer waiting at that moment (a duplicate descriptor of this
                // file, so the round can hold it).
                let dup = std::sync::Arc::new(self.file.try_clone()?);
                weir_streams::GroupCommit::global().sync_file(&dup)?;
            }
            Ok(())
        };
        framed::append_or_cut(self.len, write, |len| self.file.set_len(len))
            .map_err(|e| self.error("appending", e.error))?;
        self.len += buf.len() as u64;
        Ok(())
    }

    fn error(&self, what: &'static str, source: std::io::Error) -> SpoolError {
        SpoolError {
            path: self.path.clone(),
            what,
            source,
        }
    }

    /// Empties the spool: everything in it was delivered or handed on. Not synced: if a crash
    /// undoes it, the records are delivered again (at least once).
    pub fn reset(&mut self) -> Result<(), SpoolError> {
        if self.len == 0 {
            return Ok(());
        }
        self.file
            .set_len(0)
            .map_err(|e| self.error("emptying", e))?;
        self.len = 0;
        Ok(())
    }

    /// Removes the file of an empty spool (a pipeline that stops cleanly leaves none behind).
    /// One with records stays, for the next plan or run to adopt.
    pub fn close(self) {
        if self.len == 0 {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A spool file's place in [`LIVE`], given up when its [`FileSpool`] is dropped (closed, or its
/// pipeline gone): from then on the next plan may adopt what it holds.
struct Live(PathBuf);

impl Drop for Live {
    fn drop(&mut self) {
        lock(&LIVE).remove(&self.0);
    }
}

impl Spooled {
    pub(super) fn entry(&self) -> SpoolEntry<'_> {
        SpoolEntry {
            record: &self.record,
            key: &self.key,
            topic: &self.topic,
            payload: &self.payload,
            client_id: self.client_id.as_deref(),
            arrival_ms: self.arrival_ms,
        }
    }
}

/// The `.spool` files in `dir`.
pub(super) fn leftovers(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "spool") && p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Spool files under `root` that no action of the plan claims (their rule or action is gone
/// from the configuration, or changed where it delivers) and that no running pipeline of
/// this process holds: reported, never removed. They are delivered as soon as an action with
/// their identity is back (at a reload or the next start). Empty folders of identities no
/// longer configured are removed on the way.
pub fn orphans(root: &Path, claimed: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rules) = std::fs::read_dir(root) else {
        return out;
    };
    let held = lock(&LIVE).clone();
    for rule in rules.flatten() {
        let Ok(actions) = std::fs::read_dir(rule.path()) else {
            continue;
        };
        for action in actions.flatten() {
            let dir = action.path();
            if claimed.contains(&dir) {
                continue;
            }
            let files = leftovers(&dir).unwrap_or_default();
            if files.is_empty() {
                // Fails, harmlessly, if anything is in it.
                let _ = std::fs::remove_dir(&dir);
            }
            out.extend(files.into_iter().filter(|f| !held.contains(f)));
        }
        let _ = std::fs::remove_dir(rule.path());
    }
    out
}

/// Moves the spool files of the folder an earlier version named by the action's index
/// (`legacy`, see [`legacy_spool_dir`]) into the action's own folder `dir`, where
/// [`Spool::open`] adopts them; then removes the emptied folder. The files keep their names
/// (each is unique to the run that wrote it). `dir` is synced before `legacy`, so at a power
/// cut a file is in one folder or both (delivered twice, at least once), never neither.
/// Returns how many files moved; none when `legacy` does not exist.
pub fn migrate_legacy(legacy: &Path, dir: &Path, sync: bool) -> Result<usize, SpoolError> {
    let err = |path: &Path, what, source| SpoolError {
        path: path.to_path_buf(),
        what,
        source,
    };
    let files = match leftovers(legacy) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(err(legacy, "listing an index-named spool folder", e)),
    };
    if sync {
        weir_support::create_dir_all_synced(dir)
    } else {
        std::fs::create_dir_all(dir)
    }
    .map_err(|e| err(dir, "creating its folder", e))?;
    for f in &files {
        let Some(name) = f.file_name() else { continue };
        std::fs::rename(f, dir.join(name))
            .map_err(|e| err(f, "moving an index-named spool to its action's folder", e))?;
    }
    if sync && !files.is_empty() {
        sync_dir(dir).map_err(|e| err(dir, "syncing its folder", e))?;
        sync_dir(legacy).map_err(|e| err(legacy, "syncing its folder", e))?;
    }
    let _ = std::fs::remove_dir(legacy);
    Ok(files.len())
}

/// What [`Spool::append`] writes for one record, borrowed from the pipeline's buffer.
pub struct SpoolEntry<'a> {
    pub record: &'a Record,
    pub key: &'a str,
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub client_id: Option<&'a str>,
    pub arrival_ms: i64,
}

impl SpoolEntry<'_> {
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        let r = self.record;
        put(out, &r.payload);
        put(out, r.partition_key.as_bytes());
        put(out, r.source_topic.as_bytes());
        put(out, r.client_id.as_bytes());
        put(out, r.rule_name.as_bytes());
        out.extend_from_slice(&r.arrival_timestamp_ms.to_le_bytes());
        out.extend_from_slice(&(r.attributes.len() as u32).to_le_bytes());
        for (k, v) in &r.attributes {
            put(out, k.as_bytes());
            put(out, v.as_bytes());
        }
        put(out, self.key.as_bytes());
        put(out, self.topic.as_bytes());
        put(out, self.payload);
        match self.client_id {
            Some(c) => {
                out.push(1);
                put(out, c.as_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.arrival_ms.to_le_bytes());
    }
}

fn put(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// Reads fields off a body; `None` once it runs short.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        Some(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?).ok()
    }
}

pub(super) fn decode(body: &[u8]) -> Option<Spooled> {
    let mut f = Fields(body);
    let payload = f.bytes()?;
    let partition_key = f.string()?;
    let source_topic = f.string()?;
    let client_id = f.string()?;
    let rule_name = f.string()?;
    let arrival_timestamp_ms = f.u64()?;
    let n = f.u32()? as usize;
    let mut attributes = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        attributes.push((f.string()?, f.string()?));
    }
    let key = f.string()?;
    let topic = f.string()?;
    let original = f.bytes()?;
    let origin_client = match f.take(1)?[0] {
        0 => None,
        1 => Some(f.string()?),
        _ => return None,
    };
    let arrival_ms = f.u64()? as i64;
    if !f.0.is_empty() {
        return None;
    }
    Some(Spooled {
        record: Record {
            payload,
            partition_key,
            source_topic,
            client_id,
            rule_name,
            arrival_timestamp_ms,
            attributes,
        },
        key,
        topic,
        payload: original,
        client_id: origin_client,
        arrival_ms,
    })
}

/// Every whole, intact entry of the spool file at `path`, from the start, and how many bytes
/// after them were ignored (a torn or corrupt tail).
pub(super) fn read_all(path: &Path) -> std::io::Result<(Vec<Spooled>, u64)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut out = Vec::new();
    let walked = framed::walk(&file, 0, len, LIMITS, |body, _| match decode(body) {
        Some(entry) => {
            out.push(entry);
            Visit::Next
        }
        None => Visit::Reject,
    })?;
    Ok((out, len - walked.end))
}

/// Which action of a rule a spool belongs to: what names its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionIdentity {
    /// `Destination::label`, for the readable part of the name only.
    pub label: String,
    /// `Destination::identity`: where its records go.
    pub identity: String,
    /// The rule's error action (its records are error payloads, its failures dead letters).
    pub error_action: bool,
    /// Among the rule's actions of the same identity and role, how many come before it.
    pub occurrence: usize,
}

impl ActionIdentity {
    /// The identities of a rule's actions, in order: each with its occurrence among the
    /// identical ones before it, so two identical actions keep two spools.
    pub fn of_actions(actions: impl IntoIterator<Item = (String, String)>) -> Vec<ActionIdentity> {
        let mut seen = std::collections::BTreeMap::<String, usize>::new();
        actions
            .into_iter()
            .map(|(label, identity)| {
                let n = seen.entry(identity.clone()).or_default();
                let occurrence = *n;
                *n += 1;
                ActionIdentity {
                    label,
                    identity,
                    error_action: false,
                    occurrence,
                }
            })
            .collect()
    }

    /// The folder name: a readable slug, then a hash of role, identity and occurrence.
    pub fn folder(&self) -> String {
        let mut h = Fnv::default();
        h.write(if self.error_action {
            b"error\0"
        } else {
            b"action\0"
        });
        h.write(self.identity.as_bytes());
        h.write(b"\0");
        h.write(&(self.occurrence as u64).to_le_bytes());
        let mut slug: String = self
            .label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(48)
            .collect();
        if self.error_action {
            slug.insert_str(0, "error_");
        }
        format!("{slug}-{:016x}", h.0)
    }
}

/// FNV-1a, 64 bits: a hash that stays the same across Rust versions and platforms (folder
/// names must outlive the binary that made them).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The spool folder of one action: `ROOT/<rule>/<slug>-<hash>` (see the module docs).
pub fn spool_dir(root: &Path, rule: &str, action: &ActionIdentity) -> PathBuf {
    root.join(safe(rule)).join(action.folder())
}

/// Where versions that named spools by position kept an action's: `ROOT/<rule>/<index>:<label>`
/// (`<index>` is `error` for the error action), each part reduced to characters that are safe
/// in a file name (anything else becomes `_`, followed by a short hash of the original so two
/// labels cannot meet). Only read, by [`migrate_legacy`].
pub fn legacy_spool_dir(root: &Path, rule: &str, index_label: &str) -> PathBuf {
    root.join(safe(rule)).join(safe(index_label))
}

fn safe(name: &str) -> String {
    reduce_name(
        name,
        |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'),
        |n| !n.starts_with('.'),
        '-',
    )
}

/// `name` with every character `keep` refuses made `_`. When that changed it, or `usable`
/// refuses it as it is, a CRC-32C of the original follows after `sep`, so two names cannot
/// meet. What spool folders ([`safe`]) and the cluster's spool subjects (`shared::token`)
/// are named by.
fn reduce_name(
    name: &str,
    keep: impl Fn(char) -> bool,
    usable: impl Fn(&str) -> bool,
    sep: char,
) -> String {
    let clean: String = name
        .chars()
        .map(|c| if keep(c) { c } else { '_' })
        .collect();
    if clean == name && usable(name) {
        return clean;
    }
    format!("{clean}{sep}{:08x}", crc32c::crc32c(name.as_bytes()))
}

pub mod shared;
#[cfg(test)]
mod tests;
