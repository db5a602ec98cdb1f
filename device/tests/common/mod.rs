//! Shared by the integration tests and the `load_ceiling` example: an embedded rumqttd broker on
//! a free loopback port, a subscriber that collects messages, and the seed data's path.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};
use weir_device::connection::{BrokerUrl, Connection, ConnectionOptions, Qos, Received};

/// The seed CSV, where it lives relative to this crate both in scratch and in the project.
pub fn seed_csv() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/speeding/data/speeding_data.csv")
}

pub struct Broker {
    pub v4_port: u16,
    pub v5_port: u16,
}

impl Broker {
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.v4_port)
    }
    pub fn v5_url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.v5_port)
    }
    pub fn options(&self, client_id: &str) -> ConnectionOptions {
        let url = BrokerUrl::parse(&self.url()).expect("valid url");
        ConnectionOptions::new(url, client_id)
    }
}

fn server(name: &str, port: u16) -> ServerSettings {
    ServerSettings {
        name: name.to_string(),
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 1024 * 1024,
            max_inflight_count: 1_000,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
            max_publish_rate: None,
        },
    }
}

/// Starts rumqttd with one v4 and one v5 listener on loopback ports the system gives (bound
/// before the broker thread starts: rumqttd patch 8), so no other test can take them between
/// a pick and the bind. The broker thread lives until the test process exits.
pub fn start_broker() -> Broker {
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 10_010,
            max_outgoing_packet_count: 200,
            // Small segments: load runs publish millions of messages nobody reads back.
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 4,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("v4".to_string(), server("v4", 0))])),
        v5: Some(HashMap::from([("v5".to_string(), server("v5", 0))])),
        ..Config::default()
    };
    let mut broker = rumqttd::Broker::new(config);
    let bound = broker
        .bind_listeners()
        .expect("bind the broker's listeners");
    let port = |name: &str| {
        bound
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.port())
            .expect("a bound listener")
    };
    let (v4_port, v5_port) = (port("v4"), port("v5"));
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                eprintln!("rumqttd stopped: {e}");
            }
        })
        .expect("spawn broker thread");
    Broker { v4_port, v5_port }
}

/// A connected subscriber whose SUBACK has arrived.
pub struct Subscriber {
    pub conn: Connection,
    rx: tokio::sync::mpsc::Receiver<Received>,
}

pub async fn subscribe(url: &str, client_id: &str, filter: &str) -> Subscriber {
    let mut o = ConnectionOptions::new(BrokerUrl::parse(url).expect("url"), client_id);
    o.clean_session = true;
    let mut conn = Connection::connect(&o).await.expect("subscriber connects");
    // Take the receiver first: messages that arrive before it is taken are dropped.
    let rx = conn.take_incoming().expect("incoming");
    conn.subscribe(filter, Qos::AtLeastOnce, Duration::from_secs(10))
        .await
        .expect("SUBACK");
    Subscriber { conn, rx }
}

impl Subscriber {
    /// Collects `n` messages; panics (failing the test) if they do not come within `timeout`.
    pub async fn collect(&mut self, n: usize, timeout: Duration) -> Vec<Received> {
        let mut out = Vec::with_capacity(n);
        let deadline = tokio::time::Instant::now() + timeout;
        while out.len() < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => out.push(m),
                Ok(None) => panic!("subscriber closed after {} of {n} messages", out.len()),
                Err(_) => panic!("received {} of {n} messages within {timeout:?}", out.len()),
            }
        }
        out
    }
}
