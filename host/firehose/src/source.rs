//! `KinesisStreamAsSource`: a delivery stream that reads a Weir stream instead of taking
//! PutRecord calls.
//!
//! One pump thread per such delivery stream reads every shard of the source stream, parents
//! before children (a child starts once its parents are read to their end, as the KCL
//! does), and appends what it reads to the delivery stream's buffer. Only after the buffer
//! has the records (synced) does it save the shard's position in
//! `DIR/checkpoints/UID.source.json`, so a crash re-reads at most what was not yet saved:
//! at least once, never lost. Like Firehose it starts at the delivery stream's creation
//! time (`DeliveryStartTimestamp`), reading records that arrived from then on.
//!
//! With a shared document store the pump reads only while this host holds the lease
//! `leases/source/UID`; on taking it, it reads the positions again, and it writes them by
//! compare-and-set, so a host that lost the lease cannot move them back (see `deliver.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use serde::{Deserialize, Serialize};
use weir_streams::{PutEntry, PutOutcome, StartPosition, Streams};
use weir_support::docstore::{DocError, DocExpect, DocRevision, DocStore};
use weir_support::read;

use crate::catalog::{Entry, FirehoseConfig, Inner};
use crate::error::{FirehoseError, Result};

/// Records read per shard per round.
const READ_BATCH: usize = 500;

/// The stream name of `arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`.
pub(crate) fn stream_name(arn: &str) -> Result<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "kinesis", _, _, res] => res
            .strip_prefix("stream/")
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| bad_arn(arn)),
        _ => Err(bad_arn(arn)),
    }
}

fn bad_arn(arn: &str) -> FirehoseError {
    FirehoseError::InvalidArgument(format!(
        "KinesisStreamARN {arn:?} is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)."
    ))
}

/// Refuses a source that does not name an existing stream of this host.
pub(crate) fn check_source(config: &FirehoseConfig, arn: &str) -> Result<()> {
    let name = stream_name(arn)?;
    let Some(streams) = &config.source_streams else {
        return Err(FirehoseError::InvalidArgument(
            "This Weir host serves no Kinesis streams to read from.".into(),
        ));
    };
    // The account must be this host's: an ARN of another account names a stream Weir does
    // not have, even when a stream of that name exists here.
    let account = arn.split(':').nth(4).unwrap_or_default();
    let own = &streams.config().account_id;
    if account != own {
        return Err(FirehoseError::InvalidArgument(format!(
            "KinesisStreamARN {arn}: account {account:?} is not this host's account {own}."
        )));
    }
    streams.describe_stream(name).map(|_| ()).map_err(|_| {
        FirehoseError::InvalidArgument(format!(
            "Kinesis stream {name} does not exist (KinesisStreamARN {arn})."
        ))
    })
}

/// The document of `uid`'s source positions (a `KinesisStreamAsSource` stream).
pub(crate) fn checkpoint_key(uid: &str) -> String {
    format!("checkpoints/{uid}.source.json")
}

/// Where each shard's reading stands.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Positions {
    /// The last sequence number in the buffer, per shard.
    after: BTreeMap<String, String>,
    /// Shards read to their end.
    ended: Vec<String>,
}

/// The positions under `key` and their document's revision (`None`: no document yet).
fn load(docs: &dyn DocStore, key: &str) -> Result<(Positions, Option<DocRevision>)> {
    match docs.get(key)? {
        Some((bytes, rev)) => serde_json::from_slice(&bytes)
            .map(|p| (p, Some(rev)))
            .map_err(|e| FirehoseError::Corrupt {
                path: docs.describe(key),
                reason: format!("not a source checkpoint: {e}"),
            }),
        None => Ok((Positions::default(), None)),
    }
}

/// Writes `p` if the document is still at `rev` (as this pump read or wrote it last);
/// answers the new revision.
fn save(
    docs: &dyn DocStore,
    key: &str,
    p: &Positions,
    rev: Option<DocRevision>,
) -> Result<DocRevision> {
    let body = serde_json::to_vec(p).map_err(|e| FirehoseError::Io {
        what: "cannot encode a source checkpoint".into(),
        source: std::io::Error::other(e),
    })?;
    let expect = rev.map_or(DocExpect::Absent, DocExpect::Revision);
    Ok(docs.put(key, &body, expect)?)
}

/// Starts the pump of `entry`, if its source is a stream.
pub(crate) fn spawn(inner: &Arc<Inner>, entry: Arc<Entry>) -> Result<()> {
    let (name, arn) = {
        let s = read(&entry.spec);
        (s.name.clone(), s.kinesis_stream_arn.clone())
    };
    let Some(arn) = arn else { return Ok(()) };
    let weak = Arc::downgrade(inner);
    std::thread::Builder::new()
        .name(format!("weir-firehose-src-{name}"))
        .spawn(move || Pump::new(weak, entry, arn).run())
        .map(|_| ())
        .map_err(|source| FirehoseError::Io {
            what: format!("cannot start the source reader of {name}"),
            source,
        })
}

struct Pump {
    inner: Weak<Inner>,
    entry: Arc<Entry>,
    arn: String,
    name: String,
    uid: String,
    created_ms: i64,
    positions: Positions,
    /// The positions document's revision as read or last written.
    rev: Option<DocRevision>,
    iterators: HashMap<String, String>,
    /// The reading lease (`None` on one host).
    lease: Option<weir_support::lease::Lease>,
}

impl Pump {
    fn new(inner: Weak<Inner>, entry: Arc<Entry>, arn: String) -> Pump {
        let (name, uid, created_ms) = {
            let s = read(&entry.spec);
            (s.name.clone(), s.uid.clone(), s.created_ms)
        };
        Pump {
            inner,
            entry,
            arn,
            name,
            uid,
            created_ms,
            positions: Positions::default(),
            rev: None,
            iterators: HashMap::new(),
            lease: None,
        }
    }

    fn run(mut self) {
        if let Some(inner) = self.inner.upgrade() {
            self.lease = crate::deliver::lease_for(&inner, &format!("source/{}", self.uid));
        }
        self.read_while_running();
        if let Some(lease) = &mut self.lease {
            if self.inner.upgrade().is_some_and(|i| i.crashed()) {
                lease.abandon();
            } else if let Err(e) = lease.release() {
                tracing::warn!(stream = %self.name, error = %e, "cannot release the source lease; it expires on its own");
            }
        }
    }

    fn read_while_running(&mut self) {
        let key = checkpoint_key(&self.uid);
        let mut loaded = false;
        let mut warned = false;
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
            let poll = inner.config.poll_interval;
            let wait = crate::deliver::acquire_poll(inner.config.lease_ttl);
            match crate::deliver::keep_lease(&mut self.lease, &self.name) {
                crate::deliver::Held::Still => {}
                crate::deliver::Held::Taken => loaded = false,
                crate::deliver::Held::No => {
                    loaded = false;
                    drop(inner);
                    std::thread::sleep(wait);
                    continue;
                }
            }
            if !loaded {
                self.iterators.clear();
                match load(&*inner.docs, &key) {
                    Ok((p, rev)) => {
                        self.positions = p;
                        self.rev = rev;
                        loaded = true;
                    }
                    Err(e) if self.lease.is_none() => {
                        tracing::error!(stream = %self.name, error = %e, "cannot read the source checkpoint; reading the source stream is stopped");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(stream = %self.name, error = %e, "cannot read the source checkpoint; retrying");
                        drop(inner);
                        std::thread::sleep(wait);
                        continue;
                    }
                }
            }
            let moved = match self.round(&inner, &key) {
                Ok(n) => {
                    warned = false;
                    n > 0
                }
                Err(FirehoseError::Doc(DocError::Conflict { .. })) => {
                    tracing::warn!(stream = %self.name, "another host moved the source positions; reading them again");
                    loaded = false;
                    false
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(stream = %self.name, source = %self.arn, error = %e, "reading the source stream failed; retrying");
                        warned = true;
                    }
                    false
                }
            };
            drop(inner);
            if !moved {
                std::thread::sleep(poll.max(std::time::Duration::from_millis(50)));
            }
        }
    }

    /// Reads each readable shard once; returns how many records moved.
    fn round(&mut self, inner: &Inner, key: &str) -> Result<usize> {
        let Some(streams) = &inner.config.source_streams else {
            return Ok(0);
        };
        let source = stream_name(&self.arn)?.to_owned();
        let info = streams.describe_stream(&source)?;
        let known: Vec<&str> = info.shards.iter().map(|s| s.shard_id.as_str()).collect();
        let mut moved = 0;
        for shard in &info.shards {
            if self.positions.ended.contains(&shard.shard_id) {
                continue;
            }
            // A parent still in the stream and not read to its end holds its child back.
            let waiting = [&shard.parent_shard_id, &shard.adjacent_parent_shard_id]
                .into_iter()
                .flatten()
                .any(|p| known.contains(&p.as_str()) && !self.positions.ended.contains(p));
            if waiting {
                continue;
            }
            moved += self.read_shard(inner, streams, &source, &shard.shard_id, key)?;
        }
        Ok(moved)
    }

    fn read_shard(
        &mut self,
        inner: &Inner,
        streams: &Streams,
        source: &str,
        shard: &str,
        key: &str,
    ) -> Result<usize> {
        let it = match self.iterators.remove(shard) {
            Some(it) => it,
            None => {
                let start = match self.positions.after.get(shard) {
                    Some(seq) => StartPosition::AfterSequence(seq.clone()),
                    None => StartPosition::AtTimestamp(self.created_ms),
                };
                streams.get_shard_iterator(source, shard, &start)?
            }
        };
        let page = streams.get_records(&it, READ_BATCH)?;
        let n = page.records.len();
        if n > 0 {
            let entries: Vec<PutEntry> = page
                .records
                .iter()
                .map(|r| PutEntry {
                    partition_key: "firehose".into(),
                    explicit_hash_key: None,
                    data: r.data.clone(),
                })
                .collect();
            let buffer = format!("ds-{}", self.uid);
            let outcomes = inner.buffer().put_records(&buffer, &entries)?;
            if let Some(PutOutcome::Throttled { message } | PutOutcome::Failed { message }) =
                outcomes
                    .iter()
                    .find(|o| !matches!(o, PutOutcome::Ok { .. }))
            {
                // Re-read this page next round (records already in the buffer come twice:
                // at least once).
                return Err(FirehoseError::Io {
                    what: format!("cannot buffer records of {source}/{shard}"),
                    source: std::io::Error::other(message.clone()),
                });
            }
            if let Some(last) = page.records.last() {
                self.positions
                    .after
                    .insert(shard.to_owned(), last.sequence_number.clone());
            }
        }
        match page.next_iterator {
            Some(next) => {
                self.iterators.insert(shard.to_owned(), next);
                if n > 0 {
                    self.save(inner, key)?;
                }
            }
            None => {
                self.positions.ended.push(shard.to_owned());
                self.save(inner, key)?;
            }
        }
        Ok(n)
    }
}

impl Pump {
    /// Saves the positions, unless the lease ran out (the next holder reads again from the
    /// positions as stored: the records buffered since may come twice, none is lost).
    fn save(&mut self, inner: &Inner, key: &str) -> Result<()> {
        if self.lease.as_ref().is_some_and(|l| !l.is_held()) {
            return Err(FirehoseError::Doc(DocError::Conflict {
                key: key.to_owned(),
                expected: DocExpect::Any,
                found: None,
            }));
        }
        self.rev = Some(save(&*inner.docs, key, &self.positions, self.rev)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_from_arns() {
        assert_eq!(
            stream_name("arn:aws:kinesis:us-east-1:000000000000:stream/cars").ok(),
            Some("cars")
        );
        for bad in [
            "arn:aws:kinesis:us-east-1:000000000000:stream/",
            "arn:aws:s3:::bucket",
            "cars",
            "arn:aws:kinesis:r:a:consumer/x",
        ] {
            assert!(stream_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn positions_round_trip_and_corruption_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let docs = weir_support::docstore::FolderDocStore::new(dir.path());
        let key = checkpoint_key("u");
        let path = dir.path().join("checkpoints/u.source.json");
        assert_eq!(
            load(&docs, &key).expect("missing is empty"),
            (Positions::default(), None)
        );
        let mut p = Positions::default();
        p.after.insert("shardId-000000000000".into(), "123".into());
        p.ended.push("shardId-000000000001".into());
        let rev = save(&docs, &key, &p, None).expect("save");
        assert_eq!(load(&docs, &key).expect("load"), (p.clone(), Some(rev)));
        // A write from a stale read is refused: positions never move back.
        save(&docs, &key, &p, Some(rev)).expect("from the revision read");
        assert!(save(&docs, &key, &Positions::default(), Some(rev)).is_err());
        assert!(save(&docs, &key, &Positions::default(), None).is_err());
        std::fs::write(&path, b"{").expect("write");
        let e = load(&docs, &key).unwrap_err().to_string();
        assert!(e.contains("u.source.json"), "{e}");
    }
}
