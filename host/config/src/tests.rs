//! Tests of the configuration loader: the shipped example, and one fixture per kind of
//! mistake with the exact message a user sees.

use super::*;
use std::path::{Path, PathBuf};

/// Fixtures pretend to live next to the example, so `data/driver_data.csv` resolves. Cargo
/// runs unit tests in the crate's folder.
const F: &str = "../../examples/speeding/test.toml";

/// A valid configuration the fixtures extend.
const BASE: &str = r#"[streams.alerts]
shards = 2

[tables.drivers]
file = "data/driver_data.csv"
key = "licensePlate"

[plugins.enrich]
path = "enrich.wasm"
grants = ["config", "lookup"]
tables = ["drivers"]

[rules.fast]
sql = "SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75"
"#;

fn errors(text: &str) -> Vec<String> {
    match Config::parse(text, F) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

fn one_error(text: &str) -> String {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.into_iter().next().unwrap_or_default()
}

#[test]
fn config_example_file_parses() {
    let c = match Config::load("../../examples/speeding/weir.toml") {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(matches!(&c.broker, Broker::Embedded(b) if b.listen == "127.0.0.1:1883"));
    assert_eq!(c.api.listen, "127.0.0.1:4567");
    assert_eq!(c.streams["speeding-alerts"].shards, 2);
    assert_eq!(c.tables["drivers"].key, "licensePlate");
    assert!(c.tables["speeding-cars"].file.is_none());
    let limit = &c.plugins["speed-limit"].spec;
    assert_eq!(limit.params["limit"], "75", "numbers become strings");
    assert_eq!(
        c.plugins["sms-alert"].spec.grants,
        [Grant::Config, Grant::Outbox, Grant::Log]
    );
    assert_eq!(
        c.plugins["owner-enrich"].spec.tables.as_deref(),
        Some(&["drivers".to_owned()][..])
    );
    let speeding = &c.rules["speeding"];
    assert_eq!(speeding.rule.topic_filter(), "rtr/iot/trafficdata");
    assert_eq!(speeding.actions.len(), 3);
    assert!(
        matches!(&speeding.actions[0].kind, ActionKind::Kinesis(k) if k.stream == "speeding-alerts")
    );
    assert_eq!(speeding.actions[0].transformers, ["owner-enrich"]);
    assert!(matches!(&speeding.actions[1].kind, ActionKind::Plugin(p) if p.emitter == "sms-alert"));
    assert!(
        matches!(&speeding.actions[2].kind, ActionKind::Table(t) if t.table == "speeding-cars")
    );
    assert!(matches!(
        speeding.error_action.as_ref().map(|a| &a.kind),
        Some(ActionKind::Firehose(_))
    ));
    assert!(matches!(
        &c.rules["archive"].actions[0].kind,
        ActionKind::Firehose(FirehoseAction {
            buffer_bytes: 1048576,
            ..
        })
    ));
    // What the runtime reads of each kind, from one place.
    let d = speeding.actions[0].kind.destination();
    assert_eq!(
        (d.aws_action(), d.resource(), d.label()),
        (
            "KinesisAction",
            "speeding-alerts".to_owned(),
            "kinesis:speeding-alerts".to_owned()
        )
    );
    assert_eq!(
        d.key_template().map(|t| t.source()),
        Some("${licensePlate}")
    );
    let d = speeding.actions[1].kind.destination();
    assert_eq!(
        (d.aws_action(), d.label()),
        ("LambdaAction", "plugin:sms-alert".to_owned())
    );
    assert!(d.key_template().is_none());
    assert!(matches!(&c.notify["sms"], NotifyChannel::File { .. }));
}

#[test]
fn config_defaults_of_an_almost_empty_file() {
    let c = match Config::parse(BASE, F) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert!(
        matches!(&c.broker, Broker::Embedded(b) if b.listen == "127.0.0.1:1883" && b.listen_v5.is_none())
    );
    assert_eq!(c.storage.fsync, FsyncPolicy::Always);
    assert_eq!(
        c.storage.dir,
        Path::new("../../examples/speeding/weir-data")
    );
    assert_eq!(c.streams["alerts"].retention_hours, 24);
    assert!(c.rules["fast"].enabled);
    assert_eq!(c.plugins["enrich"].spec.memory_bytes, DEFAULT_MEMORY_BYTES);
    assert_eq!(c.plugins["enrich"].spec.call_timeout, DEFAULT_CALL_TIMEOUT);
}

#[test]
fn config_unknown_key_names_path_and_line() {
    let text = format!("{BASE}\n[streams.more]\nshardz = 2\n");
    assert_eq!(
        one_error(&text),
        format!("{F}:17:1: `streams.more.shardz`: unknown key `shardz` (expected `shards` or `retention_hours`)")
    );
}

#[test]
fn config_unknown_top_level_key() {
    let text = format!("{BASE}\n[stream.x]\nshards = 1\n");
    assert_eq!(
        one_error(&text),
        format!("{F}:16:2: `stream`: unknown key `stream` (expected one of `broker`, `api`, `storage`, `s3`, `firehose`, `streams`, `tables`, `plugins`, `notify`, `rules`)")
    );
}

#[test]
fn s3_section_is_optional_and_checked() {
    let none = Config::parse(BASE, F).expect("no [s3]");
    assert_eq!(none.s3, None);
    let text = format!(
        "{BASE}\n[s3]\nendpoint_url = \"http://127.0.0.1:9000\"\nregion = \"eu-west-1\"\naccess_key_id = \"AK\"\nsecret_access_key = \"SK\"\n"
    );
    let c = Config::parse(&text, F).expect("valid [s3]");
    let s3 = c.s3.expect("s3");
    assert_eq!(s3.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(s3.region.as_deref(), Some("eu-west-1"));
    assert!(
        !format!("{s3:?}").contains("SK"),
        "the secret is not printed"
    );
    let bad = format!("{BASE}\n[s3]\nendpoint_url = \"minio:9000\"\naccess_key_id = \"AK\"\n");
    let err = Config::parse(&bad, F).expect_err("bad [s3]").to_string();
    assert!(
        err.contains("s3.endpoint_url") && err.contains("not an http://"),
        "{err}"
    );
    assert!(
        err.contains("s3.secret_access_key") && err.contains("go together"),
        "{err}"
    );
    let typo = format!("{BASE}\n[s3]\nendpoint = \"http://x\"\n");
    let err = Config::parse(&typo, F)
        .expect_err("unknown key")
        .to_string();
    assert!(err.contains("unknown key `endpoint`"), "{err}");
}

#[test]
fn config_wrong_type() {
    let text = BASE.replace("shards = 2", "shards = \"two\"");
    assert_eq!(
        one_error(&text),
        format!("{F}:2:10: `streams.alerts.shards`: invalid type: string \"two\" (expected a non-negative integer)")
    );
}

#[test]
fn config_out_of_range() {
    let text = BASE.replace("shards = 2", "shards = 501");
    assert_eq!(
        one_error(&text),
        format!("{F}:2:10: `streams.alerts.shards`: 501 is out of range (expected 1..=500)")
    );
}

#[test]
fn config_undeclared_stream() {
    let text = format!("{BASE}\n[[rules.fast.actions]]\nkind = \"kinesis\"\nstream = \"alarms\"\npartition_key = \"${{licensePlate}}\"\n");
    assert_eq!(
        one_error(&text),
        format!("{F}:18:10: `rules.fast.actions[0].stream`: stream \"alarms\" is not declared (expected one of `alerts`)")
    );
}

#[test]
fn config_undeclared_plugin_and_table() {
    let text = format!("{BASE}\n[[rules.fast.actions]]\nkind = \"table\"\ntable = \"cars\"\nkey = \"${{licensePlate}}\"\ntransformers = [\"enrich\", \"enrichh\"]\n");
    assert_eq!(
        errors(&text),
        [
            format!("{F}:18:9: `rules.fast.actions[0].table`: table \"cars\" is not declared (expected one of `drivers`)"),
            format!("{F}:20:27: `rules.fast.actions[0].transformers[1]`: plugin \"enrichh\" is not declared (expected one of `enrich`)"),
        ]
    );
}

#[test]
fn config_bad_grant() {
    let text = BASE.replace("\"lookup\"]", "\"lookups\"]");
    assert_eq!(
        one_error(&text),
        format!("{F}:10:21: `plugins.enrich.grants[1]`: unknown grant \"lookups\" (expected one of `log`, `config`, `lookup`, `outbox`, `wasi:clocks`, `wasi:filesystem`, `wasi:sockets`)")
    );
}

#[test]
fn config_bad_sql_points_into_the_file() {
    let text = BASE.replace("WHERE speed > 75", "WHERE speed >");
    let err = one_error(&text);
    assert!(err.starts_with(&format!("{F}:14:")), "{err}");
    assert!(err.contains("`rules.fast.sql`: SQL: "), "{err}");
}

#[test]
fn config_bad_sql_in_multiline_string_has_its_line() {
    let text = BASE.replace(
        "sql = \"SELECT * FROM 'rtr/iot/trafficdata' WHERE speed > 75\"",
        "sql = \"\"\"\nSELECT *\nFROM 'rtr/iot/trafficdata'\nWHERE nosuchfunction(speed) > 75\n\"\"\"",
    );
    let err = one_error(&text);
    assert!(
        err.starts_with(&format!("{F}:17:7: `rules.fast.sql`: SQL: ")),
        "{err}"
    );
}

#[test]
fn config_bad_template() {
    let text = format!(
        "{BASE}\n[[rules.fast.actions]]\nkind = \"republish\"\ntopic = \"cars/${{licensePlate\"\n"
    );
    assert_eq!(
        one_error(&text),
        format!("{F}:18:15: `rules.fast.actions[0].topic`: template: unclosed ${{ in template (line 1, column 6 of the template)")
    );
}

#[test]
fn config_both_broker_modes() {
    let text = format!("[broker]\nlisten = \"127.0.0.1:1883\"\n[broker.external]\nurl = \"mqtt://broker:1883\"\n{BASE}");
    assert_eq!(
        one_error(&text),
        format!("{F}:2:10: `broker.listen`: both an embedded broker (listen) and `broker.external` are configured (expected either the embedded broker's keys or `[broker.external]`, not both)")
    );
}

#[test]
fn config_external_broker() {
    let text = format!("[broker.external]\nurl = \"mqtts://broker.example.com\"\n{BASE}");
    let c = match Config::parse(&text, F) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let Broker::External(b) = &c.broker else {
        panic!("not external")
    };
    assert_eq!(
        (b.tls, b.host.as_str(), b.port),
        (true, "broker.example.com", 8883)
    );
    assert_eq!(b.subscription("rtr/#"), "$share/weir/rtr/#");
}

#[test]
fn config_external_broker_default_client_id_is_per_host_and_storage() {
    let text = format!("[broker.external]\nurl = \"mqtt://b\"\n{BASE}");
    let c = Config::parse(&text, F).unwrap_or_else(|e| panic!("{e}"));
    let Broker::External(b) = &c.broker else {
        panic!("not external")
    };
    assert!(b.client_id.starts_with("weir-"), "{}", b.client_id);
    assert!(b.client_id.len() <= 23, "{}", b.client_id);
    // The same file gives the same id (the session survives a restart)...
    let again = Config::parse(&text, F).unwrap_or_else(|e| panic!("{e}"));
    let Broker::External(b2) = &again.broker else {
        panic!("not external")
    };
    assert_eq!(b.client_id, b2.client_id);
    // ...another storage folder or another machine another one.
    let other = format!("{text}\n[storage]\ndir = \"elsewhere\"\n");
    let c3 = Config::parse(&other, F).unwrap_or_else(|e| panic!("{e}"));
    let Broker::External(b3) = &c3.broker else {
        panic!("not external")
    };
    assert_ne!(b.client_id, b3.client_id);
    let dir = Path::new("/srv/weir/data");
    let a = validate::sections_default_client_id("gateway-07", dir);
    let z = validate::sections_default_client_id("gateway-08", dir);
    assert_ne!(a, z);
    assert!(a.ends_with("-gateway-0"), "{a}");
    // An explicit one is kept; an empty one is refused.
    let named = format!("[broker.external]\nurl = \"mqtt://b\"\nclient_id = \"plant-1\"\n{BASE}");
    let c4 = Config::parse(&named, F).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&c4.broker, Broker::External(b) if b.client_id == "plant-1"));
    let empty = format!("[broker.external]\nurl = \"mqtt://b\"\nclient_id = \"\"\n{BASE}");
    assert!(
        one_error(&empty).contains("broker.client_id") || one_error(&empty).contains("client_id"),
        "{}",
        one_error(&empty)
    );
}

#[test]
fn config_missing_file() {
    let text = BASE.replace("data/driver_data.csv", "data/nope.csv");
    assert_eq!(
        one_error(&text),
        format!("{F}:5:8: `tables.drivers.file`: file ../../examples/speeding/data/nope.csv does not exist (expected an existing file (relative paths start at the configuration file's folder))")
    );
}

#[test]
fn config_key_column_must_be_in_header() {
    let text = BASE.replace("key = \"licensePlate\"", "key = \"plate\"");
    let err = one_error(&text);
    assert!(
        err.starts_with(&format!(
            "{F}:6:7: `tables.drivers.key`: column \"plate\" is not in the header (line 1) of "
        )),
        "{err}"
    );
    assert!(err.contains("`licensePlate`"), "{err}");
}

#[test]
fn config_keys_of_another_action_kind() {
    let text = format!(
        "{BASE}\n[rules.fast.error_action]\nkind = \"plugin\"\nemitter = \"enrich\"\nqos = 1\n"
    );
    assert_eq!(
        one_error(&text),
        format!("{F}:19:7: `rules.fast.error_action.qos`: `qos` is not a key of a `plugin` action (expected a key of `kind = \"republish\"`)")
    );
}

#[test]
fn config_params_reject_tables() {
    let text = BASE.replace(
        "tables = [\"drivers\"]",
        "tables = [\"drivers\"]\nparams = { n = 1, b = true, t = { x = 1 } }",
    );
    let err = one_error(&text);
    assert_eq!(err, format!("{F}:12:33: `plugins.enrich.params.t`: a parameter cannot be table (expected a string, number or boolean)"));
}

#[test]
fn config_syntax_error_stops_early() {
    let err = one_error("[streams.a\nshards = 1\n");
    assert!(err.starts_with(&format!("{F}:1:")), "{err}");
    assert!(err.contains("invalid TOML"), "{err}");
}

#[test]
fn config_reports_several_mistakes_at_once() {
    let text = format!(
        "[broker]\nlisten = \"nowhere\"\n{}\n[[rules.fast.actions]]\nkind = \"plugin\"\nemitter = \"sms\"\n[rules.slow]\nsql = \"SELEC 1\"\n",
        BASE.replace("shards = 2", "shards = 0").replace("\"lookup\"]", "\"lookup\", \"net\"]")
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    let paths = [
        "`broker.listen`",
        "`streams.alerts.shards`",
        "`plugins.enrich.grants[2]`",
        "`rules.fast.actions[0].emitter`",
        "`rules.slow.sql`",
    ];
    for (e, p) in errs.iter().zip(paths) {
        assert!(e.contains(p), "{e} should be about {p}");
    }
    let all = match Config::parse(&text, F) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    assert!(all.ends_with("5 configuration errors"), "{all}");
}

#[test]
fn config_unreadable_file() {
    let err = match Config::load("../../examples/speeding/absent.toml") {
        Ok(_) => String::new(),
        Err(e) => e.errors()[0].to_string(),
    };
    assert!(
        err.starts_with(
            "../../examples/speeding/absent.toml: cannot read the configuration file: "
        ),
        "{err}"
    );
}

#[test]
fn config_undeclared_channel_and_bad_notify() {
    let text = BASE.replace(
        "tables = [\"drivers\"]",
        "tables = [\"drivers\"]\nchannels = [\"sms\"]",
    ) + "\n[notify.mail]\nkind = \"file\"\n";
    assert_eq!(
        errors(&text),
        [
            format!("{F}:12:13: `plugins.enrich.channels[0]`: notify channel \"sms\" is not declared (expected one of `mail`)"),
            format!("{F}:17:1: `notify.mail`: missing key `path` (expected `path` for `kind = \"file\"`)"),
        ]
    );
}

#[test]
fn config_storage_and_external_broker_mistakes() {
    let text = format!(
        "[broker.external]\nurl = \"http://broker\"\n[storage]\nfsync = \"never\"\nfsync_interval_ms = 10\n{BASE}"
    );
    assert_eq!(
        errors(&text),
        [
            format!("{F}:2:7: `broker.external.url`: \"http://broker\" is not an MQTT URL (expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT])"),
            format!("{F}:5:21: `storage.fsync_interval_ms`: only applies when `fsync = \"interval\"` (expected no `fsync_interval_ms`, or `fsync = \"interval\"`)"),
        ]
    );
}

#[test]
fn config_disabled_rule_and_bad_stream_name() {
    let text = BASE.replace("[streams.alerts]", "[streams.\"bad name\"]") + "enabled = false\n";
    let errs = errors(&text);
    assert_eq!(
        errs,
        [format!("{F}:1:1: `streams.\"bad name\"`: \"bad name\" is not a valid stream name (expected 1-128 characters of a-z, A-Z, 0-9, `_`, `.`, `-`)")]
    );
    let ok = Config::parse(&(BASE.to_owned() + "enabled = false\n"), F);
    assert!(ok.is_ok_and(|c| !c.rules["fast"].enabled));
}

#[test]
fn every_action_key_belongs_to_exactly_one_kind() {
    use crate::schema::RawActionKind;
    let mut seen = std::collections::BTreeSet::new();
    for kind in RawActionKind::ALL {
        for key in kind.keys() {
            assert!(seen.insert(*key), "{key} belongs to two kinds");
            assert_eq!(RawActionKind::owning(key), Some(kind));
        }
    }
    // Every key the flat struct can carry is some kind's key, so none escapes the check.
    let all = toml::from_str::<crate::schema::RawAction>(
        r#"kind = "kinesis"
stream = "s"
partition_key = "p"
endpoint = "http://e"
root = "r"
prefix = "p"
error_prefix = "e"
buffer_bytes = 1
buffer_interval_ms = 1
delivery_stream = "d"
topic = "t"
qos = 0
table = "t"
key = "k"
emitter = "e""#,
    )
    .expect("every key");
    let set: std::collections::BTreeSet<_> = all.set_keys().collect();
    assert_eq!(set, seen);
}

#[test]
fn config_admin_token_must_not_be_guessable() {
    let text = format!("{BASE}\n[api]\nadmin_token = \"short\"\n");
    let e = one_error(&text);
    assert!(
        e.ends_with(
            "`api.admin_token`: the token has 5 characters (expected at least 16 characters)"
        ),
        "{e}"
    );
    let text = format!("{BASE}\n[api]\nadmin_token = \"sixteen-chars-ok\"\n");
    match Config::parse(&text, F) {
        Ok(c) => assert_eq!(c.api.admin_token.as_deref(), Some("sixteen-chars-ok")),
        Err(e) => panic!("{e}"),
    }
}

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
        ("decimal(10)", "unknown type \"decimal(10)\""),
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
fn config_dead_letter_budget_defaults_sets_and_checks_its_range() {
    let c = Config::parse(BASE, F).expect("base");
    assert_eq!(
        c.storage.dead_letter_max_bytes,
        DEFAULT_DEAD_LETTER_MAX_BYTES
    );
    assert_eq!(DEFAULT_DEAD_LETTER_MAX_BYTES, 1 << 30);
    let text = format!("[storage]\ndead_letter_max_bytes = 0\n{BASE}");
    let c = Config::parse(&text, F).expect("zero stores none");
    assert_eq!(c.storage.dead_letter_max_bytes, 0);
    let text = format!("[storage]\ndead_letter_max_bytes = 2000000000000000000\n{BASE}");
    assert_eq!(
        one_error(&text),
        format!("{F}:2:25: `storage.dead_letter_max_bytes`: 2000000000000000000 is out of range (expected 0..=1125899906842624 bytes)")
    );
}

#[test]
fn action_identities_ignore_how_and_keep_where() {
    let rule = |actions: &str| {
        let text = format!("{BASE}{actions}");
        let c = Config::parse(&text, F).unwrap_or_else(|e| panic!("{e}"));
        c.rules["fast"]
            .actions
            .iter()
            .map(|a| a.kind.destination().identity())
            .collect::<Vec<_>>()
    };
    let a = rule(
        "[[rules.fast.actions]]\nkind = \"kinesis\"\nstream = \"alerts\"\npartition_key = \"${a}\"\n\
         [[rules.fast.actions]]\nkind = \"firehose\"\nroot = \"out\"\nprefix = \"p/\"\n",
    );
    // Another key template, other buffering: the same places.
    let b = rule(
        "[[rules.fast.actions]]\nkind = \"kinesis\"\nstream = \"alerts\"\npartition_key = \"${b}\"\n\
         buffer = { max_records = 7 }\n\
         [[rules.fast.actions]]\nkind = \"firehose\"\nroot = \"out\"\nprefix = \"p/\"\nbuffer_interval_ms = 9000\n",
    );
    assert_eq!(a, b);
    // Another prefix is another place.
    let c = rule("[[rules.fast.actions]]\nkind = \"firehose\"\nroot = \"out\"\nprefix = \"q/\"\n");
    assert_ne!(a[1], c[0]);
    assert_ne!(a[0], a[1]);
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
