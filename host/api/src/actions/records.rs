//! Records in and out: PutRecord(s), GetShardIterator, GetRecords.

use super::*;

/// Reads one record entry (`Data`, `PartitionKey`, `ExplicitHashKey`) at `prefix`; the
/// model already checked their shapes. What is left is the stream's own record size (a
/// ValidationException at `data`, as AWS words it), a missing partition key, and a hash key
/// past 2^128-1 (InvalidArgumentException: the model's pattern allows 39 digits).
pub(super) fn record_entry(
    req: &mut Req<'_>,
    v: &Val,
    prefix: &str,
    max_record: usize,
) -> Result<Option<PutEntry>, ApiError> {
    let entry = Req::new(v)?;
    let data = entry.raw("Data").map(blob).transpose()?;
    let key = entry.text("PartitionKey")?;
    if key.is_none() {
        req.violation(
            None,
            &format!("{prefix}partitionKey"),
            "Member must not be null",
        );
    }
    let ehk = entry.text("ExplicitHashKey")?;
    if let Some(d) = &data {
        let key_len = key.map_or(0, str::len);
        if d.len() + key_len > max_record {
            req.violation(
                Some(&format!(
                    "java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]",
                    d.len()
                )),
                &format!("{prefix}data"),
                &format!("Member must have length less than or equal to {max_record}"),
            );
        }
    }
    let (Some(data), Some(partition_key)) = (data, key) else {
        return Ok(None);
    };
    let explicit_hash_key = match ehk {
        None => None,
        Some(h) => match hashkey::parse_hash_key(h) {
            Some(v) => Some(v),
            None => {
                return Err(ApiError::invalid(format!(
                    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {h}"
                )))
            }
        },
    };
    Ok(Some(PutEntry {
        partition_key: partition_key.to_owned(),
        explicit_hash_key,
        data,
    }))
}

/// The largest record the named stream takes: its own MaxRecordSizeInKiB if it set one,
/// else the host's. A stream that is not there gets the host's; the put then fails on it.
fn record_limit(state: &ApiState, r: &StreamRef<'_>) -> usize {
    let name = r.name.or_else(|| r.arn.and_then(parse_arn));
    name.and_then(|n| state.streams.max_record_bytes(n).ok().flatten())
        .unwrap_or(state.config.max_record_bytes)
}

pub(super) fn put_record(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let ordering = req.text("SequenceNumberForOrdering")?;
    let whole = Val::Map(
        ["Data", "PartitionKey", "ExplicitHashKey"]
            .iter()
            .filter_map(|k| req.raw(k).map(|v| ((*k).to_owned(), v.clone())))
            .collect(),
    );
    let entry = record_entry(req, &whole, "", record_limit(state, &r))?;
    req.finish()?;
    let name = r.resolve()?;
    let entry = entry.ok_or_else(|| ApiError::new(ErrorKind::Validation, "invalid record"))?;
    let (shard, seq) = state.streams.put_record(name, &entry, ordering)?;
    Ok(map(vec![
        ("ShardId", s(shard)),
        ("SequenceNumber", s(seq)),
        ("EncryptionType", s("NONE")),
    ]))
}

/// Most bytes (data + keys) in one PutRecords.
const MAX_PUT_RECORDS_BYTES: usize = 10 * 1024 * 1024;

pub(super) fn put_records(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let records: &[Val] = match req.raw("Records") {
        None => &[],
        Some(Val::Arr(a)) => a,
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List",
                other.kind()
            )))
        }
    };
    let mut entries = Vec::with_capacity(records.len());
    let limit = record_limit(state, &r);
    for (i, v) in records.iter().enumerate() {
        if let Some(e) = record_entry(req, v, &format!("records.{}.member.", i + 1), limit)? {
            entries.push(e);
        }
    }
    req.finish()?;
    let name = r.resolve()?;
    let total: usize = entries
        .iter()
        .map(|e| e.data.len() + e.partition_key.len())
        .sum();
    if total > MAX_PUT_RECORDS_BYTES {
        return Err(ApiError::invalid(format!(
            "Records size exceeds {} MB limit: {total} bytes",
            MAX_PUT_RECORDS_BYTES / (1024 * 1024)
        )));
    }
    let outcomes = state.streams.put_records(name, &entries)?;
    let failed = outcomes
        .iter()
        .filter(|o| !matches!(o, PutOutcome::Ok { .. }))
        .count();
    let out: Vec<Val> = outcomes
        .into_iter()
        .map(|o| match o {
            PutOutcome::Ok {
                shard_id,
                sequence_number,
            } => map(vec![
                ("SequenceNumber", s(sequence_number)),
                ("ShardId", s(shard_id)),
            ]),
            PutOutcome::Throttled { message } => {
                failed_entry("ProvisionedThroughputExceededException", message)
            }
            PutOutcome::Failed { message } => failed_entry("InternalFailure", message),
        })
        .collect();
    Ok(map(vec![
        ("FailedRecordCount", Val::Int(failed as i128)),
        ("Records", Val::Arr(out)),
        ("EncryptionType", s("NONE")),
    ]))
}

pub(super) fn get_shard_iterator(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let shard = req.text("ShardId")?;
    let ty = req.text("ShardIteratorType")?;
    let seq = req.text("StartingSequenceNumber")?;
    let ts = req.timestamp("Timestamp")?;
    req.finish()?;
    let name = r.resolve()?;
    let shard = shard.unwrap_or_default();
    let start = start_position(ty.unwrap_or_default(), seq, ts)?;
    let it = state.streams.get_shard_iterator(name, shard, &start)?;
    Ok(map(vec![("ShardIterator", s(it))]))
}

/// A start position from its type and its sequence number or timestamp, as
/// GetShardIterator and SubscribeToShard's StartingPosition give them.
pub(crate) fn start_position(
    ty: &str,
    seq: Option<&str>,
    ts: Option<i64>,
) -> Result<StartPosition, ApiError> {
    Ok(match ty {
        "TRIM_HORIZON" => StartPosition::TrimHorizon,
        "LATEST" => StartPosition::Latest,
        "AT_TIMESTAMP" => StartPosition::AtTimestamp(ts.ok_or_else(|| {
            ApiError::invalid(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.",
            )
        })?),
        t => {
            let seq = seq.ok_or_else(|| {
                ApiError::invalid(format!(
                    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {t} and no StartingSequenceNumber."
                ))
            })?;
            if t == "AT_SEQUENCE_NUMBER" {
                StartPosition::AtSequence(seq.to_owned())
            } else {
                StartPosition::AfterSequence(seq.to_owned())
            }
        }
    })
}

/// One record as GetRecords and SubscribeToShard answer it.
pub(crate) fn record_val(r: weir_streams::RecordOut, encrypted: bool) -> Val {
    let mut m = vec![
        ("SequenceNumber", s(r.sequence_number)),
        ("ApproximateArrivalTimestamp", Val::Time(r.arrival_ms)),
        ("Data", Val::Bytes(r.data)),
        ("PartitionKey", s(r.partition_key)),
    ];
    if encrypted {
        m.push(("EncryptionType", s("KMS")));
    }
    map(m)
}

pub(super) fn get_records(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let it = req.text("ShardIterator")?;
    let limit = req.number("Limit")?.unwrap_or(10_000) as usize;
    req.finish()?;
    let out = state.streams.get_records(it.unwrap_or_default(), limit)?;
    let encrypted = out.encrypted;
    let records: Vec<Val> = out
        .records
        .into_iter()
        .map(|r| record_val(r, encrypted))
        .collect();
    let mut m = vec![("Records", Val::Arr(records))];
    if let Some(n) = out.next_iterator {
        m.push(("NextShardIterator", s(n)));
    }
    m.push((
        "MillisBehindLatest",
        Val::Int(out.millis_behind_latest.into()),
    ));
    if let Some(kids) = out.child_shards {
        m.push((
            "ChildShards",
            Val::Arr(kids.iter().map(child_val).collect()),
        ));
    }
    Ok(map(m))
}
