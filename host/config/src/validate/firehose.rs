//! `[firehose]`: table schemas and the delivery streams created at start-up.
//!
//! Each `[[firehose.tables]]` and `[[firehose.delivery_streams]]` entry is deserialized on its
//! own, so a type error in one does not hide a mistake in another.

use super::*;

/// What a delivery stream name may be, for messages.
pub(super) const DELIVERY_STREAM_NAME: &str = "1-64 characters of a-z, A-Z, 0-9, `_`, `.`, `-`";

/// Firehose's rule for delivery stream names.
pub(super) fn is_delivery_stream_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// S3's rule for bucket names (the DNS-compatible subset).
fn is_bucket_name(name: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'))
        && edge(name.chars().next())
        && edge(name.chars().last())
}

/// The Hive types a column may have, for messages.
const HIVE_TYPES: &str = "one of `string`, `varchar(N)`, `char(N)`, `tinyint`, `smallint`, \
    `int`, `integer`, `bigint`, `float`, `double`, `boolean`, `timestamp`, `date`, `decimal`, \
    `decimal(P,S)` (any case)";

/// Checks a Hive column type, case-insensitively; the reason when it is not one.
fn hive_type(t: &str) -> Result<(), String> {
    let lower = t.to_ascii_lowercase();
    let simple = [
        "string",
        "tinyint",
        "smallint",
        "int",
        "integer",
        "bigint",
        "float",
        "double",
        "boolean",
        "timestamp",
        "date",
        "decimal",
    ];
    if simple.contains(&lower.as_str()) {
        return Ok(());
    }
    let args = |name: &str| {
        lower
            .strip_prefix(name)
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
            .map(|r| {
                r.split(',')
                    .map(|n| n.trim().parse::<u32>().ok())
                    .collect::<Vec<_>>()
            })
    };
    let length = |name: &str, max: u32| match args(name).as_deref() {
        Some([Some(n)]) if (1..=max).contains(n) => Ok(()),
        Some([Some(n)]) => Err(format!("{name} length {n} is out of range 1..={max}")),
        _ => Err(format!("unknown type {t:?}")),
    };
    if lower.starts_with("varchar") {
        return length("varchar", 65_535);
    }
    if lower.starts_with("char") {
        return length("char", 255);
    }
    if lower.starts_with("decimal") {
        return match args("decimal").as_deref() {
            Some([Some(p), Some(s)]) if (1..=38).contains(p) && s <= p => Ok(()),
            Some([Some(p), Some(s)]) => Err(format!(
                "decimal({p},{s}) is out of range (precision 1..=38, scale 0..=precision)"
            )),
            _ => Err(format!("unknown type {t:?}")),
        };
    }
    Err(format!("unknown type {t:?}"))
}

impl<'i> Ctx<'i> {
    pub(super) fn firehose(
        &mut self,
        streams: &BTreeMap<String, Option<StreamConfig>>,
        plugins: &BTreeMap<String, Option<PluginConfig>>,
    ) -> FirehoseSection {
        let path = KeyPath::root().key("firehose");
        let mut out = FirehoseSection::default();
        let Some(v) = find(self.doc.get_ref(), "firehose").cloned() else {
            return out;
        };
        let Some(section) = v.get_ref().as_table() else {
            self.err(
                &path,
                format!("must be a table, found {}", v.get_ref().type_str()),
                Some("a `[firehose]` table".to_owned()),
            );
            return out;
        };
        let mut raw_tables = Vec::new();
        let mut raw_streams = Vec::new();
        // A table entry that could not be read has no name to check references against.
        let mut tables_read = true;
        for (key, value) in section {
            let key = key.get_ref().to_string();
            let kp = path.key(&key);
            match key.as_str() {
                "tables" => {
                    raw_tables = self.array::<RawFirehoseTable>(&kp, value);
                    let written = value.get_ref().as_array().map_or(0, |a| a.len());
                    tables_read = raw_tables.len() == written;
                }
                "delivery_streams" => raw_streams = self.array::<RawDeliveryStream>(&kp, value),
                "allow_private_endpoints" => {
                    if let Some(b) = self.de::<bool>(value, &kp) {
                        out.allow_private_endpoints = b;
                    }
                }
                "allowed_endpoints" => out.allowed_endpoints = self.allowed_endpoints(&kp, value),
                _ => {
                    let span = self.key_span_of(&kp);
                    self.push(
                        &kp,
                        span,
                        format!("unknown key `{key}`"),
                        Some(
                            "`tables`, `delivery_streams`, `allow_private_endpoints` or `allowed_endpoints`"
                                .to_owned(),
                        ),
                    );
                }
            }
        }
        for (i, t) in raw_tables {
            let p = path.key("tables").index(i);
            // Kept even with mistakes (they are reported), so references to it do not
            // report it again.
            let t = self.table_schema(&p, t, &out.tables);
            out.tables.push(t);
        }
        for (i, d) in raw_streams {
            let p = path.key("delivery_streams").index(i);
            let d = self.delivery_stream(&p, d, &out, tables_read, streams, plugins);
            out.delivery_streams.push(d);
        }
        out
    }

    /// `allowed_endpoints`: each entry parsed on its own, so every bad one is reported.
    fn allowed_endpoints(
        &mut self,
        path: &KeyPath,
        value: &Spanned<DeValue<'i>>,
    ) -> Vec<weir_support::egress::Allowed> {
        let Some(raw) = self.de::<Vec<String>>(value, path) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, entry) in raw.iter().enumerate() {
            match entry.parse::<weir_support::egress::Allowed>() {
                Ok(a) => out.push(a),
                Err(e) => self.err(
                    &path.index(i),
                    e.to_string(),
                    Some(weir_support::egress::ALLOWED_FORMS.to_owned()),
                ),
            }
        }
        out
    }

    /// Each entry of an array of tables on its own, with its index.
    fn array<T: DeserializeOwned>(
        &mut self,
        path: &KeyPath,
        value: &Spanned<DeValue<'i>>,
    ) -> Vec<(usize, T)> {
        let Some(items) = value.get_ref().as_array() else {
            let Some(Segment::Key(key)) = path.0.last() else {
                return Vec::new();
            };
            self.err(
                path,
                format!(
                    "must be an array of tables, found {}",
                    value.get_ref().type_str()
                ),
                Some(format!("[[firehose.{key}]] entries")),
            );
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.de(item, &path.index(i)).map(|t| (i, t)))
            .collect()
    }

    fn table_schema(
        &mut self,
        p: &KeyPath,
        t: RawFirehoseTable,
        earlier: &[TableSchema],
    ) -> TableSchema {
        for (key, v) in [("database", &t.database), ("table", &t.table)] {
            if v.is_empty() || v.contains('.') {
                self.err(
                    &p.key(key),
                    format!("{v:?} is not a valid {key} name"),
                    Some("a non-empty name without `.`".to_owned()),
                );
            }
        }
        let full = format!("{}.{}", t.database, t.table);
        if earlier
            .iter()
            .any(|e| e.database == t.database && e.table == t.table)
        {
            self.err(
                &p.key("table"),
                format!("table `{full}` is declared twice"),
                Some("each DATABASE.TABLE once".to_owned()),
            );
        }
        if t.columns.is_empty() {
            self.err(
                &p.key("columns"),
                format!("table `{full}` has no columns"),
                Some("at least one \"NAME TYPE\" column, e.g. \"speed double\"".to_owned()),
            );
        }
        let mut columns: Vec<(String, String)> = Vec::new();
        for (j, c) in t.columns.iter().enumerate() {
            let cp = p.key("columns").index(j);
            let Some((name, ty)) = c.trim().split_once(char::is_whitespace) else {
                self.err(
                    &cp,
                    format!("column {:?} of table `{full}` has no type", c.trim()),
                    Some("\"NAME TYPE\", e.g. \"speed double\"".to_owned()),
                );
                continue;
            };
            let ty = ty.trim();
            if let Err(reason) = hive_type(ty) {
                self.err(
                    &cp,
                    format!("column `{name}` of table `{full}`: {reason}"),
                    Some(HIVE_TYPES.to_owned()),
                );
            }
            if columns.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                self.err(
                    &cp,
                    format!("column `{name}` of table `{full}` is declared twice"),
                    Some("unique column names (case-insensitive)".to_owned()),
                );
            }
            columns.push((name.to_owned(), ty.to_owned()));
        }
        TableSchema {
            database: t.database,
            table: t.table,
            columns,
        }
    }

    /// An optional integer within `range`, or an error at `path`.
    fn optional_ranged(
        &mut self,
        path: &KeyPath,
        value: Option<u64>,
        range: Range<u64>,
        unit: &str,
    ) -> Option<u32> {
        let v = value?;
        self.ranged(path, Some(v), v, range, unit);
        Some(u32::try_from(v).unwrap_or(u32::MAX))
    }

    /// An optional value that must be one of `names` (exactly as written).
    fn one_of_names(
        &mut self,
        path: &KeyPath,
        value: &Option<String>,
        names: &[&str],
        what: &str,
    ) -> bool {
        match value {
            Some(v) if !names.contains(&v.as_str()) => {
                let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
                self.err(path, format!("unknown {what} {v:?}"), Some(one_of(&names)));
                false
            }
            _ => true,
        }
    }

    fn delivery_stream(
        &mut self,
        p: &KeyPath,
        d: RawDeliveryStream,
        section: &FirehoseSection,
        tables_read: bool,
        streams: &BTreeMap<String, Option<StreamConfig>>,
        plugins: &BTreeMap<String, Option<PluginConfig>>,
    ) -> DeliveryStreamDecl {
        if !is_delivery_stream_name(&d.name) {
            self.err(
                &p.key("name"),
                format!("{:?} is not a valid delivery stream name", d.name),
                Some(DELIVERY_STREAM_NAME.to_owned()),
            );
        }
        if section.delivery_streams.iter().any(|e| e.name == d.name) {
            self.err(
                &p.key("name"),
                format!("delivery stream {:?} is declared twice", d.name),
                Some("unique delivery stream names".to_owned()),
            );
        }
        if !is_bucket_name(&d.bucket) {
            self.err(
                &p.key("bucket"),
                format!("{:?} is not a valid S3 bucket name", d.bucket),
                Some(
                    "3-63 characters of a-z, 0-9, `.`, `-`, starting and ending with a letter or digit"
                        .to_owned(),
                ),
            );
        }
        let buffer_size_mib =
            self.optional_ranged(&p.key("buffer_size_mib"), d.buffer_size_mib, 1..129, " MiB");
        let buffer_interval_s = self.optional_ranged(
            &p.key("buffer_interval_s"),
            d.buffer_interval_s,
            0..901,
            " s",
        );
        let lambda_retries =
            self.optional_ranged(&p.key("lambda_retries"), d.lambda_retries, 0..301, "");
        self.one_of_names(
            &p.key("compression"),
            &d.compression,
            &["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"],
            "compression",
        );
        self.one_of_names(
            &p.key("parquet_compression"),
            &d.parquet_compression,
            &["UNCOMPRESSED", "GZIP", "SNAPPY"],
            "Parquet compression",
        );
        if let Some(s) = &d.source_stream {
            self.declared_one(&p.key("source_stream"), s, streams, "stream");
        }
        if let Some(l) = &d.lambda {
            self.declared_one(&p.key("lambda"), l, plugins, "plugin");
        }
        if d.partition_query.as_deref() == Some("") {
            self.err(&p.key("partition_query"), "must not be empty", None);
        }
        let table = match &d.table {
            None => None,
            Some(t) => match t.split_once('.') {
                Some((db, tb))
                    if section
                        .tables
                        .iter()
                        .any(|s| s.database == db && s.table == tb) =>
                {
                    Some((db.to_owned(), tb.to_owned()))
                }
                // Not reported again when a table entry had a type error.
                Some((db, tb)) if !tables_read => Some((db.to_owned(), tb.to_owned())),
                _ => {
                    let declared: Vec<String> = section
                        .tables
                        .iter()
                        .map(|s| format!("{}.{}", s.database, s.table))
                        .collect();
                    let message = if t.contains('.') {
                        format!("table {t:?} is not declared in `[[firehose.tables]]`")
                    } else {
                        format!("{t:?} is not of the form DATABASE.TABLE")
                    };
                    self.err(&p.key("table"), message, Some(one_of(&declared)));
                    None
                }
            },
        };
        if d.table.is_some() {
            // Firehose: record format conversion takes uncompressed input.
            if let Some(c) = d.compression.as_deref().filter(|c| *c != "UNCOMPRESSED") {
                self.err(
                    &p.key("compression"),
                    format!("compression {c:?} cannot be used with `table` (format conversion)"),
                    Some(
                        "`UNCOMPRESSED` or no `compression` (use `parquet_compression`)".to_owned(),
                    ),
                );
            }
        } else if d.parquet_compression.is_some() {
            self.err(
                &p.key("parquet_compression"),
                "only applies with `table`",
                Some("no `parquet_compression`, or a `table`".to_owned()),
            );
        }
        DeliveryStreamDecl {
            name: d.name,
            bucket: d.bucket,
            prefix: d.prefix,
            error_prefix: d.error_prefix,
            buffer_size_mib,
            buffer_interval_s,
            compression: d.compression,
            source_stream: d.source_stream,
            lambda: d.lambda,
            lambda_retries,
            partition_query: d.partition_query,
            table,
            parquet_compression: d.parquet_compression,
        }
    }
}
