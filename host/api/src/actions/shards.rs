//! Resharding, retention and tags.

use super::*;

pub(super) fn split_shard(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let shard = req.text("ShardToSplit")?;
    let key = req.text("NewStartingHashKey")?;
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
    let a = req.text("ShardToMerge")?;
    let b = req.text("AdjacentShardToMerge")?;
    req.finish()?;
    state
        .streams
        .merge_shards(r.resolve()?, a.unwrap_or_default(), b.unwrap_or_default())?;
    Ok(empty())
}

pub(super) fn update_shard_count(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let target = req.number("TargetShardCount")?;
    req.finish()?;
    let name = r.resolve()?;
    // The model bounds it below only; the engine refuses what is over the shard limit.
    let target = u32::try_from(target.unwrap_or(1)).unwrap_or(u32::MAX);
    let (cur, target) = state.streams.update_shard_count(name, target)?;
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
    let hours = req.number("RetentionPeriodHours")?;
    req.finish()?;
    // The model puts no bound on it: AWS's answer to a negative or tiny period is the
    // engine's InvalidArgumentException (too short), to a huge one (too long).
    let hours = hours.unwrap_or(0);
    let hours = if hours < 0 {
        0
    } else {
        u32::try_from(hours).unwrap_or(u32::MAX)
    };
    state.streams.set_retention(r.resolve()?, hours, increase)?;
    Ok(empty())
}

pub(super) fn add_tags(state: &ApiState, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let r = StreamRef::read(req)?;
    let tags = tags_of(req, "Tags")?;
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
    let start = req.text("ExclusiveStartTagKey")?;
    let limit = req.number("Limit")?.unwrap_or(50) as usize;
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
    let keys = string_list(req, "TagKeys")?;
    req.finish()?;
    state.streams.remove_tags(r.resolve()?, &keys)?;
    Ok(empty())
}
