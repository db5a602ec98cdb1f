//! The connection task: polls a protocol's event loop and turns what flows through it into
//! the shared counters, latencies, forwarded messages and link events the [`Connection`]
//! reads; reconnects with a capped backoff.
//!
//! [`Connection`]: super::Connection

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::link::{Ev, LinkError, MqttLoop};
use super::{lock, ConnectError, LinkEvent, LinkObserver, Received, Shared};

pub(super) struct DriverCtx {
    pub(super) shared: Arc<Shared>,
    pub(super) endpoint: String,
    pub(super) connect_secs: u64,
    pub(super) observer: Option<LinkObserver>,
    pub(super) incoming: mpsc::Sender<Received>,
    pub(super) track_latency: bool,
}

pub(super) type Ready = tokio::sync::oneshot::Sender<Result<(), ConnectError>>;

/// The body of the connection task. The first CONNACK (or the first error) is reported
/// through `ready`; after that an error means "reconnect", with a capped backoff.
pub(super) async fn run_loop<L: MqttLoop>(lp: L, ctx: DriverCtx, ready: Ready) {
    let mut d = Driver {
        lp,
        ctx,
        ready: Some(ready),
        sent_at: HashMap::new(),
        backoff: FIRST_BACKOFF,
        closing: false,
    };
    loop {
        match d.lp.next(&d.ctx.endpoint, d.ctx.connect_secs).await {
            Ok(Ev::ConnAck { session_present }) => d.on_connack(session_present),
            Ok(Ev::PubAck { pkid, ok }) => d.on_puback(pkid, ok),
            Ok(Ev::SubAck) => {
                d.ctx.shared.subacks.fetch_add(1, Ordering::SeqCst);
                d.ctx.shared.changed.notify_waiters();
            }
            Ok(Ev::Publish { topic, payload }) => d.forward(topic, payload).await,
            Ok(Ev::SentPublish(pkid)) => d.on_sent(pkid),
            Ok(Ev::SentDisconnect) => d.closing = true,
            Ok(Ev::Other) => {}
            Err(error) => match d.on_link_error(error).await {
                AfterError::Reconnect => {}
                AfterError::Closed => break,
                // The caller of `connect` got the error; nobody will read `closed`.
                AfterError::NeverConnected => return,
            },
        }
    }
    *lock(&d.ctx.shared.closed) = Some("connection closed".into());
    d.ctx.shared.changed.notify_waiters();
}

/// The wait before the first reconnect attempt; doubled after each failure up to
/// [`MAX_BACKOFF`], and reset by a CONNACK.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the driver does after a link error.
enum AfterError {
    /// The link broke after a CONNACK: wait out the backoff and poll again.
    Reconnect,
    /// The application closed the connection.
    Closed,
    /// The very first attempt failed; `connect` reports it.
    NeverConnected,
}

/// The connection task's state between events.
struct Driver<L> {
    lp: L,
    ctx: DriverCtx,
    /// Until the first CONNACK or error, where `connect` waits for it.
    ready: Option<Ready>,
    /// Send times by packet id, for the publish-to-PUBACK latency.
    sent_at: HashMap<u16, Instant>,
    backoff: Duration,
    /// A DISCONNECT went out: the error that follows is the end, not a broken link.
    closing: bool,
}

impl<L: MqttLoop> Driver<L> {
    /// The first CONNACK answers `connect`; a later one is a reconnect, where messages the
    /// broker forgot (no session) are queued again.
    fn on_connack(&mut self, session_present: bool) {
        let shared = &self.ctx.shared;
        self.backoff = FIRST_BACKOFF;
        shared.connected.store(true, Ordering::SeqCst);
        if let Some(tx) = self.ready.take() {
            let _ = tx.send(Ok(()));
            return;
        }
        let resent = self.lp.restore_stash(session_present);
        shared.reconnects.fetch_add(1, Ordering::SeqCst);
        shared.changed.notify_waiters();
        if let Some(obs) = &self.ctx.observer {
            obs(&LinkEvent::Reconnected {
                session_present,
                resent,
            });
        }
    }

    /// Counts the settlement, publishes the new total to the watch and records the latency.
    fn on_puback(&mut self, pkid: u16, ok: bool) {
        let shared = &self.ctx.shared;
        let counter = if ok { &shared.acked } else { &shared.rejected };
        counter.fetch_add(1, Ordering::SeqCst);
        shared.settled.send_replace(
            shared.acked.load(Ordering::SeqCst) + shared.rejected.load(Ordering::SeqCst),
        );
        if self.ctx.track_latency {
            if let Some(t0) = self.sent_at.remove(&pkid) {
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

    /// A subscriber gets backpressure (the channel is bounded); a publisher that never asked
    /// for messages (e.g. left over from a persistent session) drops them rather than
    /// stalling its own acknowledgements. (`&mut self`: a shared borrow held across the
    /// await would need the event loop to be `Sync`, which rumqttc's is not.)
    async fn forward(&mut self, topic: String, payload: Vec<u8>) {
        let msg = Received {
            topic,
            payload,
            received_at: Instant::now(),
        };
        if self.ctx.shared.incoming_taken.load(Ordering::SeqCst) {
            let _ = self.ctx.incoming.send(msg).await;
        }
    }

    /// A resend after a reconnect keeps the first send time: the latency a caller saw
    /// includes the outage.
    fn on_sent(&mut self, pkid: u16) {
        if self.ctx.track_latency && pkid != 0 {
            self.sent_at.entry(pkid).or_insert_with(Instant::now);
        }
    }

    /// Keeps a copy of what was in flight (see the module docs of `connection`), tells the
    /// observer, and sleeps the backoff before the next attempt.
    async fn on_link_error(&mut self, LinkError { error, done }: LinkError) -> AfterError {
        if done || self.closing {
            return AfterError::Closed;
        }
        if let Some(tx) = self.ready.take() {
            let _ = tx.send(Err(error));
            return AfterError::NeverConnected;
        }
        let shared = &self.ctx.shared;
        shared.connected.store(false, Ordering::SeqCst);
        self.lp.stash_pending();
        if let Some(obs) = &self.ctx.observer {
            obs(&LinkEvent::Disconnected {
                reason: error.to_string(),
            });
        }
        shared.changed.notify_waiters();
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        AfterError::Reconnect
    }
}
