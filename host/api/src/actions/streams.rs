//! Stream and shard descriptions: create, delete, describe, list streams and shards.

use super::*;

pub(super) fn create_stream(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = req.text("StreamName")?;
    let count = req.number("ShardCount")?;
    let mode = match req.structure("StreamModeDetails")? {
        Some(sub) => sub.text("StreamMode")?,
        None => None,
    };
    let max_kib = req.number("MaxRecordSizeInKiB")?;
    let warm = req.number("WarmThroughputMiBps")?;
    let tags = tags_of(req, "Tags")?;
    req.finish()?;
    let name = name.unwrap_or_default();
    let on_demand = mode == Some("ON_DEMAND");
    let shards = match (count, on_demand) {
        // The model bounds it below only; the engine refuses what is over the shard limit.
        (Some(c), _) => u32::try_from(c).unwrap_or(u32::MAX),
        // On-demand streams start with four shards on AWS.
        (None, true) => 4,
        (None, false) => {
            return Err(ApiError::invalid(
                "ShardCount is required for streams in PROVISIONED mode.",
            ))
        }
    };
    state.streams.create_stream(name, shards, on_demand, tags)?;
    if let Some(kib) = max_kib {
        state.streams.set_max_record_size(name, kib as u32, false)?;
    }
    if let (Some(w), true) = (warm, on_demand) {
        let w = u32::try_from(w).unwrap_or(u32::MAX);
        state.streams.set_warm_throughput(name, w, false)?;
    }
    Ok(empty())
}

pub(super) fn delete_stream(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let enforce = req.boolean("EnforceConsumerDeletion")?.unwrap_or(false);
    req.finish()?;
    let name = r.resolve()?;
    if !enforce && !state.streams.list_consumers(name)?.is_empty() {
        return Err(ApiError::new(
            ErrorKind::ResourceInUse,
            format!(
                "Stream {name} has registered consumers: deregister them first, or delete with EnforceConsumerDeletion."
            ),
        ));
    }
    state.streams.delete_stream(name)?;
    Ok(empty())
}

pub(super) fn describe_stream(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let limit = req.number("Limit")?.unwrap_or(100) as usize;
    let start = req.text("ExclusiveStartShardId")?;
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
        ]
        .into_iter()
        .chain(settings_vals(&info, false, state))
        .collect()),
    )]))
}

/// The settings fields of DescribeStream (`summary` false) and DescribeStreamSummary.
fn settings_vals(info: &StreamInfo, summary: bool, state: &ApiState) -> Vec<(&'static str, Val)> {
    let st = &info.settings;
    let mut m = vec![(
        "EnhancedMonitoring",
        Val::Arr(vec![map(vec![(
            "ShardLevelMetrics",
            Val::Arr(st.shard_level_metrics.iter().cloned().map(s).collect()),
        )])]),
    )];
    match &st.encryption_key {
        Some(k) => {
            m.push(("EncryptionType", s("KMS")));
            m.push(("KeyId", s(k.clone())));
        }
        None => m.push(("EncryptionType", s("NONE"))),
    }
    if summary {
        m.push(("OpenShardCount", Val::Int(info.open_shard_count as i128)));
        m.push(("ConsumerCount", Val::Int(info.consumer_count as i128)));
        let kib = st
            .max_record_kib
            .map_or(state.config.max_record_bytes / 1024, |k| k as usize);
        m.push(("MaxRecordSizeInKiB", Val::Int(kib as i128)));
        if let Some(w) = settings::warm_val(st.warm_throughput_mibps) {
            m.push(("WarmThroughput", w));
        }
        if let Some(d) = &st.record_distribution {
            m.push(("RecordDistributionStrategy", s(d.clone())));
        }
    }
    m
}

pub(super) fn summary_val(state: &ApiState, info: &StreamInfo) -> Val {
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
    ]
    .into_iter()
    .chain(settings_vals(info, true, state))
    .collect())
}

pub(super) fn describe_stream_summary(
    state: &ApiState,
    req: &mut Req<'_>,
) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    req.finish()?;
    let info = state.streams.describe_stream(r.resolve()?)?;
    Ok(map(vec![(
        "StreamDescriptionSummary",
        summary_val(state, &info),
    )]))
}

pub(super) fn list_streams(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let limit = req.number("Limit")?.unwrap_or(100) as usize;
    let start = req.text("ExclusiveStartStreamName")?;
    let token = req.text("NextToken")?;
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

/// A `ShardFilter` as the request gave it: its type, `ShardId` and `Timestamp`. Kept in this
/// raw form in the page token, so the next page filters the same way.
type RawShardFilter = (String, Option<String>, Option<i64>);

/// ListShards: a page of shards after a shard id or a page token, by a shard filter.
pub(super) fn list_shards(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let token = req.text("NextToken")?;
    let start = req.text("ExclusiveStartShardId")?;
    let max = req.number("MaxResults")?.unwrap_or(1000) as usize;
    req.timestamp("StreamCreationTimestamp")?;
    let filter = read_shard_filter(req)?;
    req.finish()?;
    let now = weir_support::now_ms();
    let (name, mut after, filter) = match token {
        Some(t) => {
            let tok = resume_shards(t, &r, start.is_some(), now)?;
            (tok.s, tok.a, tok.f)
        }
        None => (
            r.resolve()?.to_owned(),
            start.and_then(parse_shard_id),
            filter,
        ),
    };
    let by_time = shard_filter(filter.as_ref(), &mut after)?;
    let keep = state.streams.list_shards(&name, by_time, now)?;
    let mut page: Vec<&ShardInfo> = keep
        .iter()
        .filter(|m| after.is_none_or(|a| parse_shard_id(&m.shard_id).is_some_and(|i| i > a)))
        .collect();
    let has_more = page.len() > max;
    page.truncate(max);
    let mut out = vec![(
        "Shards",
        Val::Arr(page.iter().map(|m| shard_val(m)).collect()),
    )];
    if has_more {
        let tok = ShardToken {
            s: name.clone(),
            a: page.last().and_then(|m| parse_shard_id(&m.shard_id)),
            f: filter,
            t: now,
        };
        out.push(("NextToken", next_token(&tok)?));
    }
    Ok(map(out))
}

/// The request's `ShardFilter`, if any; a value that is not a structure is refused as AWS
/// does.
fn read_shard_filter(req: &mut Req<'_>) -> Result<Option<RawShardFilter>, ApiError> {
    let Some(mut sub) = req.structure("ShardFilter")? else {
        return Ok(None);
    };
    let ty = sub.text("Type")?;
    let id = sub.text("ShardId")?;
    let ts = sub.timestamp("Timestamp")?;
    Ok(Some((
        ty.unwrap_or_default().to_owned(),
        id.map(str::to_owned),
        ts,
    )))
}

/// The page token `t`, which stands for the stream, the position and the filter: so none of
/// those may be given with it, and it expires after [`NEXT_TOKEN_TTL_MS`].
fn resume_shards(
    t: &str,
    r: &StreamRef<'_>,
    has_start: bool,
    now: i64,
) -> Result<ShardToken, ApiError> {
    if r.name.is_some() || r.arn.is_some() {
        return Err(ApiError::invalid(
            "NextToken and StreamName cannot be provided together.",
        ));
    }
    if has_start {
        return Err(ApiError::invalid(
            "NextToken and ExclusiveStartShardId cannot be provided together.",
        ));
    }
    let tok: ShardToken =
        read_token(t).ok_or_else(|| ApiError::invalid("Invalid ListShards token."))?;
    if now - tok.t > NEXT_TOKEN_TTL_MS {
        return Err(ApiError::new(
            ErrorKind::ExpiredNextToken,
            format!("The NextToken {t} has expired. A new one can be obtained by calling ListShards again."),
        ));
    }
    Ok(tok)
}

/// The engine's filter for a `ShardFilter`. `AFTER_SHARD_ID` is a position rather than a
/// filter: it moves `after` forward (never back past the page token's position).
fn shard_filter(
    filter: Option<&RawShardFilter>,
    after: &mut Option<u64>,
) -> Result<ShardFilter, ApiError> {
    let Some((ty, id, ts)) = filter else {
        return Ok(ShardFilter::FromTrimHorizon);
    };
    Ok(match ty.as_str() {
        "AFTER_SHARD_ID" => {
            let id = id.as_deref().ok_or_else(|| {
                ApiError::invalid("Must specify ShardId in ShardFilter of type AFTER_SHARD_ID.")
            })?;
            let idx = parse_shard_id(id)
                .ok_or_else(|| ApiError::invalid(format!("Invalid ShardId {id}.")))?;
            *after = Some(after.map_or(idx, |a| a.max(idx)));
            ShardFilter::FromTrimHorizon
        }
        "AT_TRIM_HORIZON" => ShardFilter::AtTrimHorizon,
        "AT_LATEST" => ShardFilter::AtLatest,
        "AT_TIMESTAMP" | "FROM_TIMESTAMP" => {
            let ts = ts.ok_or_else(|| {
                ApiError::invalid(format!(
                    "Must specify Timestamp in ShardFilter of type {ty}."
                ))
            })?;
            if ty == "AT_TIMESTAMP" {
                ShardFilter::AtTimestamp(ts)
            } else {
                ShardFilter::FromTimestamp(ts)
            }
        }
        _ => ShardFilter::FromTrimHorizon,
    })
}
