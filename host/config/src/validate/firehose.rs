//! `[firehose]`: table schemas and the delivery streams created at start-up.
//!
//! Each `[[firehose.tables]]` and `[[firehose.delivery_streams]]` entry is deserialized on its
//! own, so a type error in one does not hide a mistake in another.

use super::*;

use weir_firehose_model::{
    is_bucket_name, HiveType, ParquetCompression, BUCKET_NAME_RULE, BUFFER_INTERVAL_S,
    BUFFER_SIZE_MIB, HIVE_TYPES, LAMBDA_RETRIES, TABLES_SECTION,
};

/// Firehose's rule for delivery stream names.
pub(super) use weir_firehose_model::is_delivery_stream_name;
/// What a delivery stream name may be, for messages.
pub(super) use weir_firehose_model::DELIVERY_STREAM_NAME_RULE as DELIVERY_STREAM_NAME;

/// `lo..=hi` as the half-open range [`Ctx::ranged`] takes.
fn range_of(b: weir_firehose_model::Bounds) -> Range<u64> {
    u64::from(b.min)..u64::from(b.max) + 1
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
        let columns = self.table_columns(p, &full, &t.columns);
        TableSchema {
            database: t.database,
            table: t.table,
            columns,
        }
    }

    /// A table's `"NAME TYPE"` columns: each with a type (one `HiveType::parse` takes, the
    /// parser the Parquet writer uses) and a name of its own, case-insensitively.
    fn table_columns(&mut self, p: &KeyPath, full: &str, raw: &[String]) -> Vec<(String, String)> {
        let mut columns: Vec<(String, String)> = Vec::new();
        for (j, c) in raw.iter().enumerate() {
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
            if let Err(reason) = HiveType::parse(ty) {
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
        columns
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
        self.delivery_stream_names(p, &d, section);
        let buffer_size_mib = self.optional_ranged(
            &p.key("buffer_size_mib"),
            d.buffer_size_mib,
            range_of(BUFFER_SIZE_MIB),
            " MiB",
        );
        let buffer_interval_s = self.optional_ranged(
            &p.key("buffer_interval_s"),
            d.buffer_interval_s,
            range_of(BUFFER_INTERVAL_S),
            " s",
        );
        let lambda_retries = self.optional_ranged(
            &p.key("lambda_retries"),
            d.lambda_retries,
            range_of(LAMBDA_RETRIES),
            "",
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
        let table = self.conversion_table(p, d.table.as_deref(), section, tables_read);
        self.compressions(p, &d);
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

    /// The delivery stream's name (Firehose's rule, unique in the file) and its bucket's (S3's).
    fn delivery_stream_names(
        &mut self,
        p: &KeyPath,
        d: &RawDeliveryStream,
        section: &FirehoseSection,
    ) {
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
                Some(BUCKET_NAME_RULE.to_owned()),
            );
        }
    }

    /// `table`: `DATABASE.TABLE` of a `[[firehose.tables]]` entry.
    fn conversion_table(
        &mut self,
        p: &KeyPath,
        table: Option<&str>,
        section: &FirehoseSection,
        tables_read: bool,
    ) -> Option<(String, String)> {
        let t = table?;
        match t.split_once('.') {
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
                    format!("table {t:?} is not declared in `{TABLES_SECTION}`")
                } else {
                    format!("{t:?} is not of the form DATABASE.TABLE")
                };
                self.err(&p.key("table"), message, Some(one_of(&declared)));
                None
            }
        }
    }

    /// `compression` and `parquet_compression`: Firehose's names, and the one that applies
    /// (format conversion takes uncompressed input and compresses its Parquet pages).
    fn compressions(&mut self, p: &KeyPath, d: &RawDeliveryStream) {
        self.one_of_names(
            &p.key("compression"),
            &d.compression,
            &weir_firehose_model::Compression::NAMES,
            "compression",
        );
        self.one_of_names(
            &p.key("parquet_compression"),
            &d.parquet_compression,
            &ParquetCompression::NAMES,
            "Parquet compression",
        );
        if d.table.is_some() {
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
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    const F: &str = "weir.toml";

    /// A delivery stream with `extra` settings, and a table with `columns`.
    fn config(extra: &str, columns: &str) -> String {
        format!(
            "[[firehose.tables]]\ndatabase = \"d\"\ntable = \"t\"\ncolumns = [{columns}]\n\n\
             [[firehose.delivery_streams]]\nname = \"s\"\nbucket = \"bucket\"\n{extra}\n"
        )
    }

    fn errors(text: &str) -> Vec<String> {
        match Config::parse(text, F) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn buffering_bounds_hold_at_their_edges() {
        for ok in [
            "buffer_size_mib = 1",
            "buffer_size_mib = 128",
            "buffer_interval_s = 0",
            "buffer_interval_s = 900",
        ] {
            assert_eq!(
                errors(&config(ok, "\"c int\"")),
                Vec::<String>::new(),
                "{ok}"
            );
        }
        for (bad, expected) in [
            (
                "buffer_size_mib = 0",
                "0 is out of range (expected 1..=128 MiB)",
            ),
            (
                "buffer_size_mib = 129",
                "129 is out of range (expected 1..=128 MiB)",
            ),
            (
                "buffer_interval_s = 901",
                "901 is out of range (expected 0..=900 s)",
            ),
        ] {
            let e = errors(&config(bad, "\"c int\""));
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(e[0].ends_with(expected), "{bad}: {}", e[0]);
        }
    }

    #[test]
    fn a_firehose_rule_action_buffers_within_900_s_and_128_mib() {
        let action = |setting: &str| {
            format!(
                "[rules.r]\nsql = \"SELECT * FROM 'a/b'\"\n\n[[rules.r.actions]]\nkind = \"firehose\"\nroot = \"out\"\n{setting}\n"
            )
        };
        for ok in [
            "buffer_interval_ms = 0",
            "buffer_interval_ms = 900000",
            "buffer_bytes = 1",
            "buffer_bytes = 134217728",
        ] {
            assert_eq!(errors(&action(ok)), Vec::<String>::new(), "{ok}");
        }
        for (bad, expected) in [
            (
                "buffer_interval_ms = 900001",
                "900001 is out of range (expected 0..=900000 ms)",
            ),
            (
                "buffer_bytes = 0",
                "0 is out of range (expected 1..=134217728 bytes)",
            ),
            (
                "buffer_bytes = 134217729",
                "134217729 is out of range (expected 1..=134217728 bytes)",
            ),
        ] {
            let e = errors(&action(bad));
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(e[0].ends_with(expected), "{bad}: {}", e[0]);
        }
    }

    #[test]
    fn hive_synonyms_the_writer_takes_are_accepted() {
        let columns =
            "\"a numeric\", \"b double precision\", \"c decimal(7)\", \"d NUMERIC(12,3)\"";
        assert_eq!(errors(&config("", columns)), Vec::<String>::new());
    }

    #[test]
    fn an_undeclared_table_is_looked_for_in_firehose_tables() {
        let e = errors(&config("table = \"d.other\"", "\"c int\""));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("table \"d.other\" is not declared in `[[firehose.tables]]`"),
            "{}",
            e[0]
        );
    }
}
