//! [`JsJournal`]: an append-only log of small entries in one replicated JetStream stream,
//! shared by every host on the prefix: the dead-letter store of `weir run` hosts on a cluster.
//!
//! **Why a stream of its own, not a KV document or a shard.** Dead letters are only ever
//! appended and read back in order by an operator, and must outlive the host that wrote
//! them; a host that dies keeps nothing that another host (or `nats stream view`) cannot
//! read. Entries are published on `<prefix>.<token>.<part>` (the part is the UTC day, so one
//! day can be read or purged with a subject filter) and an append returns once JetStream
//! acknowledged every entry, that is once a quorum of replicas stored it.
//!
//! The stream has no byte limit and discards nothing: the writer keeps its own budget (it
//! asks [`JsJournal::bytes`]) and refuses new entries past it, so no stored entry is ever
//! dropped to make room. Operators remove old entries with `nats stream purge` (purging is
//! allowed on this stream).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, DiscardPolicy, RawMessageErrorKind, StorageType};
use bytes::Bytes;

use crate::bridge::Bridge;
use crate::error::ClusterError;
use crate::shard::{resendable, unique_id};
use crate::ClusterResult as Result;

/// How long an append waits for all its acknowledgements before it fails (the caller then
/// does not acknowledge what it was storing, and its sender sends it again).
const ACK_WAIT: Duration = Duration::from_secs(10);
/// How long the first entry of an append is resent while the stream finds no responders or
/// has no quorum yet.
const RESEND_WINDOW: Duration = Duration::from_secs(10);

/// One entry read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Its JetStream sequence.
    pub seq: u64,
    /// The part it was appended under (`<part>` of its subject).
    pub part: String,
    pub body: Bytes,
}

/// An append-only log on the cluster; see the module documentation.
#[derive(Debug)]
pub struct JsJournal {
    bridge: Arc<Bridge>,
    name: String,
    /// `<prefix>.<token>`.
    subject: String,
}

impl JsJournal {
    /// Opens the journal `token` (lower-case letters, digits and `_`), creating its stream
    /// `<PREFIX>_<TOKEN>` when absent.
    pub fn open(bridge: Arc<Bridge>, token: &str) -> Result<JsJournal> {
        let ok = !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(ClusterError::Config {
                field: "journal",
                reason: format!("{token:?} is not a journal name (a-z, 0-9 and _)"),
            });
        }
        let name = format!(
            "{}_{}",
            bridge.config().name_prefix(),
            token.to_ascii_uppercase()
        );
        let subject = format!("{}.{token}", bridge.config().prefix);
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![format!("{subject}.>")],
            num_replicas: bridge.config().replicas,
            storage: StorageType::File,
            allow_direct: true,
            discard: DiscardPolicy::New,
            ..Default::default()
        };
        let js = bridge.jetstream().clone();
        bridge
            .call(async move { crate::shard::create_stream_patiently(&js, config).await })?
            .map_err(|e| ClusterError::js("create stream", &name, e))?;
        Ok(JsJournal {
            bridge,
            name,
            subject,
        })
    }

    /// The JetStream stream's name, for messages that point an operator at it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The subjects its entries are on (`<prefix>.<token>.<part>`).
    pub fn subjects(&self) -> String {
        format!("{}.>", self.subject)
    }

    /// Appends `entries` under `part` (one subject token: letters, digits, `-` and `_`) and
    /// returns once every one is acknowledged; on an error some of them may be stored.
    pub fn append(&self, part: &str, entries: &[&[u8]]) -> Result<()> {
        self.append_at(&[part], entries)
    }

    /// [`JsJournal::append`] under a path of parts (`<prefix>.<token>.<a>.<b>...`), each one
    /// subject token: what the action spools use, one path per action and writer.
    pub fn append_at(&self, path: &[&str], entries: &[&[u8]]) -> Result<()> {
        let subject = self.subject_of(path)?;
        let bodies: Vec<Bytes> = entries.iter().map(|e| Bytes::copy_from_slice(e)).collect();
        let js = self.bridge.jetstream().clone();
        // Every entry carries a message id, so a resend after a lost ack is stored once.
        let id = unique_id();
        self.bridge
            .call(async move {
                let mut bodies = bodies.into_iter().enumerate();
                // The first entry is sent until it is acknowledged: just after the stream was
                // created, or while its leader is being elected, a publish finds no responders
                // (nothing stored) for a moment. Once one entry is in, the rest follow it in
                // order, pipelined.
                if let Some((i, body)) = bodies.next() {
                    let deadline = Instant::now() + RESEND_WINDOW;
                    let mut backoff = Duration::from_millis(20);
                    loop {
                        let msg = PublishMessage::build()
                            .payload(body.clone())
                            .message_id(format!("{id}-{i}"));
                        let acked = match js.send_publish(subject.clone(), msg).await {
                            Ok(ack) => tokio::time::timeout(ACK_WAIT, ack).await.map_err(
                                |_| -> async_nats::Error { "no acknowledgement in time".into() },
                            )?,
                            Err(e) => Err(e),
                        };
                        match acked {
                            Ok(_) => break,
                            Err(e) if resendable(&e) && Instant::now() < deadline => {
                                tracing::debug!(%subject, error = %e, "resending a journal entry");
                                tokio::time::sleep(backoff).await;
                                backoff = (backoff * 2).min(Duration::from_millis(500));
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                let mut pending = Vec::with_capacity(bodies.len());
                for (i, body) in bodies {
                    let msg = PublishMessage::build()
                        .payload(body)
                        .message_id(format!("{id}-{i}"));
                    pending.push(js.send_publish(subject.clone(), msg).await?);
                }
                for ack in pending {
                    tokio::time::timeout(ACK_WAIT, ack).await.map_err(
                        |_| -> async_nats::Error { "no acknowledgement in time".into() },
                    )??;
                }
                Ok::<_, async_nats::Error>(())
            })?
            .map_err(|e| ClusterError::js("append", &self.name, e))
    }

    /// The subject of `path`, every part checked to be one subject token.
    fn subject_of(&self, path: &[&str]) -> Result<String> {
        let mut subject = self.subject.clone();
        for part in path {
            let ok = !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(ClusterError::Config {
                    field: "journal part",
                    reason: format!("{part:?} is not one subject token"),
                });
            }
            subject.push('.');
            subject.push_str(part);
        }
        if path.is_empty() {
            return Err(ClusterError::Config {
                field: "journal part",
                reason: "no part named".into(),
            });
        }
        Ok(subject)
    }

    /// The paths below `path` (`&[]`: every path) that hold entries now, each with its entry
    /// count: the parts after `path`, joined by `.` (an action's writers, for the spools).
    pub fn paths_under(&self, path: &[&str]) -> Result<Vec<(String, u64)>> {
        let prefix = if path.is_empty() {
            format!("{}.", self.subject)
        } else {
            format!("{}.", self.subject_of(path)?)
        };
        let js = self.bridge.jetstream().clone();
        let name = self.name.clone();
        let filter = format!("{prefix}>");
        let mut found = self
            .bridge
            .call(async move {
                use futures_util::TryStreamExt as _;
                let s = js.get_stream_no_info(&name).await?;
                let mut subjects = s.info_with_subjects(&filter).await?;
                let mut out = Vec::new();
                while let Some((subject, count)) = subjects.try_next().await? {
                    out.push((subject, count as u64));
                }
                Ok::<_, async_nats::Error>(out)
            })?
            .map_err(|e| ClusterError::js("list subjects", &self.name, e))?;
        found.sort();
        Ok(found
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .filter_map(|(subject, n)| Some((subject.strip_prefix(&prefix)?.to_owned(), n)))
            .collect())
    }

    /// Every entry under exactly `path`, oldest first, read from the stream's leader (a
    /// replica may lag behind what was acknowledged).
    pub fn read_at(&self, path: &[&str]) -> Result<Vec<JournalEntry>> {
        let subject = self.subject_of(path)?;
        let part = path.join(".");
        let js = self.bridge.jetstream().clone();
        let name = self.name.clone();
        self.bridge
            .call(async move {
                let s = js.get_stream_no_info(&name).await?;
                let mut out = Vec::new();
                let mut seq = 1;
                loop {
                    let got = s
                        .raw_message_builder()
                        .next_by_subject(subject.clone())
                        .sequence(seq)
                        .send()
                        .await;
                    match got {
                        Ok(m) => {
                            seq = m.sequence + 1;
                            out.push(JournalEntry {
                                seq: m.sequence,
                                part: part.clone(),
                                body: m.payload,
                            });
                        }
                        Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => break,
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok::<_, async_nats::Error>(out)
            })?
            .map_err(|e| ClusterError::js("read", &self.name, e))
    }

    /// Removes the entries under exactly `path`: all of them, or with `through` only those up
    /// to that sequence (entries appended after a read stay). Answers how many went.
    pub fn purge_at(&self, path: &[&str], through: Option<u64>) -> Result<u64> {
        let subject = self.subject_of(path)?;
        let js = self.bridge.jetstream().clone();
        let name = self.name.clone();
        let purged = self
            .bridge
            .call(async move {
                let s = js.get_stream_no_info(&name).await?;
                let r = match through {
                    // The request's sequence is the first one kept.
                    Some(last) => s.purge().filter(subject).sequence(last + 1).await?,
                    None => s.purge().filter(subject).await?,
                };
                Ok::<_, async_nats::Error>(r.purged)
            })?
            .map_err(|e| ClusterError::js("purge", &self.name, e))?;
        Ok(purged)
    }

    /// The bytes the stream holds now (all hosts' entries).
    pub fn bytes(&self) -> Result<u64> {
        let js = self.bridge.jetstream().clone();
        let name = self.name.clone();
        let info = self
            .bridge
            .call(async move {
                let s = js.get_stream_no_info(&name).await?;
                s.get_info().await.map_err(async_nats::Error::from)
            })?
            .map_err(|e| ClusterError::js("stream info", &self.name, e))?;
        Ok(info.state.bytes)
    }

    /// Up to `limit` entries from sequence `from` on, oldest first (entries purged meanwhile
    /// are skipped).
    pub fn read(&self, from: u64, limit: usize) -> Result<Vec<JournalEntry>> {
        let js = self.bridge.jetstream().clone();
        let name = self.name.clone();
        let prefix = format!("{}.", self.subject);
        self.bridge
            .call(async move {
                let s = js.get_stream_no_info(&name).await?;
                let state = s.get_info().await?.state;
                let mut out = Vec::new();
                // Sequences start at 1; an empty stream reports 0 for both ends.
                let mut seq = from.max(state.first_sequence).max(1);
                while seq <= state.last_sequence && out.len() < limit {
                    match s.get_raw_message(seq).await {
                        Ok(m) => out.push(JournalEntry {
                            seq,
                            part: m
                                .subject
                                .as_str()
                                .strip_prefix(&prefix)
                                .unwrap_or_default()
                                .to_owned(),
                            body: m.payload,
                        }),
                        // Purged (or deleted) since the state was read.
                        Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => {}
                        Err(e) => return Err(e.into()),
                    }
                    seq += 1;
                }
                Ok::<_, async_nats::Error>(out)
            })?
            .map_err(|e| ClusterError::js("read", &self.name, e))
    }
}
