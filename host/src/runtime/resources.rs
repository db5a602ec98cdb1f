//! What every pipeline of a host shares, across configuration reloads: the streams, the durable
//! tables, the notification channels, the MQTT publisher, the plugins and the counters.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::metrics::Metrics;
use weir_config::NotifyChannel;
use weir_delivery::KvTable;
use weir_plugins::tables::LookupTables;
use weir_plugins::PluginRegistry;
use weir_streams::Streams;

/// Publishes on the MQTT side: the embedded broker's local link, or the external broker's
/// client. Used by `republish` actions and by emitters' `publish` outbox requests.
pub trait Publisher: Send + Sync {
    /// Publishes one message; `Err` names what went wrong.
    fn publish(&self, topic: &str, payload: Bytes, qos: u8) -> Result<(), String>;
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
    kv: Mutex<BTreeMap<String, Arc<Mutex<KvTable>>>>,
}

use weir_support::lock;

impl Resources {
    /// Bundles the shared handles.
    pub fn new(
        streams: Streams,
        lookup: Arc<LookupTables>,
        registry: Arc<PluginRegistry>,
        metrics: Arc<Metrics>,
        publisher: Arc<dyn Publisher>,
        tables_dir: PathBuf,
    ) -> Self {
        Resources {
            streams,
            lookup,
            registry,
            metrics,
            publisher,
            notifiers: Notifiers::default(),
            tables_dir,
            kv: Mutex::new(BTreeMap::new()),
        }
    }

    /// The durable table `name`, opened (and recovered) on first use and then shared.
    pub fn kv_table(&self, name: &str) -> Result<Arc<Mutex<KvTable>>, String> {
        let mut kv = lock(&self.kv);
        if let Some(t) = kv.get(name) {
            return Ok(t.clone());
        }
        let t = KvTable::open(&self.tables_dir, name)
            .map_err(|e| format!("opening table {name:?}: {e}"))?;
        let t = Arc::new(Mutex::new(t));
        kv.insert(name.to_owned(), t.clone());
        Ok(t)
    }

    /// Syncs every open durable table (shutdown).
    pub fn sync_tables(&self) -> Result<(), String> {
        for (name, t) in lock(&self.kv).iter() {
            lock(t)
                .sync()
                .map_err(|e| format!("syncing table {name:?}: {e}"))?;
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
    pub fn notify(&self, channel: &str, target: &str, message: &str) -> Result<(), String> {
        let mut map = lock(&self.channels);
        let Some(ch) = map.get_mut(channel) else {
            return Err(format!("notification channel {channel:?} is not declared"));
        };
        match ch {
            Channel::Console => {
                println!("notify [{channel}] to {target}: {message}");
                Ok(())
            }
            Channel::File { path, file } => {
                if file.is_none() {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                    }
                    *file = Some(
                        OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&*path)
                            .map_err(|e| format!("opening {}: {e}", path.display()))?,
                    );
                }
                let line = serde_json::json!({
                    "channel": channel,
                    "target": target,
                    "message": message,
                    "sent_ms": chrono::Utc::now().timestamp_millis(),
                });
                let f = file.as_mut().ok_or("notification file is not open")?;
                let mut bytes = line.to_string().into_bytes();
                bytes.push(b'\n');
                f.write_all(&bytes)
                    .and_then(|()| f.sync_data())
                    .map_err(|e| {
                        // Reopen next time: the handle may be in an unknown state.
                        let msg = format!("writing {}: {e}", path.display());
                        *file = None;
                        msg
                    })
            }
        }
    }
}
