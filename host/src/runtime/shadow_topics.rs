//! AWS IoT's Device Shadow service on the embedded broker's topics ("Device Shadow MQTT
//! topics"): a publish on `$aws/things/THING/shadow[/name/SHADOW]/update|get|delete` is a
//! request to [`weir_shadow::ShadowService`], answered on `.../accepted` or `.../rejected`,
//! and an accepted update also on `.../update/delta` (when desired and reported differ) and
//! `.../update/documents`, to every subscriber of those topics.
//!
//! **Where.** The embedded reader (`ingress.rs`, `hand_over`) offers each message here
//! before it goes to the dispatcher, so rules still see requests (AWS rules may select from
//! shadow topics); the answers are published through the broker's in-process publisher link
//! at QoS 1 and so reach rules too (`$aws/things/+/shadow/update/accepted`), and subscribers
//! at their own QoS. The work (a read, a merge, an fsync'd write) happens on [`WORKERS`]
//! threads of its own, never on the reader or the dispatcher: a shadow is always served by
//! the same worker (by a hash of its topic prefix), so one device's requests to one shadow are
//! answered in the order it sent them, while different shadows' fsyncs overlap.
//!
//! **Acknowledgement.** The worker holds a share of the request's [`AckToken`] until the
//! shadow is stored and the answers are published, so a QoS 1 request is acknowledged
//! (PUBACK) only then, and only once the rules are done with it too. A refusal (400, 404,
//! 409, 413, 415) is an answer, so the request counts as handled; a 500 (storage failed, a
//! damaged file) fails the token: the broker disconnects the publisher, which sends the
//! request again. A QoS 0 request that finds its worker's queue full is shed and counted
//! (`weir_qos0_shed_total`), as the dispatcher sheds QoS 0 messages; a QoS 1 one waits.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use serde_json::Value;
use weir_shadow::{ShadowErrorKind, ShadowOp, ShadowReply, ShadowService, ShadowTopic};

use super::ack::AckToken;
use super::metrics::Metrics;
use super::plan::Inbound;
use super::resources::Publisher;

/// Threads serving shadow requests: enough for several fsyncs in flight.
pub const WORKERS: usize = 4;

/// Requests waiting per worker.
const QUEUE: usize = 256;

/// The QoS of the answers: a QoS 1 subscriber must not lose one to the broker's QoS 0
/// shedding (rumqttd patch 9: an in-process link's QoS 1 publish is never shed).
const ANSWER_QOS: u8 = 1;

/// One request for a worker.
struct Request {
    topic: Arc<str>,
    payload: Bytes,
    ack: AckToken,
}

/// The queues of the shadow workers, held by the embedded reader.
pub struct ShadowTopics {
    queues: Vec<SyncSender<Request>>,
}

/// Whether Weir serves `topic` as part of the Device Shadow service: a request topic, or one
/// of the answer topics it publishes itself. The dispatcher does not refuse these `$` topics
/// when no rule selects them (`Plan::dispatch`).
pub fn is_shadow_topic(topic: &str) -> bool {
    ShadowTopic::parse(topic).is_some() || weir_shadow::is_answer_topic(topic)
}

impl ShadowTopics {
    /// Starts [`WORKERS`] threads serving requests against `service`, answering through
    /// `publisher` (the embedded broker's in-process link). Each holds a liveness worker, so
    /// one that dies fails `/health`. The threads end once the returned queues are dropped
    /// and what they hold is served.
    pub fn start(
        service: Arc<ShadowService>,
        publisher: Arc<dyn Publisher>,
        metrics: &Arc<Metrics>,
    ) -> std::io::Result<(ShadowTopics, Vec<JoinHandle<()>>)> {
        let mut queues = Vec::with_capacity(WORKERS);
        let mut threads = Vec::with_capacity(WORKERS);
        for i in 0..WORKERS {
            let (tx, rx) = sync_channel::<Request>(QUEUE);
            let service = service.clone();
            let publisher = publisher.clone();
            let liveness = metrics.liveness.clone();
            let name = format!("weir-shadow-{i}");
            threads.push(
                std::thread::Builder::new()
                    .name(name.clone())
                    .spawn(move || {
                        let alive = liveness.worker(name);
                        serve_queue(&service, publisher.as_ref(), rx);
                        alive.finish();
                    })?,
            );
            queues.push(tx);
        }
        Ok((ShadowTopics { queues }, threads))
    }

    /// Takes a share of `msg` if it is a shadow request (anything else is left alone). `held`:
    /// whether the message holds a broker ack (QoS 1 or 2), which waits for room; a QoS 0
    /// request is shed when its worker is behind.
    pub fn offer(&self, msg: &Inbound, held: bool, metrics: &Metrics) {
        let Some(t) = ShadowTopic::parse(&msg.topic) else {
            return;
        };
        let Some(queue) = self.queues.get(worker_of(&t) % self.queues.len().max(1)) else {
            return;
        };
        let req = Request {
            topic: msg.topic.clone(),
            payload: msg.payload.clone(),
            ack: msg.ack.clone(),
        };
        if held {
            if let Err(std::sync::mpsc::SendError(req)) = queue.send(req) {
                // The worker is gone: not stored, so not acknowledged.
                req.ack.fail();
            }
            return;
        }
        match queue.try_send(req) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics.qos0_shed.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(req)) => req.ack.fail(),
        }
    }
}

/// The worker serving a shadow: FNV-1a of its topic prefix (thing and shadow name), so every
/// request to one shadow is served in order by one thread.
fn worker_of(t: &ShadowTopic<'_>) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let name = t.shadow_name.unwrap_or("");
    for b in t
        .thing
        .bytes()
        .chain(std::iter::once(b'/'))
        .chain(name.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % WORKERS as u64) as usize
}

fn serve_queue(service: &ShadowService, publisher: &dyn Publisher, rx: Receiver<Request>) {
    while let Ok(req) = rx.recv() {
        serve(service, publisher, &req, weir_support::now_ms());
        // Dropping `req` lets go of its share of the ack: after the store and the answers.
    }
}

/// Serves one request and publishes its answers.
fn serve(service: &ShadowService, publisher: &dyn Publisher, req: &Request, now_ms: i64) {
    let Some(t) = ShadowTopic::parse(&req.topic) else {
        return;
    };
    let (thing, name) = (t.thing, t.shadow_name);
    let answered = match t.op {
        ShadowOp::Update => match service.update(thing, name, &req.payload, now_ms) {
            Ok(out) => {
                let mut answers = vec![(ShadowReply::Accepted, out.accepted)];
                if let Some(delta) = out.delta {
                    answers.push((ShadowReply::Delta, delta));
                }
                answers.push((ShadowReply::Documents, out.documents));
                Ok(answers)
            }
            Err(e) => Err(e),
        },
        ShadowOp::Get => weir_shadow::request_client_token(&req.payload).and_then(|token| {
            service
                .get(thing, name, token.as_deref(), now_ms)
                .map(|doc| vec![(ShadowReply::Accepted, doc)])
        }),
        ShadowOp::Delete => weir_shadow::request_client_token(&req.payload).and_then(|token| {
            service
                .delete(thing, name, token.as_deref(), now_ms)
                .map(|doc| vec![(ShadowReply::Accepted, doc)])
        }),
    };
    let answers = match answered {
        Ok(answers) => answers,
        Err(e) => {
            if e.kind() == ShadowErrorKind::Internal {
                tracing::error!(topic = %req.topic, error = %e, "a shadow request failed; its publisher is disconnected and sends it again");
                req.ack.fail();
            }
            vec![(ShadowReply::Rejected, e.rejected_document(now_ms))]
        }
    };
    for (reply, doc) in answers {
        answer(publisher, &t.reply(reply), &doc, &req.ack);
    }
}

/// Publishes one answer document; a publish that fails (the broker's link is gone) fails the
/// request, so a QoS 1 publisher sends it again rather than never hearing back.
fn answer(publisher: &dyn Publisher, topic: &str, doc: &Value, ack: &AckToken) {
    let payload = match serde_json::to_vec(doc) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(topic, error = %e, "a shadow answer could not be encoded");
            ack.fail();
            return;
        }
    };
    if let Err(e) = publisher.publish(topic, Bytes::from(payload), ANSWER_QOS) {
        tracing::error!(error = %weir_support::error_chain(&e), "a shadow answer was not published");
        ack.fail();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn shadow_topics_are_requests_and_their_answers_only() {
        for t in [
            "$aws/things/lamp/shadow/update",
            "$aws/things/lamp/shadow/get/accepted",
            "$aws/things/lamp/shadow/delete/rejected",
            "$aws/things/lamp/shadow/update/delta",
            "$aws/things/lamp/shadow/name/s1/update/documents",
        ] {
            assert!(is_shadow_topic(t), "{t}");
        }
        for t in [
            "$aws/things/lamp/shadow/get/delta",
            "$aws/things/lamp/shadow/update/other",
            "$aws/things/lamp/shadow/list",
            "$aws/rules/r/x",
            "things/lamp/shadow/update",
        ] {
            assert!(!is_shadow_topic(t), "{t}");
        }
    }

    #[test]
    fn one_shadow_always_has_the_same_worker() {
        let a = ShadowTopic::parse("$aws/things/t1/shadow/update").expect("topic");
        let b = ShadowTopic::parse("$aws/things/t1/shadow/get").expect("topic");
        assert_eq!(worker_of(&a), worker_of(&b));
        let spread: std::collections::BTreeSet<usize> = (0..64)
            .map(|i| {
                let topic = format!("$aws/things/t{i}/shadow/update");
                worker_of(&ShadowTopic::parse(&topic).expect("topic"))
            })
            .collect();
        assert_eq!(spread.len(), WORKERS, "{spread:?}");
    }

    /// Records what is published.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, Value, u8)>>);

    impl Publisher for Recorder {
        fn publish(
            &self,
            topic: &str,
            payload: Bytes,
            qos: u8,
        ) -> Result<(), super::super::ingress::PublishError> {
            let v = serde_json::from_slice(&payload).unwrap_or(Value::Null);
            weir_support::lock(&self.0).push((topic.to_owned(), v, qos));
            Ok(())
        }
    }

    fn request(topic: &str, payload: &str, settled: &Arc<Mutex<Option<bool>>>) -> Request {
        let s = settled.clone();
        Request {
            topic: Arc::from(topic),
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            ack: AckToken::settled_by(move |ok| *weir_support::lock(&s) = Some(ok)),
        }
    }

    #[test]
    fn an_update_answers_accepted_delta_documents_and_settles_after_the_store() {
        let dir = tempfile::tempdir().expect("tmp");
        let service = ShadowService::open(dir.path()).expect("open");
        let rec = Recorder::default();
        let settled = Arc::new(Mutex::new(None));
        let req = request(
            "$aws/things/lamp/shadow/update",
            r#"{"state":{"desired":{"on":true}},"clientToken":"c1"}"#,
            &settled,
        );
        serve(&service, &rec, &req, 1_000_000);
        assert_eq!(
            *weir_support::lock(&settled),
            None,
            "settled before its share went"
        );
        drop(req);
        assert_eq!(*weir_support::lock(&settled), Some(true));
        let got = weir_support::lock(&rec.0).clone();
        let topics: Vec<&str> = got.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(
            topics,
            [
                "$aws/things/lamp/shadow/update/accepted",
                "$aws/things/lamp/shadow/update/delta",
                "$aws/things/lamp/shadow/update/documents"
            ]
        );
        assert!(got.iter().all(|(_, _, q)| *q == 1));
        assert_eq!(got[0].1["clientToken"], "c1");
        assert_eq!(got[1].1["state"], serde_json::json!({"on": true}));
        assert!(dir.path().join("lamp/classic.shadow").exists());
    }

    #[test]
    fn a_refusal_is_an_answer_and_a_storage_failure_is_not_acknowledged() {
        let dir = tempfile::tempdir().expect("tmp");
        let service = ShadowService::open(dir.path()).expect("open");
        let rec = Recorder::default();
        let settled = Arc::new(Mutex::new(None));
        serve(
            &service,
            &rec,
            &request("$aws/things/lamp/shadow/get", "", &settled),
            1_000,
        );
        assert_eq!(*weir_support::lock(&settled), Some(true));
        let got = weir_support::lock(&rec.0).clone();
        assert_eq!(got[0].0, "$aws/things/lamp/shadow/get/rejected");
        assert_eq!(got[0].1["code"], 404);

        // A get or delete whose client token is over 64 bytes: 400, as AWS documents for any
        // request, and the shadow is not deleted.
        serve(
            &service,
            &rec,
            &request(
                "$aws/things/lamp/shadow/update",
                r#"{"state":{"reported":{"a":1}}}"#,
                &settled,
            ),
            1_000,
        );
        let long = format!(r#"{{"clientToken":"{}"}}"#, "x".repeat(65));
        for op in ["get", "delete"] {
            weir_support::lock(&rec.0).clear();
            serve(
                &service,
                &rec,
                &request(&format!("$aws/things/lamp/shadow/{op}"), &long, &settled),
                1_000,
            );
            let got = weir_support::lock(&rec.0).clone();
            assert_eq!(got.len(), 1, "{got:?}");
            assert_eq!(got[0].0, format!("$aws/things/lamp/shadow/{op}/rejected"));
            assert_eq!(
                got[0].1,
                serde_json::json!({"code": 400, "message": "Invalid clientToken", "timestamp": 1})
            );
        }
        assert_eq!(
            service.get("lamp", None, None, 1_000).expect("kept")["version"],
            1
        );

        // A file in the way of the thing's folder: the write fails, a 500.
        std::fs::write(dir.path().join("blocked"), b"not a folder").expect("write");
        let settled = Arc::new(Mutex::new(None));
        serve(
            &service,
            &rec,
            &request(
                "$aws/things/blocked/shadow/update",
                r#"{"state":{"reported":{"a":1}}}"#,
                &settled,
            ),
            1_000,
        );
        assert_eq!(*weir_support::lock(&settled), Some(false));
        let got = weir_support::lock(&rec.0).clone();
        let last = got.last().expect("an answer");
        assert_eq!(last.0, "$aws/things/blocked/shadow/update/rejected");
        assert_eq!(last.1["code"], 500);
    }
}
