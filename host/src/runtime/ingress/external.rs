//! The external broker (see the parent module's docs): one MQTT 5 client with a persistent
//! session and manual acknowledgements, its shared subscriptions, and the poller thread that
//! turns its events into [`Inbound`] messages and renews the connection to have unhandled
//! messages delivered again.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::Publish;
use weir_config::ExternalBroker;
use weir_support::lease::Lease;
use weir_support::{lock, Cause};

use super::dollar::{is_dollar, Dollar, DollarSpec, SharedShadows, SHADOW_FILTERS};
use super::{
    Ingress, IngressError, Input, Kind, PublishError, Subscriptions, TlsError, REDELIVER_EVERY,
};
use crate::runtime::ack::AckToken;
use crate::runtime::metrics::Metrics;
use crate::runtime::plan::Inbound;
use crate::runtime::resources::Publisher;
use crate::runtime::shadow_topics::ShadowTopics;

/// How long the poller keeps reading after our DISCONNECT, waiting for the broker to close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

impl Ingress {
    /// Connects to an external broker and subscribes `filters`. The `$` filters, and with
    /// `shadows` the Device Shadow request topics, go to the `$` session (`dollar.rs`), held
    /// by the host that holds `dollar_lease` when there is one.
    pub fn external(
        cfg: &ExternalBroker,
        filters: &BTreeSet<String>,
        input: SyncSender<Input>,
        shadows: Option<Arc<weir_shadow::ShadowService>>,
        metrics: Arc<Metrics>,
        dollar_lease: Option<Lease>,
    ) -> Result<(Ingress, Arc<dyn Publisher>), IngressError> {
        let err = |what: &str| {
            let url = cfg.url.clone();
            let what = what.to_owned();
            move |e: Cause| IngressError::External {
                url,
                what,
                source: Some(e),
            }
        };
        let opts = client_options(cfg).map_err(|e| err("TLS")(Box::new(e)))?;
        let (client, connection) = rumqttc::v5::Client::new(opts, 65_536);
        let publisher: Arc<dyn Publisher> = Arc::new(ExternalPublisher {
            client: client.clone(),
        });
        let subscribed = Arc::new(Mutex::new(Subscriptions::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let disconnect = Arc::new(AtomicBool::new(false));
        let (shadow_topics, shadow_workers) = match shadows {
            Some(service) => {
                let (topics, workers) =
                    ShadowTopics::start(service, publisher.clone(), &metrics)
                        .map_err(|e| err("starting the shadow workers")(Box::new(e)))?;
                (Some(topics), workers)
            }
            None => (None, Vec::new()),
        };
        let dollar = Dollar::start(
            cfg,
            DollarSpec {
                lease: dollar_lease,
                shadows: shadow_topics,
                metrics,
            },
            input.clone(),
            stop.clone(),
        )
        .map_err(|e| err("starting the `$` session thread")(Box::new(e)))?;
        let mut ingress = Ingress {
            stop: stop.clone(),
            reader: None,
            shadow_workers,
            kind: Kind::External {
                client: client.clone(),
                subscribed: subscribed.clone(),
                share_group: cfg.share_group.clone(),
                poller: None,
                disconnect: disconnect.clone(),
                dollar,
            },
        };
        ingress.subscribe(filters);
        let poller = Poller::new(
            connection,
            client,
            subscribed,
            Some(cfg.share_group.clone()),
            cfg.url.clone(),
            stop,
            disconnect,
            input,
        );
        let poller = std::thread::Builder::new()
            .name("weir-ingress".into())
            .spawn(move || {
                poller.run();
            })
            .map_err(|e| err("starting the poller thread")(Box::new(e)))?;
        if let Kind::External { poller: p, .. } = &mut ingress.kind {
            *p = Some(poller);
        }
        Ok((ingress, publisher))
    }

    /// Makes the subscriptions match `filters`: `$` filters on the `$` session, the others
    /// in the share group (the embedded link already sees everything).
    pub fn subscribe(&self, filters: &BTreeSet<String>) {
        let Kind::External {
            client,
            subscribed,
            share_group,
            dollar,
            ..
        } = &self.kind
        else {
            return;
        };
        let (dollars, shared): (BTreeSet<String>, BTreeSet<String>) =
            filters.iter().cloned().partition(|f| is_dollar(f));
        reconcile(subscribed, Some(client), Some(share_group), &shared);
        dollar.subscribe(&dollars);
    }
}

/// Subscribes what `filters` has and `subscribed` has not, unsubscribes the reverse, and
/// records `filters` as the active set; without a `client` (not connected) only records it,
/// for the next connection's [`Poller::on_connack`].
pub(super) fn reconcile(
    subscribed: &Mutex<Subscriptions>,
    client: Option<&rumqttc::v5::Client>,
    group: Option<&str>,
    filters: &BTreeSet<String>,
) {
    let mut subs = lock(subscribed);
    for f in filters.difference(&subs.active.clone()) {
        let next = subs.ids.len() + 1;
        let id = *subs.ids.entry(f.clone()).or_insert(next);
        subs.by_id.insert(id, f.clone());
        if let Some(client) = client {
            subscribe_one(client, group, f, Some(id));
        }
    }
    if let Some(client) = client {
        for f in subs.active.difference(filters) {
            if let Err(e) = client.try_unsubscribe(subscription(group, f)) {
                tracing::warn!(filter = %f, error = %e, "could not unsubscribe");
            }
        }
    }
    subs.active = filters.clone();
}

/// The topic filter subscribed for `filter`: `$share/GROUP/FILTER` in a share group, the
/// filter itself otherwise.
fn subscription(group: Option<&str>, filter: &str) -> String {
    match group {
        Some(g) => format!("$share/{g}/{filter}"),
        None => filter.to_owned(),
    }
}

/// The client's options: a persistent session (what was delivered but not acknowledged comes
/// back after a reconnect or a restart) with manual acknowledgements, so a PUBACK waits until
/// the message is handled.
pub(super) fn client_options(cfg: &ExternalBroker) -> Result<rumqttc::v5::MqttOptions, TlsError> {
    let mut opts = rumqttc::v5::MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_manual_acks(true);
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(24 * 3600));
    opts.set_receive_maximum(Some(1000));
    opts.set_max_packet_size(Some(2 << 20));
    if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
        opts.set_credentials(u.clone(), p.clone());
    } else if let Some(u) = &cfg.username {
        opts.set_credentials(u.clone(), "");
    }
    if cfg.tls {
        opts.set_transport(rumqttc::Transport::tls_with_config(client_tls(
            cfg.ca_file.as_deref(),
        )?));
    }
    Ok(opts)
}

/// The poller thread's state: the connection it reads, and what it remembers between events.
pub(super) struct Poller {
    connection: rumqttc::v5::Connection,
    client: rumqttc::v5::Client,
    subscribed: Arc<Mutex<Subscriptions>>,
    /// The share group; `None` for the `$` session's plain subscriptions.
    group: Option<String>,
    url: String,
    /// The host stops taking messages in.
    stop: Arc<AtomicBool>,
    /// [`Ingress::close`] sent DISCONNECT.
    disconnect: Arc<AtomicBool>,
    input: SyncSender<Input>,
    /// Messages settled as not handled since the last renewal.
    unhandled: Arc<AtomicU64>,
    /// A connection failure was logged; reset by the next CONNACK so an outage logs once.
    reported: bool,
    /// When our DISCONNECT went out.
    closing_since: Option<Instant>,
    last_redelivery: Instant,
    /// The `$` session's lease: kept renewed; once lost, the poller disconnects.
    lease: Option<Lease>,
    /// When a renewal of the lease was last tried: a failing store is asked at most once a
    /// second, not on every event.
    lease_tried: Option<Instant>,
    /// The `$` session's shadow workers, offered what comes through [`SHADOW_FILTERS`].
    shadows: Option<(SharedShadows, Arc<Metrics>)>,
}

impl Poller {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        connection: rumqttc::v5::Connection,
        client: rumqttc::v5::Client,
        subscribed: Arc<Mutex<Subscriptions>>,
        group: Option<String>,
        url: String,
        stop: Arc<AtomicBool>,
        disconnect: Arc<AtomicBool>,
        input: SyncSender<Input>,
    ) -> Poller {
        Poller {
            connection,
            client,
            subscribed,
            group,
            url,
            stop,
            disconnect,
            input,
            unhandled: Arc::new(AtomicU64::new(0)),
            reported: false,
            closing_since: None,
            last_redelivery: Instant::now(),
            lease: None,
            lease_tried: None,
            shadows: None,
        }
    }

    /// Holds `lease` while it runs (see [`Self::keep_lease`]).
    pub(super) fn with_lease(mut self, lease: Option<Lease>) -> Poller {
        self.lease = lease;
        self
    }

    /// Offers shadow requests to `shadows` (while they are open).
    pub(super) fn with_shadows(
        mut self,
        shadows: Option<SharedShadows>,
        metrics: Arc<Metrics>,
    ) -> Poller {
        self.shadows = shadows.map(|s| (s, metrics));
        self
    }

    /// Reads events until the connection ends, the dispatcher stops, or the broker has had
    /// [`CLOSE_WAIT`] to close after our DISCONNECT; hands the lease back.
    pub(super) fn run(mut self) -> Option<Lease> {
        use rumqttc::v5::mqttbytes::v5::Packet;
        use rumqttc::v5::Event;
        loop {
            if self.closing_since.is_some_and(|t| t.elapsed() > CLOSE_WAIT) {
                return self.lease;
            }
            self.keep_lease();
            self.renew_for_redelivery();
            let event = match self.connection.recv_timeout(Duration::from_secs(1)) {
                Ok(event) => event,
                Err(rumqttc::v5::RecvTimeoutError::Timeout) => continue,
                Err(rumqttc::v5::RecvTimeoutError::Disconnected) => return self.lease,
            };
            match event {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if !self.forward(p) {
                        return self.lease;
                    }
                }
                Ok(Event::Incoming(Packet::ConnAck(_))) => self.on_connack(),
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                    // Keep reading until the broker closes the connection: closing it
                    // ourselves with unread data would reset it, and the broker could drop
                    // the PUBACKs still in its receive buffer.
                    if self.disconnect.load(Ordering::Acquire) {
                        self.closing_since.get_or_insert_with(Instant::now);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if self.disconnect.load(Ordering::Acquire) {
                        return self.lease;
                    }
                    if !self.reported {
                        tracing::warn!(url = %self.url, error = %e, "external broker connection failed; retrying");
                        self.reported = true;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    /// Renews the lease when due. Once it is lost (another host took it, or it could not be
    /// renewed for a time to live), disconnects: from then on the other host's session
    /// receives what this one has not acknowledged.
    fn keep_lease(&mut self) {
        let Some(lease) = &mut self.lease else {
            return;
        };
        if self.closing_since.is_some() || self.disconnect.load(Ordering::Acquire) {
            return;
        }
        let retry_due = self
            .lease_tried
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if lease.renewal_due() && retry_due {
            self.lease_tried = Some(Instant::now());
            if let Err(e) = lease.renew() {
                tracing::warn!(lease = %lease.key(), error = %e, "cannot renew the `$` topics lease; trying again");
            }
        }
        if !lease.is_held() {
            tracing::warn!(lease = %lease.key(), "lost the `$` topics lease: disconnecting, so that the host holding it takes the session");
            self.disconnect.store(true, Ordering::Release);
            let _ = self.client.try_disconnect();
        }
    }

    /// A message that was not handled stays unacknowledged and keeps a slot of the broker's
    /// receive window. Reconnecting (the session persists) makes the broker deliver every
    /// unacknowledged message again, so failures are retried and can never pin the whole
    /// window; at most every [`REDELIVER_EVERY`].
    fn renew_for_redelivery(&mut self) {
        if self.unhandled.load(Ordering::Acquire) > 0
            && self.last_redelivery.elapsed() >= REDELIVER_EVERY
            && self.closing_since.is_none()
            && !self.stop.load(Ordering::Acquire)
        {
            let n = self.unhandled.swap(0, Ordering::AcqRel);
            self.last_redelivery = Instant::now();
            tracing::warn!(url = %self.url, messages = n, "messages were not handled: reconnecting so that the broker delivers them again");
            let _ = self.client.try_disconnect();
        }
    }

    /// Hands one message to the dispatcher, with the filters of the subscriptions it came
    /// through. Returns `false` when the dispatcher has stopped.
    fn forward(&self, p: Publish) -> bool {
        if self.stop.load(Ordering::Acquire) || self.closing_since.is_some() {
            // Stopping: leave it unacknowledged; the broker redelivers.
            return true;
        }
        let only = self.filters_of(&p);
        let held = p.qos != rumqttc::v5::mqttbytes::QoS::AtMostOnce;
        let msg = Inbound {
            topic: Arc::from(String::from_utf8_lossy(&p.topic).into_owned()),
            payload: p.payload.clone(),
            client_id: None,
            ack: self.ack_for(p),
        };
        if let Some((shadows, metrics)) = &self.shadows {
            // Only through a request filter: the same message may come again through a
            // rule's overlapping `$` filter, and must be served once.
            let request = only
                .as_ref()
                .is_none_or(|f| f.iter().any(|f| SHADOW_FILTERS.contains(&f.as_str())));
            if request {
                match lock(shadows).as_ref() {
                    Some(s) => s.offer(&msg, held, metrics),
                    // Stopping: leave it unacknowledged; the broker redelivers.
                    None => return true,
                }
            }
        }
        if let Err(std::sync::mpsc::SendError(Input::Message(msg, _))) =
            self.input.send(Input::Message(msg, only))
        {
            // The dispatcher has stopped: not handled, so not acknowledged.
            msg.ack.fail();
            return false;
        }
        true
    }

    /// The filters whose subscription identifiers the message carries; `None` (all rules)
    /// when it carries none we know.
    fn filters_of(&self, p: &Publish) -> Option<Vec<String>> {
        let subs = lock(&self.subscribed);
        p.properties.as_ref().and_then(|props| {
            let f: Vec<String> = props
                .subscription_identifiers
                .iter()
                .filter_map(|id| subs.by_id.get(id).cloned())
                .collect();
            (!f.is_empty()).then_some(f)
        })
    }

    /// A QoS 1 message is acknowledged once handled; one that was not is counted for the
    /// next renewal ([`Self::renew_for_redelivery`]).
    fn ack_for(&self, p: Publish) -> AckToken {
        if p.qos == rumqttc::v5::mqttbytes::QoS::AtMostOnce {
            return AckToken::none();
        }
        let ack_client = self.client.clone();
        let unhandled = self.unhandled.clone();
        AckToken::settled_by(move |handled| {
            if !handled {
                unhandled.fetch_add(1, Ordering::AcqRel);
            } else if let Err(e) = ack_client.try_ack(&p) {
                tracing::warn!(error = %e, "could not queue a PUBACK; the broker will redeliver");
            }
        })
    }

    /// Subscriptions are (re)made on every connection: cheap, and right even if the broker
    /// lost the session.
    fn on_connack(&mut self) {
        self.reported = false;
        tracing::info!(url = %self.url, "connected to the external broker");
        let subs = lock(&self.subscribed);
        for f in &subs.active {
            let id = subs.ids.get(f).copied();
            subscribe_one(&self.client, self.group.as_deref(), f, id);
        }
    }
}

/// Subscribes `filter` (in the share group, if any), with its subscription identifier so a
/// message can be routed to the rules of the subscriptions it came through.
fn subscribe_one(
    client: &rumqttc::v5::Client,
    group: Option<&str>,
    filter: &str,
    id: Option<usize>,
) {
    use rumqttc::v5::mqttbytes::v5::SubscribeProperties;
    use rumqttc::v5::mqttbytes::QoS;
    let props = SubscribeProperties {
        id,
        user_properties: Vec::new(),
    };
    let topic = subscription(group, filter);
    if let Err(e) = client.try_subscribe_with_properties(topic.clone(), QoS::AtLeastOnce, props) {
        tracing::error!(%topic, error = %e, "could not subscribe");
    }
}

/// The TLS client configuration: the CA file's certificates, or the system's roots.
fn client_tls(ca_file: Option<&std::path::Path>) -> Result<rumqttc::TlsConfiguration, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            use rustls::pki_types::pem::PemObject;
            use rustls::pki_types::CertificateDer;
            let ca = |e: Cause| TlsError::CaFile {
                path: path.to_path_buf(),
                source: e,
            };
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| ca(Box::new(e)))?;
            for cert in certs {
                let cert = cert.map_err(|e| ca(Box::new(e)))?;
                roots.add(cert).map_err(|e| ca(Box::new(e)))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(TlsError::Protocol)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(rumqttc::TlsConfiguration::Rustls(Arc::new(config)))
}

/// Publishes through the external broker's client.
struct ExternalPublisher {
    client: rumqttc::v5::Client,
}

impl Publisher for ExternalPublisher {
    fn publish(&self, topic: &str, payload: Bytes, qos: u8) -> Result<(), PublishError> {
        let qos = if qos == 0 {
            rumqttc::v5::mqttbytes::QoS::AtMostOnce
        } else {
            rumqttc::v5::mqttbytes::QoS::AtLeastOnce
        };
        self.client
            .publish(topic.to_owned(), qos, false, payload)
            .map_err(|e| PublishError {
                topic: topic.to_owned(),
                source: Box::new(e),
            })
    }
}
