//! Maintenance: syncing dirty shards and trimming what retention expired.

use super::*;

/// How often the maintenance thread asks a shared catalog's store whether another host
/// wrote it (an atomic read on the cluster's store, which keeps a watch).
const CATALOG_POLL: Duration = Duration::from_millis(250);

impl Streams {
    // -----------------------------------------------------------------------------------
    // Maintenance.

    pub(super) fn all_shards(&self) -> Vec<(Arc<StreamState>, Arc<ShardState>)> {
        let reg = read(&self.inner.registry);
        let mut out = Vec::new();
        for s in reg.by_uid.values() {
            for sh in read(&s.topo).shards.values() {
                out.push((s.clone(), sh.clone()));
            }
        }
        out
    }

    /// Makes every appended record durable (shutdown, interval policy).
    pub fn sync_all(&self) -> Result<()> {
        // A failed sync is not retried: the log marks itself broken (see `ShardLog::
        // sync_failed`), and the first error is reported after every other shard was synced.
        // Every dirty shard in one group-commit round, synced in parallel.
        let mut first_error = None;
        let mut flushes = Vec::new();
        for (_, sh) in self.all_shards() {
            match sh.store.flush() {
                Ok(Some(p)) => flushes.push(p),
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        for r in PendingAppend::settle_all(flushes) {
            if let Err(e) = r {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Drops whole segments older than each stream's retention, as of `now_ms`.
    /// Closed shards whose records have all expired, and which closed before the cutoff,
    /// disappear from the stream as they do on AWS (children keep naming them as parents).
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize> {
        let mut dropped = 0;
        let streams: Vec<Arc<StreamState>> = read(&self.inner.registry)
            .by_uid
            .values()
            .cloned()
            .collect();
        for s in streams {
            let (hours, shards) = {
                let t = read(&s.topo);
                let shards: Vec<(u64, Arc<ShardState>)> =
                    t.shards.iter().map(|(i, sh)| (*i, sh.clone())).collect();
                (t.meta.retention_hours, shards)
            };
            let cutoff = now_ms - i64::from(hours) * 3600 * 1000;
            let mut empty = Vec::new();
            for (idx, sh) in shards {
                dropped += sh.store.expire(cutoff)?;
                if sh.store.newest()?.is_none() {
                    empty.push(idx);
                }
            }
            let gone: Vec<u64> = {
                let t = read(&s.topo);
                empty
                    .into_iter()
                    .filter(|i| {
                        t.shard_meta(*i)
                            .is_some_and(|m| m.closed_ms.is_some_and(|c| c < cutoff))
                    })
                    .collect()
            };
            if gone.is_empty() {
                continue;
            }
            self.locked_update(&s, |m| {
                m.shards.retain(|x| !gone.contains(&x.index));
                Ok(())
            })?;
            {
                let mut t = write(&s.topo);
                for i in &gone {
                    if let Some(sh) = t.shards.remove(i) {
                        sh.store.notify();
                    }
                }
            }
            for i in &gone {
                self.inner.stores.remove_shard(s.uid, *i)?;
            }
        }
        Ok(dropped)
    }

    /// The fsync-interval flusher and the retention sweeper, on one thread that ends when
    /// the engine is dropped.
    pub(super) fn start_maintenance(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let mut tick = match self.inner.config.fsync {
            FsyncPolicy::Interval(d) => d,
            _ => Duration::from_millis(500),
        };
        if self.inner.shared {
            // Another host's create, delete or reshard is seen within this (a name not
            // found and a sealed parent reload at once).
            tick = tick.min(CATALOG_POLL);
        }
        let spawned = std::thread::Builder::new()
            .name("weir-streams-maint".into())
            .spawn(move || {
                let mut last_retention = Instant::now();
                loop {
                    std::thread::sleep(tick);
                    let Some(inner) = weak.upgrade() else { return };
                    let streams = Streams { inner };
                    if streams.inner.shared && streams.catalog_stale() {
                        if let Err(e) = streams.refresh() {
                            tracing::warn!(error = %e, "reloading the shared catalog failed");
                        }
                    }
                    if matches!(streams.inner.config.fsync, FsyncPolicy::Interval(_)) {
                        if let Err(e) = streams.sync_all() {
                            tracing::error!(error = %e, "interval fsync failed");
                        }
                    }
                    if last_retention.elapsed() >= Duration::from_secs(60) {
                        last_retention = Instant::now();
                        if let Err(e) = streams.enforce_retention(now_ms()) {
                            tracing::error!(error = %e, "retention sweep failed");
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the maintenance thread");
        }
    }
}
