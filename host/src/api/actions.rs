//! One function per Kinesis action: validate the request as AWS does, call the engine,
//! shape the response. No engine type leaks out: responses are plain [`Val`] trees.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::error::{ApiError, ErrorKind};
use super::request::*;
use super::value::{map, s, Val};
use super::ApiState;
use crate::streams::{
    self, hashkey, parse_shard_id, ChildShard, PutEntry, PutOutcome, ShardInfo, StartPosition,
    StreamInfo, MAX_TAGS,
};

/// Every action the API understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateStream,
    DeleteStream,
    DescribeStream,
    DescribeStreamSummary,
    ListStreams,
    ListShards,
    PutRecord,
    PutRecords,
    GetShardIterator,
    GetRecords,
    SplitShard,
    MergeShards,
    UpdateShardCount,
    IncreaseStreamRetentionPeriod,
    DecreaseStreamRetentionPeriod,
    AddTagsToStream,
    ListTagsForStream,
    RemoveTagsFromStream,
}

impl Action {
    /// Parses `Kinesis_20131202.<Action>`.
    pub fn from_target(target: &str) -> Option<Action> {
        let name = target.strip_prefix("Kinesis_20131202.")?;
        Some(match name {
            "CreateStream" => Action::CreateStream,
            "DeleteStream" => Action::DeleteStream,
            "DescribeStream" => Action::DescribeStream,
            "DescribeStreamSummary" => Action::DescribeStreamSummary,
            "ListStreams" => Action::ListStreams,
            "ListShards" => Action::ListShards,
            "PutRecord" => Action::PutRecord,
            "PutRecords" => Action::PutRecords,
            "GetShardIterator" => Action::GetShardIterator,
            "GetRecords" => Action::GetRecords,
            "SplitShard" => Action::SplitShard,
            "MergeShards" => Action::MergeShards,
            "UpdateShardCount" => Action::UpdateShardCount,
            "IncreaseStreamRetentionPeriod" => Action::IncreaseStreamRetentionPeriod,
            "DecreaseStreamRetentionPeriod" => Action::DecreaseStreamRetentionPeriod,
            "AddTagsToStream" => Action::AddTagsToStream,
            "ListTagsForStream" => Action::ListTagsForStream,
            "RemoveTagsFromStream" => Action::RemoveTagsFromStream,
            _ => return None,
        })
    }
}

/// Runs one action.
pub fn dispatch(state: &ApiState, action: Action, body: &Val) -> Result<Val, ApiError> {
    let mut req = Req::new(body)?;
    match action {
        Action::CreateStream => create_stream(state, &mut req),
        Action::DeleteStream => delete_stream(state, &mut req),
        Action::DescribeStream => describe_stream(state, &mut req),
        Action::DescribeStreamSummary => describe_stream_summary(state, &mut req),
        Action::ListStreams => list_streams(state, &mut req),
        Action::ListShards => list_shards(state, &mut req),
        Action::PutRecord => put_record(state, &mut req),
        Action::PutRecords => put_records(state, &mut req),
        Action::GetShardIterator => get_shard_iterator(state, &mut req),
        Action::GetRecords => get_records(state, &mut req),
        Action::SplitShard => split_shard(state, &mut req),
        Action::MergeShards => merge_shards(state, &mut req),
        Action::UpdateShardCount => update_shard_count(state, &mut req),
        Action::IncreaseStreamRetentionPeriod => retention(state, &mut req, true),
        Action::DecreaseStreamRetentionPeriod => retention(state, &mut req, false),
        Action::AddTagsToStream => add_tags(state, &mut req),
        Action::ListTagsForStream => list_tags(state, &mut req),
        Action::RemoveTagsFromStream => remove_tags(state, &mut req),
    }
}

/// `StreamName` or `StreamARN`, read before validation finishes and resolved after.
struct StreamRef<'a> {
    name: Option<&'a str>,
    arn: Option<&'a str>,
}

impl<'a> StreamRef<'a> {
    fn read(req: &mut Req<'a>) -> Result<Self, ApiError> {
        let name = req.name("StreamName", false)?;
        let arn = req.string(
            "StreamARN",
            false,
            1,
            2048,
            Some((ARN_PATTERN, arn_pattern)),
        )?;
        Ok(StreamRef { name, arn })
    }

    fn resolve(&self) -> Result<&'a str, ApiError> {
        let from_arn = self.arn.and_then(parse_arn);
        match (self.name, from_arn) {
            (Some(n), Some(a)) if n != a => Err(ApiError::invalid(format!(
                "StreamARN {} and StreamName {n} do not refer to the same stream.",
                self.arn.unwrap_or_default()
            ))),
            (Some(n), _) => Ok(n),
            (None, Some(a)) => Ok(a),
            (None, None) => Err(ApiError::invalid(
                "Either StreamName or StreamARN must be provided.",
            )),
        }
    }
}

fn stream_mode(on_demand: bool) -> Val {
    map(vec![(
        "StreamMode",
        s(if on_demand {
            "ON_DEMAND"
        } else {
            "PROVISIONED"
        }),
    )])
}

fn shard_val(sh: &ShardInfo) -> Val {
    let mut m = vec![("ShardId", s(sh.shard_id.clone()))];
    if let Some(p) = &sh.parent_shard_id {
        m.push(("ParentShardId", s(p.clone())));
    }
    if let Some(p) = &sh.adjacent_parent_shard_id {
        m.push(("AdjacentParentShardId", s(p.clone())));
    }
    m.push((
        "HashKeyRange",
        map(vec![
            ("StartingHashKey", s(sh.hash_range.start.to_string())),
            ("EndingHashKey", s(sh.hash_range.end.to_string())),
        ]),
    ));
    let mut seq = vec![(
        "StartingSequenceNumber",
        s(sh.starting_sequence_number.clone()),
    )];
    if let Some(e) = &sh.ending_sequence_number {
        seq.push(("EndingSequenceNumber", s(e.clone())));
    }
    m.push(("SequenceNumberRange", map(seq)));
    map(m)
}

fn child_val(c: &ChildShard) -> Val {
    map(vec![
        ("ShardId", s(c.shard_id.clone())),
        (
            "ParentShards",
            Val::Arr(c.parent_shards.iter().map(|p| s(p.clone())).collect()),
        ),
        (
            "HashKeyRange",
            map(vec![
                ("StartingHashKey", s(c.hash_range.start.to_string())),
                ("EndingHashKey", s(c.hash_range.end.to_string())),
            ]),
        ),
    ])
}

fn empty() -> Val {
    Val::Map(Vec::new())
}

fn tags_of(
    req: &mut Req<'_>,
    field: &str,
    required: bool,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    let at = label(field);
    match req.raw(field) {
        None => {
            if required {
                req.violation(None, &at, "Member must not be null");
            }
        }
        Some(Val::Map(m)) => {
            if m.is_empty() && required {
                req.violation(
                    Some("{}"),
                    &at,
                    "Member must have length greater than or equal to 1",
                );
            }
            if m.len() > 200 {
                req.violation(
                    Some("{...}"),
                    &at,
                    "Member must have length less than or equal to 200",
                );
            }
            for (k, v) in m {
                let Val::Str(v) = v else {
                    return Err(ApiError::serialization(format!(
                        "{} can not be converted to a String",
                        v.kind()
                    )));
                };
                check_string(req, k, &format!("{at}.key"), 1, 128, None);
                check_string(req, v, &format!("{at}.value"), 0, 256, None);
                out.insert(k.clone(), v.clone());
            }
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a Map",
                other.kind()
            )))
        }
    }
    Ok(out)
}

fn create_stream(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = req.name("StreamName", true)?;
    let count = req.int("ShardCount", false, 1, 100_000)?;
    let mode = match req.raw("StreamModeDetails") {
        None => None,
        Some(Val::Map(_)) => {
            let inner = req.raw("StreamModeDetails").cloned().unwrap_or(Val::Null);
            let mut sub = Req::new(&inner)?;
            let m = sub
                .enumeration("StreamMode", true, &["PROVISIONED", "ON_DEMAND"])?
                .map(str::to_owned);
            sub.finish()?;
            m
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a structure",
                other.kind()
            )))
        }
    };
    req.int("MaxRecordSizeInKiB", false, 1024, 10240)?;
    let tags = tags_of(req, "Tags", false)?;
    req.finish()?;
    let name = name.unwrap_or_default();
    let on_demand = mode.as_deref() == Some("ON_DEMAND");
    let shards = match (count, on_demand) {
        (Some(c), _) => c as u32,
        // On-demand streams start with four shards on AWS.
        (None, true) => 4,
        (None, false) => {
            return Err(ApiError::invalid(
                "ShardCount is required for streams in PROVISIONED mode.",
            ))
        }
    };
    state.streams.create_stream(name, shards, on_demand, tags)?;
    Ok(empty())
}

fn delete_stream(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    req.boolean("EnforceConsumerDeletion")?;
    req.finish()?;
    state.streams.delete_stream(r.resolve()?)?;
    Ok(empty())
}

fn describe_stream(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let limit = req.int("Limit", false, 1, 10_000)?.unwrap_or(100) as usize;
    let start = req.name("ExclusiveStartShardId", false)?;
    req.finish()?;
    let info = state.streams.describe_stream(r.resolve()?)?;
    let after = start.and_then(parse_shard_id);
    let mut shards: Vec<&ShardInfo> = info
        .shards
        .iter()
        .filter(|sh| after.is_none_or(|a| parse_shard_id(&sh.shard_id).is_some_and(|i| i > a)))
        .collect();
    let has_more = shards.len() > limit;
    shards.truncate(limit);
    Ok(map(vec![(
        "StreamDescription",
        map(vec![
            ("StreamName", s(info.name.clone())),
            ("StreamARN", s(info.arn.clone())),
            ("StreamStatus", s(info.status.as_str())),
            ("StreamModeDetails", stream_mode(info.on_demand)),
            (
                "Shards",
                Val::Arr(shards.into_iter().map(shard_val).collect()),
            ),
            ("HasMoreShards", Val::Bool(has_more)),
            (
                "RetentionPeriodHours",
                Val::Int(info.retention_hours.into()),
            ),
            ("StreamCreationTimestamp", Val::Time(info.created_ms)),
            (
                "EnhancedMonitoring",
                Val::Arr(vec![map(vec![("ShardLevelMetrics", Val::Arr(vec![]))])]),
            ),
            ("EncryptionType", s("NONE")),
        ]),
    )]))
}

fn summary_val(state: &ApiState, info: &StreamInfo) -> Val {
    map(vec![
        ("StreamName", s(info.name.clone())),
        ("StreamARN", s(info.arn.clone())),
        ("StreamStatus", s(info.status.as_str())),
        ("StreamModeDetails", stream_mode(info.on_demand)),
        (
            "RetentionPeriodHours",
            Val::Int(info.retention_hours.into()),
        ),
        ("StreamCreationTimestamp", Val::Time(info.created_ms)),
        (
            "EnhancedMonitoring",
            Val::Arr(vec![map(vec![("ShardLevelMetrics", Val::Arr(vec![]))])]),
        ),
        ("EncryptionType", s("NONE")),
        ("OpenShardCount", Val::Int(info.open_shard_count as i128)),
        ("ConsumerCount", Val::Int(0)),
        (
            "MaxRecordSizeInKiB",
            Val::Int((state.config.max_record_bytes / 1024) as i128),
        ),
    ])
}

fn describe_stream_summary(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    req.finish()?;
    let info = state.streams.describe_stream(r.resolve()?)?;
    Ok(map(vec![(
        "StreamDescriptionSummary",
        summary_val(state, &info),
    )]))
}

fn list_streams(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let limit = req.int("Limit", false, 1, 10_000)?.unwrap_or(100) as usize;
    let start = req.name("ExclusiveStartStreamName", false)?;
    let token = req.string("NextToken", false, 1, 1_048_576, None)?;
    req.finish()?;
    let after: Option<String> = match token {
        Some(t) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::invalid("The NextToken is invalid."))?,
        ),
        None => start.map(str::to_owned),
    };
    let all = state.streams.list_streams();
    let mut page: Vec<_> = all
        .iter()
        .filter(|x| after.as_deref().is_none_or(|a| x.name.as_str() > a))
        .collect();
    let has_more = page.len() > limit;
    page.truncate(limit);
    let mut out = vec![
        (
            "StreamNames",
            Val::Arr(page.iter().map(|x| s(x.name.clone())).collect()),
        ),
        ("HasMoreStreams", Val::Bool(has_more)),
    ];
    if has_more {
        if let Some(last) = page.last() {
            out.push((
                "NextToken",
                s(base64::engine::general_purpose::STANDARD.encode(last.name.as_bytes())),
            ));
        }
    }
    out.push((
        "StreamSummaries",
        Val::Arr(
            page.iter()
                .map(|x| {
                    map(vec![
                        ("StreamName", s(x.name.clone())),
                        ("StreamARN", s(x.arn.clone())),
                        ("StreamStatus", s(x.status.as_str())),
                        ("StreamModeDetails", stream_mode(x.on_demand)),
                        ("StreamCreationTimestamp", Val::Time(x.created_ms)),
                    ])
                })
                .collect(),
        ),
    ));
    Ok(map(out))
}

/// A ListShards page token: which stream, where the page ended, the filter, issue time.
#[derive(serde::Serialize, serde::Deserialize)]
struct ShardToken {
    s: String,
    a: Option<u64>,
    f: Option<(String, Option<String>, Option<i64>)>,
    t: i64,
}

const NEXT_TOKEN_TTL_MS: i64 = 300_000;

fn list_shards(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let token = req.string("NextToken", false, 1, 1_048_576, None)?;
    let start = req.name("ExclusiveStartShardId", false)?;
    let max = req.int("MaxResults", false, 1, 10_000)?.unwrap_or(1000) as usize;
    req.timestamp("StreamCreationTimestamp")?;
    let filter = match req.raw("ShardFilter") {
        None => None,
        Some(f @ Val::Map(_)) => {
            let mut sub = Req::new(f)?;
            let ty = sub.enumeration(
                "Type",
                true,
                &[
                    "AFTER_SHARD_ID",
                    "AT_TRIM_HORIZON",
                    "FROM_TRIM_HORIZON",
                    "AT_LATEST",
                    "AT_TIMESTAMP",
                    "FROM_TIMESTAMP",
                ],
            )?;
            let id = sub.name("ShardId", false)?;
            let ts = sub.timestamp("Timestamp")?;
            sub.finish()?;
            Some((ty.unwrap_or_default().to_owned(), id.map(str::to_owned), ts))
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a structure",
                other.kind()
            )))
        }
    };
    req.finish()?;
    let now = streams::now_ms();
    let (name, after, filter) = match token {
        Some(t) => {
            if r.name.is_some() || r.arn.is_some() {
                return Err(ApiError::invalid(
                    "NextToken and StreamName cannot be provided together.",
                ));
            }
            if start.is_some() {
                return Err(ApiError::invalid(
                    "NextToken and ExclusiveStartShardId cannot be provided together.",
                ));
            }
            let tok: ShardToken = base64::engine::general_purpose::STANDARD
                .decode(t)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| ApiError::invalid("Invalid ListShards token."))?;
            if now - tok.t > NEXT_TOKEN_TTL_MS {
                return Err(ApiError::new(
                    ErrorKind::ExpiredNextToken,
                    format!("The NextToken {t} has expired. A new one can be obtained by calling ListShards again."),
                ));
            }
            (tok.s, tok.a, tok.f)
        }
        None => (
            r.resolve()?.to_owned(),
            start.and_then(parse_shard_id),
            filter,
        ),
    };
    let info = state.streams.describe_stream(&name)?;
    let metas: Vec<&ShardInfo> = info.shards.iter().collect();
    let present: Vec<&str> = metas.iter().map(|m| m.shard_id.as_str()).collect();
    let mut after = after;
    let keep: Vec<&ShardInfo> = match &filter {
        None => metas.clone(),
        Some((ty, id, ts)) => match ty.as_str() {
            "AFTER_SHARD_ID" => {
                let id = id.as_deref().ok_or_else(|| {
                    ApiError::invalid("Must specify ShardId in ShardFilter of type AFTER_SHARD_ID.")
                })?;
                let idx = parse_shard_id(id)
                    .ok_or_else(|| ApiError::invalid(format!("Invalid ShardId {id}.")))?;
                after = Some(after.map_or(idx, |a| a.max(idx)));
                metas.clone()
            }
            // Shards open at the trim horizon: those whose ancestors are no longer kept.
            "AT_TRIM_HORIZON" => metas
                .iter()
                .filter(|m| {
                    m.parent_shard_id
                        .as_deref()
                        .is_none_or(|p| !present.contains(&p))
                        && m.adjacent_parent_shard_id
                            .as_deref()
                            .is_none_or(|p| !present.contains(&p))
                })
                .copied()
                .collect(),
            "FROM_TRIM_HORIZON" => metas.clone(),
            "AT_LATEST" => metas
                .iter()
                .filter(|m| m.ending_sequence_number.is_none())
                .copied()
                .collect(),
            "AT_TIMESTAMP" | "FROM_TIMESTAMP" => {
                let ts = ts.ok_or_else(|| {
                    ApiError::invalid(format!(
                        "Must specify Timestamp in ShardFilter of type {ty}."
                    ))
                })?;
                let lifetimes = state.streams.shard_lifetimes(&name)?;
                metas
                    .iter()
                    .filter(|m| {
                        let Some((created, closed)) = lifetimes.get(&m.shard_id) else {
                            return false;
                        };
                        let open_after = closed.is_none_or(|c| c > ts);
                        if ty == "AT_TIMESTAMP" {
                            *created <= ts && open_after
                                || (*created > ts && m.parent_shard_id.is_none())
                        } else {
                            open_after
                        }
                    })
                    .copied()
                    .collect()
            }
            _ => metas.clone(),
        },
    };
    let mut page: Vec<&ShardInfo> = keep
        .into_iter()
        .filter(|m| after.is_none_or(|a| parse_shard_id(&m.shard_id).is_some_and(|i| i > a)))
        .collect();
    let has_more = page.len() > max;
    page.truncate(max);
    let mut out = vec![(
        "Shards",
        Val::Arr(page.iter().map(|m| shard_val(m)).collect()),
    )];
    if has_more {
        let last = page.last().and_then(|m| parse_shard_id(&m.shard_id));
        let tok = ShardToken {
            s: name.clone(),
            a: last,
            f: filter,
            t: now,
        };
        let raw = serde_json::to_vec(&tok)
            .map_err(|e| ApiError::new(ErrorKind::InternalFailure, e.to_string()))?;
        out.push((
            "NextToken",
            s(base64::engine::general_purpose::STANDARD.encode(raw)),
        ));
    }
    Ok(map(out))
}

/// Reads one record entry (`Data`, `PartitionKey`, `ExplicitHashKey`) at `prefix`.
fn record_entry(
    req: &mut Req<'_>,
    v: &Val,
    prefix: &str,
    max_record: usize,
) -> Result<Option<PutEntry>, ApiError> {
    let Val::Map(_) = v else {
        return Err(ApiError::serialization(format!(
            "{} can not be converted to a structure",
            v.kind()
        )));
    };
    let data = match v.get("Data") {
        None | Some(Val::Null) => {
            req.violation(None, &format!("{prefix}data"), "Member must not be null");
            None
        }
        Some(Val::Bytes(b)) => Some(b.clone()),
        Some(Val::Str(b64)) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| ApiError::serialization("Base64 encoded data is invalid."))?,
        ),
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a Blob",
                other.kind()
            )))
        }
    };
    let key = match v.get("PartitionKey") {
        None | Some(Val::Null) => {
            req.violation(
                None,
                &format!("{prefix}partitionKey"),
                "Member must not be null",
            );
            None
        }
        Some(Val::Str(k)) => {
            check_string(req, k, &format!("{prefix}partitionKey"), 1, 256, None);
            Some(k.clone())
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a String",
                other.kind()
            )))
        }
    };
    let ehk = match v.get("ExplicitHashKey") {
        None | Some(Val::Null) => None,
        Some(Val::Str(h)) => {
            check_string(
                req,
                h,
                &format!("{prefix}explicitHashKey"),
                0,
                usize::MAX,
                Some((HASH_KEY_PATTERN, hash_key_pattern)),
            );
            Some(h.clone())
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a String",
                other.kind()
            )))
        }
    };
    if let Some(d) = &data {
        let key_len = key.as_ref().map_or(0, |k| k.len());
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
        Some(h) => match hashkey::parse_hash_key(&h) {
            Some(v) => Some(v),
            None if hash_key_pattern(&h) => {
                return Err(ApiError::invalid(format!(
                    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {h}"
                )))
            }
            None => return Ok(None), // pattern violation already recorded
        },
    };
    Ok(Some(PutEntry {
        partition_key,
        explicit_hash_key,
        data,
    }))
}

fn put_record(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let ordering = req.string(
        "SequenceNumberForOrdering",
        false,
        0,
        usize::MAX,
        Some((SEQ_PATTERN, seq_pattern)),
    )?;
    let whole = Val::Map(
        ["Data", "PartitionKey", "ExplicitHashKey"]
            .iter()
            .filter_map(|k| req.raw(k).map(|v| ((*k).to_owned(), v.clone())))
            .collect(),
    );
    let entry = record_entry(req, &whole, "", state.config.max_record_bytes)?;
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

fn put_records(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let records: &[Val] = match req.raw("Records") {
        None => {
            req.violation(None, "records", "Member must not be null");
            &[]
        }
        Some(Val::Arr(a)) => a,
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List",
                other.kind()
            )))
        }
    };
    if req.raw("Records").is_some() {
        if records.is_empty() {
            req.violation(
                Some("[]"),
                "records",
                "Member must have length greater than or equal to 1",
            );
        } else if records.len() > 500 {
            req.violation(
                Some("[...]"),
                "records",
                "Member must have length less than or equal to 500",
            );
        }
    }
    let mut entries = Vec::with_capacity(records.len());
    if records.len() <= 500 {
        for (i, v) in records.iter().enumerate() {
            if let Some(e) = record_entry(
                req,
                v,
                &format!("records.{}.member.", i + 1),
                state.config.max_record_bytes,
            )? {
                entries.push(e);
            }
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
            PutOutcome::Throttled { message } => map(vec![
                ("ErrorCode", s("ProvisionedThroughputExceededException")),
                ("ErrorMessage", s(message)),
            ]),
            PutOutcome::Failed { message } => map(vec![
                ("ErrorCode", s("InternalFailure")),
                ("ErrorMessage", s(message)),
            ]),
        })
        .collect();
    Ok(map(vec![
        ("FailedRecordCount", Val::Int(failed as i128)),
        ("Records", Val::Arr(out)),
        ("EncryptionType", s("NONE")),
    ]))
}

const ITERATOR_TYPES: [&str; 5] = [
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
];

fn get_shard_iterator(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let shard = req.name("ShardId", true)?;
    let ty = req.enumeration("ShardIteratorType", true, &ITERATOR_TYPES)?;
    let seq = req.string(
        "StartingSequenceNumber",
        false,
        0,
        usize::MAX,
        Some((SEQ_PATTERN, seq_pattern)),
    )?;
    let ts = req.timestamp("Timestamp")?;
    req.finish()?;
    let name = r.resolve()?;
    let shard = shard.unwrap_or_default();
    let start = match ty.unwrap_or_default() {
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
    };
    let it = state.streams.get_shard_iterator(name, shard, &start)?;
    Ok(map(vec![("ShardIterator", s(it))]))
}

fn get_records(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let it = req.string("ShardIterator", true, 1, 512, None)?;
    let limit = req.int("Limit", false, 1, 10_000)?.unwrap_or(10_000) as usize;
    req.string(
        "StreamARN",
        false,
        1,
        2048,
        Some((ARN_PATTERN, arn_pattern)),
    )?;
    req.finish()?;
    let out = state.streams.get_records(it.unwrap_or_default(), limit)?;
    let records: Vec<Val> = out
        .records
        .into_iter()
        .map(|r| {
            map(vec![
                ("SequenceNumber", s(r.sequence_number)),
                ("ApproximateArrivalTimestamp", Val::Time(r.arrival_ms)),
                ("Data", Val::Bytes(r.data)),
                ("PartitionKey", s(r.partition_key)),
            ])
        })
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

fn split_shard(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let shard = req.name("ShardToSplit", true)?;
    let key = req.string(
        "NewStartingHashKey",
        true,
        0,
        usize::MAX,
        Some((HASH_KEY_PATTERN, hash_key_pattern)),
    )?;
    req.finish()?;
    let name = r.resolve()?;
    let key = key.unwrap_or_default();
    let k = hashkey::parse_hash_key(key).ok_or_else(|| {
        ApiError::invalid(format!(
            "NewStartingHashKey {key} used in SplitShard() is not a valid hash key: it must be in the range [0, 2^128-1]."
        ))
    })?;
    state
        .streams
        .split_shard(name, shard.unwrap_or_default(), k)?;
    Ok(empty())
}

fn merge_shards(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let a = req.name("ShardToMerge", true)?;
    let b = req.name("AdjacentShardToMerge", true)?;
    req.finish()?;
    state
        .streams
        .merge_shards(r.resolve()?, a.unwrap_or_default(), b.unwrap_or_default())?;
    Ok(empty())
}

fn update_shard_count(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let target = req.int("TargetShardCount", true, 1, 100_000)?;
    req.enumeration("ScalingType", true, &["UNIFORM_SCALING"])?;
    req.finish()?;
    let name = r.resolve()?;
    let (cur, target) = state
        .streams
        .update_shard_count(name, target.unwrap_or(1) as u32)?;
    Ok(map(vec![
        ("StreamName", s(name)),
        ("CurrentShardCount", Val::Int(cur.into())),
        ("TargetShardCount", Val::Int(target.into())),
        ("StreamARN", s(state.streams.arn(name))),
    ]))
}

fn retention(state: &ApiState, req: &mut Req<'_>, increase: bool) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let hours = req.int("RetentionPeriodHours", true, 1, i128::from(i32::MAX))?;
    req.finish()?;
    let hours = u32::try_from(hours.unwrap_or(0)).unwrap_or(u32::MAX);
    state.streams.set_retention(r.resolve()?, hours, increase)?;
    Ok(empty())
}

fn add_tags(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let tags = tags_of(req, "Tags", true)?;
    req.finish()?;
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(format!(
            "Failed to add tags to stream because a given stream cannot have more than {MAX_TAGS} tags associated with it."
        )));
    }
    state.streams.add_tags(r.resolve()?, tags)?;
    Ok(empty())
}

fn list_tags(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let start = req.string("ExclusiveStartTagKey", false, 1, 128, None)?;
    let limit = req.int("Limit", false, 1, 50)?.unwrap_or(50) as usize;
    req.finish()?;
    let tags = state.streams.tags(r.resolve()?)?;
    let mut page: Vec<(&String, &String)> = tags
        .iter()
        .filter(|(k, _)| start.is_none_or(|st| k.as_str() > st))
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    Ok(map(vec![
        (
            "Tags",
            Val::Arr(
                page.into_iter()
                    .map(|(k, v)| map(vec![("Key", s(k.clone())), ("Value", s(v.clone()))]))
                    .collect(),
            ),
        ),
        ("HasMoreTags", Val::Bool(more)),
    ]))
}

fn remove_tags(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let keys: Vec<String> = match req.raw("TagKeys") {
        None => {
            req.violation(None, "tagKeys", "Member must not be null");
            Vec::new()
        }
        Some(Val::Arr(a)) => {
            if a.is_empty() {
                req.violation(
                    Some("[]"),
                    "tagKeys",
                    "Member must have length greater than or equal to 1",
                );
            } else if a.len() > 50 {
                req.violation(
                    Some("[...]"),
                    "tagKeys",
                    "Member must have length less than or equal to 50",
                );
            }
            let mut out = Vec::new();
            for (i, k) in a.iter().enumerate() {
                let Val::Str(k) = k else {
                    return Err(ApiError::serialization(format!(
                        "{} can not be converted to a String",
                        k.kind()
                    )));
                };
                check_string(req, k, &format!("tagKeys.{}.member", i + 1), 1, 128, None);
                out.push(k.clone());
            }
            out
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List",
                other.kind()
            )))
        }
    };
    req.finish()?;
    state.streams.remove_tags(r.resolve()?, &keys)?;
    Ok(empty())
}
