//! The one put path of the `kinesis` action, for a stream of this host and for a remote
//! Kinesis endpoint alike: records cut into PutRecords calls of at most
//! [`MAX_PUT_RECORDS`], partition keys checked against AWS's length before anything is sent
//! (so one bad key fails alone instead of failing its whole call), and one [`Outcome`] per
//! record, in order, even when an answer comes back short.

use weir_aws_client::KinesisClient;
use weir_plugins::Record;
use weir_streams::{PutEntry, PutOutcome, Streams, MAX_PUT_RECORDS, PARTITION_KEY_CHARS};

use super::sinks::Outcome;

/// Where PutRecords calls go.
pub trait PutTarget {
    /// One PutRecords call with at most [`MAX_PUT_RECORDS`] entries: one outcome per entry,
    /// or, when the whole call failed, the outcome every entry of it gets.
    fn put(&mut self, stream: &str, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, Outcome>;
}

impl PutTarget for &Streams {
    fn put(&mut self, stream: &str, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, Outcome> {
        // A local failure is storage trouble (a full or failing disk): worth another attempt.
        self.put_records(stream, entries)
            .map_err(|e| Outcome::Retry(format!("stream {stream:?}: {e}")))
    }
}

impl PutTarget for KinesisClient {
    fn put(&mut self, stream: &str, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, Outcome> {
        self.put_records(stream, entries).map_err(|e| {
            if e.is_retryable() {
                Outcome::Retry(e.to_string())
            } else {
                Outcome::Fail(e.to_string())
            }
        })
    }
}

/// Puts `records` into `stream` through `target`; `delivered(shard, bytes)` is called for
/// every record stored.
pub fn put_records(
    target: &mut impl PutTarget,
    stream: &str,
    records: &[Record],
    delivered: &mut impl FnMut(&str, usize),
) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(records.len());
    for chunk in records.chunks(MAX_PUT_RECORDS) {
        let mut entries = Vec::with_capacity(chunk.len());
        // `None`: sent, its outcome comes from the answer; `Some`: refused before sending.
        let mut slots = Vec::with_capacity(chunk.len());
        for r in chunk {
            let chars = r.partition_key.chars().count();
            if PARTITION_KEY_CHARS.contains(&chars) {
                slots.push(None);
                entries.push(PutEntry {
                    partition_key: r.partition_key.clone(),
                    explicit_hash_key: None,
                    data: r.payload.clone(),
                });
            } else {
                slots.push(Some(Outcome::Fail(format!(
                    "partition key must be {} to {} characters, got {chars}",
                    PARTITION_KEY_CHARS.start(),
                    PARTITION_KEY_CHARS.end()
                ))));
            }
        }
        let answer = if entries.is_empty() {
            Ok(Vec::new())
        } else {
            target.put(stream, &entries)
        };
        match answer {
            Ok(results) => {
                let mut results = results.into_iter().zip(&entries);
                for slot in slots {
                    if let Some(o) = slot {
                        out.push(o);
                        continue;
                    }
                    // A short answer must not shift or drop the outcomes of the others.
                    out.push(match results.next() {
                        Some((PutOutcome::Ok { shard_id, .. }, e)) => {
                            delivered(&shard_id, e.data.len());
                            Outcome::Ok
                        }
                        Some((
                            PutOutcome::Throttled { message } | PutOutcome::Failed { message },
                            _,
                        )) => Outcome::Retry(message),
                        None => Outcome::Retry(format!(
                            "stream {stream:?} answered with fewer outcomes than records"
                        )),
                    });
                }
            }
            Err(whole) => {
                out.extend(
                    slots
                        .into_iter()
                        .map(|s| s.unwrap_or_else(|| whole.clone())),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str) -> Record {
        Record {
            payload: key.as_bytes().to_vec(),
            partition_key: key.to_owned(),
            source_topic: String::new(),
            client_id: String::new(),
            rule_name: String::new(),
            arrival_timestamp_ms: 0,
            attributes: Vec::new(),
        }
    }

    /// Answers with at most `answer` outcomes per call and records the call sizes.
    struct Short {
        answer: usize,
        calls: Vec<usize>,
        whole: Option<Outcome>,
    }

    impl PutTarget for Short {
        fn put(&mut self, _: &str, entries: &[PutEntry]) -> Result<Vec<PutOutcome>, Outcome> {
            self.calls.push(entries.len());
            if let Some(o) = &self.whole {
                return Err(o.clone());
            }
            Ok(entries
                .iter()
                .take(self.answer)
                .map(|_| PutOutcome::Ok {
                    shard_id: "shardId-000000000000".into(),
                    sequence_number: "1".into(),
                })
                .collect())
        }
    }

    #[test]
    fn calls_are_cut_at_the_limit_and_bad_keys_fail_alone() {
        let mut records: Vec<Record> = (0..MAX_PUT_RECORDS + 3)
            .map(|i| rec(&format!("k{i}")))
            .collect();
        records[1].partition_key = String::new();
        records[2].partition_key = "x".repeat(257);
        let mut t = Short {
            answer: usize::MAX,
            calls: Vec::new(),
            whole: None,
        };
        let mut stored = 0;
        let out = put_records(&mut t, "s", &records, &mut |_, _| stored += 1);
        assert_eq!(t.calls, vec![MAX_PUT_RECORDS - 2, 3]);
        assert_eq!(out.len(), records.len());
        assert!(matches!(&out[1], Outcome::Fail(m) if m.contains("got 0")));
        assert!(matches!(&out[2], Outcome::Fail(m) if m.contains("got 257")));
        assert_eq!(stored, records.len() - 2);
        assert!(out
            .iter()
            .enumerate()
            .all(|(i, o)| i == 1 || i == 2 || *o == Outcome::Ok));
    }

    #[test]
    fn a_short_answer_or_a_failed_call_keeps_one_outcome_per_record() {
        let records: Vec<Record> = (0..4).map(|i| rec(&format!("k{i}"))).collect();
        let mut t = Short {
            answer: 2,
            calls: Vec::new(),
            whole: None,
        };
        let out = put_records(&mut t, "s", &records, &mut |_, _| {});
        assert_eq!(&out[..2], &[Outcome::Ok, Outcome::Ok]);
        assert!(matches!(&out[2], Outcome::Retry(m) if m.contains("fewer outcomes")));
        assert_eq!(out.len(), 4);
        let mut t = Short {
            answer: 0,
            calls: Vec::new(),
            whole: Some(Outcome::Fail("AccessDenied".into())),
        };
        let out = put_records(&mut t, "s", &records, &mut |_, _| {});
        assert_eq!(out, vec![Outcome::Fail("AccessDenied".into()); 4]);
    }
}
