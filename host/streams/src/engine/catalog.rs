//! The control plane: create, delete, list, describe, tags and retention settings.

use super::*;

impl Streams {
    // -----------------------------------------------------------------------------------
    // Control plane.

    /// Creates a stream with `shard_count` evenly split shards. It is CREATING for the
    /// configured transition delay, then ACTIVE.
    pub fn create_stream(
        &self,
        name: &str,
        shard_count: u32,
        on_demand: bool,
        tags: BTreeMap<String, String>,
    ) -> Result<()> {
        self.create_inner(
            name,
            shard_count,
            on_demand,
            tags,
            MIN_RETENTION_HOURS,
            true,
        )
    }

    /// CreateStream for the API (`transition`: CREATING first) and for the host's config
    /// (ACTIVE at once, with the configured retention). The catalog lock is held throughout,
    /// so two creates of one name cannot both pass the checks; a catalog that cannot be
    /// saved undoes the create, folder included.
    pub(super) fn create_inner(
        &self,
        name: &str,
        shard_count: u32,
        on_demand: bool,
        tags: BTreeMap<String, String>,
        retention_hours: u32,
        transition: bool,
    ) -> Result<()> {
        let mut catalog = lock(&self.inner.catalog);
        self.check_create(&catalog, name, shard_count, tags.len())?;
        let meta = new_stream_meta(
            &catalog,
            name,
            shard_count,
            on_demand,
            tags,
            retention_hours,
        );
        let uid = meta.uid;
        let state = self.load_stream(meta.clone(), transition.then_some(StreamStatus::Creating))?;
        if !transition {
            *lock(&state.transition) = None;
        }
        catalog.insert(uid, meta);
        if let Err(e) = self.persist(&catalog) {
            catalog.remove(&uid);
            let _ = self.inner.stores.remove_stream(uid);
            return Err(e);
        }
        let mut reg = write(&self.inner.registry);
        reg.by_name.insert(name.to_owned(), state.clone());
        reg.by_uid.insert(uid, state);
        Ok(())
    }

    /// CreateStream's refusals, in AWS's order and words: the name is taken, or the shard,
    /// stream, host-wide shard or tag limit would be exceeded.
    fn check_create(
        &self,
        catalog: &BTreeMap<u64, StreamMeta>,
        name: &str,
        shard_count: u32,
        tags: usize,
    ) -> Result<()> {
        if read(&self.inner.registry).by_name.contains_key(name) {
            return Err(StreamsError::InUse(format!(
                "Stream {name} under account {} already exists.",
                self.inner.config.account_id
            )));
        }
        if shard_count > self.inner.config.max_shards_per_stream {
            return Err(StreamsError::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {} in us-east-1. Current limit on shards is {}.",
                self.inner.config.account_id, self.inner.config.max_shards_per_stream
            )));
        }
        if catalog.len() >= self.inner.config.max_streams as usize {
            return Err(StreamsError::LimitExceeded(format!(
                "This request would exceed the stream limit for the account {} in {}. Current limit on streams is {}.",
                self.inner.config.account_id,
                self.inner.config.region,
                self.inner.config.max_streams
            )));
        }
        self.check_host_shards(catalog, shard_count as usize)?;
        if tags > MAX_TAGS {
            return Err(StreamsError::InvalidArgument(format!(
                "Failed to create stream {name} under account {} because a given stream cannot have more than {MAX_TAGS} tags associated with it.",
                self.inner.config.account_id
            )));
        }
        Ok(())
    }

    /// For the host's config: creates the stream ACTIVE at once if missing, or adjusts the
    /// retention of an existing one. An existing stream's shard count is left alone
    /// (resharding is an explicit operation).
    pub fn ensure_stream(
        &self,
        name: &str,
        shards: u32,
        retention_hours: u32,
    ) -> Result<StreamInfo> {
        let retention_hours = retention_hours.clamp(MIN_RETENTION_HOURS, MAX_RETENTION_HOURS);
        match self.stream(name) {
            Ok(s) => {
                if read(&s.topo).meta.retention_hours != retention_hours {
                    self.locked_update(&s, |m| {
                        m.retention_hours = retention_hours;
                        Ok(())
                    })?;
                }
            }
            Err(_) => self.create_inner(
                name,
                shards.max(1),
                false,
                BTreeMap::new(),
                retention_hours,
                false,
            )?,
        }
        self.describe_stream(name)
    }

    /// Deletes a stream and its data. The removal is durable at once (a restart does not
    /// bring the stream back); the stream stays visible as DELETING for the configured
    /// transition delay, refusing reads, writes and changes, and is then gone.
    pub fn delete_stream(&self, name: &str) -> Result<()> {
        // Outside the catalog lock: a name another host just created reloads the catalog.
        self.stream(name)?;
        let mut catalog = lock(&self.inner.catalog);
        let s = self.stream_locked(name)?;
        if s.status() == StreamStatus::Deleting {
            return Err(self.not_found(name));
        }
        let old = catalog.remove(&s.uid);
        if let Err(e) = self.persist(&catalog) {
            if let Some(o) = old {
                catalog.insert(s.uid, o);
            }
            return Err(e);
        }
        s.deleted.store(true, Ordering::SeqCst);
        {
            // wake subscribers so they notice
            let topo = read(&s.topo);
            for sh in topo.shards.values() {
                sh.store.notify();
            }
        }
        let delay = self.inner.config.transition_delay;
        if delay.is_zero() {
            // finish_delete takes the catalog lock itself.
            drop(catalog);
            return self.finish_delete(&s);
        }
        *lock(&s.transition) = Some((Instant::now() + delay, StreamStatus::Deleting));
        drop(catalog);
        let streams = self.clone();
        let spawned = std::thread::Builder::new()
            .name("weir-stream-delete".into())
            .spawn(move || {
                std::thread::sleep(delay);
                if let Err(e) = streams.finish_delete(&s) {
                    tracing::error!(stream = %s.name, error = %e, "removing a deleted stream's data failed");
                }
            });
        if let Err(e) = spawned {
            return Err(StreamsError::Io(e));
        }
        Ok(())
    }

    /// The end of DELETING: the name becomes free and the data goes.
    fn finish_delete(&self, s: &Arc<StreamState>) -> Result<()> {
        {
            let _catalog = lock(&self.inner.catalog);
            let mut reg = write(&self.inner.registry);
            if reg.by_uid.get(&s.uid).is_some_and(|r| Arc::ptr_eq(r, s)) {
                reg.by_uid.remove(&s.uid);
            }
            // The name may be another stream's by now (re-created here or on another host).
            if reg.by_name.get(&s.name).is_some_and(|r| Arc::ptr_eq(r, s)) {
                reg.by_name.remove(&s.name);
            }
        }
        self.inner.stores.remove_stream(s.uid)?;
        Ok(())
    }

    /// Names and summaries of every stream, sorted by name.
    pub fn list_streams(&self) -> Vec<StreamSummary> {
        let reg = read(&self.inner.registry);
        let mut out: Vec<StreamSummary> = reg
            .by_name
            .values()
            .map(|s| {
                let topo = read(&s.topo);
                StreamSummary {
                    name: s.name.clone(),
                    arn: self.arn(&s.name),
                    status: s.status(),
                    on_demand: topo.meta.on_demand,
                    created_ms: topo.meta.created_ms,
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Full description, every shard included (the API pages it).
    pub fn describe_stream(&self, name: &str) -> Result<StreamInfo> {
        let s = self.stream(name)?;
        let topo = read(&s.topo);
        let shards: Vec<ShardInfo> = topo
            .meta
            .shards
            .iter()
            .map(|m| self.shard_info(m))
            .collect();
        Ok(StreamInfo {
            name: s.name.clone(),
            arn: self.arn(&s.name),
            status: s.status(),
            on_demand: topo.meta.on_demand,
            retention_hours: topo.meta.retention_hours,
            created_ms: topo.meta.created_ms,
            open_shard_count: topo.open.len(),
            shards,
            consumer_count: topo.meta.settings.consumers.len(),
            settings: topo.meta.settings.clone(),
        })
    }

    pub(super) fn shard_info(&self, m: &ShardMeta) -> ShardInfo {
        ShardInfo {
            shard_id: shard_id(m.index),
            parent_shard_id: m.parent.map(shard_id),
            adjacent_parent_shard_id: m.adjacent_parent.map(shard_id),
            hash_range: m.range,
            starting_sequence_number: SeqNo::new(m.start_counter, m.index).encode(),
            ending_sequence_number: m
                .end_counter
                .map(|e| SeqNo::new(e.max(m.start_counter), m.index).encode()),
        }
    }

    /// The shards ListShards answers for `filter` at `now_ms`, in shard order. A shard is
    /// retained while it is open or closed within the retention period (AWS lists no
    /// expired shard); this does not wait for the retention sweep to drop it.
    pub fn list_shards(
        &self,
        name: &str,
        filter: ShardFilter,
        now_ms: i64,
    ) -> Result<Vec<ShardInfo>> {
        let s = self.stream(name)?;
        let topo = read(&s.topo);
        let meta = &topo.meta;
        let horizon = now_ms.saturating_sub(i64::from(meta.retention_hours) * 3_600_000);
        // A closed shard from a catalog without close times counts as retained.
        let retained =
            |m: &ShardMeta| m.end_counter.is_none() || m.closed_ms.is_none_or(|c| c >= horizon);
        let parent_retained = |m: &ShardMeta| {
            [m.parent, m.adjacent_parent]
                .into_iter()
                .flatten()
                .any(|p| topo.shard_meta(p).is_some_and(retained))
        };
        let open_since =
            |m: &ShardMeta, ts: i64| m.end_counter.is_none() || m.closed_ms.is_none_or(|c| c >= ts);
        Ok(meta
            .shards
            .iter()
            .filter(|m| retained(m))
            .filter(|m| match filter {
                ShardFilter::FromTrimHorizon => true,
                ShardFilter::AtTrimHorizon => !parent_retained(m),
                ShardFilter::AtLatest => m.end_counter.is_none(),
                ShardFilter::AtTimestamp(ts) => {
                    if m.created_ms <= ts {
                        open_since(m, ts)
                    } else {
                        !parent_retained(m)
                    }
                }
                ShardFilter::FromTimestamp(ts) => open_since(m, ts.max(horizon)),
            })
            .map(|m| self.shard_info(m))
            .collect())
    }

    /// Tags of a stream, sorted by key.
    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        Ok(read(&self.stream(name)?.topo).meta.tags.clone())
    }

    /// Adds or overwrites tags (at most 50 per stream).
    pub fn add_tags(&self, name: &str, tags: BTreeMap<String, String>) -> Result<()> {
        let s = self.stream(name)?;
        let account = self.inner.config.account_id.clone();
        self.locked_update(&s, |m| {
            let mut merged = m.tags.clone();
            merged.extend(tags);
            if merged.len() > MAX_TAGS {
                return Err(StreamsError::InvalidArgument(format!(
                    "Failed to add tags to stream {name} under account {account} because a given stream cannot have more than {MAX_TAGS} tags associated with it."
                )));
            }
            m.tags = merged;
            Ok(())
        })
    }

    /// Removes tags; unknown keys are ignored.
    pub fn remove_tags(&self, name: &str, keys: &[String]) -> Result<()> {
        let s = self.stream(name)?;
        self.locked_update(&s, |m| {
            for k in keys {
                m.tags.remove(k);
            }
            Ok(())
        })
    }

    /// Runs a metadata update under the catalog lock.
    pub(super) fn locked_update(
        &self,
        s: &StreamState,
        f: impl FnOnce(&mut StreamMeta) -> Result<()>,
    ) -> Result<()> {
        let mut catalog = lock(&self.inner.catalog);
        if s.deleted.load(Ordering::SeqCst) {
            return Err(self.not_found(&s.name));
        }
        let mut topo = write(&s.topo);
        let mut meta = topo.meta.clone();
        f(&mut meta)?;
        let old = catalog.insert(meta.uid, meta.clone());
        if let Err(e) = self.persist(&catalog) {
            if let Some(o) = old {
                catalog.insert(meta.uid, o);
            }
            return Err(e);
        }
        topo.meta = meta;
        topo.rebuild_open();
        Ok(())
    }

    /// IncreaseStreamRetentionPeriod / DecreaseStreamRetentionPeriod.
    pub fn set_retention(&self, name: &str, hours: u32, increase: bool) -> Result<()> {
        let s = self.stream(name)?;
        self.require_active(&s)?;
        if hours < MIN_RETENTION_HOURS {
            return Err(StreamsError::InvalidArgument(format!(
                "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too short."
            )));
        }
        if hours > MAX_RETENTION_HOURS {
            return Err(StreamsError::InvalidArgument(format!(
                "Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too long."
            )));
        }
        self.locked_update(&s, |m| {
            let cur = m.retention_hours;
            if increase && hours < cur {
                return Err(StreamsError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing retention period ({cur} hours). Use DecreaseRetentionPeriod API."
                )));
            }
            if !increase && hours > cur {
                return Err(StreamsError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {name} can not be longer than existing retention period ({cur} hours). Use IncreaseRetentionPeriod API."
                )));
            }
            m.retention_hours = hours;
            Ok(())
        })
    }
}

/// A new stream's metadata: `shard_count` shards splitting the hash key space evenly, and a
/// random uid no stream in `catalog` has (the uid names the stream's folder, so a stream
/// re-created under an old name never reads the old one's files).
fn new_stream_meta(
    catalog: &BTreeMap<u64, StreamMeta>,
    name: &str,
    shard_count: u32,
    on_demand: bool,
    tags: BTreeMap<String, String>,
    retention_hours: u32,
) -> StreamMeta {
    let mut uid: u64 = rand::random();
    while catalog.contains_key(&uid) || uid == 0 {
        uid = rand::random();
    }
    let shards: Vec<ShardMeta> = hashkey::even_ranges(shard_count)
        .into_iter()
        .enumerate()
        .map(|(i, range)| ShardMeta {
            index: i as u64,
            range,
            parent: None,
            adjacent_parent: None,
            start_counter: 1,
            end_counter: None,
            created_ms: now_ms(),
            closed_ms: None,
        })
        .collect();
    StreamMeta {
        name: name.to_owned(),
        uid,
        created_ms: now_ms(),
        retention_hours,
        on_demand,
        next_shard_index: shards.len() as u64,
        shards,
        tags,
        scaling_ops_ms: Vec::new(),
        settings: StreamSettings::default(),
    }
}
