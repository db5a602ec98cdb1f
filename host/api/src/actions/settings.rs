//! Stream settings and account actions: encryption, enhanced monitoring, the record size
//! limit, warm throughput, record distribution, stream mode, resource policies, the
//! ARN-based tag actions, limits and account settings.

use super::*;

/// `ResourceARN`'s pattern in botocore's model.
const RESOURCE_ARN_PATTERN: &str = "arn:aws.*:kinesis:.*:\\d{12}:.*(stream|channel|queue)/\\S+";

/// What a `ResourceARN` names.
pub(super) enum Resource {
    Stream(String),
    Consumer { stream: String, name: String },
}

fn resource_arn_pattern(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:aws") else {
        return false;
    };
    let Some((_, rest)) = rest.split_once(":kinesis:") else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(_region), Some(account), Some(tail)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && ["stream/", "channel/", "queue/"]
            .iter()
            .any(|k| tail.split_once(k).is_some_and(|(_, n)| !n.is_empty()))
        && !s.chars().any(char::is_whitespace)
}

/// Reads `ResourceARN` (required) and resolves it once validation has passed.
pub(super) fn resource_arn<'a>(req: &mut Req<'a>) -> Result<Option<&'a str>, ApiError> {
    req.string(
        "ResourceARN",
        true,
        1,
        2048,
        Some((RESOURCE_ARN_PATTERN, resource_arn_pattern)),
    )
}

pub(super) fn resolve_resource(state: &ApiState, arn: &str) -> Result<Resource, ApiError> {
    if arn.contains("/consumer/") {
        let (stream, name) = state.streams.resolve_consumer_arn(arn)?;
        return Ok(Resource::Consumer { stream, name });
    }
    match parse_arn(arn) {
        Some(name) => {
            // A stream that does not exist is ResourceNotFoundException, found here.
            state.streams.describe_stream(name)?;
            Ok(Resource::Stream(name.to_owned()))
        }
        None => Err(ApiError::new(
            ErrorKind::ResourceNotFound,
            format!("Resource {arn} not found: Weir serves streams and their consumers only."),
        )),
    }
}

/// A list of strings at `field`, with the list's and each member's length bounds.
pub(super) fn string_list(
    req: &mut Req<'_>,
    field: &str,
    required: bool,
    len: (usize, usize),
    member: (usize, usize),
    allowed: Option<&[&str]>,
) -> Result<Vec<String>, ApiError> {
    let at = label(field);
    let items = match req.raw(field) {
        None => {
            if required {
                req.violation(None, &at, "Member must not be null");
            }
            return Ok(Vec::new());
        }
        Some(Val::Arr(a)) => a,
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List",
                other.kind()
            )))
        }
    };
    if items.len() < len.0 {
        req.violation(
            Some("[]"),
            &at,
            &format!("Member must have length greater than or equal to {}", len.0),
        );
    } else if items.len() > len.1 {
        req.violation(
            Some("[...]"),
            &at,
            &format!("Member must have length less than or equal to {}", len.1),
        );
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Val::Str(v) = item else {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a String",
                item.kind()
            )));
        };
        let item_at = format!("{at}.{}.member", i + 1);
        check_string(req, v, &item_at, member.0, member.1, None);
        if let Some(allowed) = allowed {
            if !allowed.contains(&v.as_str()) {
                req.violation(
                    Some(v),
                    &item_at,
                    &format!(
                        "Member must satisfy enum value set: [{}]",
                        allowed.join(", ")
                    ),
                );
            }
        }
        out.push(v.clone());
    }
    Ok(out)
}

pub(super) fn encryption(
    state: &ApiState,
    req: &mut Req<'_>,
    start: bool,
) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let ty = req.enumeration("EncryptionType", true, &["NONE", "KMS"])?;
    let key = req.string("KeyId", true, 1, 2048, None)?;
    req.finish()?;
    let name = r.resolve()?;
    if ty != Some("KMS") {
        return Err(ApiError::invalid(format!(
            "Encryption type {} is not supported: the only encryption type is KMS.",
            ty.unwrap_or_default()
        )));
    }
    let key = key.unwrap_or_default();
    if start {
        state.streams.set_encryption(name, Some(key.to_owned()))?;
    } else {
        let info = state.streams.describe_stream(name)?;
        match info.settings.encryption_key.as_deref() {
            Some(cur) if cur == key => {}
            Some(_) => {
                return Err(ApiError::invalid(format!(
                    "Stream {name} is encrypted with another KeyId than {key}."
                )))
            }
            None => {
                return Err(ApiError::invalid(format!(
                    "Stream {name} is not encrypted."
                )))
            }
        }
        state.streams.set_encryption(name, None)?;
    }
    Ok(empty())
}

fn metric_names() -> Vec<&'static str> {
    let mut all: Vec<&str> = weir_streams::SHARD_LEVEL_METRICS.to_vec();
    all.push("ALL");
    all
}

pub(super) fn enhanced_monitoring(
    state: &ApiState,
    req: &mut Req<'_>,
    enable: bool,
) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let names = metric_names();
    let metrics = string_list(
        req,
        "ShardLevelMetrics",
        true,
        (1, 7),
        (0, usize::MAX),
        Some(&names),
    )?;
    req.finish()?;
    let name = r.resolve()?;
    let (before, after) = state
        .streams
        .set_shard_level_metrics(name, &metrics, enable)?;
    let list = |v: Vec<String>| Val::Arr(v.into_iter().map(s).collect());
    Ok(map(vec![
        ("StreamName", s(name)),
        ("StreamARN", s(state.streams.arn(name))),
        ("CurrentShardLevelMetrics", list(before)),
        ("DesiredShardLevelMetrics", list(after)),
    ]))
}

pub(super) fn describe_limits(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    req.finish()?;
    let l = state.streams.limits();
    Ok(map(vec![
        ("ShardLimit", Val::Int(l.shard_limit.into())),
        ("OpenShardCount", Val::Int(l.open_shard_count.into())),
        (
            "OnDemandStreamCount",
            Val::Int(l.on_demand_stream_count.into()),
        ),
        (
            "OnDemandStreamCountLimit",
            Val::Int(l.on_demand_stream_count_limit.into()),
        ),
    ]))
}

fn commitment_val(a: &weir_streams::AccountSettings) -> Val {
    let now = weir_support::now_ms();
    let Some(c) = &a.commitment else {
        return map(vec![("Status", s("DISABLED"))]);
    };
    let mut m = vec![
        ("Status", s(c.status(now))),
        ("StartedAt", Val::Time(c.started_ms)),
    ];
    if let Some(end) = c.ended_ms {
        m.push(("EndedAt", Val::Time(end)));
    }
    m.push(("EarliestAllowedEndAt", Val::Time(c.earliest_end_ms)));
    map(m)
}

pub(super) fn describe_account_settings(
    state: &ApiState,
    req: &mut Req<'_>,
) -> Result<Val, ApiError> {
    req.finish()?;
    let a = state.streams.account_settings()?;
    Ok(map(vec![(
        "MinimumThroughputBillingCommitment",
        commitment_val(&a),
    )]))
}

pub(super) fn update_account_settings(
    state: &ApiState,
    req: &mut Req<'_>,
) -> Result<Val, ApiError> {
    let status = match req.raw("MinimumThroughputBillingCommitment") {
        None => {
            req.violation(
                None,
                "minimumThroughputBillingCommitment",
                "Member must not be null",
            );
            None
        }
        Some(v @ Val::Map(_)) => {
            let mut sub = Req::new(v)?;
            let st = sub.enumeration("Status", true, &["ENABLED", "DISABLED"])?;
            sub.finish()?;
            st
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a structure",
                other.kind()
            )))
        }
    };
    req.finish()?;
    let a = state
        .streams
        .update_account_settings(status == Some("ENABLED"), weir_support::now_ms())?;
    Ok(map(vec![(
        "MinimumThroughputBillingCommitment",
        commitment_val(&a),
    )]))
}

pub(super) fn update_max_record_size(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let kib = req.int("MaxRecordSizeInKiB", true, 1024, 10240)?;
    req.finish()?;
    let name = r.resolve()?;
    state
        .streams
        .set_max_record_size(name, kib.unwrap_or(1024) as u32, true)?;
    Ok(empty())
}

pub(super) fn update_warm_throughput(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let mibps = req.int("WarmThroughputMiBps", true, 0, i128::from(u32::MAX))?;
    req.finish()?;
    let name = r.resolve()?;
    let mibps = mibps.unwrap_or_default() as u32;
    state.streams.set_warm_throughput(name, mibps, true)?;
    Ok(map(vec![
        ("StreamARN", s(state.streams.arn(name))),
        ("StreamName", s(name)),
        (
            "WarmThroughput",
            warm_val(Some(mibps)).unwrap_or_else(empty),
        ),
    ]))
}

/// `WarmThroughput` as AWS reports it: the target, and the current figure (reached at once
/// here: Weir has no provisioning to wait for).
pub(super) fn warm_val(mibps: Option<u32>) -> Option<Val> {
    mibps.map(|m| {
        map(vec![
            ("TargetMiBps", Val::Int(m.into())),
            ("CurrentMiBps", Val::Int(m.into())),
        ])
    })
}

pub(super) fn update_record_distribution(
    state: &ApiState,
    req: &mut Req<'_>,
) -> Result<Val, ApiError> {
    let arn = req.string("StreamARN", true, 1, 2048, Some((ARN_PATTERN, arn_pattern)))?;
    let strategy = req.enumeration(
        "RecordDistributionStrategy",
        true,
        &["AUTO", "USER_PARTITION_KEY"],
    )?;
    req.finish()?;
    let name = arn.and_then(parse_arn).unwrap_or_default();
    state
        .streams
        .set_record_distribution(name, strategy.unwrap_or_default())?;
    Ok(empty())
}

pub(super) fn update_stream_mode(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let arn = req.string("StreamARN", true, 1, 2048, Some((ARN_PATTERN, arn_pattern)))?;
    let mode = match req.raw("StreamModeDetails") {
        None => {
            req.violation(None, "streamModeDetails", "Member must not be null");
            None
        }
        Some(v @ Val::Map(_)) => {
            let mut sub = Req::new(v)?;
            let m = sub.enumeration("StreamMode", true, &["PROVISIONED", "ON_DEMAND"])?;
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
    let warm = req.int("WarmThroughputMiBps", false, 0, i128::from(u32::MAX))?;
    req.finish()?;
    let name = arn.and_then(parse_arn).unwrap_or_default();
    let on_demand = mode == Some("ON_DEMAND");
    state.streams.set_stream_mode(name, on_demand)?;
    if let (Some(w), true) = (warm, on_demand) {
        state.streams.set_warm_throughput(name, w as u32, false)?;
    }
    Ok(empty())
}

pub(super) fn put_policy(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let arn = resource_arn(req)?;
    let policy = req.string("Policy", true, 0, usize::MAX, None)?;
    req.finish()?;
    let policy = policy.unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_str(policy)
        .map_err(|e| ApiError::invalid(format!("The policy document is not valid JSON: {e}.")))?;
    if !doc.is_object() {
        return Err(ApiError::invalid(
            "The policy document must be a JSON object.",
        ));
    }
    match resolve_resource(state, arn.unwrap_or_default())? {
        Resource::Stream(name) => state.streams.set_policy(&name, Some(policy.to_owned()))?,
        Resource::Consumer { stream, name } => {
            state
                .streams
                .set_consumer_policy(&stream, &name, Some(policy.to_owned()))?
        }
    }
    Ok(empty())
}

pub(super) fn get_policy(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let arn = resource_arn(req)?;
    req.finish()?;
    let doc = match resolve_resource(state, arn.unwrap_or_default())? {
        Resource::Stream(name) => state.streams.policy(&name)?,
        Resource::Consumer { stream, name } => state.streams.consumer_policy(&stream, &name)?,
    };
    // No policy reads as the empty document, as AWS answers it.
    let doc = doc.unwrap_or_else(|| "{}".to_owned());
    Ok(map(vec![("Policy", s(doc))]))
}

pub(super) fn delete_policy(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let arn = resource_arn(req)?;
    req.finish()?;
    match resolve_resource(state, arn.unwrap_or_default())? {
        Resource::Stream(name) => state.streams.set_policy(&name, None)?,
        Resource::Consumer { stream, name } => {
            state.streams.set_consumer_policy(&stream, &name, None)?
        }
    }
    Ok(empty())
}

pub(super) fn tag_resource(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let tags = tags_of(req, "Tags", true)?;
    let arn = resource_arn(req)?;
    req.finish()?;
    match resolve_resource(state, arn.unwrap_or_default())? {
        Resource::Stream(name) => state.streams.add_tags(&name, tags)?,
        Resource::Consumer { stream, name } => {
            state
                .streams
                .update_consumer_tags(&stream, &name, tags, &[])?
        }
    }
    Ok(empty())
}

pub(super) fn untag_resource(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let keys = string_list(req, "TagKeys", true, (1, 50), (1, 128), None)?;
    let arn = resource_arn(req)?;
    req.finish()?;
    match resolve_resource(state, arn.unwrap_or_default())? {
        Resource::Stream(name) => state.streams.remove_tags(&name, &keys)?,
        Resource::Consumer { stream, name } => {
            state
                .streams
                .update_consumer_tags(&stream, &name, BTreeMap::new(), &keys)?
        }
    }
    Ok(empty())
}

pub(super) fn list_tags_for_resource(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let arn = resource_arn(req)?;
    req.finish()?;
    let tags = match resolve_resource(state, arn.unwrap_or_default())? {
        Resource::Stream(name) => state.streams.tags(&name)?,
        Resource::Consumer { stream, name } => state.streams.consumer_tags(&stream, &name)?,
    };
    Ok(map(vec![(
        "Tags",
        Val::Arr(
            tags.into_iter()
                .map(|(k, v)| map(vec![("Key", s(k)), ("Value", s(v))]))
                .collect(),
        ),
    )]))
}
