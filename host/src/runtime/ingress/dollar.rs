//! `$` topics behind an external broker: AWS IoT's Device Shadow topics and rules whose
//! `FROM` names a `$` topic (`$aws/things/+/shadow/update/accepted`, a lifecycle topic).
//!
//! **Why a session of their own.** The rules' topics are shared subscriptions
//! (`$share/GROUP/FILTER`), so that several Weir hosts split the traffic. A `$` topic cannot
//! go that way: mosquitto (2.0) never delivers a `$` topic to a shared subscription, and on a
//! broker that does, a shadow request served by two hosts that both subscribed plainly would be
//! applied twice. So `$` filters are plain subscriptions of one more MQTT client, the *`$`
//! session*, whose client id is the same on every host of a share group
//! (`weir-dollar-GROUP`) and whose session persists on the broker:
//! - with `[cluster]`, only the host holding the lease `leases/mqtt-dollar/GROUP` (in the
//!   `HOSTS` bucket, beside the hosts' presence) connects it. When that host dies, its lease
//!   lapses and another host takes it and connects under the same client id: the broker hands
//!   it the session, with the messages it queued meanwhile and those the dead host had not
//!   acknowledged, so a shadow request sent in the gap is served late, never lost;
//! - without `[cluster]` (each host keeps its own shadows), every host connects its own `$`
//!   session, `CLIENT_ID-dollar`.
//!
//! A message through the `$` session goes to the rules of the `$` filters it matched (by
//! subscription identifier, as on the shared session), and, when it came through one of
//! [`SHADOW_FILTERS`], to the shadow workers (`shadow_topics.rs`) with a share of its ack: its
//! PUBACK waits for the shadow's store and answers as on the embedded broker. The answers go
//! out through the main client.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use weir_config::ExternalBroker;
use weir_support::lease::Lease;
use weir_support::lock;

use super::external::{client_options, Poller};
use super::{Input, Subscriptions};
use crate::runtime::metrics::Metrics;
use crate::runtime::shadow_topics::ShadowTopics;

/// The filters of AWS's Device Shadow request topics, classic
/// (`$aws/things/THING/shadow/update|get|delete`) and named
/// (`$aws/things/THING/shadow/name/NAME/update|get|delete`); the answer topics are one level
/// deeper and match neither.
pub(crate) const SHADOW_FILTERS: [&str; 2] =
    ["$aws/things/+/shadow/+", "$aws/things/+/shadow/name/+/+"];

/// How often a host without the lease looks whether it lapsed.
const STANDBY_POLL: Duration = Duration::from_millis(500);

/// The `$` session's client and the flag that tells its poller the disconnect is meant.
type Current = Option<(rumqttc::v5::Client, Arc<AtomicBool>)>;

/// The shadow workers' queues, shared by the `$` session's pollers and closed by
/// [`Dollar::stop_shadows`].
pub(super) type SharedShadows = Arc<Mutex<Option<ShadowTopics>>>;

/// What the session thread runs with.
pub(crate) struct DollarSpec {
    /// The lease that makes one host of the share group the session's holder; `None`
    /// without a cluster.
    pub lease: Option<Lease>,
    /// The shadow workers' queues, taken (and so closed) by [`Dollar::stop_shadows`].
    pub shadows: Option<ShadowTopics>,
    pub metrics: Arc<Metrics>,
}

/// The running `$` session: its desired subscriptions, its client while connected, and the
/// thread that holds the lease and runs the poller.
pub(super) struct Dollar {
    subscribed: Arc<Mutex<Subscriptions>>,
    current: Arc<Mutex<Current>>,
    shadows: Option<SharedShadows>,
    closing: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The `$` session's client id: shared by the hosts of a share group when a lease makes one of
/// them its holder, the host's own otherwise.
pub(crate) fn client_id(cfg: &ExternalBroker, leased: bool) -> String {
    if leased {
        format!("weir-dollar-{}", cfg.share_group)
    } else {
        format!("{}-dollar", cfg.client_id)
    }
}

/// Whether a rule's filter goes to the `$` session.
pub(super) fn is_dollar(filter: &str) -> bool {
    filter.starts_with('$')
}

impl Dollar {
    /// Starts the session thread. `stop` is the ingress's: once set, messages are left
    /// unacknowledged for the broker to deliver again.
    pub(super) fn start(
        cfg: &ExternalBroker,
        spec: DollarSpec,
        input: SyncSender<Input>,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<Dollar> {
        let subscribed = Arc::new(Mutex::new(Subscriptions::default()));
        let current: Arc<Mutex<Current>> = Arc::new(Mutex::new(None));
        let closing = Arc::new(AtomicBool::new(false));
        let has_shadows = spec.shadows.is_some();
        let shadows = spec.shadows.map(|s| Arc::new(Mutex::new(Some(s))));
        let session = Session {
            cfg: cfg.clone(),
            client_id: client_id(cfg, spec.lease.is_some()),
            lease: spec.lease,
            subscribed: subscribed.clone(),
            current: current.clone(),
            shadows: shadows.clone(),
            metrics: spec.metrics,
            input,
            stop,
            closing: closing.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("weir-dollar".into())
            .spawn(move || session.run())?;
        let dollar = Dollar {
            subscribed,
            current,
            shadows,
            closing,
            thread: Some(thread),
        };
        if has_shadows {
            dollar.subscribe(&BTreeSet::new());
        }
        Ok(dollar)
    }

    /// Makes the session's subscriptions the rules' `$` filters (plus the shadow request
    /// filters when shadows are served). Subscribed at once when connected; otherwise at the
    /// next connection.
    pub(super) fn subscribe(&self, rule_filters: &BTreeSet<String>) {
        let mut filters = rule_filters.clone();
        if self.shadows.is_some() {
            filters.extend(SHADOW_FILTERS.iter().map(|f| (*f).to_owned()));
        }
        let current = lock(&self.current);
        let client = current.as_ref().map(|(c, _)| c);
        super::external::reconcile(&self.subscribed, client, None, &filters);
    }

    /// Closes the shadow workers' queues: they serve what they hold and end. A request that
    /// arrives after is left unacknowledged.
    pub(super) fn stop_shadows(&self) {
        if let Some(s) = &self.shadows {
            lock(s).take();
        }
    }

    /// Disconnects the session, releases the lease and waits for the thread.
    pub(super) fn close(&mut self) {
        self.closing.store(true, Ordering::Release);
        if let Some((client, disconnect)) = lock(&self.current).as_ref() {
            disconnect.store(true, Ordering::Release);
            let _ = client.try_disconnect();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The session thread's state.
struct Session {
    cfg: ExternalBroker,
    client_id: String,
    lease: Option<Lease>,
    subscribed: Arc<Mutex<Subscriptions>>,
    current: Arc<Mutex<Current>>,
    shadows: Option<SharedShadows>,
    metrics: Arc<Metrics>,
    input: SyncSender<Input>,
    stop: Arc<AtomicBool>,
    closing: Arc<AtomicBool>,
}

impl Session {
    fn ending(&self) -> bool {
        self.closing.load(Ordering::Acquire) || self.stop.load(Ordering::Acquire)
    }

    /// Waits for the lease (if any), runs one connection until it ends or the lease is lost,
    /// and again, until the ingress closes.
    fn run(mut self) {
        let mut reported = false;
        while !self.ending() {
            if let Some(lease) = &mut self.lease {
                match lease.try_acquire() {
                    Ok(true) => {
                        reported = false;
                        tracing::info!(lease = %lease.key(), client_id = %self.client_id, "this host takes the `$` topics (Device Shadow, `$` rules) of its share group");
                    }
                    Ok(false) => {
                        self.pause();
                        continue;
                    }
                    Err(e) => {
                        if !reported {
                            tracing::warn!(lease = %lease.key(), error = %e, "cannot read the `$` topics lease; trying again");
                            reported = true;
                        }
                        self.pause();
                        continue;
                    }
                }
            }
            let mut cfg = self.cfg.clone();
            cfg.client_id = self.client_id.clone();
            let opts = match client_options(&cfg) {
                Ok(opts) => opts,
                Err(e) => {
                    // Checked when the main client started with the same settings.
                    tracing::error!(error = %e, "the `$` session's TLS settings");
                    return;
                }
            };
            let (client, connection) = rumqttc::v5::Client::new(opts, 65_536);
            let disconnect = Arc::new(AtomicBool::new(false));
            *lock(&self.current) = Some((client.clone(), disconnect.clone()));
            if self.closing.load(Ordering::Acquire) {
                // `close` may have looked before the client was there.
                disconnect.store(true, Ordering::Release);
                let _ = client.try_disconnect();
            }
            let poller = Poller::new(
                connection,
                client,
                self.subscribed.clone(),
                None,
                self.cfg.url.clone(),
                self.stop.clone(),
                disconnect,
                self.input.clone(),
            )
            .with_lease(self.lease.take())
            .with_shadows(self.shadows.clone(), self.metrics.clone());
            self.lease = poller.run();
            *lock(&self.current) = None;
        }
        if let Some(lease) = &mut self.lease {
            if lease.is_held() {
                if let Err(e) = lease.release() {
                    tracing::warn!(lease = %lease.key(), error = %e, "cannot release the `$` topics lease; it lapses on its own");
                }
            }
        }
    }

    /// Waits [`STANDBY_POLL`], or less when the ingress closes.
    fn pause(&self) {
        let until = Instant::now() + STANDBY_POLL;
        while Instant::now() < until && !self.ending() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
