//! Publishes a sequence of messages at a rate (or as fast as the window allows) and waits for
//! every PUBACK before reporting.
//!
//! Messages come from any iterator, so CSV replay and the template generator share the pacing,
//! the ack accounting and the summary. Payloads are built lazily, as each message is sent, so
//! the seed payload's `iottimestamp` is the send time, as on the real device.

use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::connection::{Connection, Counts, Qos};
use crate::csv_source::{CsvError, CsvSource, OnBadRow};
use crate::payload::seed_payload;
use crate::summary::Summary;

/// One step of a message source.
#[derive(Debug)]
pub enum Item {
    Message(Vec<u8>),
    /// An input row that was skipped; the text is the warning to show.
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub topic: String,
    pub qos: Qos,
    /// Messages per second; `None` means as fast as the in-flight window allows.
    pub rate: Option<f64>,
    /// Stop after this many messages; `None` means until the source ends.
    pub count: Option<u64>,
    /// How long to wait for outstanding PUBACKs once everything is sent.
    pub ack_timeout: Duration,
}

impl ReplayOptions {
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            qos: Qos::AtLeastOnce,
            rate: None,
            count: None,
            ack_timeout: Duration::from_secs(30),
        }
    }
}

/// Where progress goes; the CLI implements it with indicatif, tests with nothing.
pub trait Progress {
    fn sent(&self, _total_sent: u64) {}
    fn warn(&self, _message: &str) {}
}

/// Progress that goes nowhere.
pub struct Quiet;
impl Progress for Quiet {}

/// The result of a run: the summary, plus why it stopped early, if it did.
#[derive(Debug, Clone)]
pub struct ReplayOutcome {
    pub summary: Summary,
    pub stopped: Option<String>,
}

impl ReplayOutcome {
    pub fn ok(&self) -> bool {
        self.summary.ok() && self.stopped.is_none()
    }
}

/// Turns a CSV into seed payloads, applying the bad-row policy: with `Skip` a bad row becomes
/// [`Item::Skipped`], with `Stop` it is an error that ends the run.
pub fn csv_messages<R: std::io::Read>(source: CsvSource<R>, policy: OnBadRow) -> CsvMessages<R> {
    CsvMessages { source, policy }
}

pub struct CsvMessages<R: std::io::Read> {
    source: CsvSource<R>,
    policy: OnBadRow,
}

impl<R: std::io::Read> Iterator for CsvMessages<R> {
    type Item = Result<Item, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.source.next_row()? {
            Ok(row) => Ok(Item::Message(seed_payload(&row, Utc::now()))),
            Err(CsvError::BadRow(e)) if self.policy == OnBadRow::Skip => {
                Ok(Item::Skipped(format!("skipping bad row: {e}")))
            }
            Err(e) => Err(e),
        })
    }
}

/// Publishes everything `source` yields, then waits for the PUBACKs.
pub async fn run<I>(
    publisher: &Connection,
    source: I,
    opts: &ReplayOptions,
    progress: &dyn Progress,
) -> ReplayOutcome
where
    I: IntoIterator<Item = Result<Item, CsvError>>,
{
    let start = Instant::now();
    let before = publisher.counts();
    let mut summary = Summary::default();
    let mut stopped = None;
    let interval = opts
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(1.0 / r));
    for item in source {
        if opts.count.is_some_and(|c| summary.sent >= c) {
            break;
        }
        let payload = match item {
            Ok(Item::Message(p)) => p,
            Ok(Item::Skipped(warning)) => {
                summary.skipped_rows += 1;
                progress.warn(&warning);
                continue;
            }
            Err(e) => {
                stopped = Some(e.to_string());
                break;
            }
        };
        if let Some(iv) = interval {
            // Scheduled from the start, not from the previous send, so a slow send does not
            // lower the average rate.
            let due = start + iv.mul_f64(summary.sent as f64);
            tokio::time::sleep_until(due).await;
        }
        if let Err(why) = publish_one(publisher, opts, payload).await {
            summary.failed += 1;
            stopped = Some(why);
            break;
        }
        summary.sent += 1;
        progress.sent(summary.sent);
    }
    if opts.qos == Qos::AtLeastOnce && !publisher.wait_all_settled(opts.ack_timeout).await {
        let c = publisher.counts();
        let reason = format!(
            "{} message(s) not acknowledged within {:?}",
            c.outstanding(),
            opts.ack_timeout
        );
        progress.warn(&reason);
        stopped.get_or_insert(reason);
    }
    count_acknowledged(&mut summary, publisher, &before, opts.qos);
    summary.finish(start.elapsed());
    ReplayOutcome { summary, stopped }
}

/// Publishes one message. Publishing waits while the in-flight window is full; if the broker
/// is gone for longer than the ack timeout, this gives up (with why) rather than hang.
async fn publish_one(
    publisher: &Connection,
    opts: &ReplayOptions,
    payload: Vec<u8>,
) -> Result<(), String> {
    let sent = tokio::time::timeout(
        opts.ack_timeout,
        publisher.publish(&opts.topic, opts.qos, payload),
    )
    .await;
    match sent {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "broker {} took no message for {:?} (in-flight window full)",
            publisher.endpoint(),
            opts.ack_timeout
        )),
    }
}

/// Fills in what the broker confirmed during this run (the publisher's counters are
/// cumulative, hence `before`): with QoS 1 a message sent but never acknowledged is a
/// failure; with QoS 0 a sent message is all there is to know.
fn count_acknowledged(summary: &mut Summary, publisher: &Connection, before: &Counts, qos: Qos) {
    let after = publisher.counts();
    summary.reconnects = after.reconnects - before.reconnects;
    match qos {
        Qos::AtLeastOnce => {
            let sent_qos1 = after.published_qos1 - before.published_qos1;
            summary.acknowledged = after.acked - before.acked;
            summary.failed += sent_qos1.saturating_sub(summary.acknowledged);
        }
        Qos::AtMostOnce => summary.acknowledged = summary.sent,
    }
}
