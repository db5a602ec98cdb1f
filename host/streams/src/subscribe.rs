//! In-process subscriptions: the host's own consumers read shards without HTTP.
//!
//! A [`Subscription`] wakes on every append to its shard (a `tokio::sync::watch` on the
//! shard's tip), returns records de-aggregated (KPL aggregates are split into user records
//! with a sub-sequence number), and reports the end of a closed shard with its children so
//! the consumer can follow the lineage and keep per-key order across a reshard.

use std::sync::Arc;

use tokio::sync::watch;

use super::engine::StreamState;
use super::kpl;
use super::seqno::SeqNo;
use super::{ChildShard, RecordOut, Result, Streams};

/// One user record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub sequence_number: String,
    /// Position inside a KPL aggregate; `None` for a plain record.
    pub sub_sequence_number: Option<u64>,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    pub arrival_ms: i64,
}

/// What [`Subscription::next`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionEvent {
    /// At least one record.
    Records(Vec<UserRecord>),
    /// The shard is closed and fully read; continue with these children.
    ShardEnd { child_shards: Vec<ChildShard> },
}

/// What [`Subscription::next_stored`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    pub records: Vec<RecordOut>,
    pub millis_behind_latest: i64,
    /// Set at the end of a closed shard.
    pub child_shards: Option<Vec<ChildShard>>,
}

/// A live reader of one shard.
pub struct Subscription {
    streams: Streams,
    stream: Arc<StreamState>,
    shard_index: u64,
    counter: u64,
    rx: watch::Receiver<u64>,
    batch: usize,
    ended: bool,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("stream", &self.stream.name)
            .field("shard", &self.shard_index)
            .field("counter", &self.counter)
            .finish()
    }
}

impl Subscription {
    pub(crate) fn new(
        streams: Streams,
        stream: Arc<StreamState>,
        shard_index: u64,
        counter: u64,
        rx: watch::Receiver<u64>,
    ) -> Self {
        Subscription {
            streams,
            stream,
            shard_index,
            counter,
            rx,
            batch: 1000,
            ended: false,
        }
    }

    /// Largest number of stored records per event (default 1000).
    pub fn set_batch(&mut self, n: usize) {
        self.batch = n.max(1);
    }

    /// Sequence number a checkpoint should store: everything before it was delivered.
    pub fn position(&self) -> String {
        SeqNo::new(self.counter, self.shard_index).encode()
    }

    /// Waits for the next records (or the end of a closed shard). After `ShardEnd` every
    /// further call returns `ShardEnd` again.
    pub async fn next(&mut self) -> Result<SubscriptionEvent> {
        loop {
            // Mark the current tip as seen *before* reading, so an append that lands after
            // the read still wakes `changed()`.
            self.rx.borrow_and_update();
            let crate::types::ShardRead {
                records,
                next,
                children,
                ..
            } = self.read().await?;
            if !records.is_empty() {
                self.counter = next;
                let mut out = Vec::with_capacity(records.len());
                for r in records {
                    let seq = SeqNo::new(r.counter, self.shard_index).encode();
                    match kpl::deaggregate(&r.data) {
                        Some(subs) => {
                            for (i, sub) in subs.into_iter().enumerate() {
                                out.push(UserRecord {
                                    sequence_number: seq.clone(),
                                    sub_sequence_number: Some(i as u64),
                                    partition_key: sub.partition_key,
                                    explicit_hash_key: sub.explicit_hash_key,
                                    data: sub.data,
                                    arrival_ms: r.arrival_ms,
                                });
                            }
                        }
                        None => out.push(UserRecord {
                            sequence_number: seq,
                            sub_sequence_number: None,
                            partition_key: r.partition_key,
                            explicit_hash_key: None,
                            data: r.data,
                            arrival_ms: r.arrival_ms,
                        }),
                    }
                }
                return Ok(SubscriptionEvent::Records(out));
            }
            if let Some(child_shards) = children {
                self.ended = true;
                return Ok(SubscriptionEvent::ShardEnd { child_shards });
            }
            self.counter = next;
            if self.rx.changed().await.is_err() {
                // The shard state was dropped (stream deleted): report it on the next read.
                self.streams
                    .subscription_read(&self.stream, self.shard_index, self.counter, 1)?;
                return Err(super::StreamsError::NotFound(format!(
                    "Stream {} was deleted",
                    self.stream.name
                )));
            }
        }
    }

    /// Enhanced fan-out's ContinuationSequenceNumber: the position just before the next
    /// record, so a new subscription `AFTER_SEQUENCE_NUMBER` it resumes with that record,
    /// also when nothing has arrived yet.
    pub fn continuation(&self) -> String {
        SeqNo::new(self.counter.saturating_sub(1), self.shard_index).encode()
    }

    /// Waits for stored records, as they were put (KPL aggregates are not split: enhanced
    /// fan-out hands consumers the records GetRecords would), or for the end of a closed
    /// shard (`child_shards` set). Cancel-safe: the caller bounds the wait with a timer and
    /// nothing read is lost, so an idle shard can be reported with [`Self::position`].
    pub async fn next_stored(&mut self) -> Result<StoredBatch> {
        loop {
            self.rx.borrow_and_update();
            let r = self.read().await?;
            self.counter = r.next;
            if !r.records.is_empty() || r.children.is_some() {
                self.ended |= r.children.is_some();
                let records = r
                    .records
                    .into_iter()
                    .map(|x| RecordOut::from_stored(x, self.shard_index))
                    .collect();
                return Ok(StoredBatch {
                    records,
                    millis_behind_latest: r.behind,
                    child_shards: r.children,
                });
            }
            if self.rx.changed().await.is_err() {
                return Err(super::StreamsError::NotFound(format!(
                    "Stream {} was deleted",
                    self.stream.name
                )));
            }
        }
    }

    /// Reads from the subscription's position. A cluster's read waits for a server's
    /// answer, so on a tokio runtime it runs on the blocking pool: subscriptions that read
    /// never hold the runtime's workers, which serve every other connection of the API. A
    /// local read (memory, page cache) stays inline. Cancel-safe: the position moves only
    /// once the caller has the records.
    async fn read(&self) -> Result<crate::types::ShardRead> {
        if self.streams.is_shared() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let (streams, stream) = (self.streams.clone(), self.stream.clone());
                let (idx, from, limit) = (self.shard_index, self.counter, self.batch);
                return runtime
                    .spawn_blocking(move || streams.subscription_read(&stream, idx, from, limit))
                    .await
                    .unwrap_or_else(|e| {
                        Err(super::StreamsError::Io(std::io::Error::other(format!(
                            "a subscription's read did not finish: {e}"
                        ))))
                    });
            }
        }
        self.streams
            .subscription_read(&self.stream, self.shard_index, self.counter, self.batch)
    }

    /// True once the shard end was reported.
    pub fn is_ended(&self) -> bool {
        self.ended
    }
}
