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
        // Only on a shared catalog, where another host's reshard can seal a shard under
        // this put: the entries are kept to route them again (the local path copies nothing).
        let reroute = self.inner.shared.then(|| Reroute {
            streams: self.clone(),
            stream: s.clone(),
            entries: entries.to_vec(),
        });
        Ok(PendingPut {
            name: name.to_owned(),
            progress: put,
            reroute,
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
        if !put.sealed.is_empty() {
            self.reroute(&s, name, entries, min_counter, &mut put);
        }
        if let Some(e) = put.refused.take() {
            return Err(e);
        }
        Ok(put.finish())
    }

    /// The records of a put whose shard was sealed under it (another host split or merged
    /// it; on one host the topology's lock keeps a put and a reshard apart): once this
    /// engine's catalog shows the reshard, they are routed again, to the children, and
    /// appended once more. A record sealed out again fails (the client retries it).
    ///
    /// A seal that lands in the middle of one shard's group leaves that group's first
    /// records stored in the parent as well (the store reports the group as refused): they
    /// are then stored twice, as a client's retry of an unanswered put would store them.
    fn reroute(
        &self,
        s: &StreamState,
        name: &str,
        entries: &[PutEntry],
        min_counter: Option<u64>,
        put: &mut PutProgress,
    ) {
        let sealed = std::mem::take(&mut put.sealed);
        let closed: Vec<u64> = sealed.iter().map(|(idx, _)| *idx).collect();
        let mut members: Vec<usize> = sealed.into_iter().flat_map(|(_, m)| m).collect();
        // Request order, so each child's append keeps PutRecords' order per key.
        members.sort_unstable();
        self.await_reshard(s, &closed);
        if self.inner.shared {
            // Still open in the catalog after the wait: the reshard that sealed them will
            // never record itself (its host died, or its catalog write failed).
            if let Err(e) = self.finish_interrupted_reshard(name, &closed) {
                tracing::warn!(stream = %name, error = %e, "could not finish an interrupted reshard");
            }
        }
        let topo = read(&s.topo);
        let mut groups: Vec<(u64, Vec<usize>)> = Vec::new();
        for i in members {
            let e = &entries[i];
            let key = e
                .explicit_hash_key
                .unwrap_or_else(|| hashkey::hash_partition_key(&e.partition_key));
            match topo.route(key) {
                Some(idx) if !closed.contains(&idx) => {
                    match groups.iter_mut().find(|(g, _)| *g == idx) {
                        Some((_, v)) => v.push(i),
                        None => groups.push((idx, vec![i])),
                    }
                }
                _ => put.outcomes[i] = Some(internal_failure()),
            }
        }
        for (idx, members) in &groups {
            match topo.shards.get(idx) {
                Some(sh) => self.append_group(name, (*idx, sh), members, entries, min_counter, put),
                None => {
                    for &i in members {
                        put.outcomes[i] = Some(internal_failure());
                    }
                }
            }
        }
        drop(topo);
        put.sync(name);
        for (_, members) in std::mem::take(&mut put.sealed) {
            for i in members {
                put.outcomes[i] = Some(internal_failure());
            }
        }
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

    /// Starts one shard's group as one append of its store (see [`ShardStore::append`]):
    /// the local log appends under its lock and, with `fsync = always`, takes the sync point
    /// there, so the later round covers exactly these records and readers see them only once
    /// it lands. The outcomes set here are what the answer will be if the settlement succeeds;
    /// a store whose counters come with settlement leaves the sequence numbers empty until
    /// then.
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
        match sh.store.append(&items, min_counter) {
            Ok(pending) => {
                let counted = pending.counters().is_some();
                put.set_ok(idx, members, pending.counters());
                if pending.needs_settle() {
                    put.pending.push(Unsettled {
                        members: members.to_vec(),
                        idx,
                        counted,
                        append: pending,
                    });
                }
            }
            // Sealed by a reshard this engine has not seen yet: routed again.
            Err(StreamsError::Sealed(_)) => put.sealed.push((idx, members.to_vec())),
            // A store that cannot meet `SequenceNumberForOrdering` (a cluster's cannot skip
            // sequence numbers): PutRecord's answer is the client's error, nothing stored.
            Err(e @ StreamsError::InvalidArgument(_)) if min_counter.is_some() => {
                for &i in members {
                    put.outcomes[i] = Some(internal_failure());
                }
                put.refused.get_or_insert(e);
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
            StartPosition::Latest => sh.store.tip()?,
            StartPosition::AtSequence(q) => seq_for(q)?,
            StartPosition::AfterSequence(q) => seq_for(q)?.saturating_add(1),
            StartPosition::AtTimestamp(ts) => {
                let now = now_ms();
                if *ts > now {
                    return Err(StreamsError::InvalidArgument(format!(
                        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {ts}, currentTimestampInMillis: {now}"
                    )));
                }
                sh.store.counter_at_time(*ts)?
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
        self.find_shard(&s, idx);
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
        let out = sh
            .store
            .read(from, limit.min(MAX_GET_RECORDS), MAX_GET_BYTES)?;
        let next = out
            .records
            .last()
            .map(|r| r.counter + 1)
            .unwrap_or(out.start);
        let behind = millis_behind(&out);
        let children =
            (meta.end_counter.is_some() && out.reached_tip).then(|| child_shards(&topo, idx));
        Ok(ShardRead {
            records: out.records,
            next,
            children,
            behind,
        })
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
        let by_uid = || {
            read(&self.inner.registry)
                .by_uid
                .get(&pos.stream_uid)
                .cloned()
        };
        let mut found = by_uid();
        if found.is_none() && self.inner.shared {
            // An iterator another host issued for a stream it just created.
            if let Err(e) = self.refresh() {
                tracing::warn!(error = %e, "reloading the shared catalog failed");
            }
            found = by_uid();
        }
        let s = found.ok_or_else(|| {
            StreamsError::NotFound("Stream for the given ShardIterator does not exist.".into())
        })?;
        self.find_shard(&s, pos.shard_index);
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
        self.find_shard(&s, idx);
        let counter = self.resolve_position(&s, idx, &start)?;
        let rx = {
            let topo = read(&s.topo);
            let sh = topo
                .shards
                .get(&idx)
                .ok_or_else(|| self.shard_not_found(name, shard))?;
            sh.store.watch()
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

/// GetRecords' `MillisBehindLatest`: how far the last record read is behind the shard's
/// newest one; 0 at the tip or when nothing was read.
fn millis_behind(out: &ShardPage) -> i64 {
    if out.reached_tip {
        return 0;
    }
    match (out.records.last(), out.newest_arrival_ms) {
        (Some(r), Some(tip)) => (tip - r.arrival_ms).max(0),
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
/// outcome so far, and what its appends left to settle.
struct PutProgress {
    outcomes: Vec<Option<PutOutcome>>,
    /// Groups appended and not settled yet.
    pending: Vec<Unsettled>,
    /// Groups whose shard refused them as sealed (shard, entries): routed again by
    /// [`Streams::put_inner`], failed by [`PutProgress::finish`] otherwise.
    sealed: Vec<(u64, Vec<usize>)>,
    /// The request's own error, from a store that refused it as invalid.
    refused: Option<StreamsError>,
}

/// One shard's group of a put, appended and not settled yet.
struct Unsettled {
    /// The entries, in the put's order.
    members: Vec<usize>,
    /// The shard.
    idx: u64,
    /// The outcomes hold their sequence numbers already (the local log counts at append),
    /// so a successful settlement leaves them as they are.
    counted: bool,
    append: PendingAppend,
}

impl PutProgress {
    fn new(entries: usize) -> Self {
        Self {
            outcomes: vec![None; entries],
            pending: Vec::new(),
            sealed: Vec::new(),
            refused: None,
        }
    }

    /// The outcomes of a group the store took: with its counters when they are known, with
    /// an empty sequence number when they come with settlement.
    fn set_ok(&mut self, idx: u64, members: &[usize], counters: Option<&[(u64, i64)]>) {
        let shard = shard_id(idx);
        for (k, &i) in members.iter().enumerate() {
            let sequence_number = counters
                .and_then(|c| c.get(k))
                .map(|(counter, _)| SeqNo::new(*counter, idx).encode())
                .unwrap_or_default();
            self.outcomes[i] = Some(PutOutcome::Ok {
                shard_id: shard.clone(),
                sequence_number,
            });
        }
    }

    /// Records a group's settlement: its final counters, or the failure of every entry (it
    /// may be appended, but is not acknowledged, and readers never see it).
    fn settled(&mut self, name: &str, group: Unsettled, r: Result<Vec<(u64, i64)>>) {
        let (members, idx) = (&group.members, group.idx);
        match r {
            Ok(_) if group.counted => {}
            Ok(written) if written.len() == members.len() => {
                self.set_ok(idx, members, Some(&written));
            }
            Ok(written) => {
                tracing::error!(
                    stream = name,
                    shard = idx,
                    got = written.len(),
                    want = members.len(),
                    "settlement returned the wrong number of counters"
                );
                for &i in members {
                    self.outcomes[i] = Some(internal_failure());
                }
            }
            Err(StreamsError::Sealed(_)) => self.sealed.push((idx, members.clone())),
            Err(e) => {
                tracing::error!(stream = name, shard = idx, error = %e, "append not made durable");
                for &i in members {
                    self.outcomes[i] = Some(internal_failure());
                }
            }
        }
    }

    /// Settles every shard this call wrote together (one group-commit round locally), so
    /// concurrent writers (of any shard, stream or engine) share the fsyncs.
    fn sync(&mut self, name: &str) {
        let (groups, appends): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|mut g| {
                let append = std::mem::replace(&mut g.append, PendingAppend::done(Vec::new()));
                (g, append)
            })
            .unzip();
        for (group, r) in groups.into_iter().zip(PendingAppend::settle_all(appends)) {
            self.settled(name, group, r);
        }
    }

    /// Every entry's outcome; one that no step decided (its routed shard is missing from
    /// the topology) failed.
    fn finish(mut self) -> Vec<PutOutcome> {
        for (_, members) in std::mem::take(&mut self.sealed) {
            for i in members {
                self.outcomes[i] = Some(internal_failure());
            }
        }
        self.outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(internal_failure))
            .collect()
    }
}

/// A put whose records are appended and not yet settled ([`Streams::put_records_unsynced`]).
/// Dropping it unsettled answers nobody: its records stay appended and become durable with
/// a later settlement of their shard, like those of a put whose caller went away.
pub struct PendingPut {
    name: String,
    progress: PutProgress,
    reroute: Option<Reroute>,
}

/// What a pending put on a shared catalog needs to route records again when another host
/// sealed their shard ([`Streams::reroute`]).
struct Reroute {
    streams: Streams,
    stream: Arc<StreamState>,
    entries: Vec<PutEntry>,
}

impl PendingPut {
    /// Each entry's outcome as it stands before settlement: what the answer will be if it
    /// succeeds. An entry throttled or refused is final already. On a store whose counters
    /// come with settlement (a cluster's), the sequence numbers are empty until then.
    pub fn outcomes(&self) -> Vec<PutOutcome> {
        self.progress
            .outcomes
            .iter()
            .map(|o| o.clone().unwrap_or_else(internal_failure))
            .collect()
    }

    /// Whether there is anything to wait for (with `FsyncPolicy::Always`, a put that
    /// appended something; on other stores, any append).
    pub fn needs_sync(&self) -> bool {
        !self.progress.pending.is_empty() || !self.progress.sealed.is_empty()
    }

    /// Settles every put together (one group-commit round locally) and returns each put's
    /// final outcomes, in order: an entry whose shard could not be made durable fails (it is
    /// appended but must not be acknowledged, and readers never see it).
    pub fn sync_all(puts: Vec<PendingPut>) -> Vec<Vec<PutOutcome>> {
        let mut puts = puts;
        let mut owners = Vec::new();
        let mut appends = Vec::new();
        for (p, put) in puts.iter_mut().enumerate() {
            for mut group in std::mem::take(&mut put.progress.pending) {
                appends.push(std::mem::replace(
                    &mut group.append,
                    PendingAppend::done(Vec::new()),
                ));
                owners.push((p, group));
            }
        }
        for ((p, group), r) in owners.into_iter().zip(PendingAppend::settle_all(appends)) {
            let name = puts[p].name.clone();
            puts[p].progress.settled(&name, group, r);
        }
        puts.into_iter()
            .map(|mut put| {
                if let (false, Some(r)) = (put.progress.sealed.is_empty(), &put.reroute) {
                    r.streams
                        .reroute(&r.stream, &put.name, &r.entries, None, &mut put.progress);
                }
                put.progress.finish()
            })
            .collect()
    }
}
