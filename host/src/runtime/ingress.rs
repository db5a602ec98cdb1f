//! Where MQTT messages come from: the embedded rumqttd broker, or an external broker through a
//! rumqttc MQTT 5 client with shared subscriptions. Either way, each message becomes an
//! [`Inbound`] on the dispatcher's input.
//!
//! **Embedded.** Weir reads the broker through one in-process link subscribed to every topic,
//! `$` topics included (rumqttd patch 5, `rumqttd::local::ALL_TOPICS`): every message reaches
//! Weir exactly once and the rule index picks the rules (one subscription per FROM filter would
//! deliver a message once per matching filter). The link is reserved: a network client that
//! connects with its client id is refused, never put in its place. QoS 0 messages that find
//! the dispatcher's queue full are shed and counted (`weir_qos0_shed_total`) rather than
//! waited for, so a QoS 0 flood cannot hold up QoS 1 messages, which wait for room (their
//! publishers' inflight windows are the backpressure). The reader thread holds a
//! [`Worker`](super::liveness::Worker): if the broker's link closes under it, `/health` fails.
//! A Device Shadow request (`$aws/things/THING/shadow/...`) is also offered to the shadow
//! workers (`shadow_topics.rs`) with a share of its ack, before it goes to the rules. The
//! broker's connection events become AWS's lifecycle events (`lifecycle.rs`).
//!
//! That link *holds the acks* (rumqttd patch 4, `patches/rumqttd/PATCHES.md`): a QoS 1 PUBACK
//! or QoS 2 PUBREC leaves the broker only when the message's [`AckToken`] settles as handled,
//! that is when every action made it durable or gave it to the error action, in the order each
//! client published. A
//! message that was not handled disconnects its publisher, which sends it again; a crash leaves
//! it unacknowledged, and the publisher sends it again after reconnecting. Each publisher's
//! inflight window is then the backpressure: rumqttd holds at most that many of its messages.
//!
//! **External.** Weir is an MQTT 5 client with a persistent session and manual
//! acknowledgements. Each distinct FROM filter is subscribed as `$share/GROUP/FILTER` with its
//! own subscription identifier, so several Weir hosts split the traffic and a message is routed
//! to exactly the rules of the subscription it came through. A message's PUBACK is sent only
//! once every action made it durable (or gave it to the error action); a crash before that
//! leaves it unacknowledged and the broker delivers it again. A message that was not handled
//! (its action and every fallback failed) makes the poller renew the connection, at most every
//! [`REDELIVER_EVERY`]: the broker then delivers every unacknowledged message again, so failed
//! messages are retried and never keep the receive window full.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use weir_support::Cause;

use bytes::Bytes;

mod dollar;
mod external;

use super::ack::AckToken;
use super::lifecycle;
use super::metrics::Metrics;
use super::plan::Inbound;
use super::resources::Publisher;
use super::shadow_topics::ShadowTopics;
use weir_config::EmbeddedBroker;

/// How often an external broker connection is renewed while messages wait to be delivered
/// again (see the poller).
const REDELIVER_EVERY: Duration = Duration::from_secs(5);

/// What the dispatcher thread receives.
pub enum Input {
    /// A message, and the filters of the subscriptions it came through (`None`: all rules).
    Message(Inbound, Option<Vec<String>>),
    /// Replace the running plan (a configuration reload); the old one is drained first.
    Swap(Box<super::plan::Plan>),
    /// Drain and stop.
    Stop,
}

/// Why the broker side could not start.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    /// An address did not resolve.
    #[error("broker address {addr:?}")]
    Address {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The embedded broker did not come up.
    #[error("embedded broker: {what}")]
    Embedded {
        what: String,
        #[source]
        source: Option<Cause>,
    },
    /// The external broker could not be set up.
    #[error("external broker {url}: {what}")]
    External {
        url: String,
        what: String,
        #[source]
        source: Option<Cause>,
    },
}

/// `map_err` for a step of starting the embedded broker.
fn embedded<E: std::error::Error + Send + Sync + 'static>(
    what: &str,
) -> impl FnOnce(E) -> IngressError + '_ {
    move |e| IngressError::Embedded {
        what: what.to_owned(),
        source: Some(Box::new(e)),
    }
}

/// Why a publish to the broker failed.
#[derive(Debug, thiserror::Error)]
#[error("publishing to {topic:?}")]
pub struct PublishError {
    pub topic: String,
    #[source]
    pub source: Cause,
}

/// Why the TLS client configuration for an external broker could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file could not be read or holds something that is not a certificate.
    #[error("CA file {}", path.display())]
    CaFile {
        path: std::path::PathBuf,
        #[source]
        source: Cause,
    },
    /// rustls refused the protocol versions.
    #[error("TLS protocol versions")]
    Protocol(#[source] rustls::Error),
}

fn resolve(addr: &str) -> Result<SocketAddr, IngressError> {
    addr.to_socket_addrs()
        .map_err(|source| IngressError::Address {
            addr: addr.to_owned(),
            source,
        })?
        .next()
        .ok_or_else(|| IngressError::Address {
            addr: addr.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "resolves to nothing"),
        })
}

/// A running source of messages.
pub struct Ingress {
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    /// The Device Shadow workers (`shadow_topics.rs`), joined after the reader.
    shadow_workers: Vec<JoinHandle<()>>,
    kind: Kind,
}

/// Where the embedded broker listens, as bound: a configured port 0 is the port the system
/// gave, so tests and supervisors never race for a "free" port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listening {
    /// The MQTT 3.1.1 listener (`[broker] listen`).
    pub v4: SocketAddr,
    /// The MQTT 5 listener (`[broker] listen_v5`), if configured.
    pub v5: Option<SocketAddr>,
}

enum Kind {
    Embedded(Listening),
    External {
        client: rumqttc::v5::Client,
        subscribed: Arc<Mutex<Subscriptions>>,
        share_group: String,
        poller: Option<JoinHandle<()>>,
        disconnect: Arc<AtomicBool>,
        /// The `$` topics' session (`dollar.rs`).
        dollar: dollar::Dollar,
    },
}

/// Subscription identifiers are stable per filter for the life of the process.
#[derive(Default)]
struct Subscriptions {
    ids: HashMap<String, usize>,
    by_id: HashMap<usize, String>,
    active: BTreeSet<String>,
}

impl Ingress {
    /// Starts the embedded broker and its reader; returns the publisher for `republish`.
    /// With `shadows`, the broker serves AWS's Device Shadow topics (`shadow_topics.rs`).
    pub fn embedded(
        cfg: &EmbeddedBroker,
        input: SyncSender<Input>,
        metrics: Arc<Metrics>,
        shadows: Option<Arc<weir_shadow::ShadowService>>,
    ) -> Result<(Ingress, Arc<dyn Publisher>), IngressError> {
        let v4_addr = resolve(&cfg.listen)?;
        let v5_addr = cfg.listen_v5.as_deref().map(resolve).transpose()?;
        let mut broker = rumqttd::Broker::new(broker_config(cfg, v4_addr, v5_addr));
        // In-process links are reserved: a network client that connects with the same client
        // id is refused instead of replacing them (rumqttd patch 5).
        let (mut link_tx, link_rx) = broker
            .link("weir-ingress")
            .map_err(embedded("in-process link"))?;
        let (pub_tx, mut pub_rx) = broker
            .link("weir-publisher")
            .map_err(embedded("in-process link"))?;
        // Before the listeners start, so that no connection goes unreported (rumqttd patch 10).
        let connection_events = broker
            .connection_events(lifecycle::QUEUE)
            .map_err(embedded("connection events"))?;
        // Before the listeners start, so that no client's publish is acknowledged early.
        // The holder's filter receives every topic, `$` topics included (rumqttd patch 5): a
        // rule on `$aws/things/+/shadow/update` sees what it matches.
        let confirmer = link_tx
            .hold_acks(rumqttd::local::ALL_TOPICS)
            .map_err(embedded("holding acknowledgements"))?;
        link_tx
            .subscribe(rumqttd::local::ALL_TOPICS)
            .map_err(embedded("subscribing"))?;
        // Bound here, before any client can connect and before `ready`: a taken address fails
        // the start with its name, and port 0 becomes a real port (rumqttd patch 8).
        let listening = bind_listeners(&mut broker, v4_addr, v5_addr)?;
        std::thread::Builder::new()
            .name("weir-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded broker stopped");
                }
            })
            .map_err(embedded("starting the broker thread"))?;
        // The publisher's link receives only acknowledgements; keep it drained.
        std::thread::Builder::new()
            .name("weir-publisher-acks".into())
            .spawn(move || while pub_rx.recv().is_ok() {})
            .map_err(embedded("starting the publisher thread"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let publisher: Arc<dyn Publisher> = Arc::new(EmbeddedPublisher {
            link: Mutex::new(pub_tx),
        });
        // AWS's lifecycle events, published like any answer of Weir's (`lifecycle.rs`).
        lifecycle::start(connection_events, publisher.clone())
            .map_err(embedded("starting the lifecycle thread"))?;
        let (shadow_topics, shadow_workers) = match shadows {
            Some(service) => {
                let (topics, workers) = ShadowTopics::start(service, publisher.clone(), &metrics)
                    .map_err(embedded("starting the shadow workers"))?;
                (Some(topics), workers)
            }
            None => (None, Vec::new()),
        };
        let reader = spawn_reader(
            Link {
                tx: link_tx,
                rx: link_rx,
                confirmer,
            },
            shadow_topics,
            input,
            stop.clone(),
            metrics,
        )?;
        Ok((
            Ingress {
                stop,
                reader: Some(reader),
                shadow_workers,
                kind: Kind::Embedded(listening),
            },
            publisher,
        ))
    }

    /// Stops taking messages in. The embedded reader first drains what the broker already
    /// holds (until it is quiet for a moment, at most a few seconds).
    pub fn stop_reading(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        // The reader (or the `$` session) held the shadow queues: the workers serve what is
        // queued, then end.
        if let Kind::External { dollar, .. } = &self.kind {
            dollar.stop_shadows();
        }
        for w in self.shadow_workers.drain(..) {
            let _ = w.join();
        }
    }

    /// Where the embedded broker listens; `None` for an external broker.
    pub fn listening(&self) -> Option<Listening> {
        match self.kind {
            Kind::Embedded(l) => Some(l),
            Kind::External { .. } => None,
        }
    }

    /// Closes the external connection once every acknowledgement is queued.
    pub fn close(mut self) {
        if let Kind::External {
            client,
            poller,
            disconnect,
            dollar,
            ..
        } = &mut self.kind
        {
            dollar.close();
            disconnect.store(true, Ordering::Release);
            let _ = client.try_disconnect();
            if let Some(p) = poller.take() {
                let _ = p.join();
            }
        }
    }
}

use weir_support::lock;

/// rumqttd's names for the two listeners (its logs show them).
const V4_SERVER: &str = "weir-mqtt-v4";
const V5_SERVER: &str = "weir-mqtt-v5";

/// rumqttd's configuration for `cfg`: the `[broker]` limits on every listener (MQTT 3.1.1,
/// and 5 when asked for), with TLS and passwords when configured.
fn broker_config(
    cfg: &EmbeddedBroker,
    v4_addr: SocketAddr,
    v5_addr: Option<SocketAddr>,
) -> rumqttd::Config {
    let limits = cfg.limits;
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: u16::try_from(limits.connect_timeout.as_millis())
            .unwrap_or(u16::MAX),
        max_payload_size: limits.max_packet_bytes,
        max_inflight_count: limits.max_inflight,
        auth: (!cfg.users.is_empty()).then(|| {
            cfg.users
                .iter()
                .map(|(u, p)| (u.clone(), p.clone()))
                .collect()
        }),
        external_auth: None,
        dynamic_filters: true,
        max_publish_rate: limits.max_publish_rate,
    };
    let tls = cfg.tls.as_ref().map(|t| rumqttd::TlsConfig::Rustls {
        capath: None,
        certpath: t.cert_file.display().to_string(),
        keypath: t.key_file.display().to_string(),
    });
    let server = |name: &str, listen| rumqttd::ServerSettings {
        name: name.to_owned(),
        listen,
        tls: tls.clone(),
        next_connection_delay_ms: 0,
        connections: connections.clone(),
    };
    rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            // The in-process links (ingress, publisher) count too.
            max_connections: limits.max_connections + 10,
            max_outgoing_packet_count: 1000,
            // rumqttd keeps messages in memory segments and drops the oldest segment when
            // the count is reached: room for a few seconds of a slow pipeline at full rate.
            max_segment_size: 64 << 20,
            max_segment_count: 16,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([(
            "mqtt-v4".to_owned(),
            server(V4_SERVER, v4_addr),
        )])),
        v5: v5_addr.map(|a| HashMap::from([("mqtt-v5".to_owned(), server(V5_SERVER, a))])),
        ..Default::default()
    }
}

/// The holder's in-process link.
struct Link {
    tx: rumqttd::local::LinkTx,
    rx: rumqttd::local::LinkRx,
    confirmer: rumqttd::local::Confirmer,
}

/// Starts the thread that reads the embedded broker's in-process link into the dispatcher's
/// input (and shadow requests into the shadow workers' queues). It holds a liveness worker,
/// so a reader that dies fails `/health`.
fn spawn_reader(
    mut link: Link,
    shadows: Option<ShadowTopics>,
    input: SyncSender<Input>,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
) -> Result<JoinHandle<()>, IngressError> {
    std::thread::Builder::new()
        .name("weir-ingress".into())
        .spawn(move || {
            let worker = metrics.liveness.worker("weir-ingress");
            let read = embedded_reader(&mut link, shadows.as_ref(), &input, &stop, &metrics);
            match read {
                Ok(()) => worker.finish(),
                Err(reason) => worker.died(&reason),
            }
        })
        .map_err(embedded("starting the reader thread"))
}

/// Binds the broker's listeners (see [`Listening`]); an address that cannot be bound is
/// named in the error.
fn bind_listeners(
    broker: &mut rumqttd::Broker,
    v4: SocketAddr,
    v5: Option<SocketAddr>,
) -> Result<Listening, IngressError> {
    let bound = broker
        .bind_listeners()
        .map_err(|e| IngressError::Embedded {
            what: format!(
                "cannot listen on {v4}{}",
                v5.map(|a| format!(" and {a}")).unwrap_or_default()
            ),
            source: Some(Box::new(e)),
        })?;
    let find = |name: &str| bound.iter().find(|(n, _)| n == name).map(|(_, a)| *a);
    let v4 = find(V4_SERVER).ok_or_else(|| IngressError::Embedded {
        what: format!("the broker bound no MQTT 3.1.1 listener for {v4}"),
        source: None,
    })?;
    Ok(Listening {
        v4,
        v5: v5.and_then(|_| find(V5_SERVER)),
    })
}

/// The embedded reader's loop: every message the in-process link forwards goes to the
/// dispatcher until `stop`, then what the broker already holds is drained. `Err` is why the
/// link died (the caller's liveness worker reports it to `/health`).
fn embedded_reader(
    link: &mut Link,
    shadows: Option<&ShadowTopics>,
    input: &SyncSender<Input>,
    stop: &AtomicBool,
    metrics: &Metrics,
) -> Result<(), String> {
    let Link {
        tx: _keep_subscribed,
        rx: link_rx,
        confirmer,
    } = link;
    let confirmer = &*confirmer;
    let mut quiet_since: Option<Instant> = None;
    let mut stop_seen: Option<Instant> = None;
    // The broker's shed count, copied into the metrics when the link pauses or goes quiet,
    // not per message.
    let note_broker_shed = || {
        metrics
            .qos0_shed_by_broker
            .store(confirmer.qos0_shed(), Ordering::Relaxed)
    };
    loop {
        if stop_seen.is_none() && stop.load(Ordering::Acquire) {
            stop_seen = Some(Instant::now());
        }
        if stop_seen.is_some_and(|t| drained(t, quiet_since)) {
            return Ok(());
        }
        match link_rx.recv_deadline(Instant::now() + Duration::from_millis(50)) {
            Ok(Some(rumqttd::Notification::Forward(f))) => {
                quiet_since = None;
                if !hand_over(f, confirmer, shadows, input, metrics) {
                    return Ok(());
                }
            }
            Ok(Some(rumqttd::Notification::Unschedule)) => {
                note_broker_shed();
                // The router paused us because our queue was full; we have taken it all.
                if let Err(e) = link_rx.ready() {
                    return Err(format!("embedded broker link closed: {e}"));
                }
            }
            Ok(Some(rumqttd::Notification::Disconnect(..))) => {
                return Err("the embedded broker disconnected its link".to_owned());
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                note_broker_shed();
                quiet_since.get_or_insert_with(Instant::now);
            }
            Err(rumqttd::local::LinkError::RecvTimeout(_)) => {
                note_broker_shed();
                quiet_since.get_or_insert_with(Instant::now);
            }
            Err(e) => {
                tracing::error!(error = %e, "embedded broker link closed");
                return Err(format!("embedded broker link closed: {e}"));
            }
        }
    }
}

/// Once stopping (since `stop_seen`), the reader takes what the broker already holds, so its
/// publishers need not send it again: until the link has been quiet for a moment, at most a
/// few seconds if publishers keep going. What is left stays unacknowledged.
fn drained(stop_seen: Instant, quiet_since: Option<Instant>) -> bool {
    quiet_since.is_some_and(|q| q.elapsed() > Duration::from_millis(200))
        || stop_seen.elapsed() > Duration::from_secs(5)
}

/// Hands one forwarded message to the dispatcher (a shadow request to the shadow workers
/// first, with a share of its ack); `false` once the dispatcher has stopped.
/// A QoS 1 or 2 message waits for room and holds its broker ack until it settles; a QoS 0
/// message is shed (and counted) when the queue is full.
fn hand_over(
    f: rumqttd::Forward,
    confirmer: &rumqttd::local::Confirmer,
    shadows: Option<&ShadowTopics>,
    input: &SyncSender<Input>,
    metrics: &Metrics,
) -> bool {
    let topic = String::from_utf8_lossy(&f.publish.topic).into_owned();
    // Only a QoS 1 or 2 message has a cursor: its ack is held until it settles.
    let held = f.cursor.is_some();
    let ack = match f.cursor {
        Some(cursor) => {
            let confirmer = confirmer.clone();
            AckToken::settled_by(move |handled| {
                if handled {
                    confirmer.confirm(cursor)
                } else {
                    confirmer.reject(cursor)
                }
            })
        }
        None => AckToken::none(),
    };
    let msg = Inbound {
        topic: Arc::from(topic),
        payload: f.publish.payload,
        client_id: None,
        ack,
    };
    if let Some(shadows) = shadows {
        shadows.offer(&msg, held, metrics);
    }
    if !held {
        // QoS 0: at most once. A full queue means the rules are behind; waiting here would
        // keep every QoS 1 message behind this one waiting too.
        return match input.try_send(Input::Message(msg, None)) {
            Ok(()) => true,
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                metrics.qos0_shed.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => false,
        };
    }
    if let Err(std::sync::mpsc::SendError(Input::Message(msg, _))) =
        input.send(Input::Message(msg, None))
    {
        // The dispatcher has stopped: not handled, so not acknowledged.
        msg.ack.fail();
        return false;
    }
    true
}

/// Publishes through the embedded broker's in-process link.
struct EmbeddedPublisher {
    link: Mutex<rumqttd::local::LinkTx>,
}

impl Publisher for EmbeddedPublisher {
    fn publish(&self, topic: &str, payload: Bytes, qos: u8) -> Result<(), PublishError> {
        // rumqttd patch 9: a QoS 1 publish of the in-process link is acknowledged to the link
        // at once (there is no network between Weir and its own broker), is never shed, and
        // reaches each subscriber at the lower of its QoS and `qos`. QoS 2 goes as QoS 1.
        let qos = if qos == 0 {
            rumqttd::protocol::QoS::AtMostOnce
        } else {
            rumqttd::protocol::QoS::AtLeastOnce
        };
        lock(&self.link)
            .publish_qos(Bytes::copy_from_slice(topic.as_bytes()), payload, qos)
            .map(|_| ())
            .map_err(|e| PublishError {
                topic: topic.to_owned(),
                source: Box::new(e),
            })
    }
}

/// Checks that the embedded broker serves a client end to end: a TCP connection, then (on a
/// plain listener) an MQTT 3.1.1 CONNECT answered by a successful CONNACK within `timeout`.
/// A listener whose thread died refuses the connection; one that accepts but no longer
/// completes a handshake fails the CONNACK: both are failures, so `/health` cannot answer
/// "ok" for a broker that serves nobody.
pub fn probe_embedded(
    cfg: &EmbeddedBroker,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<(), String> {
    use std::io::{Read, Write};
    static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    if cfg.tls.is_some() {
        // A TLS handshake is not worth doing here: accepting is what a dead listener cannot.
        return Ok(());
    }
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let n = PROBES.fetch_add(1, Ordering::Relaxed);
    let client_id = format!("weir-health-{}-{n}", std::process::id());
    let user = cfg.users.iter().next();
    let mut flags = 0x02u8; // clean session
    let mut payload = Vec::new();
    let field = |b: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        out.extend_from_slice(b);
    };
    field(client_id.as_bytes(), &mut payload);
    if let Some((u, p)) = user {
        flags |= 0xc0;
        field(u.as_bytes(), &mut payload);
        field(p.as_bytes(), &mut payload);
    }
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, flags, 0, 10];
    body.extend(payload);
    let mut packet = vec![0x10];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        packet.push(byte);
        if len == 0 {
            break;
        }
    }
    packet.extend(body);
    s.write_all(&packet)
        .map_err(|e| format!("sending CONNECT to {addr}: {e}"))?;
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack)
        .map_err(|e| format!("waiting for CONNACK from {addr}: {e}"))?;
    if connack[0] != 0x20 || connack[3] != 0 {
        return Err(format!("{addr} answered CONNECT with {connack:02x?}"));
    }
    let _ = s.write_all(&[0xe0, 0x00]);
    Ok(())
}
