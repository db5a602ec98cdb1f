//! A delivery stream's delivery thread: reads its buffer from the checkpoint, gathers
//! records until the buffering hints say deliver (size or the oldest record's age, whichever
//! first), writes one object, and only then moves the checkpoint past those records. A failed
//! write is retried with backoff and the records stay pending, but only for the retry
//! duration ([`retry_duration`]): then the object's records go to the error output
//! (`s3-failed`) and delivery goes on with the records behind them. An error object that
//! cannot be written is retried for as long as it takes and counted
//! (`DeliveryStats::held_records`): the checkpoint never passes a record that is neither
//! stored nor in the error output.
//!
//! With a shared document store (several hosts on one cluster) the thread delivers only
//! while this host holds the stream's lease (`leases/delivery/UID`, [`Lease`]): on taking it,
//! it reads the checkpoint again (the last holder may have moved it) and starts from there;
//! when a renewal fails it drops what it had read and goes back to waiting. The checkpoint is
//! written by compare-and-set on the revision it read, so a host that lost the lease while
//! storing an object cannot move it: every write continues from the one before it and
//! follows stored objects only, so the checkpoint never goes back and never skips a record.
//! A batch may be delivered twice across a takeover (at least once, as Firehose promises).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use weir_streams::{RecordOut, StartPosition};
use weir_support::docstore::{DocError, DocExpect, DocRevision, DocStore};
use weir_support::lease::Lease;
use weir_support::{now_ms, read};

use crate::batch::{self, Item, Output, Place};
use crate::catalog::{Entry, Inner};
use crate::error::{FirehoseError, Result};
use crate::model::DeliveryStreamSpec;

/// Records asked for per buffer read (each is at most 1,000 KiB).
const READ_BATCH: usize = 500;
/// Retry backoff: 1 s doubling to 30 s (AWS retries S3 every few seconds for 24 hours).
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// The buffer's retention (`catalog::BUFFER_RETENTION_HOURS`) less a margin: a failing
/// object whose oldest record is this old goes to the error output whatever its retry
/// duration, so the retry always ends well before the buffer trims its records.
const RETRY_AGE_LIMIT_MS: i64 = 22 * 3600 * 1000;
/// The buffer's retention, for the warning about held records older than it.
const RETENTION_MS: i64 = 24 * 3600 * 1000;

/// How long a failing object is retried before its records go to the error output: the
/// stream's `DynamicPartitioningConfiguration.RetryOptions.DurationInSeconds` when it
/// partitions (AWS's retry for "unable to deliver data to an Amazon S3 prefix", 0 to 7,200 s,
/// default 300), otherwise the service's `FirehoseConfig::s3_retry_duration` (1 hour by
/// default: AWS retries S3 for 24 hours, but that is also this buffer's retention).
pub(crate) fn retry_duration(spec: &DeliveryStreamSpec, default: Duration) -> Duration {
    match &spec.partitioning {
        Some(p) => Duration::from_secs(u64::from(p.retry_s)),
        None => default,
    }
}

/// The document of `uid`'s delivery checkpoint: the sequence number of the last buffered
/// record that is in a stored object.
pub(crate) fn checkpoint_key(uid: &str) -> String {
    format!("checkpoints/{uid}")
}

/// How often a thread that does not hold its lease tries to take it: a tenth of the time to
/// live, within 20 ms and 500 ms (a takeover waits for the expiry plus at most this, a
/// handover after a release at most this).
pub(crate) fn acquire_poll(ttl: Duration) -> Duration {
    (ttl / 10).clamp(Duration::from_millis(20), Duration::from_millis(500))
}

/// The lease a thread of `inner` needs for `name` (`delivery/UID`, `source/UID`), or `None`
/// on one host (no shared store: nothing to share the work with).
pub(crate) fn lease_for(inner: &Inner, name: &str) -> Option<Lease> {
    inner.shared.then(|| {
        Lease::new(
            inner.docs.clone(),
            name,
            &inner.holder,
            inner.config.lease_ttl,
        )
    })
}

/// What keeping a lease said this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    /// Held, as before (or no lease is needed).
    Still,
    /// Just taken: state read before must be read again.
    Taken,
    /// Not held: wait and try again.
    No,
}

/// Takes, renews or checks `lease` for one round of work (`None`: no lease needed).
pub(crate) fn keep_lease(lease: &mut Option<Lease>, what: &str) -> Held {
    let Some(l) = lease else {
        return Held::Still;
    };
    let had = l.is_held();
    if had && !l.renewal_due() {
        return Held::Still;
    }
    let outcome = if had { l.renew() } else { l.try_acquire() };
    match outcome {
        Ok(true) if had => Held::Still,
        Ok(true) => {
            tracing::info!(lease = %l.key(), "{what}: lease taken");
            Held::Taken
        }
        Ok(false) => {
            if had {
                tracing::warn!(lease = %l.key(), "{what}: lease lost to another host");
            }
            Held::No
        }
        Err(e) => {
            tracing::warn!(lease = %l.key(), error = %e, "{what}: cannot renew or take the lease");
            if l.is_held() {
                Held::Still
            } else {
                Held::No
            }
        }
    }
}

/// Starts the delivery thread of `entry`.
pub(crate) fn spawn(inner: &Arc<Inner>, entry: Arc<Entry>) -> Result<()> {
    let weak = Arc::downgrade(inner);
    let name = read(&entry.spec).name.clone();
    std::thread::Builder::new()
        .name(format!("weir-firehose-{name}"))
        .spawn(move || Delivery::new(weak, entry).run())
        .map(|_| ())
        .map_err(|source| FirehoseError::Io {
            what: format!("cannot start the delivery thread of {name}"),
            source,
        })
}

/// Trims buffered records past the 24-hour retention once a minute, while the service lives.
pub(crate) fn spawn_housekeeping(inner: &Arc<Inner>) -> Result<()> {
    let weak = Arc::downgrade(inner);
    std::thread::Builder::new()
        .name("weir-firehose-retention".into())
        .spawn(move || {
            let mut last = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let Some(inner) = weak.upgrade() else { return };
                if last.elapsed() >= Duration::from_secs(60) {
                    last = Instant::now();
                    if let Err(e) = inner.buffer().enforce_retention(now_ms()) {
                        tracing::warn!(error = %e, "trimming the Firehose buffers failed");
                    }
                }
            }
        })
        .map(|_| ())
        .map_err(|source| FirehoseError::Io {
            what: "cannot start the Firehose retention thread".into(),
            source,
        })
}

struct Delivery {
    inner: Weak<Inner>,
    entry: Arc<Entry>,
    uid: String,
    name: String,
    /// The last record in a stored object (durable in the checkpoint file).
    checkpoint: Option<String>,
    /// The last record read into `pending`.
    read_upto: Option<String>,
    iterator: Option<String>,
    pending: Vec<RecordOut>,
    pending_bytes: usize,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// What `pending` became, kept across retries until all of it is stored.
    prepared: Option<VecDeque<Output>>,
    /// Since when the head of `prepared` (or preparing itself) has been failing, and how
    /// many attempts it took.
    failing_since: Option<Instant>,
    attempts: u32,
    /// The last flush generation fully delivered (`implicit::FlushSignal`).
    flushed: u64,
    /// The checkpoint document's revision as read or last written (`None`: no document).
    checkpoint_rev: Option<DocRevision>,
    /// Whether the checkpoint has been read since the lease was taken.
    loaded: bool,
    /// The delivery lease (`None` on one host).
    lease: Option<Lease>,
}

impl Delivery {
    fn new(inner: Weak<Inner>, entry: Arc<Entry>) -> Self {
        let (uid, name) = {
            let s = read(&entry.spec);
            (s.uid.clone(), s.name.clone())
        };
        Delivery {
            inner,
            entry,
            uid,
            name,
            checkpoint: None,
            read_upto: None,
            iterator: None,
            pending: Vec::new(),
            pending_bytes: 0,
            retry_at: None,
            backoff: RETRY_FIRST,
            prepared: None,
            failing_since: None,
            attempts: 0,
            flushed: 0,
            checkpoint_rev: None,
            loaded: false,
            lease: None,
        }
    }

    fn run(mut self) {
        if let Some(inner) = self.inner.upgrade() {
            self.lease = lease_for(&inner, &format!("delivery/{}", self.uid));
        }
        self.deliver_while_running();
        if let Some(lease) = &mut self.lease {
            let crashed = self.inner.upgrade().is_some_and(|i| i.crashed());
            if crashed {
                lease.abandon();
            } else if let Err(e) = lease.release() {
                tracing::warn!(stream = %self.name, error = %e, "cannot release the delivery lease; it expires on its own");
            }
        }
    }

    /// Forgets everything read or prepared since the checkpoint: what comes next starts from
    /// the checkpoint as stored (read again).
    fn forget(&mut self) {
        self.loaded = false;
        self.iterator = None;
        self.pending.clear();
        self.pending_bytes = 0;
        self.prepared = None;
        self.retry_at = None;
        self.backoff = RETRY_FIRST;
        self.failing_since = None;
        self.attempts = 0;
        self.entry.stats.held_records.store(0, Ordering::Relaxed);
    }

    fn deliver_while_running(&mut self) {
        loop {
            if self.entry.stop.load(Ordering::SeqCst) {
                return;
            }
            let Some(inner) = self.inner.upgrade() else {
                return;
            };
            if inner.crashed() {
                return;
            }
            match keep_lease(&mut self.lease, &self.name) {
                Held::Still => {}
                Held::Taken => self.forget(),
                Held::No => {
                    self.forget();
                    // Another host delivers this stream: a flush asked here is its to do.
                    let asked = self.entry.flush.asked();
                    if asked > self.flushed {
                        self.flushed = asked;
                        self.entry.flush.done(asked);
                    }
                    let ttl = inner.config.lease_ttl;
                    drop(inner);
                    std::thread::sleep(acquire_poll(ttl));
                    continue;
                }
            }
            if !self.loaded {
                match load_checkpoint_rev(&*inner.docs, &self.uid) {
                    Ok((cp, rev)) => {
                        self.read_upto = cp.clone();
                        self.checkpoint = cp;
                        self.checkpoint_rev = rev;
                        self.loaded = true;
                    }
                    Err(e) if self.lease.is_none() => {
                        tracing::error!(stream = %self.name, error = %e, "cannot read the delivery checkpoint; delivery of this stream is stopped");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(stream = %self.name, error = %e, "cannot read the delivery checkpoint; retrying");
                        let poll = acquire_poll(inner.config.lease_ttl);
                        drop(inner);
                        std::thread::sleep(poll);
                        continue;
                    }
                }
            }
            // A flush asked for (implicit streams): everything buffered when it was asked
            // is delivered now, whatever the hints.
            let flush = self.entry.flush.asked();
            let flushing = flush > self.flushed;
            let read_any = self.read(&inner, flushing);
            let spec = read(&self.entry.spec).clone();
            let due = self.due(&inner, &spec) || (flushing && !self.pending.is_empty());
            let retry_ok = self.retry_at.is_none_or(|t| Instant::now() >= t);
            if due && retry_ok {
                self.deliver(&inner, &spec);
            }
            if flushing && !read_any && self.pending.is_empty() && self.prepared.is_none() {
                self.flushed = flush;
                self.entry.flush.done(flush);
            }
            let poll = inner.config.poll_interval;
            drop(inner);
            let delivered_now = due && retry_ok;
            if !read_any && !delivered_now {
                std::thread::sleep(poll);
            }
        }
    }

    /// The size and age (ms) at which a delivery is due.
    fn hints(&self, inner: &Inner) -> (usize, i64) {
        let folder = self.entry.folder();
        let spec = read(&self.entry.spec);
        Place::new(inner, &spec, folder.as_deref()).hints()
    }

    /// Reads the next records into `pending` while under the size hint (whatever it while
    /// `flushing`, since everything goes now). True if any came.
    fn read(&mut self, inner: &Inner, flushing: bool) -> bool {
        let (size, _) = self.hints(inner);
        // Prepared objects hold exactly `pending`; the checkpoint moves past `pending` once
        // they are stored, so nothing may join it until then.
        if (self.pending_bytes >= size && !flushing) || self.prepared.is_some() {
            return false;
        }
        let buffer = format!("ds-{}", self.uid);
        let it = match self.iterator.take() {
            Some(it) => it,
            None => {
                let start = match &self.read_upto {
                    Some(seq) => StartPosition::AfterSequence(seq.clone()),
                    None => StartPosition::TrimHorizon,
                };
                match inner
                    .buffer()
                    .get_shard_iterator(&buffer, &weir_streams::shard_id(0), &start)
                {
                    Ok(it) => it,
                    Err(e) => {
                        tracing::warn!(stream = %self.name, error = %e, "cannot read the delivery buffer");
                        return false;
                    }
                }
            }
        };
        match inner.buffer().get_records(&it, READ_BATCH) {
            Ok(page) => {
                self.iterator = page.next_iterator;
                let any = !page.records.is_empty();
                for r in page.records {
                    self.pending_bytes += r.data.len();
                    self.read_upto = Some(r.sequence_number.clone());
                    self.pending.push(r);
                }
                any
            }
            Err(e) => {
                // An expired iterator (a long retry) is re-made after what was read.
                tracing::debug!(stream = %self.name, error = %e, "re-reading the delivery buffer");
                false
            }
        }
    }

    fn due(&self, inner: &Inner, spec: &DeliveryStreamSpec) -> bool {
        let Some(oldest) = self.pending.iter().map(|r| r.arrival_ms).min() else {
            return false;
        };
        let folder = self.entry.folder();
        let (size, interval_ms) = Place::new(inner, spec, folder.as_deref()).hints();
        self.pending_bytes >= size || now_ms().saturating_sub(oldest) >= interval_ms
    }

    fn deliver(&mut self, inner: &Inner, spec: &DeliveryStreamSpec) {
        let result = self.store_all(inner, spec);
        match result {
            Ok(objects) => {
                let last = self.pending.last().map(|r| r.sequence_number.clone());
                if let Some(seq) = &last {
                    // A holder whose lease ran out leaves the checkpoint to the next one.
                    if self.lease.as_ref().is_some_and(|l| !l.is_held()) {
                        tracing::warn!(stream = %self.name, "the delivery lease ran out while storing; the next holder delivers these records again");
                        self.forget();
                        return;
                    }
                    let expect = self
                        .checkpoint_rev
                        .map_or(DocExpect::Absent, DocExpect::Revision);
                    match save_checkpoint(&*inner.docs, &self.uid, seq, expect) {
                        Ok(rev) => self.checkpoint_rev = Some(rev),
                        Err(FirehoseError::Doc(DocError::Conflict { .. })) => {
                            // Another host delivered meanwhile: start again from its
                            // checkpoint (these records may be delivered twice, never lost).
                            tracing::warn!(stream = %self.name, "another host moved the delivery checkpoint; reading it again");
                            self.forget();
                            return;
                        }
                        // The objects are stored; a restart would deliver these again (at
                        // least once), so keep going.
                        Err(e) => {
                            tracing::error!(stream = %self.name, error = %e, "cannot save the delivery checkpoint");
                        }
                    }
                }
                tracing::debug!(stream = %self.name, objects, records = self.pending.len(), "delivered");
                self.checkpoint = last;
                self.pending.clear();
                self.pending_bytes = 0;
                self.retry_at = None;
                self.backoff = RETRY_FIRST;
                self.failing_since = None;
                self.attempts = 0;
                self.entry.stats.held_records.store(0, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::warn!(
                    stream = %self.name,
                    records = self.pending.len(),
                    retry_in_ms = self.backoff.as_millis() as u64,
                    error = %weir_support::error_chain(&e),
                    "delivery failed; retrying"
                );
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(RETRY_MAX);
            }
        }
    }

    /// Prepares `pending` once, then stores what is left of it; returns how many objects
    /// and requests went out. On an error the rest stays prepared for the retry, except
    /// that a data object failing past its retry duration is replaced by error objects
    /// holding its records (and so is a batch whose preparation keeps failing).
    fn store_all(&mut self, inner: &Inner, spec: &DeliveryStreamSpec) -> Result<usize> {
        let retry = retry_duration(spec, inner.config.s3_retry_duration);
        let folder = self.entry.folder();
        let place = Place::new(inner, spec, folder.as_deref());
        let mut queue = match self.prepared.take() {
            Some(q) => q,
            None => self.prepare_pending(&place, spec, retry)?,
        };
        let mut done = 0;
        while let Some(out) = queue.pop_front() {
            // A delivery of many objects keeps its lease (a loss shows at the checkpoint).
            if self.lease.as_ref().is_some_and(Lease::renewal_due) {
                keep_lease(&mut self.lease, &self.name);
            }
            let step = match &out {
                Output::Object { key, body, .. } => place.put(key, body.clone()),
                Output::Request { items } => spec
                    .destination
                    .send(inner, spec, items)
                    .map(|extra| queue.extend(extra)),
            };
            let Err(e) = step else {
                done += 1;
                self.failing_since = None;
                self.attempts = 0;
                continue;
            };
            if let Some(errors) = self.after_store_failure(spec, retry, &out, &e) {
                for o in errors.into_iter().rev() {
                    queue.push_front(o);
                }
                continue;
            }
            queue.push_front(out);
            self.prepared = Some(queue);
            return Err(e);
        }
        Ok(done)
    }

    /// Prepares `pending` for delivery (transformation, object naming, conversion). A
    /// preparation that keeps failing past the retry duration gives the records to the error
    /// output instead, so one bad batch cannot hold the stream for ever.
    fn prepare_pending(
        &mut self,
        place: &Place<'_>,
        spec: &DeliveryStreamSpec,
        retry: Duration,
    ) -> Result<VecDeque<Output>> {
        match batch::prepare(place, &self.pending) {
            Ok(q) => {
                // The failures that count from here are the objects' own.
                self.failing_since = None;
                self.attempts = 0;
                Ok(VecDeque::from(q))
            }
            Err(e) => {
                let items: Vec<Item> = self
                    .pending
                    .iter()
                    .map(|r| Item {
                        data: r.data.clone(),
                        arrival_ms: r.arrival_ms,
                    })
                    .collect();
                if !self.note_failure(retry, &items) {
                    return Err(e);
                }
                let why = format!(
                    "preparing the delivery failed: {}",
                    weir_support::error_chain(&e)
                );
                tracing::error!(stream = %self.name, records = items.len(), error = %why, "delivery kept failing past its retry duration; the records go to the error output");
                let out = batch::store_failed(spec, None, &items, self.attempts, &why)?;
                self.fail_over(items.len());
                Ok(VecDeque::from(out))
            }
        }
    }

    /// Counts a failure to store `out`; returns the error objects that replace it once a
    /// data object has failed past its retry duration, `None` when it stays to be retried.
    fn after_store_failure(
        &mut self,
        spec: &DeliveryStreamSpec,
        retry: Duration,
        out: &Output,
        e: &FirehoseError,
    ) -> Option<Vec<Output>> {
        match out {
            Output::Object {
                key,
                records: Some(items),
                ..
            } => {
                if !self.note_failure(retry, items) {
                    return None;
                }
                let why = weir_support::error_chain(e);
                match batch::store_failed(spec, Some(key), items, self.attempts, &why) {
                    Ok(errors) => {
                        tracing::error!(stream = %self.name, key = %key, records = items.len(), attempts = self.attempts, error = %why, "storing an object kept failing past its retry duration; its records go to the error output");
                        self.fail_over(items.len());
                        Some(errors)
                    }
                    // Kept as it is, and tried again.
                    Err(fe) => {
                        tracing::error!(stream = %self.name, key = %key, error = %fe, "cannot make the error records of a failed object");
                        None
                    }
                }
            }
            Output::Object { records: None, .. } => {
                self.hold_for_error_output(retry, e);
                None
            }
            Output::Request { .. } => None,
        }
    }

    /// The error output itself cannot be written: nothing else may take these records, so
    /// they stay (and hold the checkpoint) until it can; said once when holding starts, and
    /// loudly every attempt once the buffer may have trimmed them.
    fn hold_for_error_output(&mut self, retry: Duration, e: &FirehoseError) {
        self.note_failure(retry, &[]);
        let held = self.pending.len() as u64;
        let was = self.entry.stats.held_records.swap(held, Ordering::Relaxed);
        if was == 0 {
            tracing::error!(stream = %self.name, records = held, error = %weir_support::error_chain(e), "the error output cannot be written; these records are held and retried");
        }
        let oldest = self.pending.iter().map(|r| r.arrival_ms).min();
        if oldest.is_some_and(|o| now_ms().saturating_sub(o) >= RETENTION_MS) {
            // The buffer may have trimmed them: only this thread's memory holds
            // them now. Said loudly, every attempt, never silently.
            tracing::error!(stream = %self.name, records = held, "held records are past the buffer's 24-hour retention; a restart now would lose them");
        }
    }

    /// Counts a failed attempt of the current head; true once it has failed for longer than
    /// `retry` (measured from its first failure) or its oldest record is near the buffer's
    /// retention.
    fn note_failure(&mut self, retry: Duration, items: &[Item]) -> bool {
        self.attempts += 1;
        let since = *self.failing_since.get_or_insert_with(Instant::now);
        let oldest = items.iter().map(|i| i.arrival_ms).min();
        retry_expired(since.elapsed(), retry, oldest, now_ms())
    }

    /// Records that `records` went to the error output instead of their object.
    fn fail_over(&mut self, records: usize) {
        self.entry
            .stats
            .failed_over_records
            .fetch_add(records as u64, Ordering::Relaxed);
        self.failing_since = None;
        self.attempts = 0;
    }
}

/// Whether a head failing for `failing_for` is past its retry: `retry` spent, or its oldest
/// record (arrived at `oldest_ms`) within two hours of the buffer's retention at `now_ms`.
fn retry_expired(
    failing_for: Duration,
    retry: Duration,
    oldest_ms: Option<i64>,
    now_ms: i64,
) -> bool {
    failing_for >= retry
        || oldest_ms.is_some_and(|o| now_ms.saturating_sub(o) >= RETRY_AGE_LIMIT_MS)
}

pub(crate) fn load_checkpoint(docs: &dyn DocStore, uid: &str) -> Result<Option<String>> {
    Ok(load_checkpoint_rev(docs, uid)?.0)
}

/// The checkpoint of `uid` and its document's revision.
fn load_checkpoint_rev(
    docs: &dyn DocStore,
    uid: &str,
) -> Result<(Option<String>, Option<DocRevision>)> {
    let key = checkpoint_key(uid);
    let Some((bytes, rev)) = docs.get(&key)? else {
        return Ok((None, None));
    };
    let s = std::str::from_utf8(&bytes).unwrap_or_default().trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FirehoseError::Corrupt {
            path: docs.describe(&key),
            reason: "a delivery checkpoint holds one sequence number".into(),
        });
    }
    Ok((Some(s.to_owned()), Some(rev)))
}

/// Moves the checkpoint of `uid` to `seq` if its document is still as `expect` says (the
/// revision this thread read or wrote last).
fn save_checkpoint(
    docs: &dyn DocStore,
    uid: &str,
    seq: &str,
    expect: DocExpect,
) -> Result<DocRevision> {
    Ok(docs.put(&checkpoint_key(uid), seq.as_bytes(), expect)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_written_from_a_stale_read_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let docs = weir_support::docstore::FolderDocStore::new(dir.path());
        let r1 = save_checkpoint(&docs, "u", "10", DocExpect::Absent).expect("first");
        // Another host read r1 and moved it on.
        let r2 = save_checkpoint(&docs, "u", "20", DocExpect::Revision(r1)).expect("other");
        // This host, still at r1, cannot put it back.
        let e = save_checkpoint(&docs, "u", "15", DocExpect::Revision(r1)).expect_err("stale");
        assert!(
            matches!(e, FirehoseError::Doc(DocError::Conflict { .. })),
            "{e}"
        );
        assert!(save_checkpoint(&docs, "u", "5", DocExpect::Absent).is_err());
        assert_eq!(
            load_checkpoint_rev(&docs, "u").expect("load"),
            (Some("20".to_owned()), Some(r2))
        );
    }

    #[test]
    fn the_retry_ends_at_its_duration_or_before_the_buffer_trims() {
        let hour = 3600 * 1000;
        let now = 100 * hour;
        let (s, m) = (Duration::from_secs(1), Duration::from_secs(60));
        assert!(!retry_expired(s, m, Some(now), now));
        assert!(retry_expired(m, m, Some(now), now));
        assert!(retry_expired(Duration::ZERO, Duration::ZERO, None, now));
        // An hour-long retry for records that waited 21 h 59 min would outlive the 24 h
        // buffer: at 22 h the records go to the error output whatever is left of it.
        let hour_retry = Duration::from_secs(3600);
        assert!(!retry_expired(
            s,
            hour_retry,
            Some(now - 22 * hour + 1),
            now
        ));
        assert!(retry_expired(s, hour_retry, Some(now - 22 * hour), now));
        assert!(!retry_expired(s, hour_retry, None, now));
    }
}
