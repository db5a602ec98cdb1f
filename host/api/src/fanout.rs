//! SubscribeToShard: enhanced fan-out's push read. The answer is an event stream
//! (`eventstream.rs`): an `initial-response` event first, then one `SubscribeToShardEvent`
//! per batch of records as they are appended (or an empty one when the shard has been idle
//! for `heartbeat`), each with `ContinuationSequenceNumber` and `MillisBehindLatest`; at the
//! end of a closed shard a last event carries `ChildShards` and no continuation. The
//! subscription ends after `lifetime` (five minutes on AWS), and the client subscribes again
//! from its continuation. The writer never outlives that: an event that cannot be queued
//! before the end (the client stopped reading and the queue is full) ends the task, which
//! frees the subscription; the server's write deadline (`serve.rs`) drops the connection of a
//! client that stopped reading, with the events queued for it.
//!
//! Admission errors (unknown consumer, shard or stream, a second subscription within five
//! seconds) are ordinary error answers; a failure after the stream has started is an
//! `exception` message inside it.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use weir_streams::{StoredBatch, Subscription};

use super::actions::{
    child_val, consumer_arn_pattern, record_val, start_position, CONSUMER_ARN_PATTERN,
};
use super::error::{ApiError, ErrorKind};
use super::request::*;
use super::value::{self, map, s, Val};
use super::{ApiState, Encoding};

/// How long one subscription lasts, and how long an idle shard waits before an empty event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanOutTiming {
    pub lifetime: Duration,
    pub heartbeat: Duration,
}

impl Default for FanOutTiming {
    fn default() -> Self {
        FanOutTiming {
            lifetime: Duration::from_secs(300),
            heartbeat: Duration::from_secs(5),
        }
    }
}

/// Records per event at most: AWS pushes what arrived; a bound keeps one event's size sane.
const EVENT_RECORDS: usize = 1000;

const ITERATOR_TYPES: [&str; 5] = [
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
];

/// Validates the request and opens the subscription; the stream answer follows.
fn admit(state: &ApiState, body: &Val) -> Result<(Subscription, bool), ApiError> {
    let mut req = Req::new(body)?;
    let arn = req.string(
        "ConsumerARN",
        true,
        1,
        2048,
        Some((CONSUMER_ARN_PATTERN, consumer_arn_pattern)),
    )?;
    let shard = req.name("ShardId", true)?;
    let start = match req.raw("StartingPosition") {
        None => {
            req.violation(None, "startingPosition", "Member must not be null");
            None
        }
        Some(v @ Val::Map(_)) => {
            let mut sub = Req::new(v)?;
            let ty = sub.enumeration("Type", true, &ITERATOR_TYPES)?;
            let seq = sub.string(
                "SequenceNumber",
                false,
                0,
                usize::MAX,
                Some((SEQ_PATTERN, seq_pattern)),
            )?;
            let ts = sub.timestamp("Timestamp")?;
            sub.finish()?;
            Some((ty.unwrap_or_default(), seq, ts))
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a structure",
                other.kind()
            )))
        }
    };
    let dry_run = req.boolean("DryRun")?.unwrap_or(false);
    req.finish()?;
    let (ty, seq, ts) = start.unwrap_or_default();
    let start = start_position(ty, seq, ts)?;
    let (stream, consumer) = state
        .streams
        .resolve_consumer_arn(arn.unwrap_or_default())?;
    let encrypted = state
        .streams
        .describe_stream(&stream)?
        .settings
        .encryption_key
        .is_some();
    if dry_run {
        // Checked as far as a real call would be, short of taking the subscription slot.
        state.streams.describe_consumer(&stream, &consumer)?;
        return Err(ApiError::new(
            ErrorKind::DryRunOperation,
            "Request would have succeeded, but the DryRun flag is set.",
        ));
    }
    let mut sub =
        state
            .streams
            .subscribe_consumer(&stream, &consumer, shard.unwrap_or_default(), start)?;
    sub.set_batch(EVENT_RECORDS);
    Ok((sub, encrypted))
}

fn encode(enc: Encoding, v: &Val) -> Vec<u8> {
    match enc {
        Encoding::Json => value::to_json(v),
        Encoding::Cbor => value::to_cbor(v),
    }
}

fn shard_event(
    enc: Encoding,
    batch: StoredBatch,
    continuation: Option<String>,
    encrypted: bool,
) -> Vec<u8> {
    let mut m = vec![(
        "Records",
        Val::Arr(
            batch
                .records
                .into_iter()
                .map(|r| record_val(r, encrypted))
                .collect(),
        ),
    )];
    if let Some(c) = continuation {
        m.push(("ContinuationSequenceNumber", s(c)));
    }
    m.push((
        "MillisBehindLatest",
        Val::Int(batch.millis_behind_latest.into()),
    ));
    if let Some(kids) = &batch.child_shards {
        m.push((
            "ChildShards",
            Val::Arr(kids.iter().map(child_val).collect()),
        ));
    }
    super::eventstream::event(
        "SubscribeToShardEvent",
        enc.content_type(),
        &encode(enc, &map(m)),
    )
}

/// Serves one SubscribeToShard whose body has been read and signature checked.
pub(crate) fn subscribe_to_shard(
    state: &ApiState,
    enc: Encoding,
    body: &[u8],
) -> Result<Response, ApiError> {
    let parsed = super::parse_body(enc, body)?;
    let (sub, encrypted) = admit(state, &parsed)?;
    let timing = state.config.fan_out;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    tokio::spawn(pump_events(sub, tx, enc, timing, encrypted));
    Ok(event_stream_response(rx))
}

/// Feeds one subscription's events into the response body: the initial response, then a
/// `SubscribeToShardEvent` per stored batch, or an empty one after each idle heartbeat so
/// the client knows where it stands. Ends at the subscription's lifetime (AWS's five
/// minutes by default), at a closed shard's end (its children in the last event), on an error (as an
/// exception event), or when the client is gone.
async fn pump_events(
    mut sub: Subscription,
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    enc: Encoding,
    timing: FanOutTiming,
    encrypted: bool,
) {
    let until = tokio::time::Instant::now() + timing.lifetime;
    // Queues one message unless the subscription ends first; false: stop (the client is
    // gone, or it stopped reading and the lifetime ran out while waiting).
    let send = |m: Vec<u8>| {
        let tx = &tx;
        async move { matches!(tokio::time::timeout_at(until, tx.send(m)).await, Ok(Ok(()))) }
    };
    let initial = super::eventstream::event(
        "initial-response",
        enc.content_type(),
        &encode(enc, &Val::Map(Vec::new())),
    );
    if !send(initial).await {
        return;
    }
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return;
        }
        let wait = timing.heartbeat.min(left);
        let msg = match tokio::time::timeout(wait, sub.next_stored()).await {
            Ok(Ok(batch)) => {
                let end = batch.child_shards.is_some();
                let cont = (!end).then(|| sub.continuation());
                let m = shard_event(enc, batch, cont, encrypted);
                if end {
                    send(m).await;
                    return;
                }
                m
            }
            Ok(Err(e)) => {
                let e = ApiError::from(e);
                let payload = encode(enc, &map(vec![("message", s(e.message.clone()))]));
                send(super::eventstream::exception(
                    e.kind.code(),
                    enc.content_type(),
                    &payload,
                ))
                .await;
                return;
            }
            // Idle: an empty event says where the subscription stands.
            Err(_) => shard_event(
                enc,
                StoredBatch {
                    records: Vec::new(),
                    millis_behind_latest: 0,
                    child_shards: None,
                },
                Some(sub.continuation()),
                encrypted,
            ),
        };
        if !send(msg).await {
            return;
        }
    }
}

/// The HTTP response that streams the events `pump_events` queues, as AWS's event stream.
fn event_stream_response(rx: tokio::sync::mpsc::Receiver<Vec<u8>>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|m| (Ok::<_, std::convert::Infallible>(Bytes::from(m)), rx))
    });
    let mut resp = (StatusCode::OK, Body::from_stream(stream)).into_response();
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    if let Ok(v) = HeaderValue::from_str(&super::request_id()) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}
