//! What a connection is opened with ([`ConnectionOptions`], [`BrokerUrl`]) and what comes
//! back out of it: the errors, the received messages and the counters' snapshot. Plain data,
//! so the CLI and the tests can build and inspect it without a broker.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

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
    pub(super) fn v4(self) -> rumqttc::QoS {
        match self {
            Self::AtMostOnce => rumqttc::QoS::AtMostOnce,
            Self::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        }
    }
    pub(super) fn v5(self) -> rumqttc::v5::mqttbytes::QoS {
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

/// A publish or subscribe the connection could not carry out (it has shut down, or the
/// client refused the request).
#[derive(Debug, thiserror::Error)]
#[error("cannot publish to broker {endpoint}: {reason}")]
pub struct ClientError {
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
}
