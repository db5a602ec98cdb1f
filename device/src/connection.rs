//! One MQTT connection that publishes and counts what the broker acknowledged.
//!
//! rumqttc splits a connection into a client handle and an event loop that must be polled;
//! [`Publisher`] owns a task that polls it and turns its events into counters (published,
//! acknowledged, rejected), optional publish-to-ack latencies, and forwarded incoming messages.
//! Every mode builds on the same two questions: "did everything I sent get a PUBACK?" and
//! "how long did it take?".
//!
//! Reconnects: with `clean_session = false` the broker keeps the session and rumqttc resends
//! unacknowledged QoS 1 messages after reconnecting. If the broker lost the session (restart,
//! expiry) rumqttc would drop them; the driver keeps a copy of what was in flight when the link
//! broke and puts it back in that case, so "at least once" holds either way.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use rumqttc::Outgoing;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::summary::latency_histogram;

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    V4,
    V5,
}

/// Delivery guarantee. QoS 2 is left out: AWS IoT does not support it, so neither does the
/// scenario's device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Qos {
    AtMostOnce,
    #[default]
    AtLeastOnce,
}

impl Qos {
    pub fn from_level(level: u8) -> Option<Self> {
        match level {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            _ => None,
        }
    }
    fn v4(self) -> rumqttc::QoS {
        match self {
            Self::AtMostOnce => rumqttc::QoS::AtMostOnce,
            Self::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        }
    }
    fn v5(self) -> rumqttc::v5::mqttbytes::QoS {
        match self {
            Self::AtMostOnce => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
            Self::AtLeastOnce => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        }
    }
}

/// `mqtt://host:port` or `mqtts://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    /// Accepts `mqtt://`, `tcp://` (plain), `mqtts://`, `ssl://` (TLS), or a bare `host[:port]`.
    /// Ports default to 1883 and 8883.
    pub fn parse(url: &str) -> Result<Self, ConnectError> {
        let bad = |reason: &str| ConnectError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let (tls, rest) = match url.split_once("://") {
            Some(("mqtt" | "tcp", rest)) => (false, rest),
            Some(("mqtts" | "ssl" | "tls", rest)) => (true, rest),
            Some((scheme, _)) => {
                return Err(bad(&format!(
                    "unsupported scheme {scheme:?}, use mqtt:// or mqtts://"
                )))
            }
            None => (false, url),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("missing `]` after IPv6 address"))?;
            (host, after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| bad(&format!("invalid port {p:?}")))?,
            None if tls => 8883,
            None => 1883,
        };
        Ok(Self {
            tls,
            host: host.to_string(),
            port,
        })
    }

    /// `host:port`, as used in error messages.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Something that happened to the link, for warning lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    Disconnected {
        reason: String,
    },
    Reconnected {
        session_present: bool,
        resent: usize,
    },
}

pub type LinkObserver = Arc<dyn Fn(&LinkEvent) + Send + Sync>;

/// Everything needed to open one connection.
#[derive(Clone)]
pub struct ConnectionOptions {
    pub broker: BrokerUrl,
    pub client_id: String,
    pub protocol: Protocol,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub keep_alive: Duration,
    /// `false` keeps the broker-side session across reconnects (what AWS IoT devices use).
    pub clean_session: bool,
    /// QoS 1 messages in flight (sent, not yet acknowledged) before publishing waits.
    pub inflight: u16,
    pub connect_timeout: Duration,
    /// Largest packet sent or received, in bytes.
    pub max_packet_size: usize,
    /// Record publish-to-PUBACK latencies (costs a map insert and remove per message).
    pub track_latency: bool,
    pub observer: Option<LinkObserver>,
}

impl fmt::Debug for ConnectionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionOptions")
            .field("broker", &self.broker)
            .field("client_id", &self.client_id)
            .field("protocol", &self.protocol)
            .field("clean_session", &self.clean_session)
            .field("inflight", &self.inflight)
            .finish_non_exhaustive()
    }
}

impl ConnectionOptions {
    pub fn new(broker: BrokerUrl, client_id: impl Into<String>) -> Self {
        Self {
            broker,
            client_id: client_id.into(),
            protocol: Protocol::V4,
            ca: None,
            cert: None,
            key: None,
            username: None,
            password: None,
            keep_alive: Duration::from_secs(30),
            clean_session: false,
            inflight: 100,
            connect_timeout: Duration::from_secs(10),
            max_packet_size: 1024 * 1024,
            track_latency: false,
            observer: None,
        }
    }
}

/// Why a connection could not be opened. Each message names the broker and what failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    #[error("invalid broker URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("{what} {path}: {reason}")]
    Credentials {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("cannot connect to broker {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    #[error("TLS with broker {endpoint} failed: {reason}")]
    Tls { endpoint: String, reason: String },
    #[error("broker {endpoint} refused the connection: {reason}")]
    Refused { endpoint: String, reason: String },
    #[error("cannot connect to broker {endpoint}: no answer within {secs} s")]
    Timeout { endpoint: String, secs: u64 },
    #[error("broker {endpoint}: {reason}")]
    Protocol { endpoint: String, reason: String },
}

/// A publish that could not be handed to the connection (it has shut down).
#[derive(Debug, thiserror::Error)]
#[error("cannot publish to broker {endpoint}: {reason}")]
pub struct PublishError {
    pub endpoint: String,
    pub reason: String,
}

/// A message received on a subscription.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub received_at: Instant,
}

/// Snapshot of a connection's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// QoS 1 publishes handed to the client.
    pub published_qos1: u64,
    /// QoS 0 publishes handed to the client.
    pub published_qos0: u64,
    /// Successful PUBACKs.
    pub acked: u64,
    /// PUBACKs with a failure reason (MQTT 5 only).
    pub rejected: u64,
    pub reconnects: u64,
}

impl Counts {
    /// QoS 1 messages neither acknowledged nor rejected yet.
    pub fn outstanding(&self) -> u64 {
        self.published_qos1
            .saturating_sub(self.acked + self.rejected)
    }
}

struct Shared {
    /// Acknowledged plus rejected, for callers that react to each settlement (the LED).
    settled: tokio::sync::watch::Sender<u64>,
    published_qos1: AtomicU64,
    published_qos0: AtomicU64,
    acked: AtomicU64,
    rejected: AtomicU64,
    subacks: AtomicU64,
    reconnects: AtomicU64,
    /// Woken on every acknowledgement and link change; waiters re-check the counters.
    changed: Notify,
    /// Whether anyone took the incoming receiver; if not, received messages are dropped
    /// instead of filling the channel and stalling the connection.
    incoming_taken: std::sync::atomic::AtomicBool,
    /// Between a CONNACK and the next link error.
    connected: std::sync::atomic::AtomicBool,
    /// Set when the driver stopped for good.
    closed: Mutex<Option<String>>,
    latency: Mutex<Option<Histogram<u64>>>,
}

enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// An open connection; see the module docs.
pub struct Publisher {
    client: Client,
    shared: Arc<Shared>,
    driver: JoinHandle<()>,
    endpoint: String,
    incoming: Option<mpsc::Receiver<Received>>,
}

impl Publisher {
    /// Connects and waits for the broker's CONNACK, so a wrong host, port, certificate or
    /// password fails here with a [`ConnectError`] rather than later as a silent stall.
    pub async fn connect(opts: &ConnectionOptions) -> Result<Self, ConnectError> {
        let endpoint = opts.broker.endpoint();
        let transport = transport(opts)?;
        let cap = usize::from(opts.inflight).max(10);
        let shared = Arc::new(Shared {
            settled: tokio::sync::watch::Sender::new(0),
            published_qos1: AtomicU64::new(0),
            published_qos0: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            subacks: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            changed: Notify::new(),
            incoming_taken: std::sync::atomic::AtomicBool::new(false),
            connected: std::sync::atomic::AtomicBool::new(false),
            closed: Mutex::new(None),
            latency: Mutex::new(None),
        });
        if opts.track_latency {
            *lock(&shared.latency) = Some(latency_histogram());
        }
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (in_tx, in_rx) = mpsc::channel(4096);
        let driver_ctx = DriverCtx {
            shared: shared.clone(),
            endpoint: endpoint.clone(),
            connect_secs: opts.connect_timeout.as_secs().max(1),
            observer: opts.observer.clone(),
            incoming: in_tx,
            track_latency: opts.track_latency,
        };
        let (client, driver) = match opts.protocol {
            Protocol::V4 => {
                let mut o =
                    rumqttc::MqttOptions::new(&opts.client_id, &opts.broker.host, opts.broker.port);
                o.set_keep_alive(opts.keep_alive.max(Duration::from_secs(1)))
                    .set_clean_session(opts.clean_session)
                    .set_inflight(opts.inflight.max(1))
                    .set_max_packet_size(opts.max_packet_size, opts.max_packet_size)
                    .set_transport(transport);
                if let Some(user) = &opts.username {
                    o.set_credentials(user, opts.password.clone().unwrap_or_default());
                }
                let (client, mut el) = rumqttc::AsyncClient::new(o, cap);
                let mut no = el.network_options();
                no.set_connection_timeout(opts.connect_timeout.as_secs().max(1));
                no.set_tcp_nodelay(true);
                el.set_network_options(no);
                let task = tokio::spawn(run_loop(
                    V4Loop {
                        el,
                        stash: Vec::new(),
                    },
                    driver_ctx,
                    ready_tx,
                ));
                (Client::V4(client), task)
            }
            Protocol::V5 => {
                let mut o = rumqttc::v5::MqttOptions::new(
                    &opts.client_id,
                    &opts.broker.host,
                    opts.broker.port,
                );
                o.set_keep_alive(opts.keep_alive.max(Duration::from_secs(1)))
                    .set_clean_start(opts.clean_session)
                    .set_outgoing_inflight_upper_limit(opts.inflight.max(1))
                    .set_max_packet_size(u32::try_from(opts.max_packet_size).ok())
                    .set_connection_timeout(opts.connect_timeout.as_secs().max(1))
                    .set_transport(transport);
                if !opts.clean_session {
                    // MQTT 5 ends the session on disconnect unless an expiry is asked for.
                    o.set_session_expiry_interval(Some(3600));
                }
                if let Some(user) = &opts.username {
                    o.set_credentials(user, opts.password.clone().unwrap_or_default());
                }
                let (client, el) = rumqttc::v5::AsyncClient::new(o, cap);
                let task = tokio::spawn(run_loop(
                    V5Loop {
                        el,
                        stash: Vec::new(),
                    },
                    driver_ctx,
                    ready_tx,
                ));
                (Client::V5(client), task)
            }
        };
        let first = ready_rx.await.unwrap_or_else(|_| {
            Err(ConnectError::Protocol {
                endpoint: endpoint.clone(),
                reason: "connection task ended before the broker answered".into(),
            })
        });
        if let Err(e) = first {
            driver.abort();
            return Err(e);
        }
        Ok(Self {
            client,
            shared,
            driver,
            endpoint,
            incoming: Some(in_rx),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Hands one message to the connection. Waits while the in-flight window is full, which
    /// is the backpressure that keeps memory bounded at any rate.
    pub async fn publish(
        &self,
        topic: &str,
        qos: Qos,
        payload: Vec<u8>,
    ) -> Result<(), PublishError> {
        // Counted before sending, so an acknowledgement can never be seen before its publish.
        let counter = match qos {
            Qos::AtLeastOnce => &self.shared.published_qos1,
            Qos::AtMostOnce => &self.shared.published_qos0,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        let result = match &self.client {
            Client::V4(c) => c
                .publish(topic, qos.v4(), false, payload)
                .await
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .publish(topic, qos.v5(), false, payload)
                .await
                .map_err(|e| e.to_string()),
        };
        result.map_err(|e| {
            counter.fetch_sub(1, Ordering::SeqCst);
            self.publish_error(e)
        })
    }

    fn publish_error(&self, fallback: String) -> PublishError {
        let reason = lock(&self.shared.closed).clone().unwrap_or(fallback);
        PublishError {
            endpoint: self.endpoint.clone(),
            reason,
        }
    }

    /// Subscribes and waits for the SUBACK, so messages published afterwards are delivered.
    pub async fn subscribe(
        &self,
        filter: &str,
        qos: Qos,
        timeout: Duration,
    ) -> Result<(), PublishError> {
        let before = self.shared.subacks.load(Ordering::SeqCst);
        let sent = match &self.client {
            Client::V4(c) => c
                .subscribe(filter, qos.v4())
                .await
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .subscribe(filter, qos.v5())
                .await
                .map_err(|e| e.to_string()),
        };
        sent.map_err(|e| self.publish_error(e))?;
        let shared = self.shared.clone();
        if self
            .wait_for(timeout, move || {
                shared.subacks.load(Ordering::SeqCst) > before
            })
            .await
        {
            Ok(())
        } else {
            Err(self.publish_error(format!("no SUBACK for {filter:?} within {timeout:?}")))
        }
    }

    /// Messages received on subscriptions; can be taken once.
    pub fn take_incoming(&mut self) -> Option<mpsc::Receiver<Received>> {
        self.shared.incoming_taken.store(true, Ordering::SeqCst);
        self.incoming.take()
    }

    pub fn counts(&self) -> Counts {
        let s = &self.shared;
        Counts {
            published_qos1: s.published_qos1.load(Ordering::SeqCst),
            published_qos0: s.published_qos0.load(Ordering::SeqCst),
            acked: s.acked.load(Ordering::SeqCst),
            rejected: s.rejected.load(Ordering::SeqCst),
            reconnects: s.reconnects.load(Ordering::SeqCst),
        }
    }

    /// The reason the connection stopped for good, if it did.
    pub fn closed_reason(&self) -> Option<String> {
        lock(&self.shared.closed).clone()
    }

    /// Waits until at least `n` QoS 1 messages are settled (acknowledged or rejected).
    /// Returns whether that happened before `timeout`.
    pub async fn wait_settled(&self, n: u64, timeout: Duration) -> bool {
        let s = self.shared.clone();
        self.wait_for(timeout, move || {
            s.acked.load(Ordering::SeqCst) + s.rejected.load(Ordering::SeqCst) >= n
        })
        .await
    }

    /// Waits until every QoS 1 message published so far is settled.
    pub async fn wait_all_settled(&self, timeout: Duration) -> bool {
        let n = self.shared.published_qos1.load(Ordering::SeqCst);
        self.wait_settled(n, timeout).await
    }

    /// A watch of acknowledged-plus-rejected QoS 1 messages.
    pub fn settled_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.settled.subscribe()
    }

    /// Resolves when something changed (an ack, a reconnect): for callers with their own loop.
    pub fn changed(&self) -> impl Future<Output = ()> + '_ {
        self.shared.changed.notified()
    }

    async fn wait_for(&self, timeout: Duration, cond: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            // Register before checking, so a change between check and await is not missed.
            notified.as_mut().enable();
            if cond() {
                return true;
            }
            if lock(&self.shared.closed).is_some() {
                return cond();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return cond();
            }
        }
    }

    /// Sends DISCONNECT and stops the connection. Returns the latency histogram if tracked.
    pub async fn close(self) -> Option<Histogram<u64>> {
        let shared = self.shared.clone();
        let Publisher { client, driver, .. } = self;
        let abort = driver.abort_handle();
        if !shared.connected.load(Ordering::SeqCst) {
            // No link to say goodbye on; what is unacknowledged is already counted as such.
            abort.abort();
            let hist = lock(&shared.latency).take();
            return hist;
        }
        // Bounded: with the broker gone the request queue may be full and DISCONNECT would
        // wait forever for room.
        let graceful = async move {
            let _ = match &client {
                Client::V4(c) => c.disconnect().await.map_err(|e| e.to_string()),
                Client::V5(c) => c.disconnect().await.map_err(|e| e.to_string()),
            };
            let _ = driver.await;
        };
        if tokio::time::timeout(Duration::from_secs(5), graceful)
            .await
            .is_err()
        {
            abort.abort();
        }
        let hist = lock(&shared.latency).take();
        hist
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent (plain values).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn transport(opts: &ConnectionOptions) -> Result<rumqttc::Transport, ConnectError> {
    if !opts.broker.tls {
        if opts.ca.is_some() || opts.cert.is_some() || opts.key.is_some() {
            return Err(ConnectError::Url {
                url: format!("mqtt://{}", opts.broker.endpoint()),
                reason: "--ca/--cert/--key need an mqtts:// broker URL".into(),
            });
        }
        return Ok(rumqttc::Transport::Tcp);
    }
    let config = tls_config(
        opts.ca.as_deref(),
        opts.cert.as_deref(),
        opts.key.as_deref(),
        opts.broker.port,
    )?;
    Ok(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Rustls(Arc::new(config)),
    ))
}

/// Builds the rustls client config: the CA (or the system roots), and the client certificate
/// and key for mutual TLS as AWS IoT requires. Uses the ring provider explicitly, so the
/// result does not depend on which rustls providers other crates compiled in.
pub fn tls_config(
    ca: Option<&Path>,
    cert: Option<&Path>,
    key: Option<&Path>,
    port: u16,
) -> Result<rustls::ClientConfig, ConnectError> {
    let cred = |what: &'static str, path: &Path, reason: String| ConnectError::Credentials {
        what,
        path: path.display().to_string(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = read_certs(path).map_err(|r| cred("CA file", path, r))?;
            for c in certs {
                roots.add(c).map_err(|e| {
                    cred("CA file", path, format!("not a usable CA certificate: {e}"))
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for c in native.certs {
                // Individual unusable system certificates are skipped, as browsers do.
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                return Err(ConnectError::Credentials {
                    what: "CA",
                    path: "(system store)".into(),
                    reason: "no system CA certificates found; pass --ca".into(),
                });
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::Protocol {
            endpoint: String::new(),
            reason: format!("TLS setup: {e}"),
        })?
        .with_root_certificates(roots);
    let mut config = match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert).map_err(|r| cred("certificate file", cert, r))?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| cred("key file", key, format!("no usable private key: {e}")))?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                cred(
                    "certificate file",
                    cert,
                    format!("does not go with the key: {e}"),
                )
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(p), None) | (None, Some(p)) => {
            return Err(cred(
                "client credentials",
                p,
                "--cert and --key must be given together".into(),
            ))
        }
    };
    if port == 443 {
        // AWS IoT serves MQTT on 443 only to clients that ask for this ALPN protocol.
        config.alpn_protocols = vec![b"x-amzn-mqtt-ca".to_vec()];
    }
    Ok(config)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    std::fs::metadata(path).map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("contains no PEM certificate".into());
    }
    Ok(certs)
}

/// `connection refused` rather than `Connection refused (os error 111)`.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// A link failure, already classified, with the protocol-specific error gone.
struct LinkError {
    error: ConnectError,
    /// The application closed the connection (not a failure).
    done: bool,
}

fn classify_io(endpoint: &str, e: &std::io::Error) -> ConnectError {
    if let Some(inner) = e.get_ref() {
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return ConnectError::Tls {
                endpoint: endpoint.to_string(),
                reason: tls.to_string(),
            };
        }
    }
    ConnectError::Unreachable {
        endpoint: endpoint.to_string(),
        reason: io_reason(e),
    }
}

/// For errors that wrap others (a TLS alert arrives as an I/O error inside a state error):
/// find the TLS or I/O error in the source chain, so the message says what really failed.
fn classify_chain(endpoint: &str, e: &(dyn std::error::Error + 'static)) -> ConnectError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return ConnectError::Tls {
                endpoint: endpoint.to_string(),
                reason: tls.to_string(),
            };
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return classify_io(endpoint, io);
        }
        cur = err.source();
    }
    ConnectError::Protocol {
        endpoint: endpoint.to_string(),
        reason: e.to_string(),
    }
}

fn classify_tls(endpoint: &str, e: &rumqttc::TlsError) -> ConnectError {
    match e {
        rumqttc::TlsError::Io(io) => classify_io(endpoint, io),
        other => ConnectError::Tls {
            endpoint: endpoint.to_string(),
            reason: other.to_string(),
        },
    }
}

/// What the driver needs from either protocol's event loop.
trait MqttLoop: Send + 'static {
    fn next(
        &mut self,
        endpoint: &str,
        connect_secs: u64,
    ) -> impl Future<Output = Result<Ev, LinkError>> + Send;
    /// Copies the publishes rumqttc queued for resending after a broken link.
    fn stash_pending(&mut self);
    /// Re-queues the stash when the broker did not keep the session; returns how many.
    fn restore_stash(&mut self, session_present: bool) -> usize;
}

enum Ev {
    ConnAck { session_present: bool },
    PubAck { pkid: u16, ok: bool },
    SubAck,
    Publish { topic: String, payload: Vec<u8> },
    SentPublish(u16),
    SentDisconnect,
    Other,
}

struct V4Loop {
    el: rumqttc::EventLoop,
    stash: Vec<rumqttc::Request>,
}

impl MqttLoop for V4Loop {
    async fn next(&mut self, endpoint: &str, connect_secs: u64) -> Result<Ev, LinkError> {
        use rumqttc::{ConnectionError as E, Event, Packet};
        match self.el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(a))) => Ok(Ev::ConnAck {
                session_present: a.session_present,
            }),
            Ok(Event::Incoming(Packet::PubAck(a))) => Ok(Ev::PubAck {
                pkid: a.pkid,
                ok: true,
            }),
            Ok(Event::Incoming(Packet::SubAck(_))) => Ok(Ev::SubAck),
            Ok(Event::Incoming(Packet::Publish(p))) => Ok(Ev::Publish {
                topic: p.topic,
                payload: p.payload.to_vec(),
            }),
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Ok(Ev::SentPublish(pkid)),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => Ok(Ev::SentDisconnect),
            Ok(_) => Ok(Ev::Other),
            Err(e) => {
                let endpoint = endpoint.to_string();
                let (error, done) = match e {
                    E::RequestsDone => (
                        ConnectError::Protocol {
                            endpoint,
                            reason: "closed".into(),
                        },
                        true,
                    ),
                    E::Io(io) => (classify_io(&endpoint, &io), false),
                    E::Tls(t) => (classify_tls(&endpoint, &t), false),
                    E::ConnectionRefused(code) => (
                        ConnectError::Refused {
                            endpoint,
                            reason: format!("{code:?}"),
                        },
                        false,
                    ),
                    E::NetworkTimeout => (
                        ConnectError::Timeout {
                            endpoint,
                            secs: connect_secs,
                        },
                        false,
                    ),
                    other => (classify_chain(&endpoint, &other), false),
                };
                Err(LinkError { error, done })
            }
        }
    }

    fn stash_pending(&mut self) {
        self.stash = self
            .el
            .pending
            .iter()
            .filter(|r| matches!(r, rumqttc::Request::Publish(_)))
            .cloned()
            .collect();
    }

    fn restore_stash(&mut self, session_present: bool) -> usize {
        let stash = std::mem::take(&mut self.stash);
        if session_present {
            return 0;
        }
        let n = stash.len();
        self.el.pending.extend(stash);
        n
    }
}

struct V5Loop {
    el: rumqttc::v5::EventLoop,
    stash: Vec<rumqttc::v5::Request>,
}

impl MqttLoop for V5Loop {
    async fn next(&mut self, endpoint: &str, connect_secs: u64) -> Result<Ev, LinkError> {
        use rumqttc::v5::mqttbytes::v5::{Packet, PubAckReason};
        use rumqttc::v5::{ConnectionError as E, Event};
        match self.el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(a))) => Ok(Ev::ConnAck {
                session_present: a.session_present,
            }),
            Ok(Event::Incoming(Packet::PubAck(a))) => Ok(Ev::PubAck {
                pkid: a.pkid,
                ok: matches!(
                    a.reason,
                    PubAckReason::Success | PubAckReason::NoMatchingSubscribers
                ),
            }),
            Ok(Event::Incoming(Packet::SubAck(_))) => Ok(Ev::SubAck),
            Ok(Event::Incoming(Packet::Publish(p))) => Ok(Ev::Publish {
                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                payload: p.payload.to_vec(),
            }),
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Ok(Ev::SentPublish(pkid)),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => Ok(Ev::SentDisconnect),
            Ok(_) => Ok(Ev::Other),
            Err(e) => {
                let endpoint = endpoint.to_string();
                let (error, done) = match e {
                    E::RequestsDone => (
                        ConnectError::Protocol {
                            endpoint,
                            reason: "closed".into(),
                        },
                        true,
                    ),
                    E::Io(io) => (classify_io(&endpoint, &io), false),
                    E::Tls(t) => (classify_tls(&endpoint, &t), false),
                    E::ConnectionRefused(code) => (
                        ConnectError::Refused {
                            endpoint,
                            reason: format!("{code:?}"),
                        },
                        false,
                    ),
                    E::Timeout(_) => (
                        ConnectError::Timeout {
                            endpoint,
                            secs: connect_secs,
                        },
                        false,
                    ),
                    other => (classify_chain(&endpoint, &other), false),
                };
                Err(LinkError { error, done })
            }
        }
    }

    fn stash_pending(&mut self) {
        self.stash = self
            .el
            .pending
            .iter()
            .filter(|r| matches!(r, rumqttc::v5::Request::Publish(_)))
            .cloned()
            .collect();
    }

    fn restore_stash(&mut self, session_present: bool) -> usize {
        let stash = std::mem::take(&mut self.stash);
        if session_present {
            return 0;
        }
        let n = stash.len();
        self.el.pending.extend(stash);
        n
    }
}

struct DriverCtx {
    shared: Arc<Shared>,
    endpoint: String,
    connect_secs: u64,
    observer: Option<LinkObserver>,
    incoming: mpsc::Sender<Received>,
    track_latency: bool,
}

type Ready = tokio::sync::oneshot::Sender<Result<(), ConnectError>>;

/// The body of the connection task. The first CONNACK (or the first error) is reported
/// through `ready`; after that an error means "reconnect", with a capped backoff.
async fn run_loop<L: MqttLoop>(mut lp: L, ctx: DriverCtx, ready: Ready) {
    let shared = &ctx.shared;
    let mut ready = Some(ready);
    let mut sent_at: HashMap<u16, Instant> = HashMap::new();
    let mut backoff = Duration::from_millis(100);
    let mut closing = false;
    loop {
        match lp.next(&ctx.endpoint, ctx.connect_secs).await {
            Ok(Ev::ConnAck { session_present }) => {
                backoff = Duration::from_millis(100);
                shared.connected.store(true, Ordering::SeqCst);
                if let Some(tx) = ready.take() {
                    let _ = tx.send(Ok(()));
                    continue;
                }
                let resent = lp.restore_stash(session_present);
                shared.reconnects.fetch_add(1, Ordering::SeqCst);
                shared.changed.notify_waiters();
                if let Some(obs) = &ctx.observer {
                    obs(&LinkEvent::Reconnected {
                        session_present,
                        resent,
                    });
                }
            }
            Ok(Ev::PubAck { pkid, ok }) => {
                let counter = if ok { &shared.acked } else { &shared.rejected };
                counter.fetch_add(1, Ordering::SeqCst);
                shared.settled.send_replace(
                    shared.acked.load(Ordering::SeqCst) + shared.rejected.load(Ordering::SeqCst),
                );
                if ctx.track_latency {
                    if let Some(t0) = sent_at.remove(&pkid) {
                        let us = u64::try_from(t0.elapsed().as_micros())
                            .unwrap_or(u64::MAX)
                            .max(1);
                        if let Some(h) = lock(&shared.latency).as_mut() {
                            h.saturating_record(us);
                        }
                    }
                }
                shared.changed.notify_waiters();
            }
            Ok(Ev::SubAck) => {
                shared.subacks.fetch_add(1, Ordering::SeqCst);
                shared.changed.notify_waiters();
            }
            Ok(Ev::Publish { topic, payload }) => {
                let msg = Received {
                    topic,
                    payload,
                    received_at: Instant::now(),
                };
                // A subscriber gets backpressure (the channel is bounded); a publisher that
                // never asked for messages (e.g. left over from a persistent session) drops
                // them rather than stalling its own acknowledgements.
                if shared.incoming_taken.load(Ordering::SeqCst) {
                    let _ = ctx.incoming.send(msg).await;
                }
            }
            Ok(Ev::SentPublish(pkid)) => {
                // A resend after a reconnect keeps the first send time: the latency a caller
                // saw includes the outage.
                if ctx.track_latency && pkid != 0 {
                    sent_at.entry(pkid).or_insert_with(Instant::now);
                }
            }
            Ok(Ev::SentDisconnect) => closing = true,
            Ok(Ev::Other) => {}
            Err(LinkError { error, done }) => {
                if done || closing {
                    break;
                }
                if let Some(tx) = ready.take() {
                    let _ = tx.send(Err(error));
                    return;
                }
                shared.connected.store(false, Ordering::SeqCst);
                lp.stash_pending();
                if let Some(obs) = &ctx.observer {
                    obs(&LinkEvent::Disconnected {
                        reason: error.to_string(),
                    });
                }
                shared.changed.notify_waiters();
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    *lock(&shared.closed) = Some("connection closed".into());
    shared.changed.notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let u = |s: &str| BrokerUrl::parse(s).map(|b| (b.tls, b.host, b.port));
        assert_eq!(
            u("mqtt://127.0.0.1:1883").ok(),
            Some((false, "127.0.0.1".into(), 1883))
        );
        assert_eq!(
            u("mqtts://abc.iot.us-east-2.amazonaws.com").ok(),
            Some((true, "abc.iot.us-east-2.amazonaws.com".into(), 8883))
        );
        assert_eq!(u("localhost").ok(), Some((false, "localhost".into(), 1883)));
        assert_eq!(
            u("mqtt://[::1]:1884/").ok(),
            Some((false, "::1".into(), 1884))
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://[::1]:1884")
                .map(|b| b.endpoint())
                .ok(),
            Some("[::1]:1884".into())
        );
        for bad in [
            "http://x:1",
            "mqtt://:1883",
            "mqtt://host:99999",
            "mqtt://host:x",
        ] {
            let err = BrokerUrl::parse(bad).expect_err(bad).to_string();
            assert!(
                err.starts_with(&format!("invalid broker URL {bad:?}")),
                "{err}"
            );
        }
    }

    #[test]
    fn credential_files_are_named_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").expect("write");
        let err = |ca: &Path, cert: Option<&Path>, key: Option<&Path>| {
            tls_config(Some(ca), cert, key, 8883)
                .expect_err("must fail")
                .to_string()
        };
        let e = err(&missing, None, None);
        assert!(
            e.starts_with(&format!(
                "CA file {}: cannot read: no such file",
                missing.display()
            )),
            "{e}"
        );
        let e = err(&junk, None, None);
        assert_eq!(
            e,
            format!("CA file {}: contains no PEM certificate", junk.display())
        );
        let e = tls_config(None, Some(&junk), None, 8883)
            .expect_err("fails")
            .to_string();
        assert!(e.contains("--cert and --key must be given together"), "{e}");
    }

    #[test]
    fn tls_options_need_an_mqtts_url() {
        let mut o = ConnectionOptions::new(BrokerUrl::parse("mqtt://h:1").expect("url"), "id");
        o.ca = Some(PathBuf::from("/ca.pem"));
        let e = transport(&o).err().expect("rejected").to_string();
        assert!(e.contains("need an mqtts:// broker URL"), "{e}");
    }

    #[test]
    fn io_reasons_are_short() {
        let e = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(io_reason(&e), "connection refused");
        let e = std::io::Error::from_raw_os_error(111);
        assert_eq!(io_reason(&e), "connection refused");
    }
}
