//! The data plane: puts, iterators, reads and in-process subscriptions.

use super::*;

impl Streams {
    // -----------------------------------------------------------------------------------
    // Data plane.

    /// Puts records in order; each gets its own outcome (PutRecords semantics). Records to
    /// the same shard are appended in one write, and with `FsyncPolicy::Always` synced
    /// before this returns.
    pub fn put_records(&self, name: &str, entries: &[PutEntry]) -> Result<Vec<PutOutcome>> {
        self.put_inner(name, entries, None)
    }

    /// Puts records like [`Streams::put_records`] but returns once they are appended, before
    /// their sync: the caller answers for them only after [`PendingPut::sync_all`] (which
    /// joins several pending puts into one group-commit round). A writer that has more to
    /// append meanwhile (a rule action's pipeline) overlaps its next batch with this one's
    /// fsync instead of waiting for it. Without `FsyncPolicy::Always` there is nothing to wait
    /// for and the outcomes are final.
    pub fn put_records_unsynced(&self, name: &str, entries: &[PutEntry]) -> Result<PendingPut> {
        check_entries(entries)?;
        let s = self.stream_for_data(name)?;
        let topo = read(&s.topo);
        let mut put = PutProgress::new(entries.len());
        let groups = self.route_entries(name, &topo, entries, &mut put.outcomes);
        for (idx, members) in &groups {
            let Some(sh) = topo.shards.get(idx) else {
                continue;
            };
            self.append_group(name, (*idx, sh), members, entries, None, &mut put);
        }
        Ok(PendingPut {
            name: name.to_owned(),
            progress: put,
        })
    }

    /// PutRecord: one record, optionally ordered after `sequence_number_for_ordering`.
    pub fn put_record(
        &self,
        name: &str,
        entry: &PutEntry,
        ordering: Option<&str>,
    ) -> Result<(String, String)> {
        let min = ordering
            .and_then(SeqNo::decode)
            .map(|s| s.counter.saturating_add(1));
        let out = self.put_inner(name, std::slice::from_ref(entry), min)?;
        match out.into_iter().next() {
            Some(PutOutcome::Ok {
                shard_id,
                sequence_number,
            }) => Ok((shard_id, sequence_number)),
            Some(PutOutcome::Throttled { message }) => Err(StreamsError::Throughput(message)),
            Some(PutOutcome::Failed { message }) => {
                Err(StreamsError::Io(std::io::Error::other(message)))
            }
            None => Err(StreamsError::Io(std::io::Error::other("no outcome"))),
        }
    }

    /// The one write path behind PutRecord and PutRecords, in four steps whose order is the
    /// durability contract: check every entry, route each to a shard (or a per-entry outcome),
    /// append each shard's group under its log lock (taking its sync point there), then sync
    /// every appended shard in one group-commit round outside all the locks.
    pub(super) fn put_inner(
        &self,
        name: &str,
        entries: &[PutEntry],
        min_counter: Option<u64>,
    ) -> Result<Vec<PutOutcome>> {
        check_entries(entries)?;
        let s = self.stream_for_data(name)?;
        let topo = read(&s.topo);
        let mut put = PutProgress::new(entries.len());
        let groups = self.route_entries(name, &topo, entries, &mut put.outcomes);
        for (idx, members) in &groups {
            let Some(sh) = topo.shards.get(idx) else {
                continue;
            };
            self.append_group(name, (*idx, sh), members, entries, min_counter, &mut put);
        }
        // Sync outside every lock, the topology's included: a slow fsync must not hold up
        // other writers, readers or a reshard of this stream.
        drop(topo);
        put.sync(name);
        Ok(put.finish())
    }

    /// Groups entry indices by the shard their hash key routes to, keeping request order
    /// within each shard so one append per shard keeps PutRecords' ordering. An entry that
    /// routes nowhere or is over its shard's rate gets its outcome here and joins no group.
    fn route_entries(
        &self,
        name: &str,
        topo: &Topology,
        entries: &[PutEntry],
        outcomes: &mut [Option<PutOutcome>],
    ) -> Vec<(u64, Vec<usize>)> {
        let mut groups: Vec<(u64, Vec<usize>)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let key = e
                .explicit_hash_key
                .unwrap_or_else(|| hashkey::hash_partition_key(&e.partition_key));
            let Some(idx) = topo.route(key) else {
                outcomes[i] = Some(internal_failure());
                continue;
            };
            if self.inner.config.throughput_limits {
                let Some(sh) = topo.shards.get(&idx) else {
                    continue;
                };
                if !lock(&sh.bucket).try_take(e.data.len() + e.partition_key.len()) {
                    outcomes[i] = Some(PutOutcome::Throttled {
                        message: format!(
                            "Rate exceeded for shard {} in stream {name} under account {}.",
                            shard_id(idx),
                            self.inner.config.account_id
                        ),
                    });
                    continue;
                }
            }
            match groups.iter_mut().find(|(g, _)| *g == idx) {
                Some((_, v)) => v.push(i),
                None => groups.push((idx, vec![i])),
            }
        }
        groups
    }

    /// Appends one shard's group in one write under its log lock. With `fsync = always` the
    /// sync point (this append's file and counter) is taken under that same lock, so the
    /// later sync covers exactly these records, and readers only see them once it lands (see
    /// [`commit`]); otherwise they are readable at once: the tip moves and the shard is dirty
    /// for the interval flusher.
    fn append_group(
        &self,
        name: &str,
        (idx, sh): (u64, &Arc<ShardState>),
        members: &[usize],
        entries: &[PutEntry],
        min_counter: Option<u64>,
        put: &mut PutProgress,
    ) {
        let items: Vec<AppendItem<'_>> = members
            .iter()
            .map(|&i| AppendItem {
                partition_key: &entries[i].partition_key,
                data: &entries[i].data,
            })
            .collect();
        let result = {
            let mut log = lock(&sh.log);
            let r = log.append(&items, min_counter);
            if r.is_ok() {
                if self.inner.config.fsync == FsyncPolicy::Always {
                    match log.sync_point() {
                        Ok((file, upto)) => put
                            .to_sync
                            .push((members.to_vec(), (sh.clone(), file, upto))),
                        Err(e) => put.unsynced.push((members.to_vec(), e)),
                    }
                } else {
                    sh.tip.send_replace(log.next_counter());
                    sh.dirty.store(true, Ordering::Release);
                }
            }
            r
        };
        match result {
            Ok(written) => {
                for (&i, (counter, _)) in members.iter().zip(written) {
                    put.outcomes[i] = Some(PutOutcome::Ok {
                        shard_id: shard_id(idx),
                        sequence_number: SeqNo::new(counter, idx).encode(),
                    });
                }
            }
            Err(e) => {
                tracing::error!(stream = name, shard = idx, error = %e, "append failed");
                for &i in members {
                    put.outcomes[i] = Some(internal_failure());
                }
            }
        }
    }

    /// Resolves a start position to a counter in a shard.
    pub(super) fn resolve_position(
        &self,
        s: &StreamState,
        idx: u64,
        start: &StartPosition,
    ) -> Result<u64> {
        let topo = read(&s.topo);
        let sh = topo
            .shards
            .get(&idx)
            .ok_or_else(|| self.shard_not_found(&s.name, &shard_id(idx)))?;
        let seq_for = |seq: &str| -> Result<u64> {
            let decoded = SeqNo::decode(seq).ok_or_else(|| {
                StreamsError::InvalidArgument(format!(
                    "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {} under account {} is invalid.",
                    shard_id(idx), s.name, self.inner.config.account_id
                ))
            })?;
            if decoded.shard_index != idx {
                return Err(StreamsError::InvalidArgument(format!(
                    "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                    shard_id(decoded.shard_index),
                    shard_id(idx)
                )));
            }
            Ok(decoded.counter)
        };
        Ok(match start {
            StartPosition::TrimHorizon => 0,
            StartPosition::Latest => lock(&sh.log).next_counter(),
            StartPosition::AtSequence(q) => seq_for(q)?,
            StartPosition::AfterSequence(q) => seq_for(q)?.saturating_add(1),
            StartPosition::AtTimestamp(ts) => {
                let now = now_ms();
                if *ts > now {
                    return Err(StreamsError::InvalidArgument(format!(
                        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {ts}, currentTimestampInMillis: {now}"
                    )));
                }
                let (plan, next) = {
                    let log = lock(&sh.log);
                    (log.time_plan(*ts), log.next_counter())
                };
                log::first_at_time(&plan, *ts)?.unwrap_or(next)
            }
        })
    }

    /// GetShardIterator.
    pub fn get_shard_iterator(
        &self,
        name: &str,
        shard: &str,
        start: &StartPosition,
    ) -> Result<String> {
        let s = self.stream_for_data(name)?;
        let idx = parse_shard_id(shard).ok_or_else(|| self.shard_not_found(name, shard))?;
        let counter = self.resolve_position(&s, idx, start)?;
        Ok(self.inner.codec.encode(&IteratorPos {
            stream_uid: s.uid,
            shard_index: idx,
            counter,
            issued_ms: now_ms(),
        }))
    }

    /// Reads from a shard position: (records, next counter, end-of-closed-shard children,
    /// millis behind latest).
    pub(super) fn read_from(
        &self,
        s: &StreamState,
        idx: u64,
        from: u64,
        limit: usize,
    ) -> Result<ShardRead> {
        let topo = read(&s.topo);
        let sh = topo
            .shards
            .get(&idx)
            .ok_or_else(|| self.shard_not_found(&s.name, &shard_id(idx)))?;
        let meta = topo
            .shard_meta(idx)
            .ok_or_else(|| self.shard_not_found(&s.name, &shard_id(idx)))?;
        let (plan, first, last, below) = {
            let log = lock(&sh.log);
            (
                log.read_plan(from),
                log.first_counter(),
                log.last_record(),
                self.servable_below(&log),
            )
        };
        let from = from.max(first);
        let mut out = log::read_spans(&plan, from, limit.min(MAX_GET_RECORDS), MAX_GET_BYTES)?;
        // Records past the last good sync (an fsync failed, or with `fsync = "always"` one is
        // still running) may not be on disk: they are not served, so no reader acts on a
        // record a restart would not show.
        if let Some(below) = below {
            if out.records.iter().any(|r| r.counter >= below) {
                out.records.retain(|r| r.counter < below);
                out.reached_tip = true;
            }
        }
        let next = out.records.last().map(|r| r.counter + 1).unwrap_or(from);
        let behind = millis_behind(&out, last);
        let children =
            (meta.end_counter.is_some() && out.reached_tip).then(|| child_shards(&topo, idx));
        Ok(ShardRead {
            records: out.records,
            next,
            children,
            behind,
        })
    }

    /// The counter below which a shard's records may be served: below the first record past
    /// a failed sync, and with `fsync = "always"` below what the group commit made durable,
    /// so no reader acts on a record that a restart would not show. `None`: no bound.
    fn servable_below(&self, log: &ShardLog) -> Option<u64> {
        let below = log.readable_below();
        if self.inner.config.fsync == FsyncPolicy::Always {
            let durable = log.synced_below();
            return Some(below.map_or(durable, |b| b.min(durable)));
        }
        below
    }

    /// GetRecords.
    pub fn get_records(&self, iterator: &str, limit: usize) -> Result<GetRecordsOut> {
        let pos = self
            .inner
            .codec
            .decode(iterator)
            .ok_or_else(|| StreamsError::InvalidArgument("Invalid ShardIterator.".into()))?;
        let now = now_ms();
        if now - pos.issued_ms > ITERATOR_TTL_MS {
            return Err(StreamsError::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_TTL_MS} milliseconds.",
                pos.issued_ms, now
            )));
        }
        let s = read(&self.inner.registry)
            .by_uid
            .get(&pos.stream_uid)
            .cloned()
            .ok_or_else(|| {
                StreamsError::NotFound("Stream for the given ShardIterator does not exist.".into())
            })?;
        let ShardRead {
            records,
            next,
            children,
            behind,
        } = self.read_from(&s, pos.shard_index, pos.counter, limit)?;
        let records = records
            .into_iter()
            .map(|r| RecordOut::from_stored(r, pos.shard_index))
            .collect();
        let next_iterator = match children {
            Some(_) => None,
            None => Some(self.inner.codec.encode(&IteratorPos {
                counter: next,
                issued_ms: now,
                ..pos
            })),
        };
        let encrypted = read(&s.topo).meta.settings.encryption_key.is_some();
        Ok(GetRecordsOut {
            records,
            next_iterator,
            millis_behind_latest: behind,
            child_shards: children,
            encrypted,
        })
    }

    /// Subscribes to a shard from `start`, for in-process consumers: records arrive as soon
    /// as they are appended, de-aggregated, without HTTP or iterators.
    pub fn subscribe(&self, name: &str, shard: &str, start: StartPosition) -> Result<Subscription> {
        let s = self.stream_for_data(name)?;
        let idx = parse_shard_id(shard).ok_or_else(|| self.shard_not_found(name, shard))?;
        let counter = self.resolve_position(&s, idx, &start)?;
        let rx = {
            let topo = read(&s.topo);
            let sh = topo
                .shards
                .get(&idx)
                .ok_or_else(|| self.shard_not_found(name, shard))?;
            sh.tip.subscribe()
        };
        Ok(Subscription::new(self.clone(), s, idx, counter, rx))
    }

    pub(crate) fn subscription_read(
        &self,
        s: &StreamState,
        idx: u64,
        from: u64,
        limit: usize,
    ) -> Result<ShardRead> {
        if s.deleted.load(Ordering::SeqCst) {
            return Err(self.not_found(&s.name));
        }
        self.read_from(s, idx, from, limit)
    }
}

/// A shard's file to sync and the counter below which a successful sync makes it durable.
pub(super) type SyncPoint = (Arc<ShardState>, Arc<dyn crate::backend::SegmentFile>, u64);

/// Syncs the given shard files in one round of the process-wide group commit (outside every
/// log lock) and records each outcome in its log: how far it is durable, or that it failed
/// for good (`ShardLog::sync_failed`; a sync that succeeds after an earlier one failed is
/// still a failure).
pub(super) fn commit(points: Vec<SyncPoint>) -> Vec<Result<()>> {
    // Writeback starts now, while an earlier round may still be syncing: the round that
    // takes these files then waits mostly for the journal commit, not for the data.
    for (_, file, _) in &points {
        file.start_writeback();
    }
    let files = points
        .iter()
        .map(|(_, file, _)| {
            let durable: Arc<dyn crate::commit::Durable> =
                Arc::new(crate::commit::SegmentDurable(file.clone()));
            (crate::commit::key_of(file), durable)
        })
        .collect();
    let outcomes = crate::commit::GroupCommit::global().sync(files);
    points
        .into_iter()
        .zip(outcomes)
        .map(|((sh, _, upto), outcome)| match outcome {
            Ok(()) => {
                lock(&sh.log).synced_to(upto)?;
                // Readable from now on: wake the subscribers.
                sh.tip.send_modify(|tip| *tip = (*tip).max(upto));
                Ok(())
            }
            Err(e) => {
                lock(&sh.log).sync_failed(&e.to_string());
                Err(e.into())
            }
        })
        .collect()
}

/// Syncs one shard's active segment through the group commit (see [`commit`]).
pub(super) fn sync_shard(sh: &Arc<ShardState>) -> Result<()> {
    let (file, upto) = lock(&sh.log).sync_point()?;
    commit(vec![(sh.clone(), file, upto)])
        .pop()
        .unwrap_or_else(|| Err(StreamsError::Io(std::io::Error::other("no sync outcome"))))
}

/// GetRecords' `MillisBehindLatest`: how far the last record read is behind the shard's
/// newest one; 0 at the tip or when nothing was read.
fn millis_behind(out: &log::ReadOut, last: Option<(u64, i64)>) -> i64 {
    if out.reached_tip {
        return 0;
    }
    match (out.records.last(), last) {
        (Some(r), Some((_, tip))) => (tip - r.arrival_ms).max(0),
        _ => 0,
    }
}

/// The children of a closed shard (split or merged from it), sorted by shard id: what
/// GetRecords returns once a reader reached the shard's end, so it can follow the lineage.
fn child_shards(topo: &Topology, idx: u64) -> Vec<ChildShard> {
    let mut kids: Vec<ChildShard> = topo
        .meta
        .shards
        .iter()
        .filter(|c| c.parent == Some(idx) || c.adjacent_parent == Some(idx))
        .map(|c| ChildShard {
            shard_id: shard_id(c.index),
            parent_shards: c
                .parent
                .into_iter()
                .chain(c.adjacent_parent)
                .map(shard_id)
                .collect(),
            hash_range: c.range,
        })
        .collect();
    kids.sort_by(|a, b| a.shard_id.cmp(&b.shard_id));
    kids
}

/// Guards the on-disk format (a u16 key length, bounded frames) against any caller: the API
/// validates against AWS's limits, other callers may not.
fn check_entries(entries: &[PutEntry]) -> Result<()> {
    for e in entries {
        let chars = e.partition_key.chars().count();
        if !(1..=256).contains(&chars) {
            return Err(StreamsError::InvalidArgument(format!(
                "Partition key must be 1 to 256 characters, got {chars}."
            )));
        }
        if e.data.len() + e.partition_key.len() > MAX_RECORD_BYTES {
            return Err(StreamsError::InvalidArgument(format!(
                "Record of {} bytes exceeds the {MAX_RECORD_BYTES}-byte limit.",
                e.data.len() + e.partition_key.len()
            )));
        }
    }
    Ok(())
}

/// The outcome AWS gives a record it could not store (per record, not for the request).
fn internal_failure() -> PutOutcome {
    PutOutcome::Failed {
        message: "Internal Service Failure".into(),
    }
}

/// Where one put call stands between its steps (see [`Streams::put_inner`]): each entry's
/// outcome so far, and what its appends left to sync.
struct PutProgress {
    outcomes: Vec<Option<PutOutcome>>,
    /// Groups appended with `fsync = always`, with the sync point taken under their lock.
    to_sync: Vec<(Vec<usize>, SyncPoint)>,
    /// Groups appended to a log already broken: no sync can make them durable.
    unsynced: Vec<(Vec<usize>, StreamsError)>,
}

impl PutProgress {
    fn new(entries: usize) -> Self {
        Self {
            outcomes: vec![None; entries],
            to_sync: Vec::new(),
            unsynced: Vec::new(),
        }
    }

    /// Syncs every shard this call wrote in one group-commit round, so concurrent writers
    /// (of any shard, stream or engine) share the fsyncs; a group whose sync failed, or that
    /// could not be synced at all, fails (it was appended but is not acknowledged).
    fn sync(&mut self, name: &str) {
        let (members, points): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.to_sync).into_iter().unzip();
        let failed = commit(points)
            .into_iter()
            .zip(members)
            .filter_map(|(r, members)| r.err().map(|e| (members, e)));
        self.unsynced.extend(failed);
        self.fail_unsynced(name);
    }

    /// Fails every entry of a group that could not be made durable.
    fn fail_unsynced(&mut self, name: &str) {
        for (members, e) in std::mem::take(&mut self.unsynced) {
            tracing::error!(stream = name, error = %e, "fsync failed");
            for i in members {
                self.outcomes[i] = Some(internal_failure());
            }
        }
    }

    /// Every entry's outcome; one that no step decided (its routed shard is missing from
    /// the topology) failed.
    fn finish(self) -> Vec<PutOutcome> {
        self.outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(internal_failure))
            .collect()
    }
}

/// A put whose records are appended and not yet synced ([`Streams::put_records_unsynced`]).
/// Dropping it unsynced answers nobody: its records stay appended and become durable with a
/// later sync of their shard, like those of a put whose caller went away.
pub struct PendingPut {
    name: String,
    progress: PutProgress,
}

impl PendingPut {
    /// Each entry's outcome as it stands before the sync: what the answer will be if the
    /// sync succeeds. An entry throttled or refused is final already.
    pub fn outcomes(&self) -> Vec<PutOutcome> {
        self.progress
            .outcomes
            .iter()
            .map(|o| o.clone().unwrap_or_else(internal_failure))
            .collect()
    }

    /// Whether there is anything to wait for (with `FsyncPolicy::Always`, a put that
    /// appended something).
    pub fn needs_sync(&self) -> bool {
        !self.progress.to_sync.is_empty() || !self.progress.unsynced.is_empty()
    }

    /// Syncs every put in one group-commit round and returns each put's final outcomes, in
    /// order: an entry whose shard could not be synced fails (it is appended but must not be
    /// acknowledged, and readers never see it).
    pub fn sync_all(puts: Vec<PendingPut>) -> Vec<Vec<PutOutcome>> {
        let mut puts = puts;
        let mut owners = Vec::new();
        let mut points = Vec::new();
        for (p, put) in puts.iter_mut().enumerate() {
            for (members, point) in std::mem::take(&mut put.progress.to_sync) {
                owners.push((p, members));
                points.push(point);
            }
        }
        for ((p, members), outcome) in owners.into_iter().zip(commit(points)) {
            if let Err(e) = outcome {
                puts[p].progress.unsynced.push((members, e));
            }
        }
        puts.into_iter()
            .map(|mut put| {
                put.progress.fail_unsynced(&put.name);
                put.progress.finish()
            })
            .collect()
    }
}
