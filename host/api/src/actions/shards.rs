//! Resharding, retention and tags.

use super::*;

pub(super) fn split_shard(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
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

pub(super) fn merge_shards(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let a = req.name("ShardToMerge", true)?;
    let b = req.name("AdjacentShardToMerge", true)?;
    req.finish()?;
    state
        .streams
        .merge_shards(r.resolve()?, a.unwrap_or_default(), b.unwrap_or_default())?;
    Ok(empty())
}

pub(super) fn update_shard_count(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
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

pub(super) fn retention(
    state: &ApiState,
    req: &mut Req<'_>,
    increase: bool,
) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let hours = req.int("RetentionPeriodHours", true, 1, i128::from(i32::MAX))?;
    req.finish()?;
    let hours = u32::try_from(hours.unwrap_or(0)).unwrap_or(u32::MAX);
    state.streams.set_retention(r.resolve()?, hours, increase)?;
    Ok(empty())
}

pub(super) fn add_tags(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
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

pub(super) fn list_tags(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
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

pub(super) fn remove_tags(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
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
