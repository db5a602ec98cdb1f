//! The load generator: N connections, a total target rate, a duration, and latency figures.
//!
//! Each connection is one rumqttc client driven by its own tokio task; the target rate is
//! split evenly and each task paces itself against a shared start time, so the total rate
//! holds even when one connection stalls briefly. For QoS 1 it reports publish-to-PUBACK
//! latency; with `--subscribe` a separate connection receives the messages and reports
//! end-to-end latency from a send timestamp embedded in each payload (`ts_us`, or the seed
//! payload's `iottimestamp` with its microseconds).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{NaiveDateTime, Utc};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::time::Instant;

use crate::connection::{ConnectError, Connection, ConnectionOptions, Qos};
use crate::payload::{seed_payload, SpeedingRow};
use crate::summary::{latency_histogram, rate, Percentiles};

/// What each message carries.
#[derive(Debug, Clone)]
pub enum LoadPayload {
    /// A JSON object with a send timestamp, padded to about this many bytes.
    Size(usize),
    /// Seed payloads from these rows, cycled.
    Rows(Arc<Vec<SpeedingRow>>),
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Connection settings; `client_id` is the prefix, each connection appends `-N`.
    pub connection: ConnectionOptions,
    pub connections: usize,
    /// Total messages per second over all connections; 0 = as fast as possible.
    pub rate: f64,
    pub duration: Duration,
    pub qos: Qos,
    pub topic: String,
    pub payload: LoadPayload,
    /// Subscribe to this filter on an extra connection and measure end-to-end latency.
    pub subscribe: Option<String>,
    /// How long to wait for PUBACKs (and subscribed messages) after the run.
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoadReport {
    pub connections: usize,
    pub qos: u8,
    pub target_rate: f64,
    pub duration_secs: f64,
    pub sent: u64,
    pub acknowledged: u64,
    pub failed: u64,
    /// Messages handed to the clients per second during the sending window.
    pub sent_per_sec: f64,
    /// Acknowledged messages per second, counting the drain after the window (QoS 1 only).
    pub acked_per_sec: Option<f64>,
    pub publish_to_ack: Option<Percentiles>,
    pub received: Option<u64>,
    pub end_to_end: Option<Percentiles>,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "connections {}  qos {}  target {}  duration {:.2} s",
            self.connections,
            self.qos,
            if self.target_rate > 0.0 {
                format!("{:.0} msg/s", self.target_rate)
            } else {
                "max".into()
            },
            self.duration_secs
        )?;
        write!(
            f,
            "sent {}  acknowledged {}  failed {}  rate {:.0} msg/s",
            self.sent, self.acknowledged, self.failed, self.sent_per_sec
        )?;
        if let Some(r) = self.acked_per_sec {
            write!(f, "  acked {r:.0} msg/s")?;
        }
        if let Some(p) = &self.publish_to_ack {
            write!(f, "\npublish->ack  {p}")?;
        }
        if let Some(n) = self.received {
            write!(f, "\nreceived {n}")?;
        }
        if let Some(p) = &self.end_to_end {
            write!(f, "\nend-to-end   {p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("connection {index}: {source}")]
    Connect { index: usize, source: ConnectError },
    #[error("subscriber: {0}")]
    Subscribe(String),
    #[error("--connections must be at least 1")]
    NoConnections,
}

/// Builds the `Size` payload: `{"ts_us":...,"seq":...,"conn":...,"pad":"xxx"}`.
pub fn sized_payload(size: usize, conn: usize, seq: u64, pad: &str) -> Vec<u8> {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let mut out = format!("{{\"ts_us\":{ts},\"seq\":{seq},\"conn\":{conn},\"pad\":\"");
    let closing = 2;
    let want = size.saturating_sub(out.len() + closing).min(pad.len());
    out.push_str(&pad[..want]);
    out.push_str("\"}");
    out.into_bytes()
}

/// The send time embedded in a payload, in microseconds since the epoch.
pub fn embedded_send_time_us(payload: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(payload).ok()?;
    if let Some(i) = text.find("\"ts_us\":") {
        let digits: String = text[i + 8..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return digits.parse().ok();
    }
    let i = text.find("\"iottimestamp\": \"")? + 17;
    let end = text[i..].find('"')? + i;
    let t = NaiveDateTime::parse_from_str(&text[i..end], "%Y-%m-%d %H:%M:%S%.f").ok()?;
    u64::try_from(t.and_utc().timestamp_micros()).ok()
}

struct ConnResult {
    sent: u64,
    acked: u64,
    failed: u64,
    hist: Option<Histogram<u64>>,
}

/// Runs the load and reports. Connection failures abort before any message is sent.
pub async fn run(opts: &LoadOptions) -> Result<LoadReport, LoadError> {
    if opts.connections == 0 {
        return Err(LoadError::NoConnections);
    }
    let received = Arc::new(AtomicU64::new(0));
    let (sub_done_tx, sub_done_rx) = tokio::sync::watch::channel(false);
    let subscriber = match &opts.subscribe {
        Some(filter) => Some(start_subscriber(opts, filter, received.clone(), sub_done_rx).await?),
        None => None,
    };
    let publishers = connect_all(opts).await?;

    let pad = "x".repeat(match &opts.payload {
        LoadPayload::Size(n) => *n,
        LoadPayload::Rows(_) => 0,
    });
    let pad: Arc<str> = Arc::from(pad);
    let start = Instant::now() + Duration::from_millis(20);
    let deadline = start + opts.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, p) in publishers.into_iter().enumerate() {
        let Some(p) = p else { continue };
        let conn = ConnLoad::new(opts, i, pad.clone(), start, deadline);
        tasks.spawn(conn.publish(p));
    }
    let totals = Totals::collect(&mut tasks).await;
    let sending = deadline
        .saturating_duration_since(start)
        .min(start.elapsed());
    let total = start.elapsed();

    let (received_n, e2e) = match subscriber {
        Some(sub) => {
            let target = if opts.qos == Qos::AtLeastOnce {
                totals.acked
            } else {
                totals.sent
            };
            let e2e = sub
                .drain(target, &received, opts.drain_timeout, &sub_done_tx)
                .await;
            (Some(received.load(Ordering::SeqCst)), e2e)
        }
        None => (None, None),
    };

    Ok(LoadReport::new(
        opts,
        totals,
        (sending, total),
        received_n,
        e2e,
    ))
}

impl LoadReport {
    /// The report of a run. Rates are over the sending window, except the acknowledged rate,
    /// which counts the drain after it (`total`).
    fn new(
        opts: &LoadOptions,
        totals: Totals,
        (sending, total): (Duration, Duration),
        received: Option<u64>,
        end_to_end: Option<Percentiles>,
    ) -> LoadReport {
        let Totals {
            sent,
            acked,
            failed,
            hist,
        } = totals;
        LoadReport {
            connections: opts.connections,
            qos: match opts.qos {
                Qos::AtMostOnce => 0,
                Qos::AtLeastOnce => 1,
            },
            target_rate: opts.rate,
            duration_secs: sending.as_secs_f64(),
            sent,
            acknowledged: acked,
            failed,
            sent_per_sec: rate(sent, sending),
            acked_per_sec: (opts.qos == Qos::AtLeastOnce).then(|| rate(acked, total)),
            publish_to_ack: if opts.qos == Qos::AtLeastOnce {
                Percentiles::from_histogram(&hist)
            } else {
                None
            },
            received,
            end_to_end,
        }
    }
}

/// Connects every publisher, concurrently, before any sends: the measured window is then
/// publishing only. The first connection that fails aborts the run.
async fn connect_all(opts: &LoadOptions) -> Result<Vec<Option<Connection>>, LoadError> {
    let mut connecting = tokio::task::JoinSet::new();
    for i in 0..opts.connections {
        let mut c = opts.connection.clone();
        c.client_id = format!("{}-{i}", opts.connection.client_id);
        c.track_latency = opts.qos == Qos::AtLeastOnce;
        connecting.spawn(async move { (i, Connection::connect(&c).await) });
    }
    let mut publishers: Vec<Option<Connection>> = (0..opts.connections).map(|_| None).collect();
    while let Some(joined) = connecting.join_next().await {
        let Ok((i, result)) = joined else { continue };
        let p = result.map_err(|source| LoadError::Connect { index: i, source })?;
        publishers[i] = Some(p);
    }
    Ok(publishers)
}

/// What one connection's task sends, and when: its share of the rate, paced against the
/// shared start so the total rate holds even when one connection stalls briefly.
struct ConnLoad {
    index: usize,
    topic: String,
    payload: LoadPayload,
    pad: Arc<str>,
    qos: Qos,
    drain: Duration,
    start: Instant,
    deadline: Instant,
    /// Time between two sends; `None` sends as fast as the connection goes.
    interval: Option<Duration>,
    /// Where in one interval this connection sends.
    offset: Duration,
}

impl ConnLoad {
    fn new(
        opts: &LoadOptions,
        index: usize,
        pad: Arc<str>,
        start: Instant,
        deadline: Instant,
    ) -> Self {
        let per_conn_rate = opts.rate / opts.connections as f64;
        // Stagger the connections inside one interval so their sends do not all coincide.
        let interval = (per_conn_rate > 0.0).then(|| Duration::from_secs_f64(1.0 / per_conn_rate));
        let offset = interval.map_or(Duration::ZERO, |iv| {
            iv.mul_f64(index as f64 / opts.connections as f64)
        });
        ConnLoad {
            index,
            topic: opts.topic.clone(),
            payload: opts.payload.clone(),
            pad,
            qos: opts.qos,
            drain: opts.drain_timeout,
            start,
            deadline,
            interval,
            offset,
        }
    }

    /// Publishes until the deadline (or the first failed send), then waits up to the drain
    /// timeout for PUBACKs: a message still unacknowledged then counts as failed.
    async fn publish(self, p: Connection) -> ConnResult {
        tokio::time::sleep_until(self.start + self.offset).await;
        let mut seq = 0u64;
        let mut failed = 0u64;
        loop {
            let now = Instant::now();
            if now >= self.deadline {
                break;
            }
            if let Some(iv) = self.interval {
                let due = self.start + self.offset + iv.mul_f64(seq as f64);
                if due >= self.deadline {
                    break;
                }
                if due > now {
                    tokio::time::sleep_until(due).await;
                }
            }
            // Bounded, so a vanished broker ends the run instead of hanging it.
            let sent =
                tokio::time::timeout(self.drain, p.publish(&self.topic, self.qos, self.body(seq)))
                    .await;
            if !matches!(sent, Ok(Ok(()))) {
                failed += 1;
                break;
            }
            seq += 1;
        }
        let sent = seq;
        let mut acked = sent;
        if self.qos == Qos::AtLeastOnce {
            p.wait_all_settled(self.drain).await;
            let c = p.counts();
            acked = c.acked;
            failed += c.published_qos1.saturating_sub(c.acked);
        }
        let hist = p.close().await;
        ConnResult {
            sent,
            acked,
            failed,
            hist,
        }
    }

    /// Message `seq`'s payload, stamped with the send time now.
    fn body(&self, seq: u64) -> Vec<u8> {
        match &self.payload {
            LoadPayload::Size(n) => sized_payload(*n, self.index, seq, &self.pad),
            LoadPayload::Rows(rows) => {
                seed_payload(&rows[(seq as usize + self.index) % rows.len()], Utc::now())
            }
        }
    }
}

/// Every connection's counts summed and its publish-to-PUBACK latencies merged.
struct Totals {
    sent: u64,
    acked: u64,
    failed: u64,
    hist: Histogram<u64>,
}

impl Totals {
    /// Waits for every connection's task; one that panicked counts as one failure.
    async fn collect(tasks: &mut tokio::task::JoinSet<ConnResult>) -> Totals {
        let mut sent = 0;
        let mut acked = 0;
        let mut failed = 0;
        let mut hist = latency_histogram();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(r) => {
                    sent += r.sent;
                    acked += r.acked;
                    failed += r.failed;
                    if let Some(h) = r.hist {
                        let _ = hist.add(&h);
                    }
                }
                Err(_) => failed += 1,
            }
        }
        Totals {
            sent,
            acked,
            failed,
            hist,
        }
    }
}

struct Subscriber {
    task: tokio::task::JoinHandle<Histogram<u64>>,
    changed: Arc<tokio::sync::Notify>,
}

async fn start_subscriber(
    opts: &LoadOptions,
    filter: &str,
    received: Arc<AtomicU64>,
    mut done: tokio::sync::watch::Receiver<bool>,
) -> Result<Subscriber, LoadError> {
    let mut c = opts.connection.clone();
    c.client_id = format!("{}-sub", opts.connection.client_id);
    // A subscriber that keeps its session would get the previous run's backlog.
    c.clean_session = true;
    let mut sub = Connection::connect(&c)
        .await
        .map_err(|e| LoadError::Subscribe(e.to_string()))?;
    let mut rx = sub
        .take_incoming()
        .ok_or_else(|| LoadError::Subscribe("incoming channel already taken".into()))?;
    sub.subscribe(filter, opts.qos, Duration::from_secs(10))
        .await
        .map_err(|e| LoadError::Subscribe(e.to_string()))?;
    let changed = Arc::new(tokio::sync::Notify::new());
    let notify = changed.clone();
    let task = tokio::spawn(async move {
        let mut hist = latency_histogram();
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    let now_us = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
                    if let Some(sent_us) = embedded_send_time_us(&msg.payload) {
                        hist.saturating_record(now_us.saturating_sub(sent_us).max(1));
                    }
                    received.fetch_add(1, Ordering::SeqCst);
                    notify.notify_one();
                }
                _ = done.changed() => break,
            }
        }
        let _ = sub.close().await;
        hist
    });
    Ok(Subscriber { task, changed })
}

impl Subscriber {
    /// Waits until the subscriber has received `target` messages (what the publishers got
    /// through) or `timeout` passes, then stops it; its end-to-end latency percentiles.
    async fn drain(
        self,
        target: u64,
        received: &AtomicU64,
        timeout: Duration,
        done: &tokio::sync::watch::Sender<bool>,
    ) -> Option<Percentiles> {
        self.wait_for(target, received, timeout).await;
        let _ = done.send(true);
        let e2e = self.finish().await;
        Percentiles::from_histogram(&e2e)
    }

    async fn wait_for(&self, target: u64, received: &AtomicU64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while received.load(Ordering::SeqCst) < target {
            if tokio::time::timeout_at(deadline, self.changed.notified())
                .await
                .is_err()
            {
                return;
            }
        }
    }

    async fn finish(self) -> Histogram<u64> {
        self.task.await.unwrap_or_else(|_| latency_histogram())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_payload_has_requested_size_and_timestamp() {
        let pad = "x".repeat(1000);
        let p = sized_payload(256, 3, 42, &pad);
        assert_eq!(p.len(), 256);
        let v: serde_json::Value = serde_json::from_slice(&p).expect("json");
        assert_eq!((v["seq"].as_u64(), v["conn"].as_u64()), (Some(42), Some(3)));
        assert_eq!(embedded_send_time_us(&p), v["ts_us"].as_u64());
        // smaller than the fixed part: no padding, still valid
        let small = sized_payload(10, 0, 0, &pad);
        assert!(serde_json::from_slice::<serde_json::Value>(&small).is_ok());
    }

    #[test]
    fn seed_timestamp_is_a_send_time() {
        let row = SpeedingRow {
            license_plate: "A".into(),
            longitude: "1".into(),
            latitude: "2".into(),
            city: "C".into(),
            state: "S".into(),
            speed: "3".into(),
        };
        let now = Utc::now();
        let p = seed_payload(&row, now);
        assert_eq!(
            embedded_send_time_us(&p),
            u64::try_from(now.timestamp_micros()).ok()
        );
        assert_eq!(embedded_send_time_us(b"{}"), None);
    }
}
