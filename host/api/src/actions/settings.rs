//! Stream settings and account actions: encryption, enhanced monitoring, the record size
//! limit, warm throughput, record distribution, stream mode, resource policies, the
//! ARN-based tag actions, limits and account settings.

use super::*;

/// What a `ResourceARN` names.
pub(super) enum Resource {
    Stream(String),
    Consumer { stream: String, name: String },
}

/// Reads `ResourceARN` (required; its pattern is the model's) and resolves it once
/// validation has passed.
pub(super) fn resource_arn<'a>(req: &mut Req<'a>) -> Result<Option<&'a str>, ApiError> {
    req.text("ResourceARN")
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

pub(super) fn encryption(
    state: &ApiState,
    req: &mut Req<'_>,
    start: bool,
) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let ty = req.text("EncryptionType")?;
    let key = req.text("KeyId")?;
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

pub(super) fn enhanced_monitoring(
    state: &ApiState,
    req: &mut Req<'_>,
    enable: bool,
) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let metrics = string_list(req, "ShardLevelMetrics")?;
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
    let status = match req.structure("MinimumThroughputBillingCommitment")? {
        Some(sub) => sub.text("Status")?,
        None => None,
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
    let kib = req.number("MaxRecordSizeInKiB")?;
    req.finish()?;
    let name = r.resolve()?;
    state
        .streams
        .set_max_record_size(name, kib.unwrap_or(1024) as u32, true)?;
    Ok(empty())
}

pub(super) fn update_warm_throughput(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let mibps = req.number("WarmThroughputMiBps")?;
    req.finish()?;
    let name = r.resolve()?;
    let mibps = u32::try_from(mibps.unwrap_or_default()).unwrap_or(u32::MAX);
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
    let arn = req.text("StreamARN")?;
    let strategy = req.text("RecordDistributionStrategy")?;
    req.finish()?;
    let name = arn.and_then(parse_arn).unwrap_or_default();
    state
        .streams
        .set_record_distribution(name, strategy.unwrap_or_default())?;
    Ok(empty())
}

pub(super) fn update_stream_mode(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let arn = req.text("StreamARN")?;
    let mode = match req.structure("StreamModeDetails")? {
        Some(sub) => sub.text("StreamMode")?,
        None => None,
    };
    let warm = req.number("WarmThroughputMiBps")?;
    req.finish()?;
    let name = arn.and_then(parse_arn).unwrap_or_default();
    let on_demand = mode == Some("ON_DEMAND");
    state.streams.set_stream_mode(name, on_demand)?;
    if let (Some(w), true) = (warm, on_demand) {
        let w = u32::try_from(w).unwrap_or(u32::MAX);
        state.streams.set_warm_throughput(name, w, false)?;
    }
    Ok(empty())
}

pub(super) fn put_policy(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let arn = resource_arn(req)?;
    let policy = req.text("Policy")?;
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
    let tags = tags_of(req, "Tags")?;
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
    let keys = string_list(req, "TagKeys")?;
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
