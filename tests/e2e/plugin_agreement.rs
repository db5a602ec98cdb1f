//! The native build of each plugin (through the SDK's test harness) and its real component
//! (through the host's wasmtime runtime) give identical results on the same inputs: the
//! harness is a faithful stand-in, and the component is the code that was unit-tested.

use std::sync::Arc;

use serde_json::json;
use weir_plugins::tables::{LookupTables, Table};
use weir_plugins::{self as host, Grant, OutboxRequest, PluginEngine, PluginSlot, PluginSpec};
use weir_sdk::testing::{Harness, MockHost, OutboxCall};
use weir_tests::{data_dir, plugin_path, seed_payloads};

pub(crate) fn to_host(r: &weir_sdk::Record) -> host::Record {
    host::Record {
        payload: r.payload.clone(),
        partition_key: r.partition_key.clone(),
        source_topic: r.source_topic.clone(),
        client_id: r.client_id.clone(),
        rule_name: r.rule_name.clone(),
        arrival_timestamp_ms: r.arrival_timestamp_ms,
        attributes: r.attributes.clone(),
    }
}

fn from_host(r: host::Record) -> weir_sdk::Record {
    weir_sdk::Record {
        payload: r.payload,
        partition_key: r.partition_key,
        source_topic: r.source_topic,
        client_id: r.client_id,
        rule_name: r.rule_name,
        arrival_timestamp_ms: r.arrival_timestamp_ms,
        attributes: r.attributes,
    }
}

fn err(e: host::RecordError) -> weir_sdk::RecordError {
    weir_sdk::RecordError::new(e.code, e.message)
}

pub(crate) fn engine() -> PluginEngine {
    PluginEngine::new(None).expect("engine")
}

pub(crate) fn driver_tables() -> Arc<LookupTables> {
    let path = data_dir().join("driver_data.csv");
    let mut tables = LookupTables::new();
    tables.insert(
        "drivers",
        Table::from_csv_file("drivers", &path, "licensePlate").expect("drivers"),
    );
    Arc::new(tables)
}

fn mock_with_drivers() -> MockHost {
    MockHost::new()
        .with_csv_file(
            "drivers",
            "licensePlate",
            data_dir().join("driver_data.csv"),
        )
        .expect("drivers")
}

/// The seed rows plus the inputs that must fail, with metadata set so it is compared too.
pub(crate) fn speeding_inputs() -> Vec<weir_sdk::Record> {
    let mut payloads = seed_payloads();
    payloads.extend([
        json!({"licensePlate": "NOSPEED-1"}),
        json!({"licensePlate": "X", "speed": "fast"}),
        json!({"licensePlate": "X", "speed": 120.5}),
        json!({"licensePlate": "X", "speed": null}),
        json!([1, 2, 3]),
    ]);
    let mut records: Vec<weir_sdk::Record> = payloads
        .iter()
        .map(|p| {
            let plate = p
                .get("licensePlate")
                .and_then(|v| v.as_str())
                .unwrap_or("?");
            weir_sdk::Record::from_json(p)
                .with_partition_key(plate)
                .with_topic("rtr/iot/trafficdata")
                .with_attribute("origin", "test")
        })
        .collect();
    records.push(weir_sdk::Record::new("not json at all"));
    records.push(weir_sdk::Record::new(vec![0xff, 0xfe]));
    records
}

#[test]
fn speed_limit_filter_agrees() {
    let inputs = speeding_inputs();
    let spec = PluginSpec::new("speed-limit", &[Grant::Config]).param("limit", "80");
    let component = PluginSlot::load(
        &engine(),
        spec,
        &plugin_path("speed-limit"),
        Arc::new(LookupTables::new()),
    )
    .expect("load speed-limit");
    let mut native =
        Harness::<speed_limit::SpeedLimit>::new(MockHost::new().with_config("limit", "80"));

    let mut kept = 0;
    for batch in inputs.chunks(37) {
        let want = native.filter(batch);
        let host_batch: Vec<host::Record> = batch.iter().map(to_host).collect();
        let got: Vec<weir_sdk::FilterResult> = component
            .filter(&host_batch)
            .expect("filter call")
            .into_iter()
            .map(|r| match r {
                host::FilterResult::Keep => weir_sdk::FilterResult::Keep,
                host::FilterResult::Drop => weir_sdk::FilterResult::Drop,
                host::FilterResult::Failed(e) => weir_sdk::FilterResult::Failed(err(e)),
            })
            .collect();
        assert_eq!(got, want);
        kept += want
            .iter()
            .filter(|r| **r == weir_sdk::FilterResult::Keep)
            .count();
    }
    // The seed has speeds on both sides of 80, and the extra inputs include failures.
    assert!(kept > 100 && kept < 1000, "kept {kept}");
}

fn compare_transformer<T: weir_sdk::Transformer>(
    name: &str,
    grants: &[Grant],
    inputs: Vec<weir_sdk::Record>,
    mock: MockHost,
    tables: Arc<LookupTables>,
) -> (usize, usize) {
    let component = PluginSlot::load(
        &engine(),
        PluginSpec::new(name, grants),
        &plugin_path(name),
        tables,
    )
    .unwrap_or_else(|e| panic!("load {name}: {e}"));
    let mut native = Harness::<T>::new(mock);
    let (mut ok, mut failed) = (0, 0);
    for batch in inputs.chunks(50) {
        let want = native.transform(batch.to_vec());
        let host_batch: Vec<host::Record> = batch.iter().map(to_host).collect();
        let got: Vec<weir_sdk::TransformResult> = component
            .transform(&host_batch)
            .unwrap_or_else(|e| panic!("{name} call: {e}"))
            .into_iter()
            .map(|r| match r {
                host::TransformResult::Records(rs) => {
                    weir_sdk::TransformResult::Records(rs.into_iter().map(from_host).collect())
                }
                host::TransformResult::Failed(e) => weir_sdk::TransformResult::Failed(err(e)),
            })
            .collect();
        assert_eq!(got, want, "{name}");
        for r in &want {
            match r {
                weir_sdk::TransformResult::Records(_) => ok += 1,
                weir_sdk::TransformResult::Failed(_) => failed += 1,
            }
        }
    }
    (ok, failed)
}

#[test]
fn owner_enrich_transformer_agrees() {
    let mut inputs = speeding_inputs();
    inputs.push(weir_sdk::Record::from_json(
        &json!({"licensePlate": "NOT-IN-TABLE", "speed": "99"}),
    ));
    let (ok, failed) = compare_transformer::<owner_enrich::OwnerEnrich>(
        "owner-enrich",
        &[Grant::Config, Grant::Lookup],
        inputs,
        mock_with_drivers(),
        driver_tables(),
    );
    assert_eq!(ok, 1000, "every seed plate is in the driver table");
    assert!(
        failed >= 5,
        "unknown plates and bad payloads fail: {failed}"
    );
}

#[test]
fn log_transformers_agree() {
    let apache = [
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
        "10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] \"POST /api HTTP/1.1\" 201 -\n::1 - - [01/Jan/2024:00:00:01 +0000] \"GET / HTTP/1.1\" 304 0",
        "garbage line",
        "",
    ];
    let inputs: Vec<_> = apache.iter().map(|l| weir_sdk::Record::new(*l)).collect();
    let (ok, failed) = compare_transformer::<apache_log_to_json::ApacheLogToJson>(
        "apache-log-to-json",
        &[],
        inputs,
        MockHost::new(),
        Arc::new(LookupTables::new()),
    );
    assert_eq!((ok, failed), (3, 1));

    let syslog = [
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\"] An event",
        "Feb  5 17:32:18 10.0.0.99 sshd[4721]: Accepted publickey for ünïcode",
        "<999>bad",
    ];
    let inputs: Vec<_> = syslog.iter().map(|l| weir_sdk::Record::new(*l)).collect();
    let (ok, failed) = compare_transformer::<syslog_to_json::SyslogToJson>(
        "syslog-to-json",
        &[],
        inputs,
        MockHost::new(),
        Arc::new(LookupTables::new()),
    );
    assert_eq!((ok, failed), (3, 1));
}

#[test]
fn sms_alert_emitter_agrees() {
    // Joined records, as owner-enrich makes them, plus records that must fail.
    let mut native_enrich = Harness::<owner_enrich::OwnerEnrich>::new(mock_with_drivers());
    let mut joined = Vec::new();
    for r in native_enrich.transform(speeding_inputs()) {
        if let weir_sdk::TransformResult::Records(rs) = r {
            joined.extend(rs);
        }
    }
    joined.push(weir_sdk::Record::from_json(
        &json!({"myphone": "not a phone"}),
    ));
    joined.push(weir_sdk::Record::from_json(
        &json!({"myphone": "8324498188", "first_name": "A"}),
    ));
    let spec = PluginSpec {
        channels: Some(vec!["sms".into()]),
        ..PluginSpec::new("sms-alert", &[Grant::Config, Grant::Outbox, Grant::Log])
    };
    let component = PluginSlot::load(
        &engine(),
        spec,
        &plugin_path("sms-alert"),
        Arc::new(LookupTables::new()),
    )
    .expect("load sms-alert");
    let mut native = Harness::<sms_alert::SmsAlert>::new(MockHost::new());

    let mut sent = 0;
    for batch in joined.chunks(64) {
        native.host.clear();
        let want = native.emit(batch);
        let host_batch: Vec<host::Record> = batch.iter().map(to_host).collect();
        let got = component.emit(&host_batch).expect("emit call");
        let got_failures: Vec<weir_sdk::EmitFailure> = got
            .failures
            .into_iter()
            .map(|f| weir_sdk::EmitFailure {
                index: f.index,
                error: err(f.error),
                retryable: f.retryable,
            })
            .collect();
        assert_eq!(got_failures, want);
        let got_outbox: Vec<OutboxCall> = got
            .outbox
            .into_iter()
            .map(|o| match o {
                OutboxRequest::Notify {
                    channel,
                    target,
                    message,
                } => OutboxCall::Notify {
                    channel,
                    target,
                    message,
                },
                OutboxRequest::Publish {
                    topic,
                    payload,
                    qos,
                } => OutboxCall::Publish {
                    topic,
                    payload,
                    qos,
                },
                OutboxRequest::PutRecord {
                    stream,
                    partition_key,
                    data,
                } => OutboxCall::PutRecord {
                    stream,
                    partition_key,
                    data,
                },
            })
            .collect();
        assert_eq!(got_outbox, native.host.outbox());
        sent += got_outbox.len();
    }
    assert_eq!(sent, 1000);
}
