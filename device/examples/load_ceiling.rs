//! Measures the load generator's own ceiling against an embedded rumqttd on loopback:
//! messages/s with 1, 8 and 32 connections, QoS 0 and QoS 1, as fast as possible.
//!
//! Run with `cargo run --release --example load_ceiling [SECONDS_PER_RUN] [PAYLOAD_BYTES]`.
//! The broker runs in this process, so broker and generator share the machine's cores: the
//! figures are a floor for the generator alone and a realistic number for a one-box benchmark.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use weir_device::connection::Qos;
use weir_device::load::{self, LoadOptions, LoadPayload, LoadReport};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().map_or(Ok(3.0), |a| a.parse())?;
    let size: usize = args.next().map_or(Ok(256), |a| a.parse())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let broker = common::start_broker();
    println!(
        "embedded rumqttd on 127.0.0.1:{}, {secs} s per run, {size}-byte payloads",
        broker.v4_port
    );
    println!(
        "{:>5} {:>4} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "conns", "qos", "sent/s", "acked/s", "p50", "p90", "p99", "max"
    );
    for qos in [Qos::AtMostOnce, Qos::AtLeastOnce] {
        for connections in [1usize, 8, 32] {
            let mut connection = broker.options(&format!("ceiling-{connections}-{qos:?}"));
            connection.clean_session = true;
            connection.inflight = 100;
            let opts = LoadOptions {
                connection,
                connections,
                rate: 0.0,
                duration: Duration::from_secs_f64(secs),
                qos,
                topic: format!("bench/{connections}/{qos:?}"),
                payload: LoadPayload::Size(size),
                subscribe: None,
                drain_timeout: Duration::from_secs(30),
            };
            let report = runtime.block_on(load::run(&opts))?;
            print_row(connections, &report);
        }
    }
    Ok(())
}

/// One row of the table. Latencies exist only for QoS 1 (publish to PUBACK); a QoS 0 row
/// shows `-` there rather than zeros that would read as measured.
fn print_row(connections: usize, report: &LoadReport) {
    let p = report.publish_to_ack.unwrap_or_default();
    let ms = |us: u64| {
        if report.qos == 1 {
            format!("{:.2}ms", us as f64 / 1000.0)
        } else {
            "-".into()
        }
    };
    println!(
        "{:>5} {:>4} {:>12.0} {:>12} {:>10} {:>10} {:>10} {:>10}",
        connections,
        report.qos,
        report.sent_per_sec,
        report
            .acked_per_sec
            .map_or("-".into(), |r| format!("{r:.0}")),
        ms(p.p50_us),
        ms(p.p90_us),
        ms(p.p99_us),
        ms(p.max_us),
    );
    if report.failed > 0 {
        println!("      ({} failed)", report.failed);
    }
}
