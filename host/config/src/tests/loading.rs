//! Loading a file as a whole: the shipped example, defaults, unknown keys, wrong types and
//! ranges, syntax errors, several mistakes reported at once, missing and unreadable files.

use super::*;

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
        format!("{F}:16:2: `stream`: unknown key `stream` (expected one of `broker`, `api`, `storage`, `cluster`, `s3`, `sqs`, `sns`, `dynamodb`, `firehose`, `streams`, `tables`, `plugins`, `notify`, `rules`)")
    );
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
fn config_missing_file() {
    let text = BASE.replace("data/driver_data.csv", "data/nope.csv");
    assert_eq!(
        one_error(&text),
        format!("{F}:5:8: `tables.drivers.file`: file ../../examples/speeding/data/nope.csv does not exist (expected an existing file (relative paths start at the configuration file's folder))")
    );
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
fn both_listeners_may_ask_for_a_system_port_but_not_share_a_fixed_one() {
    let broker =
        |v4: &str, v5: &str| format!("[broker]\nlisten = {v4:?}\nlisten_v5 = {v5:?}\n\n{BASE}");
    let zero = Config::parse(&broker("127.0.0.1:0", "127.0.0.1:0"), F);
    assert!(
        matches!(&zero, Ok(c) if matches!(&c.broker, Broker::Embedded(b) if b.listen_v5.as_deref() == Some("127.0.0.1:0"))),
        "{:?}",
        zero.err().map(|e| e.to_string())
    );
    let shared = one_error(&broker("127.0.0.1:1883", "127.0.0.1:1883"));
    assert!(
        shared.contains("is already the MQTT 3.1.1 listener's address"),
        "{shared}"
    );
}
