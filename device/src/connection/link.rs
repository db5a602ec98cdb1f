//! The two protocols' event loops (rumqttc's MQTT 3.1.1 and MQTT 5) behind one trait, so the
//! driver handles one kind of event ([`Ev`]) and one kind of failure ([`LinkError`], already
//! classified into a [`ConnectError`] that names what failed).

use std::future::Future;

use rumqttc::Outgoing;

use super::ConnectError;

/// `connection refused` rather than `Connection refused (os error 111)`.
pub(super) fn io_reason(e: &std::io::Error) -> String {
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
pub(super) struct LinkError {
    pub(super) error: ConnectError,
    /// The application closed the connection (not a failure).
    pub(super) done: bool,
}

impl LinkError {
    /// The application closed the connection.
    fn closed(endpoint: &str) -> LinkError {
        LinkError {
            error: ConnectError::Protocol {
                endpoint: endpoint.to_string(),
                reason: "closed".into(),
            },
            done: true,
        }
    }

    /// The broker refused the connection with `code` (either protocol's CONNACK code).
    fn refused(endpoint: &str, code: impl std::fmt::Debug) -> LinkError {
        ConnectError::Refused {
            endpoint: endpoint.to_string(),
            reason: format!("{code:?}"),
        }
        .into()
    }

    /// No answer within the connect timeout.
    fn timeout(endpoint: &str, secs: u64) -> LinkError {
        ConnectError::Timeout {
            endpoint: endpoint.to_string(),
            secs,
        }
        .into()
    }
}

impl From<ConnectError> for LinkError {
    /// A failure of the link (the application did not close it).
    fn from(error: ConnectError) -> LinkError {
        LinkError { error, done: false }
    }
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
pub(super) trait MqttLoop: Send + 'static {
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

pub(super) enum Ev {
    ConnAck { session_present: bool },
    PubAck { pkid: u16, ok: bool },
    SubAck,
    Publish { topic: String, payload: Vec<u8> },
    SentPublish(u16),
    SentDisconnect,
    Other,
}

impl Ev {
    /// What the event loop sent, as the driver counts it (either protocol's: rumqttc shares
    /// [`Outgoing`]).
    fn sent(o: Outgoing) -> Ev {
        match o {
            Outgoing::Publish(pkid) => Ev::SentPublish(pkid),
            Outgoing::Disconnect => Ev::SentDisconnect,
            _ => Ev::Other,
        }
    }
}

/// [`MqttLoop::stash_pending`] for either protocol's queue of requests: copies of the ones
/// `is_publish` picks.
fn publishes<'a, R: Clone + 'a>(
    pending: impl IntoIterator<Item = &'a R>,
    is_publish: impl Fn(&R) -> bool,
) -> Vec<R> {
    pending
        .into_iter()
        .filter(|r| is_publish(r))
        .cloned()
        .collect()
}

/// [`MqttLoop::restore_stash`] for either protocol's queue of requests.
fn restore<R>(stash: &mut Vec<R>, pending: &mut impl Extend<R>, session_present: bool) -> usize {
    let stash = std::mem::take(stash);
    if session_present {
        return 0;
    }
    let n = stash.len();
    pending.extend(stash);
    n
}

pub(super) struct V4Loop {
    pub(super) el: rumqttc::EventLoop,
    pub(super) stash: Vec<rumqttc::Request>,
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
            Ok(Event::Outgoing(o)) => Ok(Ev::sent(o)),
            Ok(_) => Ok(Ev::Other),
            Err(e) => Err(match e {
                E::RequestsDone => LinkError::closed(endpoint),
                E::Io(io) => classify_io(endpoint, &io).into(),
                E::Tls(t) => classify_tls(endpoint, &t).into(),
                E::ConnectionRefused(code) => LinkError::refused(endpoint, code),
                E::NetworkTimeout => LinkError::timeout(endpoint, connect_secs),
                other => classify_chain(endpoint, &other).into(),
            }),
        }
    }

    fn stash_pending(&mut self) {
        self.stash = publishes(&self.el.pending, |r| {
            matches!(r, rumqttc::Request::Publish(_))
        });
    }

    fn restore_stash(&mut self, session_present: bool) -> usize {
        restore(&mut self.stash, &mut self.el.pending, session_present)
    }
}

pub(super) struct V5Loop {
    pub(super) el: rumqttc::v5::EventLoop,
    pub(super) stash: Vec<rumqttc::v5::Request>,
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
            Ok(Event::Outgoing(o)) => Ok(Ev::sent(o)),
            Ok(_) => Ok(Ev::Other),
            Err(e) => Err(match e {
                E::RequestsDone => LinkError::closed(endpoint),
                E::Io(io) => classify_io(endpoint, &io).into(),
                E::Tls(t) => classify_tls(endpoint, &t).into(),
                E::ConnectionRefused(code) => LinkError::refused(endpoint, code),
                E::Timeout(_) => LinkError::timeout(endpoint, connect_secs),
                other => classify_chain(endpoint, &other).into(),
            }),
        }
    }

    fn stash_pending(&mut self) {
        self.stash = publishes(&self.el.pending, |r| {
            matches!(r, rumqttc::v5::Request::Publish(_))
        });
    }

    fn restore_stash(&mut self, session_present: bool) -> usize {
        restore(&mut self.stash, &mut self.el.pending, session_present)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_reasons_are_short() {
        let e = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(io_reason(&e), "connection refused");
        let e = std::io::Error::from_raw_os_error(111);
        assert_eq!(io_reason(&e), "connection refused");
    }
}
