//! The `[firehose]` section (tables, delivery streams, egress) and `firehose` rule actions
//! that name a delivery stream.

use super::*;

/// A valid `[firehose]` section the fixtures below vary.
const FH: &str = r#"
[[firehose.tables]]
database = "traffic"
table = "cars"
columns = ["ts timestamp", "car string", "speed double", "price decimal(10,2)", "n VARCHAR(20)"]

[[firehose.delivery_streams]]
name = "archive"
bucket = "weir-archive"
prefix = "cars/"
error_prefix = "errors/!{firehose:error-output-type}/"
buffer_size_mib = 64
buffer_interval_s = 60
source_stream = "alerts"
lambda = "enrich"
lambda_retries = 3
partition_query = "{car: .car}"
table = "traffic.cars"
parquet_compression = "SNAPPY"

[[firehose.delivery_streams]]
name = "raw.gz"
bucket = "raw-1"
compression = "GZIP"
"#;

fn fh(replace: &str, with: &str) -> String {
    assert!(FH.contains(replace), "{replace}");
    format!("{BASE}{}", FH.replacen(replace, with, 1))
}

#[test]
fn firehose_section_defaults_to_empty() {
    let c = Config::parse(BASE, F).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.firehose.tables.is_empty());
    assert!(c.firehose.delivery_streams.is_empty());
}

#[test]
fn firehose_section_parses_to_typed_values() {
    let c = Config::parse(&format!("{BASE}{FH}"), F).unwrap_or_else(|e| panic!("{e}"));
    let [t] = &c.firehose.tables[..] else {
        panic!("{:?}", c.firehose.tables)
    };
    assert_eq!((t.database.as_str(), t.table.as_str()), ("traffic", "cars"));
    let cols: Vec<(&str, &str)> = t
        .columns
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        cols,
        [
            ("ts", "timestamp"),
            ("car", "string"),
            ("speed", "double"),
            ("price", "decimal(10,2)"),
            ("n", "VARCHAR(20)"),
        ]
    );
    let [a, r] = &c.firehose.delivery_streams[..] else {
        panic!("{:?}", c.firehose.delivery_streams)
    };
    assert_eq!(a.name, "archive");
    assert_eq!(a.bucket, "weir-archive");
    assert_eq!(a.prefix.as_deref(), Some("cars/"));
    assert_eq!(
        a.error_prefix.as_deref(),
        Some("errors/!{firehose:error-output-type}/")
    );
    assert_eq!(
        (a.buffer_size_mib, a.buffer_interval_s),
        (Some(64), Some(60))
    );
    assert_eq!(a.compression, None);
    assert_eq!(a.source_stream.as_deref(), Some("alerts"));
    assert_eq!(a.lambda.as_deref(), Some("enrich"));
    assert_eq!(a.lambda_retries, Some(3));
    assert_eq!(a.partition_query.as_deref(), Some("{car: .car}"));
    assert_eq!(a.table, Some(("traffic".to_owned(), "cars".to_owned())));
    assert_eq!(a.parquet_compression.as_deref(), Some("SNAPPY"));
    assert_eq!((r.name.as_str(), r.bucket.as_str()), ("raw.gz", "raw-1"));
    assert_eq!(r.compression.as_deref(), Some("GZIP"));
    assert_eq!(
        (
            r.prefix.as_ref(),
            r.buffer_size_mib,
            r.lambda.as_ref(),
            r.table.as_ref()
        ),
        (None, None, None, None)
    );
}

#[test]
fn firehose_every_hive_type_is_accepted() {
    let types = [
        "string",
        "varchar(1)",
        "varchar(65535)",
        "char(255)",
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
        "decimal(38,0)",
        "decimal( 10 , 2 )",
        "DECIMAL(5,5)",
        "BigInt",
    ];
    let cols: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("\"c{i} {t}\""))
        .collect();
    let text = format!(
        "{BASE}\n[[firehose.tables]]\ndatabase = \"d\"\ntable = \"t\"\ncolumns = [{}]\n",
        cols.join(", ")
    );
    let c = Config::parse(&text, F).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.firehose.tables[0].columns.len(), types.len());
    assert_eq!(c.firehose.tables[0].columns[16].1, "decimal( 10 , 2 )");
}

#[test]
fn firehose_bad_column_types_name_table_and_column() {
    for (bad, reason) in [
        ("dbl", "unknown type \"dbl\""),
        ("varchar", "unknown type \"varchar\""),
        ("varchar(0)", "varchar length 0 is out of range 1..=65535"),
        ("char(256)", "char length 256 is out of range 1..=255"),
        ("decimal(0)", "decimal(0,0) is out of range"),
        ("decimal(39,2)", "decimal(39,2) is out of range"),
        ("decimal(2,3)", "decimal(2,3) is out of range"),
        ("array<string>", "unknown type \"array<string>\""),
    ] {
        let text = fh("\"speed double\"", &format!("\"speed {bad}\""));
        let e = one_error(&text);
        assert!(
            e.contains("`firehose.tables[0].columns[2]`: column `speed` of table `traffic.cars`: ")
                && e.contains(reason)
                && e.contains("(expected one of `string`, `varchar(N)`"),
            "{bad}: {e}"
        );
    }
    let e = one_error(&fh("\"speed double\"", "\"speed\""));
    assert!(
        e.contains(
            "`firehose.tables[0].columns[2]`: column \"speed\" of table `traffic.cars` has no type"
        ),
        "{e}"
    );
}

#[test]
fn firehose_table_rules() {
    let e = one_error(&fh("\"n VARCHAR(20)\"", "\"SPEED int\""));
    assert!(
        e.contains("`firehose.tables[0].columns[4]`: column `SPEED` of table `traffic.cars` is declared twice (expected unique column names (case-insensitive))"),
        "{e}"
    );
    let text =
        format!("{BASE}\n[[firehose.tables]]\ndatabase = \"d\"\ntable = \"t\"\ncolumns = []\n");
    let e = one_error(&text);
    assert!(
        e.contains("`firehose.tables[0].columns`: table `d.t` has no columns"),
        "{e}"
    );
    let text = format!(
        "{BASE}\n[[firehose.tables]]\ndatabase = \"d\"\ntable = \"t\"\ncolumns = [\"a int\"]\n[[firehose.tables]]\ndatabase = \"d\"\ntable = \"t\"\ncolumns = [\"b int\"]\n"
    );
    let e = one_error(&text);
    assert!(
        e.contains("`firehose.tables[1].table`: table `d.t` is declared twice"),
        "{e}"
    );
    for (key, bad) in [("database", ""), ("database", "a.b"), ("table", "")] {
        let text = format!(
            "{BASE}\n[[firehose.tables]]\ndatabase = \"d\"\ntable = \"t\"\ncolumns = [\"a int\"]\n"
        )
        .replace(
            &format!("{key} = \"{}\"", &key[..1]),
            &format!("{key} = \"{bad}\""),
        );
        let e = one_error(&text);
        assert!(
            e.contains(&format!(
                "`firehose.tables[0].{key}`: \"{bad}\" is not a valid {key} name (expected a non-empty name without `.`)"
            )),
            "{e}"
        );
    }
    let e = one_error(&fh("columns = [", "colums = ["));
    assert!(
        e.contains("`firehose.tables[0].colums`: unknown key `colums`"),
        "{e}"
    );
}

#[test]
fn firehose_unknown_keys_and_wrong_shapes() {
    let e = one_error(&format!("{BASE}\n[firehose]\nstreams = []\n"));
    assert_eq!(
        e,
        format!("{F}:17:1: `firehose.streams`: unknown key `streams` (expected `tables`, `delivery_streams`, `allow_private_endpoints` or `allowed_endpoints`)")
    );
    let e = one_error(&format!("{BASE}\n[firehose]\ntables = 1\n"));
    assert!(
        e.contains("`firehose.tables`: must be an array of tables, found integer"),
        "{e}"
    );
    let e = one_error(&format!("firehose = 1\n{BASE}"));
    assert!(e.contains("`firehose`: must be a table"), "{e}");
    let e = one_error(&fh("lambda_retries = 3", "lambda_retries = 3\nretries = 1"));
    assert!(
        e.contains("`firehose.delivery_streams[0].retries`: unknown key `retries`"),
        "{e}"
    );
    let e = one_error(&fh("buffer_size_mib = 64", "buffer_size_mib = \"64\""));
    assert!(
        e.contains("`firehose.delivery_streams[0].buffer_size_mib`: invalid type"),
        "{e}"
    );
    // A type error in one entry does not hide a mistake in another.
    let text = fh("buffer_size_mib = 64", "buffer_size_mib = \"64\"")
        .replace("bucket = \"raw-1\"", "bucket = \"Raw\"");
    assert_eq!(errors(&text).len(), 2, "{:#?}", errors(&text));
}

#[test]
fn firehose_delivery_stream_required_keys() {
    let e = one_error(&fh("name = \"raw.gz\"\n", ""));
    assert!(
        e.contains("`firehose.delivery_streams[1]`: missing field `name`")
            || e.contains("`firehose.delivery_streams[1]`: missing key `name`"),
        "{e}"
    );
    let e = one_error(&fh("bucket = \"raw-1\"\n", ""));
    assert!(
        e.contains("`firehose.delivery_streams[1]`") && e.contains("`bucket`"),
        "{e}"
    );
}

#[test]
fn firehose_delivery_stream_names_and_buckets() {
    for bad in ["", "has space", "a/b", &"x".repeat(65)] {
        let e = one_error(&fh("name = \"raw.gz\"", &format!("name = \"{bad}\"")));
        assert!(
            e.contains("`firehose.delivery_streams[1].name`: ")
                && e.contains("is not a valid delivery stream name (expected 1-64 characters"),
            "{bad}: {e}"
        );
    }
    let ok = fh(
        "name = \"raw.gz\"",
        &format!("name = \"{}\"", "A_b.-9".repeat(10)),
    );
    assert!(Config::parse(&ok, F).is_ok());
    let e = one_error(&fh("name = \"raw.gz\"", "name = \"archive\""));
    assert!(
        e.contains(
            "`firehose.delivery_streams[1].name`: delivery stream \"archive\" is declared twice"
        ),
        "{e}"
    );
    for bad in [
        "ab",
        "Upper",
        "-lead",
        "trail.",
        "under_score",
        &"b".repeat(64),
    ] {
        let e = one_error(&fh("bucket = \"raw-1\"", &format!("bucket = \"{bad}\"")));
        assert!(
            e.contains("`firehose.delivery_streams[1].bucket`: ")
                && e.contains("is not a valid S3 bucket name (expected 3-63 characters"),
            "{bad}: {e}"
        );
    }
    for good in ["abc", "a.b-c", &"b".repeat(63), "1bucket9"] {
        let ok = fh("bucket = \"raw-1\"", &format!("bucket = \"{good}\""));
        assert!(Config::parse(&ok, F).is_ok(), "{good}");
    }
}

#[test]
fn firehose_delivery_stream_ranges() {
    for (from, to, expected) in [
        (
            "buffer_size_mib = 64",
            "buffer_size_mib = 0",
            "0 is out of range (expected 1..=128 MiB)",
        ),
        (
            "buffer_size_mib = 64",
            "buffer_size_mib = 129",
            "129 is out of range (expected 1..=128 MiB)",
        ),
        (
            "buffer_interval_s = 60",
            "buffer_interval_s = 901",
            "901 is out of range (expected 0..=900 s)",
        ),
        (
            "lambda_retries = 3",
            "lambda_retries = 301",
            "301 is out of range (expected 0..=300)",
        ),
    ] {
        let e = one_error(&fh(from, to));
        let key = to.split(' ').next().unwrap_or_default();
        assert!(
            e.ends_with(&format!("`firehose.delivery_streams[0].{key}`: {expected}")),
            "{e}"
        );
    }
    for (from, to) in [
        ("buffer_size_mib = 64", "buffer_size_mib = 1"),
        ("buffer_size_mib = 64", "buffer_size_mib = 128"),
        ("buffer_interval_s = 60", "buffer_interval_s = 0"),
        ("buffer_interval_s = 60", "buffer_interval_s = 900"),
        ("lambda_retries = 3", "lambda_retries = 0"),
        ("lambda_retries = 3", "lambda_retries = 300"),
    ] {
        assert!(Config::parse(&fh(from, to), F).is_ok(), "{to}");
    }
}

#[test]
fn firehose_delivery_stream_compressions() {
    for c in ["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"] {
        let ok = fh("compression = \"GZIP\"", &format!("compression = \"{c}\""));
        assert!(Config::parse(&ok, F).is_ok(), "{c}");
    }
    let e = one_error(&fh("compression = \"GZIP\"", "compression = \"gzip\""));
    assert!(
        e.ends_with("`firehose.delivery_streams[1].compression`: unknown compression \"gzip\" (expected one of `UNCOMPRESSED`, `GZIP`, `ZIP`, `Snappy`, `HADOOP_SNAPPY`)"),
        "{e}"
    );
    for c in ["UNCOMPRESSED", "GZIP", "SNAPPY"] {
        let ok = fh(
            "parquet_compression = \"SNAPPY\"",
            &format!("parquet_compression = \"{c}\""),
        );
        assert!(Config::parse(&ok, F).is_ok(), "{c}");
    }
    let e = one_error(&fh(
        "parquet_compression = \"SNAPPY\"",
        "parquet_compression = \"ZIP\"",
    ));
    assert!(
        e.ends_with("`firehose.delivery_streams[0].parquet_compression`: unknown Parquet compression \"ZIP\" (expected one of `UNCOMPRESSED`, `GZIP`, `SNAPPY`)"),
        "{e}"
    );
    // Parquet compression only with a table.
    let e = one_error(&fh(
        "compression = \"GZIP\"",
        "parquet_compression = \"GZIP\"",
    ));
    assert!(
        e.contains("`firehose.delivery_streams[1].parquet_compression`: only applies with `table`"),
        "{e}"
    );
    // A table (format conversion) wants uncompressed input, as Firehose does.
    let e = one_error(&fh(
        "parquet_compression = \"SNAPPY\"",
        "compression = \"GZIP\"",
    ));
    assert!(
        e.contains("`firehose.delivery_streams[0].compression`: compression \"GZIP\" cannot be used with `table`"),
        "{e}"
    );
    let ok = fh(
        "parquet_compression = \"SNAPPY\"",
        "compression = \"UNCOMPRESSED\"",
    );
    assert!(Config::parse(&ok, F).is_ok());
}

#[test]
fn firehose_delivery_stream_references() {
    let e = one_error(&fh(
        "source_stream = \"alerts\"",
        "source_stream = \"alarms\"",
    ));
    assert!(
        e.ends_with("`firehose.delivery_streams[0].source_stream`: stream \"alarms\" is not declared (expected one of `alerts`)"),
        "{e}"
    );
    let e = one_error(&fh("lambda = \"enrich\"", "lambda = \"enrichh\""));
    assert!(
        e.ends_with("`firehose.delivery_streams[0].lambda`: plugin \"enrichh\" is not declared (expected one of `enrich`)"),
        "{e}"
    );
    let e = one_error(&fh(
        "table = \"traffic.cars\"",
        "table = \"traffic.trucks\"",
    ));
    assert!(
        e.ends_with("`firehose.delivery_streams[0].table`: table \"traffic.trucks\" is not declared in `[[firehose.tables]]` (expected one of `traffic.cars`)"),
        "{e}"
    );
    let e = one_error(&fh("table = \"traffic.cars\"", "table = \"cars\""));
    assert!(
        e.contains(
            "`firehose.delivery_streams[0].table`: \"cars\" is not of the form DATABASE.TABLE"
        ),
        "{e}"
    );
    let e = one_error(&fh(
        "partition_query = \"{car: .car}\"",
        "partition_query = \"\"",
    ));
    assert!(
        e.ends_with("`firehose.delivery_streams[0].partition_query`: must not be empty"),
        "{e}"
    );
}

const FH_ACTION: &str = "\n[[rules.fast.actions]]\nkind = \"firehose\"\n";

#[test]
fn firehose_action_into_a_delivery_stream() {
    // One declared in the file, and one that is not (it may be created over the API).
    for name in ["archive", "made-over.the_API"] {
        let text = format!("{BASE}{FH}{FH_ACTION}delivery_stream = \"{name}\"\n");
        let c = Config::parse(&text, F).unwrap_or_else(|e| panic!("{e}"));
        let a = &c.rules["fast"].actions[0];
        let ActionKind::Firehose(f) = &a.kind else {
            panic!("{a:?}")
        };
        assert_eq!(f.delivery_stream.as_deref(), Some(name));
        assert_eq!(f.root, PathBuf::new());
        let d = a.kind.destination();
        assert_eq!(
            (d.aws_action(), d.resource(), d.label()),
            (
                "FirehoseAction",
                name.to_owned(),
                format!("firehose:{name}")
            )
        );
    }
    // Without it, unchanged: `root` is required and the label is the kind.
    let text = format!("{BASE}{FH_ACTION}root = \"out\"\n");
    let c = Config::parse(&text, F).unwrap_or_else(|e| panic!("{e}"));
    let a = &c.rules["fast"].actions[0];
    let ActionKind::Firehose(f) = &a.kind else {
        panic!("{a:?}")
    };
    assert_eq!(f.delivery_stream, None);
    assert_eq!(f.root, Path::new("../../examples/speeding/out"));
    assert_eq!(f.buffer_bytes, 5 << 20);
    assert_eq!(a.kind.destination().label(), "firehose");
    let e = one_error(&format!("{BASE}{FH_ACTION}prefix = \"p/\"\n"));
    assert!(
        e.ends_with("`rules.fast.actions[0]`: a `firehose` action needs `root` (expected `root`)"),
        "{e}"
    );
}

#[test]
fn firehose_action_delivery_stream_excludes_its_own_settings() {
    for (key, value) in [
        ("root", "\"out\""),
        ("prefix", "\"p/\""),
        ("error_prefix", "\"e/\""),
        ("buffer_bytes", "1"),
        ("buffer_interval_ms", "1"),
    ] {
        let text = format!("{BASE}{FH_ACTION}delivery_stream = \"archive\"\n{key} = {value}\n");
        let e = one_error(&text);
        assert_eq!(
            e,
            format!("{F}:19:{}: `rules.fast.actions[0].{key}`: `{key}` does not apply with `delivery_stream` (the delivery stream's own settings apply) (expected no `{key}`, or no `delivery_stream`)", key.len() + 4)
        );
    }
    // Out of range too: reported once, as not applying.
    let text = format!("{BASE}{FH_ACTION}delivery_stream = \"a\"\nbuffer_bytes = 0\n");
    assert!(one_error(&text).contains("does not apply"));
    for bad in ["", "a b", "x/y", &"x".repeat(65)] {
        let text = format!("{BASE}{FH_ACTION}delivery_stream = \"{bad}\"\n");
        let e = one_error(&text);
        assert!(
            e.contains("`rules.fast.actions[0].delivery_stream`: ")
                && e.contains("is not a valid delivery stream name (expected 1-64 characters of a-z, A-Z, 0-9, `_`, `.`, `-`)"),
            "{bad}: {e}"
        );
    }
    // Another kind's key.
    let text = format!(
        "{BASE}\n[[rules.fast.actions]]\nkind = \"republish\"\ntopic = \"t\"\ndelivery_stream = \"a\"\n"
    );
    assert!(
        one_error(&text).contains("`delivery_stream` is not a key of a `republish` action (expected a key of `kind = \"firehose\"`)")
    );
}

#[test]
fn firehose_egress_keys_default_closed_and_parse_every_form() {
    let c = Config::parse(BASE, F).unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.firehose.allow_private_endpoints);
    assert!(c.firehose.allowed_endpoints.is_empty());
    let text = format!(
        "{BASE}\n[firehose]\nallow_private_endpoints = true\n\
         allowed_endpoints = [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\", \"Collector.Internal\"]\n{FH}"
    );
    let c = Config::parse(&text, F).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.firehose.allow_private_endpoints);
    let shown: Vec<String> = c
        .firehose
        .allowed_endpoints
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        shown,
        [
            "127.0.0.1/32",
            "10.0.0.0/8",
            "fd00::/8",
            "collector.internal"
        ]
    );
    assert_eq!(c.firehose.delivery_streams.len(), 2);
}

#[test]
fn firehose_egress_bad_entries_are_each_reported_at_their_index() {
    let errs = errors(&format!(
        "{BASE}\n[firehose]\nallowed_endpoints = [\"10.0.0.0/8\", \"127.0.0.1:8080\", \"10.1.0.0/8\"]\n"
    ));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(
        errs[0]
            .contains("`firehose.allowed_endpoints[1]`: \"127.0.0.1:8080\": entries have no port")
            && errs[0].contains("(expected an IP address (`127.0.0.1`, `::1`), a CIDR block"),
        "{}",
        errs[0]
    );
    assert!(
        errs[1].contains("`firehose.allowed_endpoints[2]`: \"10.1.0.0/8\"")
            && errs[1].contains("did you mean 10.0.0.0/8?"),
        "{}",
        errs[1]
    );
    let e = one_error(&format!(
        "{BASE}\n[firehose]\nallow_private_endpoints = \"yes\"\n"
    ));
    assert!(e.contains("`firehose.allow_private_endpoints`"), "{e}");
}
