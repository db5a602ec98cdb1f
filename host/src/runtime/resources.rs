//! What every pipeline of a host shares, across configuration reloads: the streams, the durable
//! tables, the notification channels, the MQTT publisher, the plugins and the counters.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::dead_letter::DeadLetters;
use super::ingress::PublishError;
use super::metrics::Metrics;
use weir_config::NotifyChannel;
use weir_plugins::tables::LookupTables;
use weir_plugins::PluginRegistry;
use weir_streams::Streams;
use weir_table::KvTable;

/// Publishes on the MQTT side: the embedded broker's local link, or the external broker's
/// client. Used by `republish` actions and by emitters' `publish` outbox requests.
pub trait Publisher: Send + Sync {
    /// Publishes one message; `Err` names what went wrong.
    fn publish(&self, topic: &str, payload: Bytes, qos: u8) -> Result<(), PublishError>;
}

/// Why a shared resource (a durable table, a notification channel) failed.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// A durable table could not be opened or synced.
    #[error("{what} table {name:?}")]
    Table {
        what: &'static str,
        name: String,
        #[source]
        source: weir_table::KvError,
    },
    /// A notification names a channel the configuration does not declare.
    #[error("notification channel {0:?} is not declared")]
    UnknownChannel(String),
    /// A file channel could not be written.
    #[error("notification channel {channel:?}: {what} {}", path.display())]
    NotifyFile {
        channel: String,
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Everything pipelines share.
pub struct Resources {
    /// Local streams.
    pub streams: Streams,
    /// Lookup tables (CSV), read by plugins and `get_dynamodb`.
    pub lookup: Arc<LookupTables>,
    /// Plugins.
    pub registry: Arc<PluginRegistry>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// MQTT publishing.
    pub publisher: Arc<dyn Publisher>,
    /// Notification channels.
    pub notifiers: Notifiers,
    /// Folder of the durable tables `table` actions write.
    pub tables_dir: PathBuf,
    /// Where failures of rules without an error action go.
    pub dead_letters: Arc<DeadLetters>,
    /// Root of the action spools (`STORAGE/spool`), and whether their appends are synced.
    pub spool_dir: PathBuf,
    pub spool_sync: bool,
    /// With `[cluster]`: the cluster's spool log, where the spools live instead of
    /// `spool_dir` (whose files they adopt).
    pub shared_spools: Option<Arc<dyn super::spool::shared::SpoolLog>>,
    kv: Mutex<BTreeMap<String, Arc<Mutex<KvTable>>>>,
    /// The Firehose service, for `firehose` actions: their implicit delivery streams, or the
    /// delivery stream they name (`weir run` and `weir demo` both run it).
    pub firehose: Option<weir_firehose::Firehose>,
    /// The Device Shadow store, shared by the broker's `$aws/things/...` topics and the
    /// iot-data API (`weir run` opens it; `None` where nothing serves shadows).
    pub shadows: Option<Arc<weir_shadow::ShadowService>>,
}

use weir_support::lock;

impl Resources {
    /// With the Firehose service that `firehose` actions put into.
    /// Dead letters into `log`, shared with the cluster's other hosts, instead of the folder.
    pub fn with_shared_dead_letters(mut self, log: Arc<dyn super::dead_letter::SharedLog>) -> Self {
        self.dead_letters = Arc::new(DeadLetters::shared(log, self.metrics.clone()));
        self
    }

    /// Action spools in `log`, shared with the cluster's other hosts, instead of the folder.
    pub fn with_shared_spools(mut self, log: Arc<dyn super::spool::shared::SpoolLog>) -> Self {
        self.shared_spools = Some(log);
        self
    }

    pub fn with_firehose(mut self, firehose: weir_firehose::Firehose) -> Self {
        self.firehose = Some(firehose);
        self
    }

    /// Bundles the shared handles.
    pub fn new(
        streams: Streams,
        lookup: Arc<LookupTables>,
        registry: Arc<PluginRegistry>,
        metrics: Arc<Metrics>,
        publisher: Arc<dyn Publisher>,
        storage_dir: &Path,
        fsync: weir_streams::FsyncPolicy,
    ) -> Self {
        Resources {
            spool_dir: storage_dir.join("spool"),
            spool_sync: fsync != weir_streams::FsyncPolicy::Never,
            shared_spools: None,
            dead_letters: Arc::new(DeadLetters::new(
                storage_dir.join("dead-letters"),
                metrics.clone(),
            )),
            tables_dir: storage_dir.join("tables"),
            streams,
            lookup,
            registry,
            metrics,
            publisher,
            notifiers: Notifiers::default(),
            kv: Mutex::new(BTreeMap::new()),
            firehose: None,
            shadows: None,
        }
    }

    /// With the Device Shadow store.
    pub fn with_shadows(mut self, shadows: Arc<weir_shadow::ShadowService>) -> Self {
        self.shadows = Some(shadows);
        self
    }

    /// The durable table `name`, opened (and recovered) on first use and then shared.
    pub fn kv_table(&self, name: &str) -> Result<Arc<Mutex<KvTable>>, ResourceError> {
        let mut kv = lock(&self.kv);
        if let Some(t) = kv.get(name) {
            return Ok(t.clone());
        }
        let t = KvTable::open(&self.tables_dir, name).map_err(|source| ResourceError::Table {
            what: "opening",
            name: name.to_owned(),
            source,
        })?;
        let t = Arc::new(Mutex::new(t));
        kv.insert(name.to_owned(), t.clone());
        Ok(t)
    }

    /// Syncs every open durable table (shutdown).
    pub fn sync_tables(&self) -> Result<(), ResourceError> {
        for (name, t) in lock(&self.kv).iter() {
            lock(t).sync().map_err(|source| ResourceError::Table {
                what: "syncing",
                name: name.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// The `[notify.NAME]` channels emitters' `notify` requests go to.
#[derive(Default)]
pub struct Notifiers {
    channels: Mutex<BTreeMap<String, Channel>>,
}

enum Channel {
    Console,
    File { path: PathBuf, file: Option<File> },
}

impl Notifiers {
    /// Declares the channels (a reload replaces the set; open files are kept).
    pub fn configure(&self, channels: &BTreeMap<String, NotifyChannel>) {
        let mut map = lock(&self.channels);
        let mut next = BTreeMap::new();
        for (name, c) in channels {
            let ch = match c {
                NotifyChannel::Console => Channel::Console,
                NotifyChannel::File { path } => match map.remove(name) {
                    Some(Channel::File { path: p, file }) if &p == path => {
                        Channel::File { path: p, file }
                    }
                    _ => Channel::File {
                        path: path.clone(),
                        file: None,
                    },
                },
            };
            next.insert(name.clone(), ch);
        }
        *map = next;
    }

    /// Sends one notification; a file channel's line is synced before this returns, so an
    /// acknowledged alert is never lost.
    pub fn notify(&self, channel: &str, target: &str, message: &str) -> Result<(), ResourceError> {
        let mut map = lock(&self.channels);
        let Some(ch) = map.get_mut(channel) else {
            return Err(ResourceError::UnknownChannel(channel.to_owned()));
        };
        let file_err = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| ResourceError::NotifyFile {
                channel: channel.to_owned(),
                what,
                path,
                source,
            }
        };
        match ch {
            Channel::Console => {
                println!("notify [{channel}] to {target}: {message}");
                Ok(())
            }
            Channel::File { path, file } => {
                if file.is_none() {
                    // The file's name, and its folders', are synced as they are created: an
                    // acknowledged alert must not vanish with its file at a power cut.
                    let dir = match path.parent() {
                        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                        _ => PathBuf::from("."),
                    };
                    weir_support::create_dir_all_synced(&dir)
                        .map_err(file_err("creating", &dir))?;
                    let created = !path.exists();
                    let f = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&*path)
                        .map_err(file_err("opening", path))?;
                    if created {
                        weir_support::sync_dir(&dir).map_err(file_err("syncing", &dir))?;
                    }
                    *file = Some(f);
                }
                let line = serde_json::json!({
                    "channel": channel,
                    "target": target,
                    "message": message,
                    "sent_ms": chrono::Utc::now().timestamp_millis(),
                });
                let mut bytes = line.to_string().into_bytes();
                bytes.push(b'\n');
                let written = match file.as_mut() {
                    Some(f) => f.write_all(&bytes).and_then(|()| f.sync_data()),
                    None => Err(std::io::Error::other("the file is not open")),
                };
                written.map_err(|e| {
                    // Reopen next time: the handle may be in an unknown state.
                    *file = None;
                    file_err("writing", path)(e)
                })
            }
        }
    }
}
