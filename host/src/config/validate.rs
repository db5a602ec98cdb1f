//! From text to [`Config`]: syntax, types (serde), then ranges, files and cross-references.
//!
//! Each section, and each named entry of a section, is deserialized on its own, so a type
//! error in one stream does not hide a mistake in a rule. Positions come from the parsed
//! document's spans, looked up by key path, so semantic errors point at the offending value.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::error::{ConfigError, ConfigErrors, KeyPath, Segment};
use super::schema::*;
use super::*;
use crate::plugins::{Grant, Limits};
use crate::rules::Diagnostic;

const MIB: u64 = 1 << 20;

/// Collects problems and knows how to place them in the file.
struct Ctx<'i> {
    text: &'i str,
    file: PathBuf,
    base: PathBuf,
    doc: Spanned<DeTable<'i>>,
    errors: Vec<ConfigError>,
}

/// Parses and validates a whole file.
pub(super) fn parse(text: &str, file: &Path) -> Result<Config, ConfigErrors> {
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let (line, column) = match e.span() {
                Some(span) => position(text, span.start),
                None => (None, None),
            };
            let (message, expected) = split_expected(e.message());
            return Err(ConfigErrors(vec![ConfigError {
                file: file.to_path_buf(),
                line,
                column,
                path: KeyPath::root(),
                message: format!("invalid TOML: {message}"),
                expected,
            }]));
        }
    };
    let base = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut cx = Ctx {
        text,
        file: file.to_path_buf(),
        base,
        doc,
        errors: Vec::new(),
    };
    let config = cx.config();
    if cx.errors.is_empty() {
        if let Some(config) = config {
            return Ok(config);
        }
    }
    let mut errors = cx.errors;
    // File order; problems without a place last. Stable, so one place keeps its order.
    errors.sort_by_key(|e| (e.line.is_none(), e.line, e.column));
    Err(ConfigErrors(errors))
}

/// 1-based line and column (in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (Option<usize>, Option<usize>) {
    let offset = offset.min(text.len());
    let Some(before) = text.get(..offset) else {
        return (None, None);
    };
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (Some(line), Some(column))
}

/// serde's `..., expected X` into the message and `X`, for the `(expected X)` suffix.
fn split_expected(message: &str) -> (String, Option<String>) {
    let message = message.trim().trim_end_matches('.');
    match message.find(", expected ") {
        Some(i) => {
            let expected = &message[i + ", expected ".len()..];
            // Rust type names mean nothing to someone writing TOML.
            let expected = match expected {
                "u64" | "u32" | "u16" | "u8" | "usize" => "a non-negative integer",
                "i64" | "i32" => "an integer",
                other => other,
            };
            (message[..i].to_owned(), Some(expected.to_owned()))
        }
        None => (message.to_owned(), None),
    }
}

/// The names in `names`, for "expected one of" lists.
fn one_of<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "a declared name (none are declared)".to_owned()
    } else {
        format!("one of {}", names.join(", "))
    }
}

fn find<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

impl<'i> Ctx<'i> {
    /// The span of the value at `path`, or of its deepest ancestor present in the file
    /// (a missing key is reported at the table that should have had it).
    fn span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        let mut span = None;
        let mut table: Option<&DeTable<'i>> = Some(self.doc.get_ref());
        let mut array: Option<&[Spanned<DeValue<'i>>]> = None;
        for seg in &path.0 {
            let next = match (seg, table, array) {
                (Segment::Key(k), Some(t), _) => find(t, k),
                (Segment::Index(i), _, Some(a)) => a.get(*i),
                _ => None,
            };
            let Some(value) = next else { break };
            span = Some(value.span());
            table = value.get_ref().as_table();
            array = value.get_ref().as_array().map(|a| &a[..]);
        }
        span
    }

    /// The span of the last key of `path` itself (not its value), so an unknown key is
    /// reported where it is written, even as part of a `[dotted.header]`.
    fn key_span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        let (Segment::Key(last), parent) = path.0.split_last()? else {
            return None;
        };
        let table = if parent.is_empty() {
            self.doc.get_ref()
        } else {
            let mut value: Option<&Spanned<DeValue<'i>>> = None;
            for seg in parent {
                let next = match (seg, value) {
                    (Segment::Key(k), None) => find(self.doc.get_ref(), k),
                    (Segment::Key(k), Some(v)) => v.get_ref().as_table().and_then(|t| find(t, k)),
                    (Segment::Index(i), Some(v)) => v.get_ref().as_array().and_then(|a| a.get(*i)),
                    (Segment::Index(_), None) => None,
                };
                value = Some(next?);
            }
            value?.get_ref().as_table()?
        };
        table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == last.as_str())
            .map(|(k, _)| k.span())
    }

    fn push(
        &mut self,
        path: &KeyPath,
        span: Option<Range<usize>>,
        message: String,
        expected: Option<String>,
    ) {
        let (line, column) = match span {
            Some(s) => position(self.text, s.start),
            None => (None, None),
        };
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line,
            column,
            path: path.clone(),
            message,
            expected,
        });
    }

    /// A problem with the value at `path`.
    fn err(&mut self, path: &KeyPath, message: impl Into<String>, expected: Option<String>) {
        let span = self.span_of(path);
        self.push(path, span, message.into(), expected);
    }

    /// A diagnostic inside the string at `path` (SQL or a template): placed in the file by
    /// offsetting the diagnostic's line and column from where the string's text starts.
    /// Escapes in basic strings can shift the column; the line is exact.
    fn diag(&mut self, path: &KeyPath, what: &str, d: &Diagnostic) {
        let message = format!(
            "{what}: {} (line {}, column {} of the {what})",
            d.message, d.line, d.column
        );
        let Some(span) = self.span_of(path) else {
            self.push(path, None, message, None);
            return;
        };
        let (Some(line), Some(col)) = position(self.text, span.start) else {
            self.push(path, None, message, None);
            return;
        };
        let rest = self.text.get(span.start..).unwrap_or("");
        let delim = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            3
        } else {
            1
        };
        // A newline right after a triple-quote opener is not part of the string.
        let skips_newline =
            delim == 3 && (rest[3..].starts_with('\n') || rest[3..].starts_with("\r\n"));
        let (d_line, d_col) = (d.line as usize, d.column as usize);
        let (line, column) = if skips_newline {
            (line + d_line, d_col)
        } else if d_line == 1 {
            (line, col + delim + d_col - 1)
        } else {
            (line + d_line - 1, d_col)
        };
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: Some(line),
            column: Some(column),
            path: path.clone(),
            message,
            expected: None,
        });
    }

    /// Deserializes one value, reporting a type error with its full key path.
    fn de<T: DeserializeOwned>(
        &mut self,
        value: &Spanned<DeValue<'i>>,
        path: &KeyPath,
    ) -> Option<T> {
        let de = ValueDeserializer::from(value.clone());
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(v) => Some(v),
            Err(e) => {
                let mut full = path.clone();
                for seg in e.path().iter() {
                    match seg {
                        serde_path_to_error::Segment::Seq { index } => {
                            full.0.push(Segment::Index(*index))
                        }
                        serde_path_to_error::Segment::Map { key } => {
                            full.0.push(Segment::Key(key.clone()))
                        }
                        serde_path_to_error::Segment::Enum { .. }
                        | serde_path_to_error::Segment::Unknown => {}
                    }
                }
                let inner = e.into_inner();
                let (mut message, expected) = split_expected(inner.message());
                // Name the unknown key in the path too, so the path is the key to delete.
                if let Some(name) = message
                    .strip_prefix("unknown field `")
                    .and_then(|r| r.split('`').next())
                {
                    if full.0.last() != Some(&Segment::Key(name.to_owned())) {
                        full.0.push(Segment::Key(name.to_owned()));
                    }
                    message = format!("unknown key `{name}`");
                }
                let span = if message.starts_with("unknown key") {
                    self.key_span_of(&full).or_else(|| inner.span())
                } else {
                    inner.span().or_else(|| self.span_of(&full))
                };
                self.push(&full, span, message, expected);
                None
            }
        }
    }

    /// A top-level table deserialized as a whole; absent means its defaults.
    fn section<T: DeserializeOwned + Default>(&mut self, key: &str) -> Option<T> {
        let root = KeyPath::root();
        match find(self.doc.get_ref(), key).cloned() {
            None => Some(T::default()),
            Some(v) => self.de(&v, &root.key(key)),
        }
    }

    /// A top-level table of named entries, each deserialized on its own. `None` entries
    /// failed and were reported.
    fn entries<T: DeserializeOwned>(&mut self, key: &str) -> BTreeMap<String, Option<T>> {
        let path = KeyPath::root().key(key);
        let mut out = BTreeMap::new();
        let Some(v) = find(self.doc.get_ref(), key).cloned() else {
            return out;
        };
        let Some(table) = v.get_ref().as_table() else {
            self.err(
                &path,
                format!("must be a table, found {}", v.get_ref().type_str()),
                Some(format!("[{key}.NAME] tables")),
            );
            return out;
        };
        for (name, value) in table {
            let name = name.get_ref().to_string();
            let parsed = self.de(value, &path.key(&name));
            out.insert(name, parsed);
        }
        out
    }

    /// A path relative to the configuration file's folder.
    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    /// An existing file, or an error at `path`.
    fn existing_file(&mut self, path: &KeyPath, p: &str) -> PathBuf {
        let resolved = self.resolve(p);
        if !resolved.is_file() {
            self.err(
                path,
                format!("file {} does not exist", resolved.display()),
                Some(
                    "an existing file (relative paths start at the configuration file's folder)"
                        .to_owned(),
                ),
            );
        }
        resolved
    }

    /// `value` within `range`, or an error at `path`.
    fn ranged(
        &mut self,
        path: &KeyPath,
        value: Option<u64>,
        default: u64,
        range: Range<u64>,
        unit: &str,
    ) -> u64 {
        let v = value.unwrap_or(default);
        if !range.contains(&v) {
            self.err(
                path,
                format!("{v} is out of range"),
                Some(format!("{}..={}{unit}", range.start, range.end - 1)),
            );
        }
        v
    }

    fn listen(&mut self, path: &KeyPath, value: Option<String>, default: &str) -> String {
        let v = value.unwrap_or_else(|| default.to_owned());
        let ok = v
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !ok {
            self.err(
                path,
                format!("{v:?} is not an address to listen on"),
                Some("HOST:PORT, e.g. \"127.0.0.1:1883\"".to_owned()),
            );
        }
        v
    }

    fn config(&mut self) -> Option<Config> {
        let root = KeyPath::root();
        let unknown: Vec<String> = self
            .doc
            .get_ref()
            .iter()
            .map(|(k, _)| k.get_ref().to_string())
            .filter(|k| !TOP_LEVEL_KEYS.contains(&k.as_str()))
            .collect();
        for k in unknown {
            let expected = TOP_LEVEL_KEYS
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let path = root.key(&k);
            let span = self.key_span_of(&path);
            self.push(
                &path,
                span,
                format!("unknown key `{k}`"),
                Some(format!("one of {expected}")),
            );
        }

        let broker = self.section::<RawBroker>("broker").map(|b| self.broker(b));
        let api = self.section::<RawApi>("api").map(|a| self.api(a));
        let storage = self
            .section::<RawStorage>("storage")
            .map(|s| self.storage(s));
        let streams = self.streams();
        let tables = self.tables();
        let notify = self.notify();
        let plugins = self.plugins(&tables, &notify);
        let rules = self.rules(&streams, &tables, &plugins);
        Some(Config {
            file: self.file.clone(),
            broker: broker??,
            api: api?,
            storage: storage?,
            streams: streams
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<_>>()?,
            tables: tables
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<_>>()?,
            plugins: plugins
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<_>>()?,
            notify: notify
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<_>>()?,
            rules: rules
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect::<Option<_>>()?,
        })
    }

    fn broker(&mut self, b: RawBroker) -> Option<Broker> {
        let path = KeyPath::root().key("broker");
        if let Some(ext) = b.external {
            let embedded: Vec<&str> = [
                ("listen", b.listen.is_some()),
                ("listen_v5", b.listen_v5.is_some()),
                ("auth", b.auth.is_some()),
                ("tls", b.tls.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, set)| set.then_some(k))
            .collect();
            if !embedded.is_empty() {
                let first = path.key(embedded[0]);
                self.err(
                    &first,
                    format!(
                        "both an embedded broker ({}) and `broker.external` are configured",
                        embedded.join(", ")
                    ),
                    Some(
                        "either the embedded broker's keys or `[broker.external]`, not both"
                            .to_owned(),
                    ),
                );
            }
            return self
                .external(ext, &path.key("external"))
                .map(Broker::External);
        }
        let listen = self.listen(&path.key("listen"), b.listen, "127.0.0.1:1883");
        let listen_v5 = b
            .listen_v5
            .map(|l| self.listen(&path.key("listen_v5"), Some(l), ""));
        if listen_v5.as_deref() == Some(listen.as_str()) {
            self.err(
                &path.key("listen_v5"),
                format!("{listen:?} is already the MQTT 3.1.1 listener's address"),
                Some("a different address (each listener speaks one protocol version)".to_owned()),
            );
        }
        let tls = b.tls.map(|t| TlsFiles {
            cert_file: self.existing_file(&path.key("tls").key("cert_file"), &t.cert_file),
            key_file: self.existing_file(&path.key("tls").key("key_file"), &t.key_file),
        });
        Some(Broker::Embedded(EmbeddedBroker {
            listen,
            listen_v5,
            users: b.auth.map(|a| a.users).unwrap_or_default(),
            tls,
        }))
    }

    fn external(&mut self, e: RawExternal, path: &KeyPath) -> Option<ExternalBroker> {
        let url_path = path.key("url");
        let (tls, rest) = if let Some(r) = e.url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = e.url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            self.err(
                &url_path,
                format!("{:?} is not an MQTT URL", e.url),
                Some("mqtt://HOST[:PORT] or mqtts://HOST[:PORT]".to_owned()),
            );
            return None;
        };
        let rest = rest.trim_end_matches('/');
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u16>() {
                Ok(p) => (h.to_owned(), p),
                Err(_) => {
                    self.err(
                        &url_path,
                        format!("{p:?} is not a port"),
                        Some("a port number 0..=65535".to_owned()),
                    );
                    return None;
                }
            },
            None => (rest.to_owned(), default_port),
        };
        if host.is_empty() || host.contains('/') {
            self.err(
                &url_path,
                format!("{:?} has no host, or has a path", e.url),
                Some("mqtt://HOST[:PORT]".to_owned()),
            );
        }
        let share_group = e.share_group.unwrap_or_else(|| "weir".to_owned());
        if share_group.is_empty() || share_group.contains(['/', '+', '#']) {
            self.err(
                &path.key("share_group"),
                format!("{share_group:?} is not a share group name"),
                Some("a non-empty name without `/`, `+` or `#`".to_owned()),
            );
        }
        let ca_file = e
            .ca_file
            .map(|f| self.existing_file(&path.key("ca_file"), &f));
        Some(ExternalBroker {
            url: e.url,
            tls,
            host,
            port,
            client_id: e.client_id.unwrap_or_else(|| "weir".to_owned()),
            share_group,
            username: e.username,
            password: e.password,
            ca_file,
        })
    }

    fn api(&mut self, a: RawApi) -> ApiConfig {
        let path = KeyPath::root().key("api");
        ApiConfig {
            listen: self.listen(&path.key("listen"), a.listen, "127.0.0.1:4567"),
            verify_keys: a.verify_keys.unwrap_or_default(),
        }
    }

    fn storage(&mut self, s: RawStorage) -> StorageConfig {
        let path = KeyPath::root().key("storage");
        let dir = self.resolve(s.dir.as_deref().unwrap_or("weir-data"));
        let fsync = match s.fsync.unwrap_or(RawFsync::Interval) {
            RawFsync::Always => FsyncPolicy::Always,
            RawFsync::Never => FsyncPolicy::Never,
            RawFsync::Interval => {
                let ms = self.ranged(
                    &path.key("fsync_interval_ms"),
                    s.fsync_interval_ms,
                    50,
                    1..60_001,
                    " ms",
                );
                FsyncPolicy::Interval(Duration::from_millis(ms))
            }
        };
        if s.fsync_interval_ms.is_some() && !matches!(fsync, FsyncPolicy::Interval(_)) {
            self.err(
                &path.key("fsync_interval_ms"),
                "only applies when `fsync = \"interval\"`",
                Some("no `fsync_interval_ms`, or `fsync = \"interval\"`".to_owned()),
            );
        }
        StorageConfig { dir, fsync }
    }

    fn streams(&mut self) -> BTreeMap<String, Option<StreamConfig>> {
        let path = KeyPath::root().key("streams");
        let raw = self.entries::<RawStream>("streams");
        raw.into_iter()
            .map(|(name, s)| {
                let p = path.key(&name);
                let name_ok = (1..=128).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
                if !name_ok {
                    self.err(
                        &p,
                        format!("{name:?} is not a valid stream name"),
                        Some("1-128 characters of a-z, A-Z, 0-9, `_`, `.`, `-`".to_owned()),
                    );
                }
                let s = s.map(|s| StreamConfig {
                    shards: self.ranged(&p.key("shards"), s.shards, 1, 1..501, "") as u32,
                    retention_hours: self.ranged(
                        &p.key("retention_hours"),
                        s.retention_hours,
                        24,
                        24..8761,
                        " hours",
                    ) as u32,
                });
                (name, s)
            })
            .collect()
    }

    fn tables(&mut self) -> BTreeMap<String, Option<TableConfig>> {
        let path = KeyPath::root().key("tables");
        let raw = self.entries::<RawTable>("tables");
        raw.into_iter()
            .map(|(name, t)| {
                let p = path.key(&name);
                let t = t.map(|t| {
                    let file = t.file.map(|f| self.existing_file(&p.key("file"), &f));
                    if let Some(file) = file.as_deref().filter(|f| f.is_file()) {
                        self.check_key_column(&p, file, &t.key);
                    }
                    TableConfig { file, key: t.key }
                });
                (name, t)
            })
            .collect()
    }

    /// The table's CSV header must have the key column; only the header is read, the host
    /// loads the rows.
    fn check_key_column(&mut self, path: &KeyPath, file: &Path, key: &str) {
        let header = csv::Reader::from_path(file).and_then(|mut r| r.headers().cloned());
        match header {
            Ok(h) if h.iter().any(|c| c == key) => {}
            Ok(h) => {
                let cols: Vec<String> = h.iter().map(str::to_owned).collect();
                self.err(
                    &path.key("key"),
                    format!(
                        "column {key:?} is not in the header (line 1) of {}",
                        file.display()
                    ),
                    Some(one_of(&cols)),
                );
            }
            Err(e) => self.err(
                &path.key("file"),
                format!("cannot read the CSV header of {}: {e}", file.display()),
                None,
            ),
        }
    }

    fn notify(&mut self) -> BTreeMap<String, Option<NotifyChannel>> {
        let path = KeyPath::root().key("notify");
        let raw = self.entries::<RawNotify>("notify");
        raw.into_iter()
            .map(|(name, n)| {
                let p = path.key(&name);
                let n = n.and_then(|n| match (n.kind, n.path) {
                    (RawNotifyKind::Console, None) => Some(NotifyChannel::Console),
                    (RawNotifyKind::Console, Some(_)) => {
                        self.err(
                            &p.key("path"),
                            "a console channel has no `path`",
                            Some("no `path`, or `kind = \"file\"`".to_owned()),
                        );
                        None
                    }
                    (RawNotifyKind::File, Some(f)) => Some(NotifyChannel::File {
                        path: self.resolve(&f),
                    }),
                    (RawNotifyKind::File, None) => {
                        self.err(
                            &p,
                            "missing key `path`",
                            Some("`path` for `kind = \"file\"`".to_owned()),
                        );
                        None
                    }
                });
                (name, n)
            })
            .collect()
    }

    fn plugins(
        &mut self,
        tables: &BTreeMap<String, Option<TableConfig>>,
        notify: &BTreeMap<String, Option<NotifyChannel>>,
    ) -> BTreeMap<String, Option<PluginConfig>> {
        let path = KeyPath::root().key("plugins");
        let raw = self.entries::<RawPlugin>("plugins");
        raw.into_iter()
            .map(|(name, pl)| {
                let p = path.key(&name);
                let pl = pl.map(|pl| self.plugin(&name, &p, pl, tables, notify));
                (name, pl.flatten())
            })
            .collect()
    }

    fn plugin(
        &mut self,
        name: &str,
        p: &KeyPath,
        pl: RawPlugin,
        tables: &BTreeMap<String, Option<TableConfig>>,
        notify: &BTreeMap<String, Option<NotifyChannel>>,
    ) -> Option<PluginConfig> {
        let mut ok = true;
        let mut grants = Vec::new();
        for (i, g) in pl.grants.iter().enumerate() {
            match Grant::from_str(g) {
                Ok(g) => grants.push(g),
                Err(_) => {
                    let names: Vec<String> =
                        Grant::ALL.iter().map(|g| g.name().to_owned()).collect();
                    self.err(
                        &p.key("grants").index(i),
                        format!("unknown grant {g:?}"),
                        Some(one_of(&names)),
                    );
                    ok = false;
                }
            }
        }
        let mut params = BTreeMap::new();
        for (k, v) in pl.params {
            let s = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    self.err(
                        &p.key("params").key(&k),
                        format!("a parameter cannot be {}", other.type_str()),
                        Some("a string, number or boolean".to_owned()),
                    );
                    ok = false;
                    continue;
                }
            };
            params.insert(k, s);
        }
        let defaults = Limits::default();
        let memory_bytes = self.ranged(
            &p.key("memory_bytes"),
            pl.memory_bytes,
            defaults.memory_bytes as u64,
            MIB..4096 * MIB + 1,
            " bytes",
        );
        let timeout_ms = self.ranged(
            &p.key("timeout_ms"),
            pl.timeout_ms,
            defaults.call_timeout.as_millis() as u64,
            1..600_001,
            " ms",
        );
        ok &= self.declared(&p.key("tables"), pl.tables.as_deref(), tables, "table");
        ok &= self.declared(
            &p.key("channels"),
            pl.channels.as_deref(),
            notify,
            "notify channel",
        );
        let limits = Limits {
            memory_bytes: usize::try_from(memory_bytes).unwrap_or(usize::MAX),
            call_timeout: Duration::from_millis(timeout_ms),
            ..defaults
        };
        let spec = crate::plugins::PluginSpec {
            name: name.to_owned(),
            grants,
            params,
            limits,
            tables: pl.tables,
            channels: pl.channels,
        };
        ok.then(|| PluginConfig {
            path: self.resolve(&pl.path),
            spec,
        })
    }

    /// Each name in `names` must be a key of `declared`; reports each that is not.
    fn declared<T>(
        &mut self,
        path: &KeyPath,
        names: Option<&[String]>,
        declared: &BTreeMap<String, T>,
        what: &str,
    ) -> bool {
        let mut ok = true;
        for (i, n) in names.unwrap_or_default().iter().enumerate() {
            ok &= self.declared_one(&path.index(i), n, declared, what);
        }
        ok
    }

    fn declared_one<T>(
        &mut self,
        path: &KeyPath,
        name: &str,
        declared: &BTreeMap<String, T>,
        what: &str,
    ) -> bool {
        if declared.contains_key(name) {
            return true;
        }
        self.err(
            path,
            format!("{what} {name:?} is not declared"),
            Some(one_of(declared.keys())),
        );
        false
    }

    fn rules(
        &mut self,
        streams: &BTreeMap<String, Option<StreamConfig>>,
        tables: &BTreeMap<String, Option<TableConfig>>,
        plugins: &BTreeMap<String, Option<PluginConfig>>,
    ) -> BTreeMap<String, Option<RuleConfig>> {
        let path = KeyPath::root().key("rules");
        let raw = self.entries::<RawRule>("rules");
        let refs = Refs {
            streams,
            tables,
            plugins,
        };
        raw.into_iter()
            .map(|(name, r)| {
                let p = path.key(&name);
                let r = r.and_then(|r| self.rule(&p, r, &refs));
                (name, r)
            })
            .collect()
    }

    fn rule(&mut self, p: &KeyPath, r: RawRule, refs: &Refs<'_>) -> Option<RuleConfig> {
        let rule = match crate::rules::Rule::compile(&r.sql) {
            Ok(rule) => Some(rule),
            Err(diags) => {
                for d in &diags {
                    self.diag(&p.key("sql"), "SQL", d);
                }
                None
            }
        };
        let mut actions = Vec::new();
        let mut ok = true;
        for (i, a) in r.actions.into_iter().enumerate() {
            match self.action(&p.key("actions").index(i), a, refs) {
                Some(a) => actions.push(a),
                None => ok = false,
            }
        }
        let error_action = match r.error_action {
            None => None,
            Some(a) => {
                let a = self.action(&p.key("error_action"), a, refs);
                ok &= a.is_some();
                a
            }
        };
        let rule = rule?;
        ok.then_some(RuleConfig {
            rule,
            description: r.description,
            enabled: r.enabled.unwrap_or(true),
            actions,
            error_action,
        })
    }

    fn template(&mut self, path: &KeyPath, text: &str) -> Option<Template> {
        match Template::parse(text) {
            Ok(t) => Some(t),
            Err(diags) => {
                for d in &diags {
                    self.diag(path, "template", d);
                }
                None
            }
        }
    }

    /// A required per-kind key.
    fn required(
        &mut self,
        path: &KeyPath,
        kind: RawActionKind,
        key: &str,
        value: Option<String>,
    ) -> Option<String> {
        if value.is_none() {
            self.err(
                path,
                format!("a `{}` action needs `{key}`", kind.name()),
                Some(format!("`{key}`")),
            );
        }
        value
    }

    fn action(&mut self, p: &KeyPath, a: RawAction, refs: &Refs<'_>) -> Option<ActionConfig> {
        use RawActionKind as K;
        let kind = a.kind;
        // Keys that belong to other kinds are mistakes, not settings to ignore.
        let fields: [(&str, bool, &[K]); 13] = [
            ("stream", a.stream.is_some(), &[K::Kinesis]),
            ("partition_key", a.partition_key.is_some(), &[K::Kinesis]),
            ("endpoint", a.endpoint.is_some(), &[K::Kinesis]),
            ("root", a.root.is_some(), &[K::Firehose]),
            ("prefix", a.prefix.is_some(), &[K::Firehose]),
            ("error_prefix", a.error_prefix.is_some(), &[K::Firehose]),
            ("buffer_bytes", a.buffer_bytes.is_some(), &[K::Firehose]),
            (
                "buffer_interval_ms",
                a.buffer_interval_ms.is_some(),
                &[K::Firehose],
            ),
            ("topic", a.topic.is_some(), &[K::Republish]),
            ("qos", a.qos.is_some(), &[K::Republish]),
            ("table", a.table.is_some(), &[K::Table]),
            ("key", a.key.is_some(), &[K::Table]),
            ("emitter", a.emitter.is_some(), &[K::Plugin]),
        ];
        let mut ok = true;
        for (key, set, kinds) in fields {
            if set && !kinds.contains(&kind) {
                self.err(
                    &p.key(key),
                    format!("`{key}` is not a key of a `{}` action", kind.name()),
                    Some(format!("a key of `kind = \"{}\"`", kinds[0].name())),
                );
                ok = false;
            }
        }
        let declared_plugins = refs.plugins;
        for (i, t) in a.transformers.iter().enumerate() {
            ok &= self.declared_one(
                &p.key("transformers").index(i),
                t,
                declared_plugins,
                "plugin",
            );
        }
        for (i, f) in a.filters.iter().enumerate() {
            ok &= self.declared_one(&p.key("filters").index(i), f, declared_plugins, "plugin");
        }
        let buffer = match a.buffer {
            None => BufferConfig::default(),
            Some(b) => {
                let bp = p.key("buffer");
                let d = BufferConfig::default();
                BufferConfig {
                    max_records: self.ranged(
                        &bp.key("max_records"),
                        b.max_records,
                        d.max_records,
                        1..100_001,
                        "",
                    ),
                    max_bytes: self.ranged(
                        &bp.key("max_bytes"),
                        b.max_bytes,
                        d.max_bytes,
                        1..128 * MIB + 1,
                        " bytes",
                    ),
                    max_age: Duration::from_millis(self.ranged(
                        &bp.key("max_age_ms"),
                        b.max_age_ms,
                        d.max_age.as_millis() as u64,
                        0..900_001,
                        " ms",
                    )),
                }
            }
        };
        let kind = match kind {
            K::Kinesis => {
                let stream = self.required(p, kind, "stream", a.stream);
                let pk = self.required(p, kind, "partition_key", a.partition_key);
                // A remote endpoint's streams are not ours to check.
                if let (Some(s), None) = (&stream, &a.endpoint) {
                    ok &= self.declared_one(&p.key("stream"), s, refs.streams, "stream");
                }
                if let Some(e) = &a.endpoint {
                    if !(e.starts_with("http://") || e.starts_with("https://")) {
                        self.err(
                            &p.key("endpoint"),
                            format!("{e:?} is not an HTTP URL"),
                            Some("http://HOST[:PORT] or https://...".to_owned()),
                        );
                        ok = false;
                    }
                }
                let pk = pk.and_then(|pk| self.template(&p.key("partition_key"), &pk));
                match (stream, pk) {
                    (Some(stream), Some(partition_key)) => Some(ActionKind::Kinesis {
                        stream,
                        partition_key,
                        endpoint: a.endpoint,
                    }),
                    _ => None,
                }
            }
            K::Firehose => {
                let root = self
                    .required(p, kind, "root", a.root)
                    .map(|r| self.resolve(&r));
                let buffer_bytes = self.ranged(
                    &p.key("buffer_bytes"),
                    a.buffer_bytes,
                    5 * MIB,
                    1..128 * MIB + 1,
                    " bytes",
                );
                let interval = self.ranged(
                    &p.key("buffer_interval_ms"),
                    a.buffer_interval_ms,
                    300_000,
                    0..900_001,
                    " ms",
                );
                root.map(|root| ActionKind::Firehose {
                    root,
                    prefix: a.prefix.unwrap_or_default(),
                    error_prefix: a
                        .error_prefix
                        .unwrap_or_else(|| "errors/!{firehose:error-output-type}/".to_owned()),
                    buffer_bytes,
                    buffer_interval: Duration::from_millis(interval),
                })
            }
            K::Republish => {
                let qos = self.ranged(&p.key("qos"), a.qos, 0, 0..2, "");
                let topic = self.required(p, kind, "topic", a.topic);
                let topic = topic.and_then(|t| self.template(&p.key("topic"), &t));
                topic.map(|topic| ActionKind::Republish {
                    topic,
                    qos: qos as u8,
                })
            }
            K::Table => {
                let table = self.required(p, kind, "table", a.table);
                let key = self.required(p, kind, "key", a.key);
                if let Some(t) = &table {
                    ok &= self.declared_one(&p.key("table"), t, refs.tables, "table");
                }
                let key = key.and_then(|k| self.template(&p.key("key"), &k));
                match (table, key) {
                    (Some(table), Some(key)) => Some(ActionKind::Table { table, key }),
                    _ => None,
                }
            }
            K::Plugin => {
                let emitter = self.required(p, kind, "emitter", a.emitter);
                if let Some(e) = &emitter {
                    ok &= self.declared_one(&p.key("emitter"), e, declared_plugins, "plugin");
                }
                emitter.map(|emitter| ActionKind::Plugin { emitter })
            }
        };
        let kind = kind?;
        ok.then_some(ActionConfig {
            kind,
            transformers: a.transformers,
            filters: a.filters,
            buffer,
        })
    }
}

/// What actions may refer to.
struct Refs<'a> {
    streams: &'a BTreeMap<String, Option<StreamConfig>>,
    tables: &'a BTreeMap<String, Option<TableConfig>>,
    plugins: &'a BTreeMap<String, Option<PluginConfig>>,
}
