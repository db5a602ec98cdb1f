//! Group commit: one round of fdatasyncs covers every append that waits for one.
//!
//! `fsync = "always"` means an answer (PutRecord, PutRecordBatch, a PUBACK) is sent only once
//! what it acknowledges is on disk. Syncing per request would cap a shard at one request per
//! fdatasync; instead every writer that needs a sync hands its file to the process-wide
//! [`GroupCommit`] and waits. Requests queue for the next *round*; a round takes every file
//! queued at the moment it starts (one entry per file however many writers wait on it) and
//! syncs each once. Rounds run one after another, so a round that was already running when a
//! writer queued never counts for it: its fsync may have started before the write.
//!
//! Nobody waits idle while a round runs: every waiting thread takes unsynced files of the
//! running round and syncs them itself, next to a few helper threads of the process-wide
//! instance, so the files of one round (shards of several streams, action spools, Firehose
//! buffers) are synced in parallel and the kernel folds them into few journal commits. The
//! thread that finishes a round's last file ends the round; the next waiter starts the next.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use weir_support::lock;

/// Something a round can make durable (an fdatasync).
pub trait Durable: Send + Sync {
    fn make_durable(&self) -> io::Result<()>;
}

impl Durable for std::fs::File {
    fn make_durable(&self) -> io::Result<()> {
        self.sync_data()
    }
}

/// A segment file of a shard log.
pub(crate) struct SegmentDurable(pub Arc<dyn crate::backend::SegmentFile>);

impl Durable for SegmentDurable {
    fn make_durable(&self) -> io::Result<()> {
        self.0.sync()
    }
}

/// The identity of a file for the round's de-duplication: the address its `Arc` points to,
/// stable while any clone (the caller's, the queue's) is alive.
pub fn key_of<T: ?Sized>(file: &Arc<T>) -> usize {
    Arc::as_ptr(file).cast::<u8>() as usize
}

/// Counters, for tests and benchmarks: how much sharing took place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Rounds run.
    pub rounds: u64,
    /// Files synced (one fdatasync each).
    pub syncs: u64,
    /// Files asked for by writers (what syncing per request would have cost).
    pub requests: u64,
    /// Time spent in fdatasync, summed over every sync, in microseconds.
    pub sync_us: u64,
    /// Syncs that took longer than [`SLOW_SYNC`]: the disk's stalls, which every answer
    /// waiting on that round sits out (a benchmark's p99 is read against this count).
    pub slow_syncs: u64,
}

/// What counts as a stalled fdatasync in [`CommitStats::slow_syncs`].
pub const SLOW_SYNC: std::time::Duration = std::time::Duration::from_millis(5);

/// The group committer. [`GroupCommit::global`] is the one the engine and the host use.
pub struct GroupCommit {
    state: Mutex<State>,
    changed: Condvar,
    rounds: AtomicU64,
    syncs: AtomicU64,
    requests: AtomicU64,
    sync_us: AtomicU64,
    slow_syncs: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Files waiting for the next round.
    queued: Vec<Item>,
    /// The running round, if any.
    round: Option<Round>,
    next_ticket: u64,
    /// Outcomes of finished tickets, taken by their waiters.
    done: HashMap<u64, Result<(), Failure>>,
}

struct Item {
    key: usize,
    file: Arc<dyn Durable>,
    tickets: Vec<u64>,
}

struct Round {
    /// Files nobody has started syncing yet.
    unclaimed: Vec<Item>,
    /// Files not synced yet (claimed or not).
    outstanding: usize,
}

#[derive(Clone)]
struct Failure {
    kind: io::ErrorKind,
    message: String,
}

impl Failure {
    fn of(e: &io::Error) -> Failure {
        Failure {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
    fn error(&self) -> io::Error {
        io::Error::new(self.kind, self.message.clone())
    }
}

/// Threads of the process-wide instance that only sync, so a round of many files is synced
/// in parallel even when one writer waits for all of them.
const HELPERS: usize = 3;

impl Default for GroupCommit {
    fn default() -> Self {
        Self::new()
    }
}

impl GroupCommit {
    /// A committer of its own, without helper threads (tests).
    pub fn new() -> GroupCommit {
        GroupCommit {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            rounds: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            sync_us: AtomicU64::new(0),
            slow_syncs: AtomicU64::new(0),
        }
    }

    /// The process-wide committer: every shard log, spool and Firehose buffer of a process
    /// shares its rounds.
    pub fn global() -> &'static GroupCommit {
        static GLOBAL: OnceLock<GroupCommit> = OnceLock::new();
        let mut fresh = false;
        let gc = GLOBAL.get_or_init(|| {
            fresh = true;
            GroupCommit::new()
        });
        if fresh {
            for i in 0..HELPERS {
                let spawned = std::thread::Builder::new()
                    .name(format!("weir-fsync-{i}"))
                    .spawn(move || gc.help());
                if let Err(e) = spawned {
                    // Waiters sync their own files; helpers only add parallelism.
                    tracing::warn!(error = %e, "cannot start an fsync helper thread");
                }
            }
        }
        gc
    }

    /// How much sharing took place so far.
    pub fn stats(&self) -> CommitStats {
        CommitStats {
            rounds: self.rounds.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            sync_us: self.sync_us.load(Ordering::Relaxed),
            slow_syncs: self.slow_syncs.load(Ordering::Relaxed),
        }
    }

    /// Makes one file durable: returns once a round that started after this call synced it.
    pub fn sync_file<T: Durable + 'static>(&self, file: &Arc<T>) -> io::Result<()> {
        let key = key_of(file);
        let file: Arc<dyn Durable> = file.clone();
        self.sync(vec![(key, file)])
            .pop()
            .unwrap_or_else(|| Err(io::Error::other("group commit returned no outcome")))
    }

    /// Makes every file durable in one round (or the next, if one is running), and returns
    /// one outcome per file, in order. Files with the same key are synced once.
    pub fn sync(&self, files: Vec<(usize, Arc<dyn Durable>)>) -> Vec<io::Result<()>> {
        if files.is_empty() {
            return Vec::new();
        }
        self.requests
            .fetch_add(files.len() as u64, Ordering::Relaxed);
        let mut st = lock(&self.state);
        let mut mine = Vec::with_capacity(files.len());
        for (key, file) in files {
            let ticket = st.next_ticket;
            st.next_ticket += 1;
            mine.push(ticket);
            match st.queued.iter_mut().find(|i| i.key == key) {
                Some(item) => item.tickets.push(ticket),
                None => st.queued.push(Item {
                    key,
                    file,
                    tickets: vec![ticket],
                }),
            }
        }
        loop {
            if mine.iter().all(|t| st.done.contains_key(t)) {
                return mine
                    .iter()
                    .map(|t| match st.done.remove(t) {
                        Some(Ok(())) => Ok(()),
                        Some(Err(f)) => Err(f.error()),
                        None => Err(io::Error::other("group commit lost an outcome")),
                    })
                    .collect();
            }
            if st.round.is_none() && !st.queued.is_empty() {
                let unclaimed = std::mem::take(&mut st.queued);
                st.round = Some(Round {
                    outstanding: unclaimed.len(),
                    unclaimed,
                });
                self.rounds.fetch_add(1, Ordering::Relaxed);
                self.changed.notify_all();
            }
            match st.round.as_mut().and_then(|r| r.unclaimed.pop()) {
                Some(item) => st = self.work(st, item),
                None => st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    /// Syncs `item` outside the lock and records its outcome; ends the round if it was the
    /// last file.
    fn work<'a>(
        &'a self,
        st: std::sync::MutexGuard<'a, State>,
        item: Item,
    ) -> std::sync::MutexGuard<'a, State> {
        drop(st);
        let file = item.file.clone();
        let started = std::time::Instant::now();
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| file.make_durable()))
                .unwrap_or_else(|_| Err(io::Error::other("an fsync panicked")));
        let took = started.elapsed();
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.sync_us.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if took > SLOW_SYNC {
            self.slow_syncs.fetch_add(1, Ordering::Relaxed);
        }
        let mut st = lock(&self.state);
        let outcome = outcome.map_err(|e| Failure::of(&e));
        for t in item.tickets {
            st.done.insert(t, outcome.clone());
        }
        let finished = st.round.as_mut().is_some_and(|r| {
            r.outstanding -= 1;
            r.outstanding == 0
        });
        if finished {
            st.round = None;
            // Wakes the waiters of the round and whoever will start the next one.
            self.changed.notify_all();
        }
        st
    }

    /// A helper thread's loop: sync unclaimed files of running rounds, forever.
    fn help(&self) {
        let mut st = lock(&self.state);
        loop {
            match st.round.as_mut().and_then(|r| r.unclaimed.pop()) {
                Some(item) => st = self.work(st, item),
                None => st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Barrier;
    use std::time::Duration;

    /// A file whose "disk" holds what was written when its last sync *started*.
    #[derive(Default)]
    struct SlowFile {
        written: AtomicU64,
        durable: AtomicU64,
        syncs: AtomicU64,
        fail: AtomicBool,
    }

    impl Durable for SlowFile {
        fn make_durable(&self) -> io::Result<()> {
            let upto = self.written.load(Ordering::SeqCst);
            self.syncs.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(15));
            if self.fail.load(Ordering::SeqCst) {
                return Err(io::Error::other("injected EIO"));
            }
            self.durable.fetch_max(upto, Ordering::SeqCst);
            Ok(())
        }
    }

    #[test]
    fn concurrent_writers_share_syncs_and_each_is_covered() {
        let gc = Arc::new(GroupCommit::new());
        let file = Arc::new(SlowFile::default());
        let writers = 16;
        let barrier = Arc::new(Barrier::new(writers));
        let threads: Vec<_> = (0..writers)
            .map(|_| {
                let (gc, file, barrier) = (gc.clone(), file.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..5 {
                        let mine = file.written.fetch_add(1, Ordering::SeqCst) + 1;
                        gc.sync_file(&file).expect("sync");
                        // The round that answered started after this write.
                        assert!(file.durable.load(Ordering::SeqCst) >= mine);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer");
        }
        let syncs = file.syncs.load(Ordering::SeqCst);
        let stats = gc.stats();
        assert_eq!(stats.requests, 80);
        assert_eq!(stats.syncs, syncs);
        // Per-request syncing would take 80; rounds of 15 ms take far fewer.
        assert!(syncs <= 40, "{syncs} syncs for 80 requests");
    }

    #[test]
    fn one_round_syncs_many_files_and_reports_each_outcome() {
        let gc = GroupCommit::new();
        let good = Arc::new(SlowFile::default());
        let bad = Arc::new(SlowFile::default());
        bad.fail.store(true, Ordering::SeqCst);
        let files: Vec<(usize, Arc<dyn Durable>)> = vec![
            (key_of(&good), good.clone()),
            (key_of(&bad), bad.clone()),
            (key_of(&good), good.clone()),
        ];
        let out = gc.sync(files);
        assert!(out[0].is_ok() && out[2].is_ok());
        let err = out[1].as_ref().expect_err("the failed file's outcome");
        assert!(err.to_string().contains("injected EIO"));
        // The same file named twice is synced once.
        assert_eq!(good.syncs.load(Ordering::SeqCst), 1);
        assert_eq!(gc.stats().rounds, 1);
    }
}
