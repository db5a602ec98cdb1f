//! AWS IoT's lifecycle events on the embedded broker: when a network client connects, Weir
//! publishes `$aws/events/presence/connected/CLIENTID`, and when it goes,
//! `$aws/events/presence/disconnected/CLIENTID`, with the JSON payloads of AWS's developer
//! guide ("Lifecycle events", <https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html>).
//! They are ordinary broker messages, published at QoS 1 through the in-process publisher:
//! subscribers of those topics receive them, and, through the ingress link, rules
//! `FROM '$aws/events/presence/+/+'` see them.
//!
//! The broker's router says who connected and why a connection ended (rumqttd patch 10,
//! `Broker::connection_events`); this thread turns that into AWS's payloads:
//! - `sessionIdentifier`: a UUID per connection, the same in its connected and disconnected
//!   events.
//! - `versionNumber`: per client id, 0 for its first connection and one more for each later
//!   one; a connection's two events share it. AWS resets it after about an hour without a
//!   connection; so does Weir (and after a restart).
//! - `principalIdentifier`: the CONNECT user name (the credential `[broker] users` checks);
//!   `anonymous` for a client without one. AWS puts a certificate id or IAM identity here.
//! - `ipAddress`: the client's address, in connected events only (as AWS documents it).
//! - `disconnectReason` from the router's cause: `CLIENT_INITIATED_DISCONNECT` (a DISCONNECT
//!   packet; the only one with `clientInitiatedDisconnect: true`), `DUPLICATE_CLIENTID` (a new
//!   connection took the client id), `MQTT_KEEP_ALIVE_TIMEOUT`, `CONNECTION_LOST` (the socket
//!   closed or failed without DISCONNECT), `CLIENT_ERROR` (a protocol violation),
//!   `SERVER_INITIATED_DISCONNECT` (Weir disconnected it so that it resends messages that were
//!   not handled).
//!
//! Not reported: Weir's own in-process links (the router never reports them), the `/health`
//! probe's connections (`weir-health-PID-N` of this process, every few seconds: they would
//! flood the presence topics and the rules with events about Weir itself), and client ids
//! holding `#` or `+`, as AWS documents. Like AWS's, the events are at least once and may
//! arrive out of order; the router never waits for this thread (beyond
//! [`QUEUE`] unread events, new ones are dropped and logged by the broker).

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttd::{ConnectionEvent, ConnectionEventKind, DisconnectCause};
use serde_json::{json, Map, Value};

use super::resources::Publisher;

/// The topic prefix of AWS's presence events.
const PRESENCE: &str = "$aws/events/presence/";

/// How many connection events the broker keeps for this thread before dropping new ones.
pub const QUEUE: usize = 65_536;

/// After this long without a connection, a client id's `versionNumber` starts again at 0
/// (AWS: "approximately one hour").
const VERSION_RESET: Duration = Duration::from_secs(3600);

/// Whether `topic` is a lifecycle event topic Weir publishes
/// (`$aws/events/presence/connected|disconnected/CLIENTID`): served by the broker, so the
/// dispatcher does not refuse it when no rule listens.
pub fn is_lifecycle_topic(topic: &str) -> bool {
    topic
        .strip_prefix(PRESENCE)
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(kind, id)| matches!(kind, "connected" | "disconnected") && !id.is_empty())
}

/// Starts the thread that publishes lifecycle events for the broker's `events` through
/// `publisher`. It ends when the broker drops its side of the channel.
pub fn start(
    events: flume::Receiver<ConnectionEvent>,
    publisher: Arc<dyn Publisher>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("weir-lifecycle".into())
        .spawn(move || {
            let mut presence = Presence::new(std::process::id());
            while let Ok(event) = events.recv() {
                let Some((topic, payload)) =
                    presence.event(event, weir_support::now_ms(), Instant::now())
                else {
                    continue;
                };
                if let Err(e) = publisher.publish(&topic, Bytes::from(payload), 1) {
                    tracing::warn!(
                        error = %weir_support::error_chain(&e),
                        "lifecycle event not published"
                    );
                }
            }
        })
}

/// One live connection, from its connected event to its disconnected one.
struct Session {
    uuid: String,
    version: u64,
    principal: String,
}

/// A client id's last `versionNumber`, and since when it has had no connection.
struct Version {
    last: u64,
    idle_since: Option<Instant>,
}

/// The state behind the events: live sessions and each client id's version. No IO, so the
/// payloads are tested without a broker.
struct Presence {
    /// The `/health` probe's client id prefix for this process (`ingress::probe_embedded`).
    probe_prefix: String,
    sessions: HashMap<u64, Session>,
    versions: HashMap<String, Version>,
    events_since_sweep: u32,
}

impl Presence {
    fn new(pid: u32) -> Self {
        Presence {
            probe_prefix: format!("weir-health-{pid}-"),
            sessions: HashMap::new(),
            versions: HashMap::new(),
            events_since_sweep: 0,
        }
    }

    /// The topic and payload to publish for `event` at `now_ms` (`None`: not reported).
    fn event(
        &mut self,
        event: ConnectionEvent,
        now_ms: i64,
        now: Instant,
    ) -> Option<(String, Vec<u8>)> {
        let id = event.client_id;
        if id.contains(['#', '+']) || id.starts_with(&self.probe_prefix) {
            return None;
        }
        self.sweep(now);
        let mut body = Map::new();
        body.insert("clientId".into(), json!(id));
        body.insert("timestamp".into(), json!(now_ms));
        let kind = match event.kind {
            ConnectionEventKind::Connected { peer, username, .. } => {
                let version = self.next_version(&id);
                let session = Session {
                    uuid: uuid::Uuid::new_v4().to_string(),
                    version,
                    principal: username.unwrap_or_else(|| "anonymous".to_owned()),
                };
                body.insert("eventType".into(), json!("connected"));
                body.insert("sessionIdentifier".into(), json!(session.uuid));
                body.insert("principalIdentifier".into(), json!(session.principal));
                if let Some(peer) = peer {
                    body.insert("ipAddress".into(), json!(peer.ip().to_string()));
                }
                body.insert("versionNumber".into(), json!(version));
                self.sessions.insert(event.session, session);
                "connected"
            }
            ConnectionEventKind::Disconnected(cause) => {
                // A connected event dropped by a full queue leaves no session: the
                // disconnection is still reported, with a session of its own.
                let session = self
                    .sessions
                    .remove(&event.session)
                    .unwrap_or_else(|| Session {
                        uuid: uuid::Uuid::new_v4().to_string(),
                        version: self.versions.get(&id).map_or(0, |v| v.last),
                        principal: "anonymous".to_owned(),
                    });
                if let Some(v) = self.versions.get_mut(&id) {
                    if v.last == session.version {
                        v.idle_since = Some(now);
                    }
                }
                body.insert("eventType".into(), json!("disconnected"));
                body.insert("sessionIdentifier".into(), json!(session.uuid));
                body.insert("principalIdentifier".into(), json!(session.principal));
                body.insert(
                    "clientInitiatedDisconnect".into(),
                    json!(cause == DisconnectCause::Client),
                );
                body.insert("disconnectReason".into(), json!(reason(cause)));
                body.insert("versionNumber".into(), json!(session.version));
                "disconnected"
            }
        };
        let payload = serde_json::to_vec(&Value::Object(body)).ok()?;
        Some((format!("{PRESENCE}{kind}/{id}"), payload))
    }

    /// The `versionNumber` of a new connection of `client_id`.
    fn next_version(&mut self, client_id: &str) -> u64 {
        match self.versions.get_mut(client_id) {
            Some(v) => {
                v.last += 1;
                v.idle_since = None;
                v.last
            }
            None => {
                self.versions.insert(
                    client_id.to_owned(),
                    Version {
                        last: 0,
                        idle_since: None,
                    },
                );
                0
            }
        }
    }

    /// Forgets the versions of client ids idle for [`VERSION_RESET`] (now and then, so the
    /// map holds the live and recent client ids only).
    fn sweep(&mut self, now: Instant) {
        self.events_since_sweep += 1;
        if self.events_since_sweep < 1024 {
            return;
        }
        self.events_since_sweep = 0;
        self.versions.retain(|_, v| {
            v.idle_since
                .is_none_or(|t| now.duration_since(t) < VERSION_RESET)
        });
    }
}

/// AWS's `disconnectReason` for the broker's cause.
fn reason(cause: DisconnectCause) -> &'static str {
    match cause {
        DisconnectCause::Client => "CLIENT_INITIATED_DISCONNECT",
        DisconnectCause::Takeover => "DUPLICATE_CLIENTID",
        DisconnectCause::KeepAlive => "MQTT_KEEP_ALIVE_TIMEOUT",
        DisconnectCause::ConnectionLost => "CONNECTION_LOST",
        DisconnectCause::ClientError => "CLIENT_ERROR",
        DisconnectCause::Server => "SERVER_INITIATED_DISCONNECT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(id: &str, session: u64, user: Option<&str>) -> ConnectionEvent {
        ConnectionEvent {
            client_id: id.into(),
            session,
            kind: ConnectionEventKind::Connected {
                peer: Some("192.0.2.7:50000".parse().unwrap()),
                username: user.map(str::to_owned),
                clean_session: true,
            },
        }
    }

    fn disconnected(id: &str, session: u64, cause: DisconnectCause) -> ConnectionEvent {
        ConnectionEvent {
            client_id: id.into(),
            session,
            kind: ConnectionEventKind::Disconnected(cause),
        }
    }

    fn body(out: Option<(String, Vec<u8>)>) -> (String, Value) {
        let (topic, payload) = out.unwrap();
        (topic, serde_json::from_slice(&payload).unwrap())
    }

    #[test]
    fn payloads_follow_aws_example_field_for_field() {
        let mut p = Presence::new(1);
        let now = Instant::now();
        let (topic, c) = body(p.event(connected("dev-1", 7, Some("alice")), 1_000, now));
        assert_eq!(topic, "$aws/events/presence/connected/dev-1");
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "clientId",
                "timestamp",
                "eventType",
                "sessionIdentifier",
                "principalIdentifier",
                "ipAddress",
                "versionNumber"
            ]
        );
        assert_eq!(c["principalIdentifier"], "alice");
        assert_eq!(c["ipAddress"], "192.0.2.7");
        assert_eq!(c["timestamp"], 1_000);
        assert_eq!(c["versionNumber"], 0);
        let (topic, d) = body(p.event(
            disconnected("dev-1", 7, DisconnectCause::Client),
            2_000,
            now,
        ));
        assert_eq!(topic, "$aws/events/presence/disconnected/dev-1");
        assert_eq!(d["sessionIdentifier"], c["sessionIdentifier"]);
        assert_eq!(d["clientInitiatedDisconnect"], true);
        assert_eq!(d["disconnectReason"], "CLIENT_INITIATED_DISCONNECT");
        assert_eq!(d["versionNumber"], 0);
        assert!(d.get("ipAddress").is_none());
    }

    #[test]
    fn versions_grow_per_client_and_reset_after_an_idle_hour() {
        let mut p = Presence::new(1);
        let t0 = Instant::now();
        let v = |out| body(out).1["versionNumber"].as_u64().unwrap();
        assert_eq!(v(p.event(connected("a", 1, None), 0, t0)), 0);
        // A takeover: the old session's disconnection keeps its number, the new one is next.
        assert_eq!(
            v(p.event(disconnected("a", 1, DisconnectCause::Takeover), 0, t0)),
            0
        );
        assert_eq!(v(p.event(connected("a", 2, None), 0, t0)), 1);
        assert_eq!(v(p.event(connected("b", 3, None), 0, t0)), 0);
        assert_eq!(
            v(p.event(disconnected("a", 2, DisconnectCause::ConnectionLost), 0, t0)),
            1
        );
        let later = t0 + VERSION_RESET + Duration::from_secs(1);
        p.events_since_sweep = 1024;
        assert_eq!(v(p.event(connected("a", 4, None), 0, later)), 0);
    }

    #[test]
    fn probes_and_wildcard_ids_are_not_reported() {
        let mut p = Presence::new(42);
        let now = Instant::now();
        assert!(p
            .event(connected("weir-health-42-0", 1, None), 0, now)
            .is_none());
        assert!(p.event(connected("a+b", 2, None), 0, now).is_none());
        // Another process's prefix is an ordinary client id.
        assert!(p
            .event(connected("weir-health-43-0", 3, None), 0, now)
            .is_some());
    }

    #[test]
    fn lifecycle_topics() {
        assert!(is_lifecycle_topic("$aws/events/presence/connected/x"));
        assert!(is_lifecycle_topic("$aws/events/presence/disconnected/x/y"));
        assert!(!is_lifecycle_topic("$aws/events/presence/connected/"));
        assert!(!is_lifecycle_topic(
            "$aws/events/subscriptions/subscribed/x"
        ));
    }
}
