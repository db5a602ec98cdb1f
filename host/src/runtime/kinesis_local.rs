//! The `kinesis` action into a stream of this host, with its fsync off the pipeline thread.
//!
//! With `fsync = "always"` a message is acknowledged only once its record is synced. Waiting
//! for that sync on the pipeline thread would leave the thread idle for every fsync round, so
//! at full speed the action could not take its next batch while the disk works. Instead a
//! batch's put returns once it is appended ([`Streams::put_records_unsynced`]), the pipeline
//! counts it delivered and takes its next batch, and a syncer thread of the action waits for
//! the sync while holding the records' acknowledgement shares ([`AckToken`]): the messages are
//! acknowledged when it lets go of them after the sync, or not at all if the sync fails
//! (their publishers send them again). The syncer takes every batch queued meanwhile into one
//! group-commit round. Its queue is short, so the pipeline never runs far ahead of the disk.
//!
//! A batch with records Weir owns (spooled: their messages were acknowledged already) is
//! synced before the put returns, as before: nobody else would hear of a failure.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use weir_plugins::Record;
use weir_streams::{PendingPut, PutEntry, PutOutcome, Streams};

use super::ack::AckToken;
use super::kinesis_put::{put_records, PutTarget};
use super::resources::Resources;
use super::sinks::{Outcome, ShardCounters, Sink};
use super::work::Meta;

/// Batches whose sync may be outstanding at once before the pipeline waits for the oldest.
const IN_FLIGHT: usize = 4;

/// `kinesis` into a local stream.
pub struct KinesisLocal {
    streams: Streams,
    stream: String,
    counters: ShardCounters,
    /// Started with the first batch that has something to sync.
    syncer: Option<Syncer>,
}

impl KinesisLocal {
    /// A sink into `stream`.
    pub fn new(res: &Resources, stream: &str) -> Self {
        KinesisLocal {
            streams: res.streams.clone(),
            stream: stream.to_owned(),
            counters: ShardCounters::new(res.metrics.clone(), stream),
            syncer: None,
        }
    }

    /// Puts and waits for the sync: for batches with records Weir owns.
    fn deliver_synced(&mut self, records: &[Record]) -> Vec<Outcome> {
        let counters = &mut self.counters;
        put_records(
            &mut &self.streams,
            &self.stream,
            records,
            &mut |shard, bytes| counters.count(shard, bytes),
        )
    }
}

impl Sink for KinesisLocal {
    fn deliver(&mut self, records: &[Record], meta: &[Meta]) -> Vec<Outcome> {
        if meta.iter().any(|m| m.owned) {
            return self.deliver_synced(records);
        }
        let mut target = Unsynced {
            streams: &self.streams,
            pending: Vec::new(),
        };
        let counters = &mut self.counters;
        let outcomes = put_records(&mut target, &self.stream, records, &mut |shard, bytes| {
            counters.count(shard, bytes)
        });
        if target.pending.is_empty() {
            return outcomes;
        }
        let acks = outcomes
            .iter()
            .zip(meta)
            .filter(|(o, _)| **o == Outcome::Ok)
            .map(|(_, m)| m.ack.clone())
            .collect();
        let job = SyncJob::new(target.pending, acks);
        let syncer = match &mut self.syncer {
            Some(s) => s,
            None => self.syncer.insert(Syncer::start(&self.stream)),
        };
        match syncer.submit(job) {
            Ok(()) => outcomes,
            // No syncer thread: wait for the sync here.
            Err(job) => {
                if job.sync() {
                    outcomes
                } else {
                    failed_sync(outcomes)
                }
            }
        }
    }
}

/// The outcomes of a batch whose sync failed: what was appended is not durable, so none of
/// it counts as delivered (the log refuses writes from now on, so a retry fails too and the
/// records go to the error route).
fn failed_sync(outcomes: Vec<Outcome>) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Ok => Outcome::Retry("the stream's fsync failed".into()),
            other => other,
        })
        .collect()
}

/// Puts into a local stream without waiting for the sync; keeps what is left to sync.
struct Unsynced<'a> {
    streams: &'a Streams,
    pending: Vec<PendingPut>,
}

impl PutTarget for Unsynced<'_> {
    fn put(&mut self, stream: &str, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, Outcome> {
        let put = self
            .streams
            .put_records_unsynced(stream, entries)
            .map_err(|e| Outcome::Retry(format!("stream {stream:?}: {e}")))?;
        let outcomes = put.outcomes();
        if put.needs_sync() {
            self.pending.push(put);
        }
        Ok(outcomes)
    }
}

/// One batch waiting for its sync, with the acknowledgement shares of its stored records.
struct SyncJob {
    puts: Vec<PendingPut>,
    /// Entries stored before the sync: the sync succeeded if as many are stored after it.
    stored: usize,
    acks: Vec<AckToken>,
}

impl SyncJob {
    fn new(puts: Vec<PendingPut>, acks: Vec<AckToken>) -> Self {
        let stored = puts.iter().map(|p| count_stored(&p.outcomes())).sum();
        SyncJob { puts, stored, acks }
    }

    /// Syncs this job alone; `true` when everything it stored is durable.
    fn sync(self) -> bool {
        settle(vec![self])
    }
}

fn count_stored(outcomes: &[PutOutcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| matches!(o, PutOutcome::Ok { .. }))
        .count()
}

/// Syncs every job in one group-commit round, then lets go of each job's acknowledgement
/// shares, failing them first if its sync failed. `true` when every job's records are
/// durable.
fn settle(jobs: Vec<SyncJob>) -> bool {
    let mut sizes = Vec::with_capacity(jobs.len());
    let mut puts = Vec::new();
    let mut rest = Vec::with_capacity(jobs.len());
    for job in jobs {
        sizes.push(job.puts.len());
        puts.extend(job.puts);
        rest.push((job.stored, job.acks));
    }
    let mut finals = PendingPut::sync_all(puts).into_iter();
    let mut all_ok = true;
    for (size, (stored, acks)) in sizes.into_iter().zip(rest) {
        let after: usize = finals.by_ref().take(size).map(|o| count_stored(&o)).sum();
        if after != stored {
            all_ok = false;
            tracing::error!(
                records = acks.len(),
                "the stream's fsync failed: these messages are not acknowledged"
            );
            for ack in &acks {
                ack.fail();
            }
        }
        // Dropping the shares acknowledges the messages (unless failed above or elsewhere).
        drop(acks);
    }
    all_ok
}

/// The action's syncer thread and its queue.
struct Syncer {
    tx: Option<SyncSender<SyncJob>>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    fn start(stream: &str) -> Syncer {
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let spawned = std::thread::Builder::new()
            .name(format!("weir-sync:{stream}"))
            .spawn(move || run(rx));
        match spawned {
            Ok(thread) => Syncer {
                tx: Some(tx),
                thread: Some(thread),
            },
            Err(e) => {
                tracing::warn!(stream, error = %e, "cannot start a syncer thread; the action syncs each batch itself");
                Syncer {
                    tx: None,
                    thread: None,
                }
            }
        }
    }

    /// Queues a job, waiting while the queue is full; gives it back if the thread is gone.
    fn submit(&mut self, job: SyncJob) -> Result<(), SyncJob> {
        let Some(tx) = &self.tx else {
            return Err(job);
        };
        match tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) => tx.send(job).map_err(|e| e.0),
            Err(TrySendError::Disconnected(job)) => Err(job),
        }
    }
}

impl Drop for Syncer {
    /// Waits for every queued sync, so the pipeline ends with its messages settled.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The syncer's loop: one round for whatever is queued when it wakes.
fn run(rx: Receiver<SyncJob>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        settle(jobs);
    }
}
