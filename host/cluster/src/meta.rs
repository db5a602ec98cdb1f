//! Metadata shared by all hosts, in a JetStream KV bucket (`<P>_META` for streams).
//!
//! Every write is a compare-and-set on the key's revision (its last sequence in the bucket's
//! stream), so two hosts changing one stream give one winner and one typed
//! [`ClusterError::Conflict`] instead of a lost update. Reads go to the bucket's stream
//! leader (not to a replica, which may lag), so a host sees what another host's CAS wrote
//! once that CAS was acked.
//!
//! Leases are keys written with a per-message TTL: the holder renews by revision before the
//! TTL runs out; when it stops (it died), the server removes the key and leaves a delete
//! marker, and another host's create takes it. Needs nats-server 2.11 (`limit_markers`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::kv;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, StorageType};
use async_nats::jetstream::ErrorCode;
use bytes::Bytes;
use futures_util::StreamExt;

use crate::shard::{resendable, unique_id};
use crate::{Bridge, ClusterError, ClusterResult as Result};

/// Versions kept per key (for inspection; CAS needs only the last).
const HISTORY: i64 = 5;

/// How long the delete marker of an expired lease stays. The server raises every message
/// TTL to at least this (nats-server 2.15 stored `Nats-TTL: 60` for a lease written with 1 s
/// under a 60 s marker TTL), so it bounds the shortest lease: 1 s, the server's minimum.
/// After it the key reads as never written, which `create` handles the same way.
const MARKER_TTL: Duration = Duration::from_secs(1);

/// How long a write whose ack was lost (no responders yet on a new bucket, a leader change)
/// is resent before it fails; inside the bucket's 2-minute duplicate window.
const RESEND_WINDOW: Duration = Duration::from_secs(10);

/// How often a create that loses a race re-reads before it gives up.
const CREATE_ATTEMPTS: usize = 20;

/// A key's current value and revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub value: Bytes,
    /// The revision to pass to a CAS update or delete of this key.
    pub revision: u64,
}

/// A lease held on a key: valid until its TTL runs out unless renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvLease {
    pub key: String,
    pub holder: String,
    /// The revision of the holder's last write; a renewal expects it.
    pub revision: u64,
    pub ttl: Duration,
}

/// What a key holds right now, as the stream leader says.
enum Slot {
    /// Never written, or its history is gone: create expects revision 0.
    Absent,
    /// Deleted (a delete, a purge or an expired TTL's marker) at this revision.
    Deleted(u64),
    Live(KvEntry),
}

/// One KV bucket of Weir's metadata.
pub struct KvMeta {
    bridge: Arc<Bridge>,
    bucket: String,
}

impl std::fmt::Debug for KvMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvMeta")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// KV's key alphabet; the client checks it too, but this names the key in the error.
fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && !key.starts_with('.')
        && !key.ends_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ClusterError::BadValue {
            key: key.to_string(),
            reason: "not a valid KV key (letters, digits, - / _ = and inner dots)".into(),
        })
    }
}

impl KvMeta {
    /// Opens (creating it when absent) the bucket `<P>_<suffix>`, e.g. `WEIR_META` for
    /// `"META"`: replicated like the streams, file storage, TTL markers on.
    pub fn open(bridge: Arc<Bridge>, suffix: &str) -> Result<KvMeta> {
        let bucket = format!("{}_{suffix}", bridge.config().name_prefix());
        let config = kv::Config {
            bucket: bucket.clone(),
            history: HISTORY,
            num_replicas: bridge.config().replicas,
            storage: StorageType::File,
            limit_markers: Some(MARKER_TTL),
            ..Default::default()
        };
        let js = bridge.jetstream().clone();
        let name = bucket.clone();
        bridge
            .call(async move {
                // A cluster that has just formed (or is electing a meta leader) can refuse
                // or time out the first bucket requests: try again within the resend window,
                // which any other lasting failure also waits out before it is reported.
                let deadline = Instant::now() + RESEND_WINDOW;
                let mut pause = Duration::from_millis(50);
                loop {
                    if js.get_key_value(&name).await.is_ok() {
                        return Ok(());
                    }
                    let err: async_nats::Error = match js.create_key_value(config.clone()).await {
                        Ok(_) => return Ok(()),
                        // Another host created it first.
                        Err(e) => match js.get_key_value(&name).await {
                            Ok(_) => return Ok(()),
                            Err(_) => e.into(),
                        },
                    };
                    if Instant::now() + pause >= deadline {
                        return Err(err);
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            })?
            .map_err(|e: async_nats::Error| ClusterError::js("open bucket", &bucket, e))?;
        Ok(KvMeta { bridge, bucket })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn subject(&self, key: &str) -> String {
        format!("$KV.{}.{key}", self.bucket)
    }

    /// Reads `key`'s last message from the bucket stream's leader.
    fn slot(&self, key: &str) -> Result<Slot> {
        check_key(key)?;
        let js = self.bridge.jetstream().clone();
        let stream = format!("KV_{}", self.bucket);
        let subject = self.subject(key);
        let got = self.bridge.call(async move {
            let s = js.get_stream_no_info(&stream).await?;
            match s.get_last_raw_message_by_subject(&subject).await {
                Ok(m) => Ok(Some(m)),
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
                Err(e) => Err(async_nats::Error::from(e)),
            }
        })?;
        let Some(m) = got.map_err(|e| ClusterError::js("get", key, e))? else {
            return Ok(Slot::Absent);
        };
        let deleted = m
            .headers
            .get("KV-Operation")
            .is_some_and(|op| matches!(op.as_str(), "DEL" | "PURGE"))
            || m.headers.get("Nats-Marker-Reason").is_some();
        Ok(if deleted {
            Slot::Deleted(m.sequence)
        } else {
            Slot::Live(KvEntry {
                value: m.payload,
                revision: m.sequence,
            })
        })
    }

    /// The key's value and revision; `None` when absent or deleted.
    pub fn get(&self, key: &str) -> Result<Option<KvEntry>> {
        Ok(match self.slot(key)? {
            Slot::Live(e) => Some(e),
            Slot::Absent | Slot::Deleted(_) => None,
        })
    }

    /// Writes `value` if the key's last revision is still `expected` (0: never written);
    /// with a TTL the server removes it unless rewritten in time.
    fn put_expect(
        &self,
        key: &str,
        value: Bytes,
        expected: u64,
        ttl: Option<Duration>,
        delete: bool,
    ) -> Result<u64> {
        check_key(key)?;
        let js = self.bridge.jetstream().clone();
        let subject = self.subject(key);
        // A resend after a lost ack carries the same id: the server answers it with the first
        // write's ack instead of judging the (now stale) expected revision again.
        let msg_id = unique_id();
        let acked = self.bridge.call(async move {
            let deadline = Instant::now() + RESEND_WINDOW;
            let mut backoff = Duration::from_millis(20);
            loop {
                let mut msg = PublishMessage::build()
                    .payload(value.clone())
                    .message_id(&msg_id)
                    .expected_last_subject_sequence(expected);
                if let Some(ttl) = ttl {
                    msg = msg.ttl(ttl);
                }
                if delete {
                    msg = msg.header("KV-Operation", "DEL");
                }
                let acked = match js.send_publish(subject.clone(), msg).await {
                    Ok(ack) => ack.await,
                    Err(e) => Err(e),
                };
                match acked {
                    Err(e)
                        if (resendable(&e) || cas_not_ready(&e)) && Instant::now() < deadline =>
                    {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_millis(500));
                    }
                    other => return other,
                }
            }
        })?;
        match acked {
            Ok(ack) => Ok(ack.sequence),
            Err(e) if lost_cas(&e) => Err(ClusterError::Conflict {
                key: key.to_string(),
                expected,
            }),
            Err(e) => Err(ClusterError::js("put", key, e)),
        }
    }

    /// Creates `key` with `value` unless it exists (a deleted key may be created again):
    /// of two hosts creating one name, one gets the revision, the other
    /// [`ClusterError::Exists`].
    pub fn create(&self, key: &str, value: &[u8]) -> Result<u64> {
        self.create_inner(key, Bytes::copy_from_slice(value), None)
    }

    fn create_inner(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<u64> {
        for attempt in 0..CREATE_ATTEMPTS {
            if attempt > 0 {
                // The other write may be proposed but not yet applied on the leader: it
                // refuses ours but does not show in a read for a few ms.
                std::thread::sleep(Duration::from_millis(5 << attempt.min(5)));
            }
            let expected = match self.slot(key)? {
                Slot::Live(_) => return Err(ClusterError::Exists(key.to_string())),
                Slot::Absent => 0,
                Slot::Deleted(rev) => rev,
            };
            match self.put_expect(key, value.clone(), expected, ttl, false) {
                // Someone wrote between our read and our write: live now means we lost;
                // deleted again means read anew.
                Err(ClusterError::Conflict { .. }) => continue,
                other => return other,
            }
        }
        Err(ClusterError::TimedOut(format!(
            "create of KV key {key} kept racing"
        )))
    }

    /// Replaces `key`'s value if its revision is still `expected`; otherwise
    /// [`ClusterError::Conflict`] (reload and retry, or refuse).
    pub fn update(&self, key: &str, value: &[u8], expected: u64) -> Result<u64> {
        self.put_expect(key, Bytes::copy_from_slice(value), expected, None, false)
    }

    /// Deletes `key` if its revision is still `expected`; otherwise
    /// [`ClusterError::Conflict`].
    pub fn delete(&self, key: &str, expected: u64) -> Result<()> {
        self.put_expect(key, Bytes::new(), expected, None, true)
            .map(|_| ())
    }

    /// The keys that hold a value (not deleted), sorted. Asks the bucket stream's leader for
    /// its subjects, then reads each key's last entry (from the leader too): the client's
    /// `keys()` runs a consumer that can miss a write just acked through another connection.
    pub fn keys(&self) -> Result<Vec<String>> {
        self.keys_where(|_| true)
    }

    /// [`KvMeta::keys`] of the keys `wanted` accepts, asked before any key's entry is read:
    /// a listing of one folder reads that folder's entries, not the whole bucket's.
    pub fn keys_where(&self, wanted: impl Fn(&str) -> bool) -> Result<Vec<String>> {
        let js = self.bridge.jetstream().clone();
        let stream = format!("KV_{}", self.bucket);
        let filter = format!("$KV.{}.>", self.bucket);
        let subjects = self.bridge.call(async move {
            let s = js.get_stream_no_info(&stream).await?;
            let mut subjects = s.info_with_subjects(&filter).await?;
            let mut out = Vec::new();
            while let Some(item) = subjects.next().await {
                out.push(item?.0);
            }
            Ok::<_, async_nats::Error>(out)
        })?;
        let subjects = subjects.map_err(|e| ClusterError::js("list keys", &self.bucket, e))?;
        let prefix = format!("$KV.{}.", self.bucket);
        let mut keys = Vec::new();
        for subject in subjects {
            if let Some(key) = subject.strip_prefix(&prefix).filter(|k| wanted(k)) {
                if matches!(self.slot(key)?, Slot::Live(_)) {
                    keys.push(key.to_string());
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// The one secret all hosts share under `key` (the iterator HMAC key): the first host
    /// stores its `candidate`; every other host gets the stored one.
    pub fn shared_secret(&self, key: &str, candidate: [u8; 32]) -> Result<[u8; 32]> {
        for _ in 0..CREATE_ATTEMPTS {
            match self.create(key, &candidate) {
                Ok(_) => return Ok(candidate),
                Err(ClusterError::Exists(_)) => {}
                Err(e) => return Err(e),
            }
            if let Some(entry) = self.get(key)? {
                return <[u8; 32]>::try_from(&entry.value[..]).map_err(|_| {
                    ClusterError::BadValue {
                        key: key.to_string(),
                        reason: format!("holds {} bytes, not a 32-byte secret", entry.value.len()),
                    }
                });
            }
            // Deleted between the two calls: try to create again.
        }
        Err(ClusterError::TimedOut(format!(
            "shared secret {key} kept changing"
        )))
    }

    /// Takes the lease `key` for `holder` for `ttl` (whole seconds, at least 1) if nobody
    /// holds it; `None` when another holder's lease is live. A holder that finds its own live
    /// lease (it restarted) gets it back.
    pub fn acquire_lease(&self, key: &str, holder: &str, ttl: Duration) -> Result<Option<KvLease>> {
        let ttl = lease_ttl(key, ttl)?;
        let lease = |revision| KvLease {
            key: key.to_string(),
            holder: holder.to_string(),
            revision,
            ttl,
        };
        match self.create_inner(key, Bytes::copy_from_slice(holder.as_bytes()), Some(ttl)) {
            Ok(revision) => Ok(Some(lease(revision))),
            Err(ClusterError::Exists(_)) => Ok(self
                .get(key)?
                .filter(|e| e.value == holder.as_bytes())
                .map(|e| lease(e.revision))),
            Err(e) => Err(e),
        }
    }

    /// Extends `lease` by its TTL from now. [`ClusterError::Conflict`] means the lease was
    /// lost (it expired and another holder may have it): stop acting as its holder.
    pub fn renew_lease(&self, lease: &KvLease) -> Result<KvLease> {
        let revision = self.put_expect(
            &lease.key,
            Bytes::copy_from_slice(lease.holder.as_bytes()),
            lease.revision,
            Some(lease.ttl),
            false,
        )?;
        Ok(KvLease {
            revision,
            ..lease.clone()
        })
    }

    /// Gives `lease` up at once (a clean shutdown), so another holder need not wait for the
    /// TTL. A lease already lost is no error.
    pub fn release_lease(&self, lease: &KvLease) -> Result<()> {
        match self.delete(&lease.key, lease.revision) {
            Ok(()) | Err(ClusterError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Whether a publish failed because the key's revision was not the expected one: the
/// stream-wide code or the per-subject one (10164, which the client maps to `Other`).
fn lost_cas(e: &PublishError) -> bool {
    e.kind() == PublishErrorKind::WrongLastSequence
        || crate::shard::js_error(e).is_some_and(|j| {
            let code = j.error_code();
            code == ErrorCode::STREAM_WRONG_LAST_SEQUENCE
                || code == ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
        })
}

/// Whether the server could not check the expected revision yet (10163): another write to
/// the same key is in flight in the stream's Raft group. Asking again shortly gets a verdict.
fn cas_not_ready(e: &PublishError) -> bool {
    crate::shard::js_error(e).is_some_and(|j| {
        j.error_code() == ErrorCode::STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY
    })
}

/// The server counts message TTLs in whole seconds.
fn lease_ttl(key: &str, ttl: Duration) -> Result<Duration> {
    if ttl < Duration::from_secs(1) {
        return Err(ClusterError::BadValue {
            key: key.to_string(),
            reason: format!("lease TTL {ttl:?} is under the server's 1 s granularity"),
        });
    }
    Ok(Duration::from_secs(ttl.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_outside_kv_alphabet_are_refused_with_their_name() {
        for key in ["names.orders", "streams.1f", "lease.ds.9", "a/b=c-d_e"] {
            check_key(key).expect(key);
        }
        for key in ["", ".a", "a.", "a b", "a*", "ü", "a>"] {
            assert!(
                matches!(check_key(key), Err(ClusterError::BadValue { key: k, .. }) if k == key),
                "{key:?}"
            );
        }
    }

    #[test]
    fn lease_ttls_are_whole_seconds_of_at_least_one() {
        assert!(lease_ttl("l", Duration::from_millis(999)).is_err());
        assert_eq!(
            lease_ttl("l", Duration::from_millis(2500)).expect("ok"),
            Duration::from_secs(2)
        );
    }
}
