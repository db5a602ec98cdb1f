//! The connection's promises against a real broker: QoS 1 messages survive a dropped link
//! (resent after the automatic reconnect), and the button drives a publish and the LED.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{start_broker, subscribe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, watch};
use weir_device::button::{self, ButtonConfig, ButtonPins, Clock, Edge, PinLevel, TopicSink};
use weir_device::connection::{BrokerUrl, Connection, ConnectionOptions, Qos};
use weir_device::csv_source::{CsvSource, OnBadRow};
use weir_device::replay::{self, csv_messages, ReplayOptions};

/// A TCP proxy in front of the broker that can swallow the broker's replies (so PUBACKs never
/// arrive) and cut every connection, which is what a flaky mobile link does to a device.
struct Proxy {
    port: u16,
    hold: watch::Sender<bool>,
    kill: broadcast::Sender<()>,
    /// Closes the listening socket: the "broker" is gone for good.
    shutdown: watch::Sender<bool>,
}

async fn start_proxy(target: u16) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    let (hold, hold_rx) = watch::channel(false);
    let (kill, _) = broadcast::channel::<()>(4);
    let kill_tx = kill.clone();
    let (shutdown, mut shutdown_rx) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown_rx.changed() => break,
            };
            let Ok((client, _)) = accepted else { break };
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)).await else {
                continue;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut ur, mut uw) = upstream.into_split();
            let mut kill1 = kill_tx.subscribe();
            let mut kill2 = kill_tx.subscribe();
            let hold_rx = hold_rx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    tokio::select! {
                        n = cr.read(&mut buf) => match n {
                            Ok(0) | Err(_) => break,
                            Ok(n) => if uw.write_all(&buf[..n]).await.is_err() { break },
                        },
                        _ = kill1.recv() => break,
                    }
                }
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    tokio::select! {
                        n = ur.read(&mut buf) => match n {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if *hold_rx.borrow() {
                                    continue; // swallowed: the client never sees these acks
                                }
                                if cw.write_all(&buf[..n]).await.is_err() { break }
                            }
                        },
                        _ = kill2.recv() => break,
                    }
                }
            });
        }
    });
    Proxy {
        port,
        hold,
        kill,
        shutdown,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_messages_are_resent_after_reconnect() {
    let broker = start_broker();
    let proxy = start_proxy(broker.v4_port).await;
    let mut sub = subscribe(&broker.url(), "rc-sub", "rc/topic").await;

    let url = BrokerUrl::parse(&format!("mqtt://127.0.0.1:{}", proxy.port)).expect("url");
    let mut o = ConnectionOptions::new(url, "rc-pub");
    o.inflight = 100;
    let publisher = Connection::connect(&o)
        .await
        .expect("connects through proxy");

    // With acks swallowed, 100 messages fill the in-flight window and 50 wait in the queue.
    proxy.hold.send_replace(true);
    for seq in 0..150 {
        let payload = format!("{{\"seq\":{seq}}}").into_bytes();
        publisher
            .publish("rc/topic", Qos::AtLeastOnce, payload)
            .await
            .expect("queued");
    }
    assert_eq!(
        publisher.counts().acked,
        0,
        "no ack may pass the held proxy"
    );

    proxy.hold.send_replace(false);
    proxy.kill.send(()).expect("connections to kill");

    assert!(
        publisher.wait_all_settled(Duration::from_secs(30)).await,
        "all 150 acknowledged after the reconnect: {:?}",
        publisher.counts()
    );
    let counts = publisher.counts();
    assert_eq!(counts.acked, 150);
    assert!(counts.reconnects >= 1, "{counts:?}");
    publisher.close().await;

    // At least once: every seq arrives; the resent ones may arrive twice.
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < 150 {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(
            !left.is_zero(),
            "only {} distinct messages arrived",
            seen.len()
        );
        for m in sub.collect(1, left).await {
            let v: serde_json::Value = serde_json::from_slice(&m.payload).expect("json");
            seen.insert(v["seq"].as_u64().expect("seq"));
        }
    }
    assert_eq!(seen, (0..150).collect());
}

#[derive(Clone, Default)]
struct SimPins {
    low: Arc<Mutex<bool>>,
    led: Arc<Mutex<Vec<bool>>>,
}

impl ButtonPins for SimPins {
    fn level(&self) -> PinLevel {
        if *self.low.lock().expect("lock") {
            PinLevel::Low
        } else {
            PinLevel::High
        }
    }
    fn set_led(&mut self, on: bool) {
        self.led.lock().expect("lock").push(on);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_press_publishes_and_the_led_waits_for_the_puback() {
    let broker = start_broker();
    let mut sub = subscribe(&broker.url(), "btn-sub", "rtr/iot/trafficdata").await;
    let publisher = Connection::connect(&broker.options("btn-pub"))
        .await
        .expect("connects");
    let pins = SimPins::default();
    let (edges_tx, edges_rx) = mpsc::unbounded_channel();
    let clock = Clock::start();
    *pins.low.lock().expect("lock") = true;
    edges_tx
        .send(Edge {
            level: PinLevel::Low,
            at: clock.now(),
        })
        .expect("queued");
    let mut driver_pins = pins.clone();
    let mut sink = TopicSink {
        publisher: &publisher,
        topic: "rtr/iot/trafficdata".into(),
        qos: Qos::AtLeastOnce,
    };
    let cfg = ButtonConfig {
        debounce: Duration::from_millis(300),
        // long enough that the test never sees a repeat
        repeat: Duration::from_secs(3600),
    };
    let report = button::run(
        &mut driver_pins,
        edges_rx,
        &mut sink,
        clock,
        cfg,
        1,
        || "{\"licensePlate\": \"95B•140\"}".as_bytes().to_vec(),
        std::future::pending(),
    )
    .await
    .expect("button run");
    assert_eq!((report.published, report.settled), (1, 1));
    // off at start, on while in flight, off after the PUBACK, off at exit
    assert_eq!(*pins.led.lock().expect("lock"), [false, true, false, false]);
    let got = sub.collect(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].payload, "{\"licensePlate\": \"95B•140\"}".as_bytes());
    publisher.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_stays_away_fails_the_run_without_hanging() {
    let broker = start_broker();
    let proxy = start_proxy(broker.v4_port).await;
    let url = BrokerUrl::parse(&format!("mqtt://127.0.0.1:{}", proxy.port)).expect("url");
    let mut o = ConnectionOptions::new(url, "gone-pub");
    o.inflight = 10;
    let publisher = Connection::connect(&o)
        .await
        .expect("connects through proxy");
    proxy.shutdown.send_replace(true);
    proxy.kill.send(()).expect("connections to kill");

    let mut opts = ReplayOptions::new("gone/t");
    opts.ack_timeout = Duration::from_secs(1);
    let source = csv_messages(
        CsvSource::open(&common::seed_csv()).expect("csv"),
        OnBadRow::Stop,
    );
    // The guard is far above the 1 s the run should take; hitting it means a hang.
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        replay::run(&publisher, source, &opts, &replay::Quiet),
    )
    .await
    .expect("replay gives up instead of hanging");
    assert!(!outcome.ok());
    assert!(outcome.summary.failed > 0, "{:?}", outcome.summary);
    assert!(outcome.summary.acknowledged < 1000);
    assert!(outcome.stopped.is_some());
    tokio::time::timeout(Duration::from_secs(30), publisher.close())
        .await
        .expect("close is bounded");
}
