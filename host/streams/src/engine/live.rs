//! The live view of a shared catalog: several hosts on one cluster each run an engine on
//! the same stores, and each must see the streams the others create, delete and reshard
//! without a restart. [`Streams::refresh`] reloads the catalog and reconciles the registry
//! in place; it runs when the meta store reports another engine's write (the maintenance
//! thread polls [`MetaStore::catalog_changed`]), when a name is not found, and when a put
//! meets a parent another host sealed (the put then goes to the children).
//!
//! A local catalog is never shared (`catalog_changed` is `None`): none of this runs, and a
//! single host's put takes no extra lock or call.

use super::*;

/// How long a put that met a sealed parent waits for the other host's reshard to reach the
/// catalog: it seals the parents before it writes the catalog, milliseconds apart.
const RESHARD_WAIT: Duration = Duration::from_secs(5);

impl Streams {
    /// Reloads a shared catalog and applies what other engines changed: streams they
    /// created are opened, streams they deleted are dropped from the registry (their data
    /// is the deleting host's to remove), and a changed stream takes the new topology and
    /// settings: only the shards it did not know are opened, the others keep their stores
    /// and write limits. Cheap when nothing changed (one catalog read). On a store that is
    /// not shared it reloads the same catalog and changes nothing.
    pub fn refresh(&self) -> Result<()> {
        let mut catalog = lock(&self.inner.catalog);
        // The store's view (what its next save rebases on) and this engine's catalog are
        // replaced together, under the catalog lock, so the next save carries only this
        // engine's own later changes.
        let fresh = self.inner.meta.load_catalog()?;
        let mut failed = None;
        let gone: Vec<Arc<StreamState>> = read(&self.inner.registry)
            .by_uid
            .values()
            .filter(|s| !s.deleted.load(Ordering::SeqCst) && !fresh.contains_key(&s.uid))
            .cloned()
            .collect();
        for s in gone {
            self.forget(&s);
        }
        for meta in fresh.values() {
            let known = read(&self.inner.registry).by_uid.get(&meta.uid).cloned();
            let adopted = match known {
                Some(s) => self.adopt_change(&s, meta),
                None => self.adopt_new(meta),
            };
            if let Err(e) = adopted {
                tracing::warn!(stream = %meta.name, error = %e, "another host's change to a stream is not applied yet");
                failed.get_or_insert(e);
            }
        }
        *catalog = fresh;
        self.inner.stale.store(failed.is_some(), Ordering::SeqCst);
        failed.map_or(Ok(()), Err)
    }

    /// Whether the maintenance thread should reload: another engine wrote the catalog, or
    /// the last reload left something to apply.
    pub(super) fn catalog_stale(&self) -> bool {
        if self.inner.stale.load(Ordering::SeqCst) {
            return true;
        }
        match self.inner.meta.catalog_changed() {
            Ok(changed) => changed == Some(true),
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether the shared catalog changed");
                false
            }
        }
    }

    /// A stream another host deleted: DELETING for its readers and subscribers, then gone
    /// from this engine. Its stores are left to the host that deleted it.
    fn forget(&self, s: &Arc<StreamState>) {
        s.deleted.store(true, Ordering::SeqCst);
        for sh in read(&s.topo).shards.values() {
            sh.store.notify();
        }
        let mut reg = write(&self.inner.registry);
        if reg.by_uid.get(&s.uid).is_some_and(|r| Arc::ptr_eq(r, s)) {
            reg.by_uid.remove(&s.uid);
        }
        if reg.by_name.get(&s.name).is_some_and(|r| Arc::ptr_eq(r, s)) {
            reg.by_name.remove(&s.name);
        }
    }

    /// A stream another host created.
    fn adopt_new(&self, meta: &StreamMeta) -> Result<()> {
        let state = self.load_stream(meta.clone(), None)?;
        let mut reg = write(&self.inner.registry);
        // A stream of the same name still listed here is one this host is deleting (its
        // DELETING delay); the new one takes the name.
        reg.by_name.insert(meta.name.clone(), state.clone());
        reg.by_uid.insert(meta.uid, state);
        Ok(())
    }

    /// A stream whose catalog entry may have changed: a reshard (new children, parents
    /// closed), shards aged out, or new settings. The new shards' stores are opened before
    /// the topology's lock is taken, so writers wait only for the swap.
    fn adopt_change(&self, s: &Arc<StreamState>, meta: &StreamMeta) -> Result<()> {
        let missing: Vec<ShardMeta> = {
            let topo = read(&s.topo);
            if topo.meta == *meta {
                return Ok(());
            }
            meta.shards
                .iter()
                .filter(|m| !topo.shards.contains_key(&m.index))
                .cloned()
                .collect()
        };
        let mut opened = HashMap::new();
        for m in &missing {
            opened.insert(m.index, self.open_shard(s.uid, m)?);
        }
        let mut topo = write(&s.topo);
        let mut wake = Vec::new();
        for (idx, sh) in &topo.shards {
            let now = meta.shards.iter().find(|m| m.index == *idx);
            let was_open = topo
                .shard_meta(*idx)
                .is_some_and(|m| m.end_counter.is_none());
            match now {
                // Closed by another host's reshard: readers at its end follow the children.
                Some(m) if was_open && m.end_counter.is_some() => wake.push(sh.clone()),
                Some(_) => {}
                // Aged out on another host: gone from this stream.
                None => wake.push(sh.clone()),
            }
        }
        topo.shards
            .retain(|idx, _| meta.shards.iter().any(|m| m.index == *idx));
        for (idx, sh) in opened {
            topo.shards.entry(idx).or_insert(sh);
        }
        topo.meta = meta.clone();
        topo.rebuild_open();
        drop(topo);
        for sh in wake {
            sh.store.notify();
        }
        Ok(())
    }

    /// On a shared catalog, a shard of `s` this engine does not know (a child of another
    /// host's reshard, named by a client that listed the shards there) reloads the catalog
    /// once, so the caller finds it. Nothing on a local catalog.
    pub(super) fn find_shard(&self, s: &StreamState, idx: u64) {
        if !self.inner.shared || read(&s.topo).shards.contains_key(&idx) {
            return;
        }
        if let Err(e) = self.refresh() {
            tracing::warn!(stream = %s.name, error = %e, "reloading the shared catalog failed");
        }
    }

    /// After a put met sealed parents (`closed`): waits, reloading the shared catalog,
    /// until this engine's topology no longer routes to them (another host's reshard
    /// reached the catalog), for at most [`RESHARD_WAIT`].
    pub(super) fn await_reshard(&self, s: &StreamState, closed: &[u64]) {
        let still_open = || {
            let topo = read(&s.topo);
            closed
                .iter()
                .any(|c| topo.open.iter().any(|(_, _, idx)| idx == c))
        };
        if !self.inner.shared || !still_open() {
            return;
        }
        let deadline = Instant::now() + RESHARD_WAIT;
        let mut pause = Duration::from_millis(5);
        loop {
            if let Err(e) = self.refresh() {
                tracing::warn!(stream = %s.name, error = %e, "reloading the shared catalog failed");
            }
            if !still_open() || Instant::now() + pause >= deadline {
                return;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }
}

#[cfg(test)]
mod tests;
