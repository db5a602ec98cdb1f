//! What a plugin can ask of the host.
//!
//! Plugin code takes `&impl Host` (or `&impl Outbox` for emitters) rather than a trait object.
//! That is deliberate: a method the plugin never calls is never instantiated, so the built
//! component does not import the matching WIT interface, and the host can grant capabilities per
//! plugin by looking at the component's imports.

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the plugin handled.
    Warn,
    /// Something failed.
    Error,
}

/// One row of a lookup table: `(column, value)` pairs in column order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row(pub Vec<(String, String)>);

impl Row {
    /// The value of `column`, if the table has it.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v.as_str())
    }

    /// Every `(column, value)` pair, in column order.
    pub fn columns(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(c, v)| (c.as_str(), v.as_str()))
    }
}

/// The imports every stage may be granted: logging, its configuration and lookup tables.
pub trait Host {
    /// Writes a log line into the host's tracing (`log` grant).
    fn log(&self, level: Level, message: &str);

    /// The configured value for `key` (`config` grant).
    fn config(&self, key: &str) -> Option<String>;

    /// Every configured key, sorted (`config` grant).
    fn config_keys(&self) -> Vec<String>;

    /// The row stored under `key` in `table`; `Err` names a table the host does not have
    /// (`lookup` grant).
    fn lookup(&self, table: &str, key: &str) -> Result<Option<Row>, String>;
}

/// The side effects an emitter may be granted (`outbox` grant).
pub trait Outbox: Host {
    /// Publishes `payload` on an MQTT topic.
    fn publish(&self, topic: &str, payload: &[u8], qos: u8) -> Result<(), String>;

    /// Appends a record to one of the host's streams.
    fn put_record(&self, stream: &str, partition_key: &str, data: &[u8]) -> Result<(), String>;

    /// Sends a notification (for example an SMS to an E.164 number) on a named channel.
    fn notify(&self, channel: &str, target: &str, message: &str) -> Result<(), String>;
}

/// Typed access to configuration values with defaults, for use in a plugin's `new`.
pub trait ConfigExt: Host {
    /// Parses `key` as `T`, or returns `default` when it is not configured.
    fn config_parse<T>(&self, key: &str, default: T) -> Result<T, crate::InitError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        match self.config(key) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e| crate::InitError::config(key, format!("cannot parse {raw:?}: {e}"))),
        }
    }

    /// The value of `key`, or `default`.
    fn config_or(&self, key: &str, default: &str) -> String {
        self.config(key).unwrap_or_else(|| default.to_string())
    }
}

impl<H: Host + ?Sized> ConfigExt for H {}
