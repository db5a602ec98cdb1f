//! One MQTT connection that publishes and counts what the broker acknowledged.
//!
//! rumqttc splits a connection into a client handle and an event loop that must be polled;
//! [`Connection`] owns a task that polls it and turns its events into counters (published,
//! acknowledged, rejected), optional publish-to-ack latencies, and forwarded incoming messages.
//! Every mode builds on the same two questions: "did everything I sent get a PUBACK?" and
//! "how long did it take?".
//!
//! Reconnects: with `clean_session = false` the broker keeps the session and rumqttc resends
//! unacknowledged QoS 1 messages after reconnecting. If the broker lost the session (restart,
//! expiry) rumqttc would drop them; the driver keeps a copy of what was in flight when the link
//! broke and puts it back in that case, so "at least once" holds either way.

mod driver;
mod link;
mod options;
mod tls;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::summary::latency_histogram;
use driver::{run_loop, DriverCtx};
use link::{V4Loop, V5Loop};
pub use options::{
    BrokerUrl, ClientError, ConnectError, ConnectionOptions, Counts, LinkEvent, LinkObserver,
    Protocol, Qos, Received,
};
pub use tls::tls_config;
use tls::transport;

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

impl Shared {
    /// Every counter at zero; the latency histogram only when asked for, since recording it
    /// costs a map insert and remove per message.
    fn new(track_latency: bool) -> Self {
        Self {
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
            latency: Mutex::new(track_latency.then(latency_histogram)),
        }
    }
}

enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// An open connection; see the module docs.
pub struct Connection {
    client: Client,
    shared: Arc<Shared>,
    driver: JoinHandle<()>,
    endpoint: String,
    incoming: Option<mpsc::Receiver<Received>>,
}

impl Connection {
    /// Connects and waits for the broker's CONNACK, so a wrong host, port, certificate or
    /// password fails here with a [`ConnectError`] rather than later as a silent stall.
    pub async fn connect(opts: &ConnectionOptions) -> Result<Self, ConnectError> {
        let endpoint = opts.broker.endpoint();
        let transport = transport(opts)?;
        let shared = Arc::new(Shared::new(opts.track_latency));
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
            Protocol::V4 => spawn_v4(opts, transport, driver_ctx, ready_tx),
            Protocol::V5 => spawn_v5(opts, transport, driver_ctx, ready_tx),
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
    ) -> Result<(), ClientError> {
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

    fn publish_error(&self, fallback: String) -> ClientError {
        let reason = lock(&self.shared.closed).clone().unwrap_or(fallback);
        ClientError {
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
    ) -> Result<(), ClientError> {
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
        let Connection { client, driver, .. } = self;
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

/// Requests the client may queue before `publish` waits: the in-flight window, at least 10.
fn request_capacity(opts: &ConnectionOptions) -> usize {
    usize::from(opts.inflight).max(10)
}

/// Opens an MQTT 3.1.1 client and spawns its driver. The connect timeout and TCP_NODELAY live
/// in rumqttc's network options here, unlike MQTT 5 where they are plain options.
fn spawn_v4(
    opts: &ConnectionOptions,
    transport: rumqttc::Transport,
    ctx: DriverCtx,
    ready: driver::Ready,
) -> (Client, JoinHandle<()>) {
    let mut o = rumqttc::MqttOptions::new(&opts.client_id, &opts.broker.host, opts.broker.port);
    o.set_keep_alive(opts.keep_alive.max(Duration::from_secs(1)))
        .set_clean_session(opts.clean_session)
        .set_inflight(opts.inflight.max(1))
        .set_max_packet_size(opts.max_packet_size, opts.max_packet_size)
        .set_transport(transport);
    if let Some(user) = &opts.username {
        o.set_credentials(user, opts.password.clone().unwrap_or_default());
    }
    let (client, mut el) = rumqttc::AsyncClient::new(o, request_capacity(opts));
    let mut no = el.network_options();
    no.set_connection_timeout(opts.connect_timeout.as_secs().max(1));
    no.set_tcp_nodelay(true);
    el.set_network_options(no);
    let lp = V4Loop {
        el,
        stash: Vec::new(),
    };
    (Client::V4(client), tokio::spawn(run_loop(lp, ctx, ready)))
}

/// Opens an MQTT 5 client and spawns its driver. A persistent session needs an expiry
/// interval in MQTT 5, or the broker ends it on disconnect.
fn spawn_v5(
    opts: &ConnectionOptions,
    transport: rumqttc::Transport,
    ctx: DriverCtx,
    ready: driver::Ready,
) -> (Client, JoinHandle<()>) {
    let mut o = rumqttc::v5::MqttOptions::new(&opts.client_id, &opts.broker.host, opts.broker.port);
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
    let (client, el) = rumqttc::v5::AsyncClient::new(o, request_capacity(opts));
    let lp = V5Loop {
        el,
        stash: Vec::new(),
    };
    (Client::V5(client), tokio::spawn(run_loop(lp, ctx, ready)))
}
