//! The per-instance state a plugin's imports act on, and the imports themselves.
//!
//! One `HostState` lives in each plugin instance's `Store`. It holds the plugin's configuration
//! and a shared handle on the lookup tables, collects outbox requests during a call (the caller
//! performs them after the call returns, so a trap mid-batch causes no side effects), and
//! enforces the memory limit.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{config, log, lookup, outbox, types};
use super::stdio::OutputTail;
use super::{Limits, PluginSpec};
use crate::tables::LookupTables;

/// A side effect an emitter asked for during one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxRequest {
    /// Publish on an MQTT topic.
    Publish {
        /// Topic.
        topic: String,
        /// Body.
        payload: Vec<u8>,
        /// QoS 0 or 1.
        qos: u8,
    },
    /// Append to a stream.
    PutRecord {
        /// Stream name.
        stream: String,
        /// Partition key.
        partition_key: String,
        /// Data.
        data: Vec<u8>,
    },
    /// Send a notification.
    Notify {
        /// Channel, e.g. `sms`.
        channel: String,
        /// Recipient.
        target: String,
        /// Text.
        message: String,
    },
}

impl OutboxRequest {
    fn size(&self) -> usize {
        match self {
            OutboxRequest::Publish { topic, payload, .. } => topic.len() + payload.len(),
            OutboxRequest::PutRecord {
                stream,
                partition_key,
                data,
            } => stream.len() + partition_key.len() + data.len(),
            OutboxRequest::Notify {
                channel,
                target,
                message,
            } => channel.len() + target.len() + message.len(),
        }
    }
}

/// Enforces the memory limit and remembers a refusal, so the resulting trap can be reported as
/// a memory-limit fault rather than a generic one.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    max_bytes: usize,
    pub(crate) refused: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = Some(desired);
            return Err(wasmtime::format_err!(
                "memory limit exceeded: wanted {desired} bytes, limit is {} bytes",
                self.max_bytes
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million entries is far beyond any real plugin.
        Ok(desired <= 1_000_000)
    }
}

/// Everything a plugin instance's imports can reach.
pub struct HostState {
    pub(crate) spec: Arc<PluginSpec>,
    pub(crate) version: Arc<str>,
    tables: Arc<LookupTables>,
    pub(crate) outbox: Vec<OutboxRequest>,
    outbox_bytes: usize,
    outbox_refused: usize,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) stderr: OutputTail,
    wasi: WasiCtx,
    resources: ResourceTable,
}

impl HostState {
    pub(crate) fn new(spec: Arc<PluginSpec>, version: Arc<str>, tables: Arc<LookupTables>) -> Self {
        let stderr = OutputTail::default();
        // No preopened directories, no environment, no arguments, no network: the guest's
        // standard library can start and report panics, nothing more.
        let wasi = WasiCtx::builder()
            .stdout(stderr.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits: &Limits = &spec.limits;
        HostState {
            limiter: MemoryLimiter {
                max_bytes: limits.memory_bytes,
                refused: None,
            },
            spec: spec.clone(),
            version,
            tables,
            outbox: Vec::new(),
            outbox_bytes: 0,
            outbox_refused: 0,
            stderr,
            wasi,
            resources: ResourceTable::new(),
        }
    }

    /// Prepares for the next call: forgets the previous call's outbox.
    pub(crate) fn begin_call(&mut self) {
        self.outbox.clear();
        self.outbox_bytes = 0;
        self.outbox_refused = 0;
        self.limiter.refused = None;
    }

    fn push_outbox(&mut self, request: OutboxRequest) -> Result<(), String> {
        let limits = &self.spec.limits;
        let size = request.size();
        if self.outbox.len() >= limits.max_outbox_requests
            || self.outbox_bytes + size > limits.max_outbox_bytes
        {
            self.outbox_refused += 1;
            return Err(format!(
                "outbox full: at most {} requests and {} bytes per batch",
                limits.max_outbox_requests, limits.max_outbox_bytes
            ));
        }
        self.outbox_bytes += size;
        self.outbox.push(request);
        Ok(())
    }

    fn plugin_name(&self) -> &str {
        &self.spec.name
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.resources,
        }
    }
}

impl types::Host for HostState {}

/// Longest guest log line forwarded; longer ones are cut so a plugin cannot flood the logs with
/// one call.
const MAX_LOG_LINE: usize = 4096;

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = self.plugin_name();
        let version = &*self.version;
        match level {
            log::Level::Trace => tracing::trace!(plugin, version, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, version, "{message}"),
            log::Level::Info => tracing::info!(plugin, version, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, version, "{message}"),
            log::Level::Error => tracing::error!(plugin, version, "{message}"),
        }
    }
}

impl config::Host for HostState {
    fn get(&mut self, key: String) -> Option<String> {
        self.spec.params.get(&key).cloned()
    }

    fn keys(&mut self) -> Vec<String> {
        self.spec.params.keys().cloned().collect()
    }
}

impl lookup::Host for HostState {
    fn lookup(&mut self, table: String, key: String) -> Result<Option<lookup::Row>, String> {
        if let Some(allowed) = &self.spec.tables {
            if !allowed.contains(&table) {
                return Err(format!(
                    "table {table:?} is not granted to plugin {} (granted: {})",
                    self.spec.name,
                    allowed.join(", ")
                ));
            }
        }
        self.tables.lookup(&table, &key)
    }
}

impl outbox::Host for HostState {
    fn publish(&mut self, topic: String, payload: Vec<u8>, qos: u8) -> Result<(), String> {
        if qos > 1 {
            return Err(format!("qos {qos} is not supported (0 or 1)"));
        }
        if topic.is_empty() || topic.contains(['+', '#', '\0']) {
            return Err(format!("{topic:?} is not a topic one can publish to"));
        }
        self.push_outbox(OutboxRequest::Publish {
            topic,
            payload,
            qos,
        })
    }

    fn put_record(
        &mut self,
        stream: String,
        partition_key: String,
        data: Vec<u8>,
    ) -> Result<(), String> {
        if partition_key.is_empty() || partition_key.chars().count() > 256 {
            return Err("partition key must be 1 to 256 characters".into());
        }
        self.push_outbox(OutboxRequest::PutRecord {
            stream,
            partition_key,
            data,
        })
    }

    fn notify(&mut self, channel: String, target: String, message: String) -> Result<(), String> {
        if let Some(channels) = &self.spec.channels {
            if !channels.contains(&channel) {
                return Err(format!(
                    "channel {channel:?} is not granted to plugin {} (granted: {})",
                    self.spec.name,
                    channels.join(", ")
                ));
            }
        }
        self.push_outbox(OutboxRequest::Notify {
            channel,
            target,
            message,
        })
    }
}

/// Plugin parameters as configured, sorted by key.
pub type Params = BTreeMap<String, String>;
