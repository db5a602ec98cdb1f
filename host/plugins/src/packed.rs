//! Batches in and results out of the packed stages (WIT 0.1.1): the host's records packed
//! with `weir-abi`'s encoder into buffers the instance keeps between calls, and what the guest
//! answers checked in full before anything of it is used. A guest is untrusted: every count,
//! index and length it returns is checked, and a result that does not add up is a
//! [`FaultKind::MalformedOutput`](crate::FaultKind) naming what was wrong.

use weir_abi::{verdict, Fields, LayoutError, PackedBatch};

use crate::bindings::types as wit;
use crate::record::{FilterResult, Record, RecordError, TransformResult};

/// `batch` packed into `scratch` (cleared first, its capacity kept) and moved into the
/// bindings' type. [`reclaim`] gives the buffers back after the call.
pub(crate) fn pack(
    batch: &[Record],
    scratch: &mut PackedBatch,
) -> Result<wit::PackedBatch, LayoutError> {
    scratch.clear();
    for r in batch {
        scratch.push(Fields {
            payload: &r.payload,
            partition_key: &r.partition_key,
            source_topic: &r.source_topic,
            client_id: &r.client_id,
            rule_name: &r.rule_name,
            arrival_timestamp_ms: r.arrival_timestamp_ms,
            attributes: &r.attributes,
        })?;
    }
    let b = std::mem::take(scratch);
    Ok(wit::PackedBatch {
        data: b.data,
        lengths: b.lengths,
        attribute_lengths: b.attribute_lengths,
        arrival_timestamps_ms: b.arrival_timestamps_ms,
    })
}

/// Puts the buffers of a packed input back into `scratch` for the next call.
pub(crate) fn reclaim(packed: wit::PackedBatch, scratch: &mut PackedBatch) {
    *scratch = PackedBatch {
        data: packed.data,
        lengths: packed.lengths,
        attribute_lengths: packed.attribute_lengths,
        arrival_timestamps_ms: packed.arrival_timestamps_ms,
    };
}

/// Each failure's error by index, checked: every index inside the batch, at most once, and
/// only where `failed(index)` says the record failed.
fn failures_by_index(
    failures: Vec<wit::RecordFailure>,
    records: usize,
    failed: impl Fn(usize) -> bool,
) -> Result<Vec<Option<RecordError>>, String> {
    let mut errors: Vec<Option<RecordError>> = vec![None; records];
    for f in failures {
        let index = f.index;
        let slot = usize::try_from(index)
            .ok()
            .filter(|&i| i < records)
            .ok_or_else(|| format!("failure index {index} is outside a batch of {records}"))?;
        if !failed(slot) {
            return Err(format!("a failure for record {index}, which did not fail"));
        }
        if errors[slot].replace(f.error.into()).is_some() {
            return Err(format!("record {index} reported failed twice"));
        }
    }
    Ok(errors)
}

/// A packed filter's answer as one verdict per record.
pub(crate) fn filter_results(
    out: wit::FilterOutput,
    records: usize,
) -> Result<Vec<FilterResult>, String> {
    if out.verdicts.len() != records {
        return Err(format!(
            "{} verdicts for {records} records",
            out.verdicts.len()
        ));
    }
    if let Some((i, v)) = out
        .verdicts
        .iter()
        .enumerate()
        .find(|(_, v)| **v > verdict::FAILED)
    {
        return Err(format!(
            "verdict {v} for record {i}; a verdict is 0 (keep), 1 (drop) or 2 (failed)"
        ));
    }
    let verdicts = out.verdicts;
    let mut errors = failures_by_index(out.failures, records, |i| verdicts[i] == verdict::FAILED)?;
    verdicts
        .iter()
        .zip(errors.iter_mut())
        .enumerate()
        .map(|(i, (&v, error))| match v {
            verdict::KEEP => Ok(FilterResult::Keep),
            verdict::DROP => Ok(FilterResult::Drop),
            _ => error
                .take()
                .map(FilterResult::Failed)
                .ok_or_else(|| format!("record {i} failed without an error")),
        })
        .collect()
}

/// A packed transformer's answer as one result per input record. `max_records` bounds the
/// output before any of it is unpacked.
pub(crate) fn transform_results(
    out: wit::TransformOutput,
    records: usize,
    max_records: usize,
) -> Result<Vec<TransformResult>, String> {
    if out.counts.len() != records {
        return Err(format!(
            "{} output counts for {records} records",
            out.counts.len()
        ));
    }
    let produced = out.records.arrival_timestamps_ms.len();
    if produced > max_records {
        return Err(format!(
            "{produced} output records; the limit is {max_records} per call"
        ));
    }
    let counted: u64 = out.counts.iter().map(|&c| u64::from(c)).sum();
    if counted != produced as u64 {
        return Err(format!(
            "the output counts add up to {counted}, but {produced} records came back"
        ));
    }
    let counts = out.counts;
    let mut errors = failures_by_index(out.failures, records, |i| counts[i] == 0)?;
    let batch = PackedBatch {
        data: out.records.data,
        lengths: out.records.lengths,
        attribute_lengths: out.records.attribute_lengths,
        arrival_timestamps_ms: out.records.arrival_timestamps_ms,
    };
    let views = batch.views().map_err(|e| format!("output records: {e}"))?;
    let mut made = views.iter().map(|v| Record {
        payload: v.payload.to_vec(),
        partition_key: v.partition_key.to_owned(),
        source_topic: v.source_topic.to_owned(),
        client_id: v.client_id.to_owned(),
        rule_name: v.rule_name.to_owned(),
        arrival_timestamp_ms: v.arrival_timestamp_ms,
        attributes: v
            .attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    });
    Ok(counts
        .iter()
        .zip(errors.iter_mut())
        .map(|(&count, error)| match error.take() {
            Some(e) => TransformResult::Failed(e),
            None => TransformResult::Records(made.by_ref().take(count as usize).collect()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str) -> wit::RecordError {
        wit::RecordError {
            code: code.into(),
            message: format!("{code}!"),
        }
    }

    fn failure(index: u32, code: &str) -> wit::RecordFailure {
        wit::RecordFailure {
            index,
            error: error(code),
        }
    }

    fn record(payload: &str) -> Record {
        Record {
            payload: payload.as_bytes().to_vec(),
            partition_key: "k".into(),
            source_topic: "t".into(),
            client_id: "c".into(),
            rule_name: "r".into(),
            arrival_timestamp_ms: 9,
            attributes: vec![("a".into(), "b".into())],
        }
    }

    #[test]
    fn verdicts_and_their_errors() {
        let out = wit::FilterOutput {
            verdicts: vec![0, 1, 2],
            failures: vec![failure(2, "bad")],
        };
        let r = filter_results(out, 3).unwrap();
        assert_eq!(r[0], FilterResult::Keep);
        assert_eq!(r[1], FilterResult::Drop);
        assert!(matches!(&r[2], FilterResult::Failed(e) if e.code == "bad"));
    }

    #[test]
    fn malformed_verdicts_are_named() {
        let bad = |verdicts: Vec<u8>, failures| {
            filter_results(wit::FilterOutput { verdicts, failures }, 2).unwrap_err()
        };
        assert!(bad(vec![0], vec![]).contains("1 verdicts for 2"));
        assert!(bad(vec![0, 7], vec![]).contains("verdict 7 for record 1"));
        assert!(bad(vec![0, 2], vec![]).contains("record 1 failed without an error"));
        assert!(bad(vec![0, 1], vec![failure(1, "x")]).contains("which did not fail"));
        assert!(bad(vec![2, 2], vec![failure(0, "x"), failure(0, "y")]).contains("twice"));
        assert!(bad(vec![0, 2], vec![failure(5, "x")]).contains("outside a batch of 2"));
    }

    #[test]
    fn transform_output_is_split_by_counts() {
        let mut scratch = PackedBatch::default();
        let made = pack(&[record("a"), record("b"), record("c")], &mut scratch).unwrap();
        let out = wit::TransformOutput {
            records: made,
            counts: vec![2, 0, 0, 1],
            failures: vec![failure(1, "nope")],
        };
        let r = transform_results(out, 4, 10).unwrap();
        assert_eq!(
            r[0],
            TransformResult::Records(vec![record("a"), record("b")])
        );
        assert!(matches!(&r[1], TransformResult::Failed(e) if e.code == "nope"));
        assert_eq!(r[2], TransformResult::Records(vec![]));
        assert_eq!(r[3], TransformResult::Records(vec![record("c")]));
    }

    #[test]
    fn malformed_transform_output_is_named() {
        let mut scratch = PackedBatch::default();
        let two = || pack(&[record("a"), record("b")], &mut PackedBatch::default()).unwrap();
        let bad = |records, counts: Vec<u32>, failures, max| {
            transform_results(
                wit::TransformOutput {
                    records,
                    counts,
                    failures,
                },
                2,
                max,
            )
            .unwrap_err()
        };
        assert!(bad(two(), vec![2], vec![], 10).contains("1 output counts for 2"));
        assert!(bad(two(), vec![1, 0], vec![], 10).contains("add up to 1, but 2"));
        assert!(bad(two(), vec![u32::MAX, 1], vec![], 10).contains("add up to"));
        assert!(bad(two(), vec![1, 1], vec![], 1).contains("limit is 1"));
        assert!(bad(two(), vec![1, 1], vec![failure(0, "x")], 10).contains("did not fail"));
        let mut broken = two();
        broken.data.push(b'!');
        assert!(bad(broken, vec![1, 1], vec![], 10).contains("output records:"));
        let packed = pack(&[record("x")], &mut scratch).unwrap();
        reclaim(packed, &mut scratch);
        assert_eq!(scratch.len(), 1, "the buffers come back for the next call");
    }
}
