//! Device Shadow updates per second over MQTT: `weir run`'s host started in-process with the
//! embedded broker, then CLIENTS MQTT 3.1.1 clients (rumqttc), each owning THINGS / CLIENTS
//! things, publishing QoS 1 updates to `$aws/things/THING/shadow/update` round robin over its
//! things, one request in flight per client (a device waits for its answer). An update's
//! latency is publish to PUBACK: Weir acknowledges only once the shadow is fsync'd and its
//! answers are published. Prints the rate and the p50 / p99 / max latency.
//!
//! `cargo run --release -p weir-host --example shadow_bench -- [--clients 8] [--things 1000]
//! [--updates 10000]`. The storage is a temporary folder under the current directory (a real
//! disk: every update is two fsyncs).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

struct Args {
    clients: usize,
    things: usize,
    updates: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        clients: 8,
        things: 1000,
        updates: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: usize = it
            .next()
            .with_context(|| format!("{flag} needs a value"))?
            .parse()
            .with_context(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--clients" => a.clients = value,
            "--things" => a.things = value,
            "--updates" => a.updates = value,
            _ => bail!("unknown flag {flag}"),
        }
    }
    if a.clients == 0 || a.things < a.clients {
        bail!("need at least one client and one thing per client");
    }
    Ok(a)
}

/// One client's run: `count` updates over its `things`, one at a time; the latency of each.
fn client(
    port: u16,
    id: usize,
    things: Vec<String>,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut opts = MqttOptions::new(format!("bench-{id}"), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = Client::new(opts, 16);
    let (acks, acked) = mpsc::channel();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            match ev {
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    if acks.send(Ok(())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = acks.send(Err(e.to_string()));
                    return;
                }
            }
        }
    });
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let thing = &things[i % things.len()];
        let payload = format!(
            r#"{{"state":{{"reported":{{"temp":{},"seq":{i}}},"desired":{{"temp":20}}}},"clientToken":"{id}-{i}"}}"#,
            15 + i % 10
        );
        let started = Instant::now();
        client.publish(
            format!("$aws/things/{thing}/shadow/update"),
            QoS::AtLeastOnce,
            false,
            payload.into_bytes(),
        )?;
        match acked.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => latencies.push(started.elapsed()),
            Ok(Err(e)) => bail!("client {id}: {e}"),
            Err(_) => bail!("client {id}: no PUBACK within 30 s"),
        }
    }
    let _ = client.disconnect();
    Ok(latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
    sorted.get(i).copied().unwrap_or_default()
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let dir = tempfile::tempdir_in(".").context("a temporary folder here")?;
    let config = dir.path().join("weir.toml");
    std::fs::write(
        &config,
        "[broker]\nlisten = \"127.0.0.1:0\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n\n[storage]\ndir = \"data\"\n\n\
         [streams.out]\n\n[rules.plain]\nsql = \"SELECT * FROM 'plain/#'\"\n\n[[rules.plain.actions]]\n\
         kind = \"kinesis\"\nstream = \"out\"\npartition_key = \"plain\"\n",
    )?;
    let host = weir_host::runtime::RunningHost::start(&config)?;
    let port = host
        .listening()
        .context("the embedded broker is not listening")?
        .v4
        .port();
    let per_client = a.updates / a.clients;
    let started = Instant::now();
    let workers: Vec<_> = (0..a.clients)
        .map(|c| {
            let things: Vec<String> = (0..a.things)
                .filter(|t| t % a.clients == c)
                .map(|t| format!("thing-{t}"))
                .collect();
            std::thread::spawn(move || client(port, c, things, per_client))
        })
        .collect();
    let mut all = Vec::with_capacity(per_client * a.clients);
    for w in workers {
        match w.join() {
            Ok(r) => all.extend(r?),
            Err(_) => bail!("a client thread panicked"),
        }
    }
    let took = started.elapsed();
    host.shutdown()?;
    all.sort_unstable();
    println!(
        "shadow updates over MQTT: {} updates (QoS 1, {} clients, {} things, one in flight per client) in {:.2} s: {:.0} updates/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        all.len(),
        a.clients,
        a.things,
        took.as_secs_f64(),
        all.len() as f64 / took.as_secs_f64(),
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    Ok(())
}
