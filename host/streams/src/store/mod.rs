//! The engine's storage boundary: where one shard's records and the catalog live.
//!
//! The engine ([`crate::Streams`]) reaches a shard's records only through [`ShardStore`] and
//! its metadata (the catalog, the iterator key, the account settings) only through
//! [`MetaStore`]. Two implementations live here: the local one ([`LocalShard`],
//! [`FileMeta`]: today's segment log, `FORMAT.md`, and [`crate::GroupCommit`], unchanged) and
//! an in-memory one ([`MemStores`]) that the engine's behavioural tests run on as well. A
//! store over a replicated network log (one JetStream stream per shard) implements the same
//! traits in its own crate and is handed to [`crate::Streams::open_with_stores`] through a
//! [`StoreFactory`].
//!
//! The traits are shaped for such a log: an append only *starts* a write and returns a
//! [`PendingAppend`]; the counters (sequence numbers) and arrival times are known once it is
//! settled ([`PendingAppend::settle_all`]), which for the local log is a group-commit round
//! and for a network log the wait for the server's acknowledgements. What a store serves is
//! only ever what it settled (durable locally, acknowledged by a quorum remotely).
//!
//! Dispatch is through `dyn` everywhere, the local stores included: a virtual call costs
//! nanoseconds against the microseconds to milliseconds of an append or a read. Measured
//! when the boundary came in (`streams_log_bench` under callgrind): 3.38 M instructions per
//! 500-record put through the boundary against 3.42 M before it, and wall-clock medians
//! within the run-to-run noise. What the local path must not lose, one group-commit round
//! for every shard a put wrote, does not depend on the shard's dispatch: the round is formed
//! from the [`PendingAppend`]s, which carry the local ones as a variant of their own.

mod local;
mod mem;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

pub use crate::log::{AppendItem, StoredRecord};
use crate::{Result, ShardMeta, StreamMeta, StreamsError};

pub(crate) use local::LocalStores;
pub use local::{FileMeta, LocalShard};
pub use mem::{MemMeta, MemStores};

/// One page of a shard read by [`ShardStore::read`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShardPage {
    /// Records with counter >= `start`, in counter order; only settled (durable) ones.
    pub records: Vec<StoredRecord>,
    /// True when the read stopped because nothing more is servable, not because of a limit.
    pub reached_tip: bool,
    /// Where the read started: the asked counter, raised to the oldest record still kept.
    /// The next position when nothing was read.
    pub start: u64,
    /// Arrival time of the newest record in the shard (for `MillisBehindLatest`).
    pub newest_arrival_ms: Option<i64>,
}

/// One shard's records. Local: a segment log ([`LocalShard`]); in a cluster: one replicated
/// stream. All calls are synchronous: the engine's callers are threads, and a network
/// implementation runs its own runtime and waits on it (never from a runtime worker).
pub trait ShardStore: Send + Sync {
    /// Starts appending `items` in order, as one batch. `min_counter` raises the next
    /// counter first (`SequenceNumberForOrdering`). Nothing is readable, and no counter need
    /// be known, before the returned append is settled.
    fn append(&self, items: &[AppendItem<'_>], min_counter: Option<u64>) -> Result<PendingAppend>;

    /// What to settle so that everything appended so far is durable, or `None` when there
    /// is nothing to wait for (the interval flusher and shutdown call it).
    fn flush(&self) -> Result<Option<PendingAppend>>;

    /// The counter the next record will get (`LATEST`).
    fn tip(&self) -> Result<u64>;

    /// The counter of the first record that arrived at or after `ts_ms`, or the tip when
    /// none did (`AT_TIMESTAMP`).
    fn counter_at_time(&self, ts_ms: i64) -> Result<u64>;

    /// Reads settled records from `from` on: at most `limit` records and `max_bytes` of key
    /// and data, but at least one record if any is servable.
    fn read(&self, from: u64, limit: usize, max_bytes: usize) -> Result<ShardPage>;

    /// Counter and arrival time of the newest record kept, if any.
    fn newest(&self) -> Result<Option<(u64, i64)>>;

    /// Fences writers for a reshard: settles what was appended before, refuses every later
    /// append ([`StreamsError::Sealed`]) and returns the shard's end, the counter after its
    /// last record (the parent's `EndingSequenceNumber` is one below, and its children start
    /// at or above it).
    fn seal(&self) -> Result<u64>;

    /// Undoes [`ShardStore::seal`] when the reshard could not be recorded in the catalog. A
    /// store whose seal is final returns an error; the reshard must then be completed
    /// instead (the engine's `finish_interrupted_reshard`, when a put meets the sealed shard).
    fn unseal(&self) -> Result<()>;

    /// Drops records that arrived before `cutoff_ms` (whole segments locally); returns how
    /// many units (segments, records) went.
    fn expire(&self, cutoff_ms: i64) -> Result<usize>;

    /// A receiver that changes whenever records become readable (or [`ShardStore::notify`]
    /// is called); in-process subscriptions wait on it. It errors once the store is gone.
    fn watch(&self) -> watch::Receiver<u64>;

    /// Wakes every watcher without new records: the shard closed, or its stream is going.
    fn notify(&self);
}

/// What a network store returns from [`ShardStore::append`] when its counters come with the
/// server's acknowledgement.
pub trait SettleAppend: Send {
    /// Waits for the acknowledgement: counter and arrival time per record, in order. An
    /// error means the records must not be acknowledged to the client (they may or may not
    /// be stored; readers see them only if they are).
    fn settle(self: Box<Self>) -> Result<Vec<(u64, i64)>>;
}

/// An append that has started and is not yet settled (see the module doc). Dropping it
/// answers nobody: what was appended stays appended and becomes durable or acknowledged
/// with a later settlement, like the records of a put whose caller went away.
pub struct PendingAppend(Pending);

/// One append's settlement: counter and arrival time per record.
type Settled = Result<Vec<(u64, i64)>>;

enum Pending {
    /// Final already: nothing to wait for (no fsync policy, or nothing appended).
    Done(Vec<(u64, i64)>),
    /// Appended to a local log; durable once its group-commit round synced it.
    Local(local::LocalPending),
    /// Appended to a log that can no longer be made durable: it fails at settlement.
    Broken(Vec<(u64, i64)>, StreamsError),
    /// A network store's acknowledgement to wait for.
    Remote(Box<dyn SettleAppend>),
}

impl std::fmt::Debug for PendingAppend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.0 {
            Pending::Done(_) => "done",
            Pending::Local(_) => "local",
            Pending::Broken(..) => "broken",
            Pending::Remote(_) => "remote",
        };
        f.debug_tuple("PendingAppend").field(&kind).finish()
    }
}

impl PendingAppend {
    /// An append that is final as it returns.
    pub fn done(written: Vec<(u64, i64)>) -> PendingAppend {
        PendingAppend(Pending::Done(written))
    }

    /// An append settled by a network store's acknowledgement.
    pub fn later(settle: Box<dyn SettleAppend>) -> PendingAppend {
        PendingAppend(Pending::Remote(settle))
    }

    /// The counters and arrival times, when the store knew them at append (the local log);
    /// `None` when they come with settlement.
    pub fn counters(&self) -> Option<&[(u64, i64)]> {
        match &self.0 {
            Pending::Done(w) | Pending::Broken(w, _) => Some(w),
            Pending::Local(p) => Some(&p.written),
            Pending::Remote(_) => None,
        }
    }

    /// Whether settling has anything to wait for (or to report).
    pub fn needs_settle(&self) -> bool {
        !matches!(self.0, Pending::Done(_))
    }

    /// Settles every append together and returns each one's final counters and arrival
    /// times, in order: the local ones in one round of the process-wide group commit (so
    /// concurrent writers of any shard share the fsyncs), the others by waiting for their
    /// acknowledgements, which are in flight already.
    pub fn settle_all(appends: Vec<PendingAppend>) -> Vec<Result<Vec<(u64, i64)>>> {
        let mut out: Vec<Option<Settled>> = Vec::with_capacity(appends.len());
        let mut local = Vec::new();
        let mut local_at = Vec::new();
        let mut remote = Vec::new();
        for (i, a) in appends.into_iter().enumerate() {
            out.push(None);
            match a.0 {
                Pending::Done(w) => out[i] = Some(Ok(w)),
                Pending::Broken(_, e) => out[i] = Some(Err(e)),
                Pending::Local(p) => {
                    local.push(p);
                    local_at.push(i);
                }
                Pending::Remote(r) => remote.push((i, r)),
            }
        }
        for (i, r) in local_at.into_iter().zip(local::commit(local)) {
            out[i] = Some(r);
        }
        for (i, r) in remote {
            out[i] = Some(r.settle());
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(StreamsError::Io(std::io::Error::other(
                        "append left unsettled",
                    )))
                })
            })
            .collect()
    }

    /// Settles this one append (see [`PendingAppend::settle_all`]).
    pub fn settle(self) -> Result<Vec<(u64, i64)>> {
        Self::settle_all(vec![self]).pop().unwrap_or_else(|| {
            Err(StreamsError::Io(std::io::Error::other(
                "append left unsettled",
            )))
        })
    }
}

/// The catalog and the small state beside it: files in the engine's directory locally, a
/// key-value bucket in a cluster. Shaped after what the engine calls today (the whole
/// catalog is written at once, under the engine's catalog lock); per-stream compare-and-set
/// is the cluster step's change.
pub trait MetaStore: Send + Sync {
    /// Every stream's description, by uid (empty for a new store).
    fn load_catalog(&self) -> Result<BTreeMap<u64, StreamMeta>>;
    /// Replaces the catalog durably: after a crash either the old or the new one is read.
    fn save_catalog(&self, catalog: &BTreeMap<u64, StreamMeta>) -> Result<()>;
    /// The key that seals shard iterators, created once and then the same on every open.
    fn secret(&self) -> Result<[u8; 32]>;
    /// The account settings document, as last written.
    fn account(&self) -> Result<Option<Vec<u8>>>;
    /// Replaces the account settings document durably.
    fn set_account(&self, raw: &[u8]) -> Result<()>;
    /// Where this store keeps its data, for error messages.
    fn describe(&self) -> String;

    /// Whether other engines share this catalog (several hosts on one cluster) and one of
    /// them wrote it since this store's last [`MetaStore::load_catalog`] or
    /// [`MetaStore::save_catalog`]: the engine then reloads it ([`crate::Streams::refresh`])
    /// so it sees their creates, deletes and reshards. `None` (the default, the local
    /// store's) means no other engine writes it: the engine never polls and never reloads,
    /// so a single host pays nothing for the live view. Polled every few hundred
    /// milliseconds; it must be cheap (a watch kept by the store, not a round trip).
    fn catalog_changed(&self) -> Result<Option<bool>> {
        Ok(None)
    }
}

/// Opens the stores of one engine ([`crate::Streams::open_with_stores`]).
pub trait StoreFactory: Send + Sync {
    /// The catalog's store.
    fn meta(&self) -> Result<Arc<dyn MetaStore>>;
    /// Opens (creating if needed) one shard's store; `shard.start_counter` is its first
    /// counter when new.
    fn open_shard(&self, stream_uid: u64, shard: &ShardMeta) -> Result<Box<dyn ShardStore>>;
    /// Removes one shard's records (a closed shard that retention expired).
    fn remove_shard(&self, stream_uid: u64, index: u64) -> Result<()>;
    /// Removes every shard of a stream (deleted, or a create the catalog never recorded).
    fn remove_stream(&self, stream_uid: u64) -> Result<()>;
    /// At open: removes the data of streams and shards the catalog does not name (a crash
    /// mid-create, mid-delete or mid-reshard left them).
    fn sweep(&self, catalog: &BTreeMap<u64, StreamMeta>) -> Result<()>;
}

impl std::fmt::Debug for dyn StoreFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreFactory")
    }
}

#[cfg(test)]
mod tests;
