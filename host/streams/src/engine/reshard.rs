//! Resharding: split, merge and UpdateShardCount, with their lineage and limits.

use super::*;

impl Streams {
    pub(super) fn shard_not_found(&self, stream: &str, shard: &str) -> StreamsError {
        StreamsError::NotFound(format!(
            "Shard {shard} in stream {stream} under account {} does not exist",
            self.inner.config.account_id
        ))
    }

    /// Closes the given open shards and opens `children` (ranges with parents), in one
    /// catalog update. Parents are synced first so their `EndingSequenceNumber` is durable.
    pub(super) fn reshard(
        &self,
        s: &StreamState,
        topo: &mut Topology,
        catalog: &mut BTreeMap<u64, StreamMeta>,
        close: &[u64],
        children: &[(HashRange, u64, Option<u64>)],
        persist: bool,
    ) -> Result<Vec<u64>> {
        let mut meta = topo.meta.clone();
        let mut next_start = 1u64;
        let mut sealed = Vec::new();
        for idx in close {
            let Some(sh) = topo.shards.get(idx) else {
                unseal(topo, &sealed);
                return Err(self.shard_not_found(&s.name, &shard_id(*idx)));
            };
            // The fence: the store settles what was appended and refuses later appends
            // (the local log syncs its end; a cluster seals the parent's stream).
            let end = match sh.store.seal() {
                Ok(end) => end,
                Err(e) => {
                    unseal(topo, &sealed);
                    return Err(e);
                }
            };
            sealed.push(*idx);
            next_start = next_start.max(end);
            let end = end.saturating_sub(1);
            if let Some(m) = meta.shards.iter_mut().find(|m| m.index == *idx) {
                m.end_counter = Some(end);
                m.closed_ms = Some(now_ms());
            }
        }
        let mut new_ids = Vec::new();
        for (range, parent, adjacent) in children {
            let index = meta.next_shard_index;
            meta.next_shard_index += 1;
            meta.shards.push(ShardMeta {
                index,
                range: *range,
                parent: Some(*parent),
                adjacent_parent: *adjacent,
                start_counter: next_start,
                end_counter: None,
                created_ms: now_ms(),
                closed_ms: None,
            });
            new_ids.push(index);
        }
        let mut opened = HashMap::new();
        for id in &new_ids {
            if let Some(m) = meta.shards.iter().find(|m| m.index == *id) {
                match self.open_shard(s.uid, m) {
                    Ok(sh) => {
                        opened.insert(*id, sh);
                    }
                    Err(e) => {
                        unseal(topo, &sealed);
                        return Err(e);
                    }
                }
            }
        }
        if persist {
            let old = catalog.insert(meta.uid, meta.clone());
            if let Err(e) = self.persist(catalog) {
                if let Some(o) = old {
                    catalog.insert(meta.uid, o);
                }
                unseal(topo, &sealed);
                return Err(e);
            }
        }
        topo.meta = meta;
        topo.shards.extend(opened);
        topo.rebuild_open();
        for idx in close {
            if let Some(sh) = topo.shards.get(idx) {
                sh.store.notify();
            }
        }
        Ok(new_ids)
    }

    /// Finishes a reshard that sealed some of `shards` and never recorded it: a cluster's
    /// seal is final, so a host that died (or whose catalog write failed) between its seal
    /// and its catalog write leaves shards the catalog shows open and JetStream refuses to
    /// write. Its intent (where a split would cut, what a merge would join) died with it, so
    /// each such shard is closed with one child over its whole hash range: the smallest
    /// reshard that makes the range writable again, with the lineage a consumer (KCL) follows
    /// as after any split. The caller has waited [`RESHARD_WAIT`](super::live) for the
    /// catalog; the write is a compare-and-set like any reshard, so if the original host
    /// records its reshard meanwhile, one of the two answers `ResourceInUseException`.
    /// `shards` are shards that refused a put's append as sealed.
    pub(super) fn finish_interrupted_reshard(&self, name: &str, shards: &[u64]) -> Result<()> {
        let mut catalog = lock(&self.inner.catalog);
        let s = self.stream_locked(name)?;
        let mut topo = write(&s.topo);
        let mut close = Vec::new();
        let mut children = Vec::new();
        for idx in shards {
            let Some(m) = topo.shard_meta(*idx) else {
                continue;
            };
            // `shards` refused an append as sealed: only those the catalog still shows
            // open are unrecorded.
            if m.end_counter.is_none() {
                close.push(*idx);
                children.push((m.range, *idx, None));
            }
        }
        if close.is_empty() {
            return Ok(());
        }
        let ids = self.reshard(&s, &mut topo, &mut catalog, &close, &children, true)?;
        tracing::warn!(
            stream = %name,
            sealed = ?close.iter().map(|i| shard_id(*i)).collect::<Vec<_>>(),
            children = ?ids.iter().map(|i| shard_id(*i)).collect::<Vec<_>>(),
            "finished a reshard whose host sealed these shards and never recorded it: each now has one child over its whole range"
        );
        Ok(())
    }

    pub(super) fn open_shard_meta(
        &self,
        s: &StreamState,
        topo: &Topology,
        shard: &str,
    ) -> Result<ShardMeta> {
        let idx = parse_shard_id(shard).ok_or_else(|| self.shard_not_found(&s.name, shard))?;
        let m = topo
            .shard_meta(idx)
            .ok_or_else(|| self.shard_not_found(&s.name, shard))?;
        if m.end_counter.is_some() {
            return Err(StreamsError::InUse(format!(
                "Shard {} in stream {} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
                shard_id(idx),
                s.name,
                self.inner.config.account_id
            )));
        }
        Ok(m.clone())
    }

    /// SplitShard: the parent closes, two children split its range at `new_start`.
    pub fn split_shard(&self, name: &str, shard: &str, new_start: u128) -> Result<()> {
        self.stream(name)?;
        let mut catalog = lock(&self.inner.catalog);
        let s = self.stream_locked(name)?;
        self.require_active(&s)?;
        let mut topo = write(&s.topo);
        let m = self.open_shard_meta(&s, &topo, shard)?;
        if !(new_start > m.range.start.saturating_add(1) && new_start < m.range.end) {
            return Err(StreamsError::InvalidArgument(format!(
                "NewStartingHashKey {new_start} used in SplitShard() on shard {} in stream {name} under account {} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                shard_id(m.index), self.inner.config.account_id, m.range.start, m.range.end
            )));
        }
        self.check_shard_limit(&topo, 1)?;
        self.check_host_shards(&catalog, 1)?;
        let children = [
            (
                HashRange {
                    start: m.range.start,
                    end: new_start - 1,
                },
                m.index,
                None,
            ),
            (
                HashRange {
                    start: new_start,
                    end: m.range.end,
                },
                m.index,
                None,
            ),
        ];
        self.reshard(&s, &mut topo, &mut catalog, &[m.index], &children, true)?;
        drop(topo);
        self.set_transition(&s, StreamStatus::Updating);
        Ok(())
    }

    /// The host-wide cap on open shards (`max_total_shards`); the caller holds the catalog's
    /// lock, so two requests cannot both pass it.
    pub(super) fn check_host_shards(
        &self,
        catalog: &BTreeMap<u64, StreamMeta>,
        extra: usize,
    ) -> Result<()> {
        let open: usize = catalog
            .values()
            .map(|m| m.shards.iter().filter(|s| s.closed_ms.is_none()).count())
            .sum();
        let max = self.inner.config.max_total_shards as usize;
        if open + extra > max {
            return Err(StreamsError::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {} in {}. Current limit on shards is {max}, current open shard count is {open}, and the request needs {extra} more.",
                self.inner.config.account_id, self.inner.config.region
            )));
        }
        Ok(())
    }

    pub(super) fn check_shard_limit(&self, topo: &Topology, extra: usize) -> Result<()> {
        if topo.open.len() + extra > self.inner.config.max_shards_per_stream as usize {
            return Err(StreamsError::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {}. Current limit on shards is {}.",
                self.inner.config.account_id, self.inner.config.max_shards_per_stream
            )));
        }
        Ok(())
    }

    /// MergeShards: two adjacent open shards close into one child.
    pub fn merge_shards(&self, name: &str, shard: &str, adjacent: &str) -> Result<()> {
        self.stream(name)?;
        let mut catalog = lock(&self.inner.catalog);
        let s = self.stream_locked(name)?;
        self.require_active(&s)?;
        let mut topo = write(&s.topo);
        let a = self.open_shard_meta(&s, &topo, shard)?;
        let b = self.open_shard_meta(&s, &topo, adjacent)?;
        let range = if a.range.end.checked_add(1) == Some(b.range.start) {
            HashRange {
                start: a.range.start,
                end: b.range.end,
            }
        } else if b.range.end.checked_add(1) == Some(a.range.start) {
            HashRange {
                start: b.range.start,
                end: a.range.end,
            }
        } else {
            return Err(StreamsError::InvalidArgument(format!(
                "Shards {} and {} in stream {name} under account {} are not an adjacent pair of shards eligible for merging",
                shard_id(a.index), shard_id(b.index), self.inner.config.account_id
            )));
        };
        self.reshard(
            &s,
            &mut topo,
            &mut catalog,
            &[a.index, b.index],
            &[(range, a.index, Some(b.index))],
            true,
        )?;
        drop(topo);
        self.set_transition(&s, StreamStatus::Updating);
        Ok(())
    }

    /// UpdateShardCount with UNIFORM_SCALING: the open shards are split at the target's even
    /// boundaries, then the pieces of each target range merged, so every new shard has at
    /// most two parents and per-key order holds through the lineage. Returns
    /// (current, target).
    pub fn update_shard_count(&self, name: &str, target: u32) -> Result<(u32, u32)> {
        self.stream(name)?;
        let mut catalog = lock(&self.inner.catalog);
        let s = self.stream_locked(name)?;
        self.require_active(&s)?;
        let mut topo = write(&s.topo);
        let current = topo.open.len() as u32;
        let now = now_ms();
        let day_ago = now - 24 * 3600 * 1000;
        self.check_shard_count(&catalog, name, &topo, target, day_ago)?;
        let targets = hashkey::even_ranges(target);
        // All steps are applied in memory and persisted once at the end, so a crash or an
        // error leaves the stream as it was (the new shards' directories are then strays,
        // removed on the next start).
        let before_meta = topo.meta.clone();
        let before_shards: Vec<u64> = topo.shards.keys().copied().collect();
        let result = self.scale_steps(&s, &mut topo, &mut catalog, &targets);
        let persisted = result.and_then(|()| {
            let mut meta = topo.meta.clone();
            meta.scaling_ops_ms.retain(|t| *t > day_ago);
            meta.scaling_ops_ms.push(now);
            let old = catalog.insert(meta.uid, meta.clone());
            match self.persist(&catalog) {
                Ok(()) => {
                    topo.meta = meta;
                    Ok(())
                }
                Err(e) => {
                    if let Some(o) = old {
                        catalog.insert(meta.uid, o);
                    }
                    Err(e)
                }
            }
        });
        if let Err(e) = persisted {
            // The shards this attempt sealed were open before it: they take writes again.
            let reopened: Vec<u64> = before_meta
                .shards
                .iter()
                .filter(|m| m.end_counter.is_none())
                .map(|m| m.index)
                .collect();
            unseal(&topo, &reopened);
            topo.meta = before_meta;
            topo.shards.retain(|k, _| before_shards.contains(k));
            topo.rebuild_open();
            return Err(e);
        }
        drop(topo);
        self.set_transition(&s, StreamStatus::Updating);
        Ok((current, target))
    }

    /// UpdateShardCount's refusals, in AWS's words: at most double and at least half the
    /// open shards, the stream's and the host's shard limits, and AWS's cap on scaling
    /// operations in a rolling 24 hours (counted from `day_ago`).
    fn check_shard_count(
        &self,
        catalog: &BTreeMap<u64, StreamMeta>,
        name: &str,
        topo: &Topology,
        target: u32,
        day_ago: i64,
    ) -> Result<()> {
        let current = topo.open.len() as u32;
        let account = &self.inner.config.account_id;
        if target > current.saturating_mul(2) {
            return Err(StreamsError::InvalidArgument(format!(
                "UpdateShardCount failed for stream {name} under account {account}. Cannot scale up more than double the current open shard count ({current}). Requested {target}."
            )));
        }
        if target < current.div_ceil(2) {
            return Err(StreamsError::InvalidArgument(format!(
                "UpdateShardCount failed for stream {name} under account {account}. Cannot scale down below half the current open shard count ({current}). Requested {target}."
            )));
        }
        if target > self.inner.config.max_shards_per_stream {
            return Err(StreamsError::LimitExceeded(format!(
                "UpdateShardCount failed for stream {name} under account {account}. Requested {target} shards exceeds the shard limit of {}.",
                self.inner.config.max_shards_per_stream
            )));
        }
        self.check_host_shards(catalog, target.saturating_sub(current) as usize)?;
        let recent = topo
            .meta
            .scaling_ops_ms
            .iter()
            .filter(|t| **t > day_ago)
            .count();
        if recent >= MAX_SCALING_OPS_PER_DAY {
            return Err(StreamsError::LimitExceeded(format!(
                "UpdateShardCount failed for stream {name} under account {account}. Exceeded the limit of {MAX_SCALING_OPS_PER_DAY} scaling operations in a rolling 24-hour period."
            )));
        }
        Ok(())
    }

    /// The split and merge steps of UpdateShardCount, in memory only.
    pub(super) fn scale_steps(
        &self,
        s: &StreamState,
        topo: &mut Topology,
        catalog: &mut BTreeMap<u64, StreamMeta>,
        targets: &[HashRange],
    ) -> Result<()> {
        // Phase 1: split open shards at every target boundary inside them.
        let open_now: Vec<(u128, u128, u64)> = topo.open.clone();
        for (start, end, idx) in open_now {
            let mut cur = (start, end, idx);
            for t in targets {
                if t.start > cur.0 && t.start <= cur.1 {
                    let children = [
                        (
                            HashRange {
                                start: cur.0,
                                end: t.start - 1,
                            },
                            cur.2,
                            None,
                        ),
                        (
                            HashRange {
                                start: t.start,
                                end: cur.1,
                            },
                            cur.2,
                            None,
                        ),
                    ];
                    let ids = self.reshard(s, topo, catalog, &[cur.2], &children, false)?;
                    cur = (t.start, cur.1, ids[1]);
                }
            }
        }
        // Phase 2: merge the pieces inside each target range, left to right.
        for t in targets {
            loop {
                let pieces: Vec<(u128, u128, u64)> = topo
                    .open
                    .iter()
                    .filter(|(st, en, _)| *st >= t.start && *en <= t.end)
                    .copied()
                    .collect();
                if pieces.len() < 2 {
                    break;
                }
                let (a, b) = (pieces[0], pieces[1]);
                self.reshard(
                    s,
                    topo,
                    catalog,
                    &[a.2, b.2],
                    &[(
                        HashRange {
                            start: a.0,
                            end: b.1,
                        },
                        a.2,
                        Some(b.2),
                    )],
                    false,
                )?;
            }
        }
        Ok(())
    }
}

/// Undoes the seals of a reshard that could not be recorded: its parents stay open. A store
/// whose seal is final (a cluster's) cannot; the error is logged, the shard refuses writes,
/// and the reshard is left for that store's recovery to complete.
fn unseal(topo: &Topology, sealed: &[u64]) {
    for idx in sealed {
        if let Some(sh) = topo.shards.get(idx) {
            if let Err(e) = sh.store.unseal() {
                tracing::error!(shard = idx, error = %e, "a reshard failed and its parent stays sealed");
            }
        }
    }
}
