//! `[cluster]`: the host's stores on a NATS JetStream cluster. One connection serves two
//! layouts: the Kinesis streams under the configured prefix, and the Firehose delivery-stream
//! buffers under `<prefix>.fh` (their own catalog, so buffer names never meet stream names),
//! with the delivery streams' catalogs and checkpoints in the `FIREHOSE` bucket and AWS IoT's
//! documents (Device Shadows, the rules API's rules) in the `IOT` bucket, the dead letters
//! in the stream `DEAD_LETTERS`, and the action spools in the stream `SPOOLS` (with each
//! host's presence lease in the `HOSTS` bucket). Every host
//! configured with the same servers and prefix shares all of it.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use weir_cluster::{Bridge, ClusterConfig, ClusterError, ClusterTls, JetStreamStores, JsJournal};
use weir_config::ClusterSection;
use weir_support::docstore::DocStore;
use weir_support::lease::Lease;

use super::dead_letter::SharedLog;
use super::spool::shared::SpoolLog;

/// What a host opens on the cluster.
#[derive(Clone)]
pub(crate) struct ClusterStores {
    /// The Kinesis streams (the engine's shards and catalog).
    pub(crate) streams: Arc<JetStreamStores>,
    /// The delivery-stream buffers.
    pub(crate) firehose_buffers: Arc<JetStreamStores>,
    /// The delivery streams' catalogs and checkpoints.
    pub(crate) firehose_docs: Arc<dyn DocStore>,
    /// AWS IoT's documents: the Device Shadows and the rules made through the rules API.
    pub(crate) iot_docs: Arc<dyn DocStore>,
    /// The dead letters of every host.
    pub(crate) dead_letters: Arc<DeadLetterStream>,
    /// Every host's action spools.
    pub(crate) spools: Arc<SpoolStream>,
}

/// The cluster's dead-letter stream as the dead-letter writer's [`SharedLog`].
#[derive(Debug)]
pub(crate) struct DeadLetterStream(JsJournal);

impl SharedLog for DeadLetterStream {
    fn append(&self, day: &str, lines: &[&[u8]]) -> std::io::Result<()> {
        self.0.append(day, lines).map_err(std::io::Error::other)
    }

    fn bytes(&self) -> std::io::Result<u64> {
        self.0.bytes().map_err(std::io::Error::other)
    }

    fn describe(&self) -> String {
        format!(
            "NATS stream {} (subjects {})",
            self.0.name(),
            self.0.subjects()
        )
    }
}

/// How long a host's presence lasts unrenewed (renewed every third of it): how long after a
/// host dies another host starts delivering what it had spooled. The delivery streams' lease
/// uses the same time.
const PRESENCE_TTL: Duration = Duration::from_secs(10);

/// The cluster's spool stream (`<PREFIX>_SPOOLS`) as the spools' [`SpoolLog`], with this
/// host's presence: a lease `leases/spool-hosts/<host>` in the `HOSTS` bucket, renewed by a
/// thread until the process ends. A host whose lease lapsed is gone, and the first live host
/// that claims the lease adopts its spools.
#[derive(Debug)]
pub(crate) struct SpoolStream {
    journal: Arc<JsJournal>,
    docs: Arc<dyn DocStore>,
    host: String,
    /// Stops the presence thread (dropped, or sent to) and waits for it.
    presence: Mutex<Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
}

fn presence_key(host: &str) -> String {
    format!("{PRESENCES}/{host}")
}

/// The folder of the presence leases (under `leases/`).
const PRESENCES: &str = "spool-hosts";

/// Every how many renewals (about a minute) a host sweeps old presences.
const SWEEP_EVERY: u32 = 18;

/// How long after it lapsed a gone host's presence document may be removed.
const SWEEP_AFTER: Duration = Duration::from_secs(600);

/// Removes the presence documents of hosts whose lease lapsed more than [`SWEEP_AFTER`] ago
/// and whose spools are all adopted (no subject of theirs is left in the stream): one is
/// left behind by every process that died or was adopted, so without this the bucket would
/// grow by one document per restart for ever. Each is deleted on the revision read, so a
/// host that comes back and renews in between keeps its presence, and one whose document
/// was swept while it was cut off simply writes a new one. Answers how many were removed.
fn sweep_presences(docs: &dyn DocStore, journal: &JsJournal) -> Result<usize, String> {
    sweep_presences_at(docs, weir_support::now_ms(), || {
        journal
            .paths_under(&[])
            .map(|paths| paths.into_iter().map(|(path, _)| path).collect())
            .map_err(|e| e.to_string())
    })
}

/// [`sweep_presences`] at `now_ms`, with the spool stream's paths from `paths` (read only
/// when something lapsed).
fn sweep_presences_at(
    docs: &dyn DocStore,
    now_ms: i64,
    paths: impl FnOnce() -> Result<Vec<String>, String>,
) -> Result<usize, String> {
    let lapsed = weir_support::lease::lapsed(docs, PRESENCES, SWEEP_AFTER, now_ms)
        .map_err(|e| e.to_string())?;
    if lapsed.is_empty() {
        return Ok(0);
    }
    // Writers are `<host>-<n>`, the last part of each spool subject.
    let paths = paths()?;
    let writing: std::collections::HashSet<&str> = paths
        .iter()
        .filter_map(|path| path.rsplit('.').next()?.rsplit_once('-'))
        .map(|(host, _)| host)
        .collect();
    let mut removed = 0;
    for (host, rev) in lapsed {
        if writing.contains(host.as_str()) {
            continue;
        }
        let key = format!("leases/{}", presence_key(&host));
        match docs.delete(&key, weir_support::docstore::DocExpect::Revision(rev)) {
            Ok(()) => removed += 1,
            Err(weir_support::docstore::DocError::Conflict { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(removed)
}

impl SpoolStream {
    /// Opens the stream and takes this host's presence (a fresh id per process start: a
    /// restarted host is a new writer, and its old self's spools are adopted like any gone
    /// host's).
    fn open(journal: JsJournal, docs: Arc<dyn DocStore>) -> Result<SpoolStream, ClusterError> {
        let journal = Arc::new(journal);
        let host = uuid::Uuid::new_v4().simple().to_string();
        let mut lease = Lease::new(docs.clone(), &presence_key(&host), &host, PRESENCE_TTL);
        // The bucket may be brand new: its stream elects a leader before it answers.
        let give_up = std::time::Instant::now() + PRESENCE_TTL * 3;
        let took = loop {
            match lease.try_acquire() {
                Ok(took) => break took,
                Err(e) if std::time::Instant::now() < give_up => {
                    tracing::debug!(error = %e, "presence lease not written yet; trying again");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(ClusterError::Config {
                        field: "spools",
                        reason: format!("cannot write this host's presence lease: {e}"),
                    })
                }
            }
        };
        if !took {
            return Err(ClusterError::Config {
                field: "spools",
                reason: format!("the presence lease of a new host id {host} is taken"),
            });
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let (sweep_docs, sweep_journal) = (docs.clone(), journal.clone());
        let thread = std::thread::Builder::new()
            .name("weir-presence".into())
            .spawn(move || {
                let mut rounds = 0u32;
                // A message or the sender dropped: stop.
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(PRESENCE_TTL / 3)
                {
                    rounds = rounds.wrapping_add(1);
                    if rounds.is_multiple_of(SWEEP_EVERY) {
                        match sweep_presences(sweep_docs.as_ref(), &sweep_journal) {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(
                                removed = n,
                                "removed the presence documents of hosts gone long ago"
                            ),
                            Err(e) => tracing::debug!(
                                error = %e,
                                "cannot sweep old presence documents now; trying later"
                            ),
                        }
                    }
                    match lease.try_acquire() {
                        Ok(true) => {}
                        Ok(false) => tracing::error!(
                            key = %lease.key(),
                            "another host took this host's presence (it was cut off longer than {PRESENCE_TTL:?}): it may deliver spooled records this host delivers too"
                        ),
                        Err(e) => tracing::warn!(key = %lease.key(), error = %e, "cannot renew this host's presence; trying again"),
                    }
                }
                // A clean stop: gone at once, so what this host left spooled is adopted now.
                if let Err(e) = lease.release() {
                    tracing::warn!(key = %lease.key(), error = %e, "cannot release this host's presence; it lapses on its own");
                }
            })
            .map_err(|e| ClusterError::Config {
                field: "spools",
                reason: format!("cannot start the presence thread: {e}"),
            })?;
        Ok(SpoolStream {
            journal,
            docs,
            host,
            presence: Mutex::new(Some((stop, thread))),
        })
    }
}

impl SpoolStream {
    /// A lease in the hosts' bucket taken as this host (its presence id), lasting as long as
    /// a presence: for work one host of the cluster does at a time (the `$` topics' MQTT
    /// session behind an external broker, `ingress/dollar.rs`).
    pub(crate) fn host_lease(&self, name: &str) -> Lease {
        Lease::new(self.docs.clone(), name, &self.host, PRESENCE_TTL)
    }
}

impl Drop for SpoolStream {
    fn drop(&mut self) {
        let taken = self
            .presence
            .get_mut()
            .map(Option::take)
            .unwrap_or_else(|poisoned| poisoned.into_inner().take());
        if let Some((stop, thread)) = taken {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

impl SpoolLog for SpoolStream {
    fn host(&self) -> &str {
        &self.host
    }

    fn append(&self, path: &[&str], entries: &[&[u8]]) -> std::io::Result<()> {
        self.journal
            .append_at(path, entries)
            .map_err(std::io::Error::other)
    }

    fn writers(&self, action: &[&str]) -> std::io::Result<Vec<String>> {
        Ok(self
            .journal
            .paths_under(action)
            .map_err(std::io::Error::other)?
            .into_iter()
            .map(|(writer, _)| writer)
            .filter(|w| !w.contains('.'))
            .collect())
    }

    fn read(&self, path: &[&str]) -> std::io::Result<(Vec<Vec<u8>>, Option<u64>)> {
        let entries = self.journal.read_at(path).map_err(std::io::Error::other)?;
        let last = entries.last().map(|e| e.seq);
        Ok((entries.into_iter().map(|e| e.body.to_vec()).collect(), last))
    }

    fn purge(&self, path: &[&str], through: Option<u64>) -> std::io::Result<()> {
        self.journal
            .purge_at(path, through)
            .map(|_| ())
            .map_err(std::io::Error::other)
    }

    fn claim_gone(&self, host: &str) -> std::io::Result<bool> {
        let mut lease = Lease::new(
            self.docs.clone(),
            &presence_key(host),
            &self.host,
            PRESENCE_TTL,
        );
        lease.try_acquire().map_err(std::io::Error::other)
    }

    fn describe(&self, path: &[&str]) -> String {
        format!(
            "NATS stream {} subject {}.{}",
            self.journal.name(),
            self.journal.subjects().trim_end_matches(".>"),
            path.join(".")
        )
    }
}

impl std::fmt::Debug for ClusterStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterStores")
            .field("streams", &self.streams)
            .finish_non_exhaustive()
    }
}

/// The library's config from the file's section (already checked by `weir-config`; the
/// library checks it again).
pub(crate) fn cluster_config(section: &ClusterSection) -> ClusterConfig {
    ClusterConfig {
        nats: section.nats.clone(),
        replicas: section.replicas,
        creds: section.creds.clone(),
        tls: section.tls.then(|| ClusterTls {
            ca_file: section.tls_ca_file.clone(),
            cert_file: section.tls_client.as_ref().map(|(c, _)| c.clone()),
            key_file: section.tls_client.as_ref().map(|(_, k)| k.clone()),
        }),
        prefix: section.prefix.clone(),
    }
}

/// Connects and opens (creating when absent) the buckets of both layouts.
pub(crate) fn connect(section: &ClusterSection) -> Result<ClusterStores, ClusterError> {
    let bridge = Arc::new(Bridge::connect(&cluster_config(section))?);
    bridge.report_sync_setting();
    let fh_bridge = bridge.under_prefix(&format!(
        "{}.{}",
        section.prefix,
        weir_support::nats_names::FIREHOSE_TOKEN
    ))?;
    let streams = JetStreamStores::open(bridge)?;
    let firehose_buffers = JetStreamStores::open(Arc::new(fh_bridge))?;
    let firehose_docs = streams.docs("FIREHOSE")?;
    let iot_docs = streams.docs("IOT")?;
    let dead_letters = Arc::new(DeadLetterStream(JsJournal::open(
        streams.bridge().clone(),
        "dead_letters",
    )?));
    let spools = Arc::new(SpoolStream::open(
        JsJournal::open(streams.bridge().clone(), "spools")?,
        streams.docs("HOSTS")?,
    )?);
    tracing::info!(
        servers = %weir_support::nats_names::redacted_list(&section.nats),
        replicas = section.replicas,
        prefix = %section.prefix,
        "streams and delivery streams on the NATS cluster"
    );
    Ok(ClusterStores {
        streams,
        firehose_buffers,
        firehose_docs,
        iot_docs,
        dead_letters,
        spools,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_support::docstore::FolderDocStore;

    /// Only presences lapsed longer than [`SWEEP_AFTER`] and with no spool left go; the
    /// stream is not read while nothing lapsed.
    #[test]
    fn the_sweep_removes_long_gone_hosts_without_spools() {
        let dir = tempfile::tempdir().expect("tempdir");
        let docs: Arc<dyn DocStore> = Arc::new(FolderDocStore::new(dir.path()));
        for host in ["live", "adopted", "spooling"] {
            let mut l = Lease::new(docs.clone(), &presence_key(host), host, PRESENCE_TTL);
            assert!(l.try_acquire().expect("acquire"));
        }
        let now = weir_support::now_ms();
        let paths = || {
            Ok(vec![
                "rule.act.spooling-0".to_owned(),
                "r.a.other-3".to_owned(),
            ])
        };
        let unread = || -> Result<Vec<String>, String> { panic!("read with nothing lapsed") };
        assert_eq!(sweep_presences_at(docs.as_ref(), now, unread), Ok(0));
        let later = now + (PRESENCE_TTL + SWEEP_AFTER).as_millis() as i64 + 1000;
        // Keep `live` fresh: renewed, it is not lapsed at `later`.
        docs.put(
            &format!("leases/{}", presence_key("live")),
            format!("live\n{}\n", later + 10_000).as_bytes(),
            weir_support::docstore::DocExpect::Any,
        )
        .expect("renew live");
        assert_eq!(sweep_presences_at(docs.as_ref(), later, paths), Ok(1));
        let left = docs.keys(&format!("leases/{PRESENCES}")).expect("keys");
        assert_eq!(
            left,
            [
                "leases/spool-hosts/live".to_owned(),
                "leases/spool-hosts/spooling".to_owned()
            ]
        );
        // A store that cannot be listed is an error, not a panic.
        assert_eq!(
            sweep_presences_at(docs.as_ref(), later, || Err("down".into())),
            Err("down".into())
        );
    }
}
