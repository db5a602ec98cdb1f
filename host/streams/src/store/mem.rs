//! The in-memory stores: a second, complete implementation of the boundary, shaped like a
//! network log rather than like the local one. An append is only staged (its order fixed,
//! nothing readable, no counter known); settling it assigns the counters and arrival times
//! of everything staged up to it, in order, as a server acknowledging publishes would. The
//! engine's behavioural tests run on it beside the local stores, so the engine is proven not
//! to rely on anything the local log happens to give earlier (counters at append, files).
//!
//! Settled records are kept until the [`MemStores`] is dropped: reopening an engine on the
//! same stores finds them, as a cluster would after a restart of the host.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use weir_support::{lock, now_ms};

use super::{
    AppendItem, MetaStore, PendingAppend, SettleAppend, ShardPage, ShardStore, StoreFactory,
    StoredRecord,
};
use crate::{Result, ShardMeta, StreamMeta, StreamsError};

/// Every shard and the catalog of one engine, in memory. Cheap to clone (a handle).
#[derive(Clone, Default)]
pub struct MemStores {
    inner: Arc<MemInner>,
}

#[derive(Default)]
struct MemInner {
    meta: Arc<MemMeta>,
    /// Every engine opened on these stores gets its own view of the catalog, which tells
    /// it when another engine wrote it ([`MetaStore::catalog_changed`]): several hosts on
    /// one cluster, in memory.
    shared: bool,
    shards: Mutex<HashMap<(u64, u64), Arc<Core>>>,
    /// Settlements fail (a server that refused or never acknowledged): for tests of the
    /// engine's failure path. The refused records are not stored.
    refuse: Arc<AtomicBool>,
}

impl MemStores {
    pub fn new() -> MemStores {
        MemStores::default()
    }

    /// Stores that several engines open as the hosts of one cluster do: each engine's
    /// catalog view reports another engine's writes, and a save over a catalog changed
    /// since the engine last read it is refused (`InUse`), as the cluster's compare-and-set
    /// refuses one on the same stream.
    pub fn shared() -> MemStores {
        MemStores {
            inner: Arc::new(MemInner {
                shared: true,
                ..MemInner::default()
            }),
        }
    }

    /// From now on every settlement fails and drops its records (`true`), or succeeds.
    pub fn refuse_settlements(&self, refuse: bool) {
        self.inner.refuse.store(refuse, Ordering::Release);
    }
}

impl StoreFactory for MemStores {
    fn meta(&self) -> Result<Arc<dyn MetaStore>> {
        if self.inner.shared {
            return Ok(Arc::new(SharedMemMeta {
                meta: self.inner.meta.clone(),
                seen: AtomicU64::new(0),
            }));
        }
        Ok(self.inner.meta.clone())
    }

    fn open_shard(&self, stream_uid: u64, shard: &ShardMeta) -> Result<Box<dyn ShardStore>> {
        let core = lock(&self.inner.shards)
            .entry((stream_uid, shard.index))
            .or_insert_with(|| Core::new(shard.start_counter, self.inner.refuse.clone()))
            .clone();
        Ok(Box::new(MemShard(core)))
    }

    fn remove_shard(&self, stream_uid: u64, index: u64) -> Result<()> {
        lock(&self.inner.shards).remove(&(stream_uid, index));
        Ok(())
    }

    fn remove_stream(&self, stream_uid: u64) -> Result<()> {
        lock(&self.inner.shards).retain(|(uid, _), _| *uid != stream_uid);
        Ok(())
    }

    fn sweep(&self, catalog: &BTreeMap<u64, StreamMeta>) -> Result<()> {
        lock(&self.inner.shards).retain(|(uid, index), _| {
            catalog
                .get(uid)
                .is_some_and(|m| m.shards.iter().any(|s| s.index == *index))
        });
        Ok(())
    }
}

/// The catalog, iterator key and account settings, in memory.
#[derive(Default)]
pub struct MemMeta {
    /// The catalog and how many saves wrote it.
    catalog: Mutex<(BTreeMap<u64, StreamMeta>, u64)>,
    secret: Mutex<Option<[u8; 32]>>,
    account: Mutex<Option<Vec<u8>>>,
}

impl MetaStore for MemMeta {
    fn load_catalog(&self) -> Result<BTreeMap<u64, StreamMeta>> {
        Ok(lock(&self.catalog).0.clone())
    }

    fn save_catalog(&self, catalog: &BTreeMap<u64, StreamMeta>) -> Result<()> {
        let mut c = lock(&self.catalog);
        c.0 = catalog.clone();
        c.1 += 1;
        Ok(())
    }

    fn secret(&self) -> Result<[u8; 32]> {
        Ok(*lock(&self.secret).get_or_insert_with(rand::random))
    }

    fn account(&self) -> Result<Option<Vec<u8>>> {
        Ok(lock(&self.account).clone())
    }

    fn set_account(&self, raw: &[u8]) -> Result<()> {
        *lock(&self.account) = Some(raw.to_vec());
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

/// One engine's view of a shared in-memory catalog ([`MemStores::shared`]).
struct SharedMemMeta {
    meta: Arc<MemMeta>,
    /// The save count this engine last loaded or wrote.
    seen: AtomicU64,
}

impl MetaStore for SharedMemMeta {
    fn load_catalog(&self) -> Result<BTreeMap<u64, StreamMeta>> {
        let c = lock(&self.meta.catalog);
        self.seen.store(c.1, Ordering::SeqCst);
        Ok(c.0.clone())
    }

    fn save_catalog(&self, catalog: &BTreeMap<u64, StreamMeta>) -> Result<()> {
        let mut c = lock(&self.meta.catalog);
        if c.1 != self.seen.load(Ordering::SeqCst) {
            return Err(StreamsError::InUse(
                "the catalog was changed by another engine meanwhile".into(),
            ));
        }
        c.0 = catalog.clone();
        c.1 += 1;
        self.seen.store(c.1, Ordering::SeqCst);
        Ok(())
    }

    fn secret(&self) -> Result<[u8; 32]> {
        self.meta.secret()
    }

    fn account(&self) -> Result<Option<Vec<u8>>> {
        self.meta.account()
    }

    fn set_account(&self, raw: &[u8]) -> Result<()> {
        self.meta.set_account(raw)
    }

    fn describe(&self) -> String {
        "memory, shared".into()
    }

    fn catalog_changed(&self) -> Result<Option<bool>> {
        Ok(Some(
            lock(&self.meta.catalog).1 != self.seen.load(Ordering::SeqCst),
        ))
    }
}

/// One shard in memory.
struct MemShard(Arc<Core>);

struct Core {
    state: Mutex<State>,
    /// The next settled counter; moves when a settlement stores records.
    tip: watch::Sender<u64>,
    refuse: Arc<AtomicBool>,
}

struct State {
    /// Settled records, in counter (and arrival) order.
    records: VecDeque<StoredRecord>,
    next: u64,
    last_arrival: i64,
    sealed: bool,
    /// Appended, not yet settled: order fixed, counters unknown.
    staged: VecDeque<Staged>,
    next_ticket: u64,
    /// Outcomes of staged appends settled on behalf of a later one, for their owners.
    outcomes: HashMap<u64, Result<Vec<(u64, i64)>, String>>,
}

struct Staged {
    ticket: u64,
    items: Vec<(String, Vec<u8>)>,
    min_counter: Option<u64>,
}

impl Core {
    fn new(start: u64, refuse: Arc<AtomicBool>) -> Arc<Core> {
        Arc::new(Core {
            state: Mutex::new(State {
                records: VecDeque::new(),
                next: start,
                last_arrival: 0,
                sealed: false,
                staged: VecDeque::new(),
                next_ticket: 0,
                outcomes: HashMap::new(),
            }),
            tip: watch::channel(start).0,
            refuse,
        })
    }

    /// Settles every staged append up to `ticket`, in order (a server acknowledges a
    /// stream's publishes in the order it stored them), and wakes the watchers.
    fn settle_through(&self, st: &mut State, ticket: u64) {
        let mut stored = false;
        while st.staged.front().is_some_and(|s| s.ticket <= ticket) {
            let Some(s) = st.staged.pop_front() else {
                break;
            };
            let outcome = if self.refuse.load(Ordering::Acquire) {
                Err("the store refused the append".to_owned())
            } else {
                if let Some(m) = s.min_counter {
                    st.next = st.next.max(m);
                }
                let arrival = now_ms().max(st.last_arrival);
                let mut written = Vec::with_capacity(s.items.len());
                for (partition_key, data) in s.items {
                    let counter = st.next;
                    st.next += 1;
                    st.records.push_back(StoredRecord {
                        counter,
                        arrival_ms: arrival,
                        partition_key,
                        data,
                    });
                    written.push((counter, arrival));
                }
                st.last_arrival = arrival;
                stored = true;
                Ok(written)
            };
            st.outcomes.insert(s.ticket, outcome);
        }
        if stored {
            self.tip.send_replace(st.next);
        }
    }
}

/// A staged append of the in-memory store.
struct MemPending {
    core: Arc<Core>,
    ticket: u64,
    settled: bool,
}

impl SettleAppend for MemPending {
    fn settle(mut self: Box<Self>) -> Result<Vec<(u64, i64)>> {
        self.settled = true;
        let mut st = lock(&self.core.state);
        self.core.settle_through(&mut st, self.ticket);
        match st.outcomes.remove(&self.ticket) {
            Some(Ok(w)) => Ok(w),
            Some(Err(why)) => Err(StreamsError::Io(std::io::Error::other(why))),
            None => Err(StreamsError::Io(std::io::Error::other(
                "append settled twice",
            ))),
        }
    }
}

impl Drop for MemPending {
    /// Nobody waits for it, but what was appended is stored, like a publish whose
    /// acknowledgement nobody awaited.
    fn drop(&mut self) {
        if !self.settled {
            let mut st = lock(&self.core.state);
            self.core.settle_through(&mut st, self.ticket);
            st.outcomes.remove(&self.ticket);
        }
    }
}

impl ShardStore for MemShard {
    fn append(&self, items: &[AppendItem<'_>], min_counter: Option<u64>) -> Result<PendingAppend> {
        let mut st = lock(&self.0.state);
        if st.sealed {
            return Err(StreamsError::Sealed(
                "shard is sealed by a reshard".to_owned(),
            ));
        }
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        st.staged.push_back(Staged {
            ticket,
            items: items
                .iter()
                .map(|i| (i.partition_key.to_owned(), i.data.to_vec()))
                .collect(),
            min_counter,
        });
        Ok(PendingAppend::later(Box::new(MemPending {
            core: self.0.clone(),
            ticket,
            settled: false,
        })))
    }

    /// Settled means stored: nothing to flush.
    fn flush(&self) -> Result<Option<PendingAppend>> {
        Ok(None)
    }

    fn tip(&self) -> Result<u64> {
        Ok(lock(&self.0.state).next)
    }

    fn counter_at_time(&self, ts_ms: i64) -> Result<u64> {
        let st = lock(&self.0.state);
        let i = st.records.partition_point(|r| r.arrival_ms < ts_ms);
        Ok(st.records.get(i).map_or(st.next, |r| r.counter))
    }

    fn read(&self, from: u64, limit: usize, max_bytes: usize) -> Result<ShardPage> {
        let st = lock(&self.0.state);
        let start = from.max(st.records.front().map_or(st.next, |r| r.counter));
        let first = st.records.partition_point(|r| r.counter < start);
        let mut page = ShardPage {
            records: Vec::new(),
            reached_tip: true,
            start,
            newest_arrival_ms: st.records.back().map(|r| r.arrival_ms),
        };
        let mut bytes = 0usize;
        for r in st.records.iter().skip(first) {
            let size = r.partition_key.len() + r.data.len();
            if page.records.len() >= limit || (!page.records.is_empty() && bytes + size > max_bytes)
            {
                page.reached_tip = false;
                break;
            }
            bytes += size;
            page.records.push(r.clone());
        }
        Ok(page)
    }

    fn newest(&self) -> Result<Option<(u64, i64)>> {
        Ok(lock(&self.0.state)
            .records
            .back()
            .map(|r| (r.counter, r.arrival_ms)))
    }

    /// What was staged before the seal is stored (it reached the server first); later
    /// appends are refused.
    fn seal(&self) -> Result<u64> {
        let mut st = lock(&self.0.state);
        st.sealed = true;
        if let Some(last) = st.staged.back().map(|s| s.ticket) {
            self.0.settle_through(&mut st, last);
        }
        Ok(st.next)
    }

    fn unseal(&self) -> Result<()> {
        lock(&self.0.state).sealed = false;
        Ok(())
    }

    fn expire(&self, cutoff_ms: i64) -> Result<usize> {
        let mut st = lock(&self.0.state);
        let n = st.records.partition_point(|r| r.arrival_ms < cutoff_ms);
        st.records.drain(..n);
        Ok(n)
    }

    fn watch(&self) -> watch::Receiver<u64> {
        self.0.tip.subscribe()
    }

    fn notify(&self) {
        self.0.tip.send_modify(|_| {});
    }
}
