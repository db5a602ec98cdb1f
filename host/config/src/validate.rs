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
use crate::{Grant, PluginSpec, DEFAULT_CALL_TIMEOUT, DEFAULT_MEMORY_BYTES};
use weir_rules::{Diagnostic, Template};

mod firehose;
mod rules;
mod sections;
#[cfg(test)]
pub(crate) use sections::default_client_id as sections_default_client_id;

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

    /// How many problems were reported so far (a section checks whether it added any).
    fn error_count(&self) -> usize {
        self.errors.len()
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
}
