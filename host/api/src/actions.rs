//! One function per Kinesis action: validate the request as AWS does, call the engine,
//! shape the response. No engine type leaks out: responses are plain [`Val`] trees.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::error::{ApiError, ErrorKind};
use super::request::*;
use super::value::{blob, failed_entry, map, s, Val};
use super::ApiState;

mod consumers;
pub(crate) mod model;
mod records;
mod settings;
mod shards;
mod streams;

pub(crate) use self::consumers::{consumer_arn_pattern, CONSUMER_ARN_PATTERN};
use self::records::*;
pub(crate) use self::records::{record_val, start_position};
use self::shards::*;
use self::streams::*;
use weir_streams::{
    self, hashkey, parse_shard_id, ChildShard, ConsumerInfo, PutEntry, PutOutcome, ShardFilter,
    ShardInfo, StartPosition, StreamInfo, MAX_TAGS,
};

/// Declares [`Action`] and [`Action::ALL`] from one list, so the enum, the
/// `X-Amz-Target` names and the model's operation names cannot drift: a name is its
/// variant's identifier, as AWS spells it.
macro_rules! actions {
    ($($name:ident,)*) => {
        /// Every action the API understands.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Action {
            $($name,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &[Action] = &[$(Action::$name,)*];

            /// The operation's name, as the model and `X-Amz-Target` spell it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$name => stringify!($name),)*
                }
            }
        }
    };
}

actions! {
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
    DeleteResourcePolicy,
    DeregisterStreamConsumer,
    DescribeAccountSettings,
    DescribeLimits,
    DescribeStreamConsumer,
    DisableEnhancedMonitoring,
    EnableEnhancedMonitoring,
    GetResourcePolicy,
    ListStreamConsumers,
    ListTagsForResource,
    PutResourcePolicy,
    RegisterStreamConsumer,
    StartStreamEncryption,
    StopStreamEncryption,
    SubscribeToShard,
    TagResource,
    UntagResource,
    UpdateAccountSettings,
    UpdateMaxRecordSize,
    UpdateStreamMode,
    UpdateStreamRecordDistributionStrategy,
    UpdateStreamWarmThroughput,
}

impl Action {
    /// Parses `Kinesis_20131202.<Action>`.
    pub fn from_target(target: &str) -> Option<Action> {
        let name = target.strip_prefix("Kinesis_20131202.")?;
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// Whether the action carries record data, and so gets the data limit for its body
    /// rather than the small one of control actions.
    pub fn carries_data(self) -> bool {
        matches!(self, Action::PutRecord | Action::PutRecords)
    }
}

/// Runs one action: the body is checked against the model first, so every shape
/// violation is a ValidationException before the handler's semantic checks run.
pub fn dispatch(state: &ApiState, action: Action, body: &Val) -> Result<Val, ApiError> {
    let mut req = Req::new(body)?;
    model::check(action.name(), body, &mut req)?;
    req.finish()?;
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
        Action::DeleteResourcePolicy => settings::delete_policy(state, &mut req),
        Action::DeregisterStreamConsumer => consumers::deregister(state, &mut req),
        Action::DescribeAccountSettings => settings::describe_account_settings(state, &mut req),
        Action::DescribeLimits => settings::describe_limits(state, &mut req),
        Action::DescribeStreamConsumer => consumers::describe(state, &mut req),
        Action::DisableEnhancedMonitoring => settings::enhanced_monitoring(state, &mut req, false),
        Action::EnableEnhancedMonitoring => settings::enhanced_monitoring(state, &mut req, true),
        Action::GetResourcePolicy => settings::get_policy(state, &mut req),
        Action::ListStreamConsumers => consumers::list(state, &mut req),
        Action::ListTagsForResource => settings::list_tags_for_resource(state, &mut req),
        Action::PutResourcePolicy => settings::put_policy(state, &mut req),
        Action::RegisterStreamConsumer => consumers::register(state, &mut req),
        Action::StartStreamEncryption => settings::encryption(state, &mut req, true),
        Action::StopStreamEncryption => settings::encryption(state, &mut req, false),
        Action::TagResource => settings::tag_resource(state, &mut req),
        Action::UntagResource => settings::untag_resource(state, &mut req),
        Action::UpdateAccountSettings => settings::update_account_settings(state, &mut req),
        Action::UpdateMaxRecordSize => settings::update_max_record_size(state, &mut req),
        Action::UpdateStreamMode => settings::update_stream_mode(state, &mut req),
        Action::UpdateStreamRecordDistributionStrategy => {
            settings::update_record_distribution(state, &mut req)
        }
        Action::UpdateStreamWarmThroughput => settings::update_warm_throughput(state, &mut req),
        // Its answer is a stream of events, not one value: `fanout.rs` serves it.
        Action::SubscribeToShard => Err(ApiError::new(
            ErrorKind::InternalFailure,
            "SubscribeToShard is served by the fan-out handler",
        )),
    }
}

/// `StreamName` or `StreamARN`, read before validation finishes and resolved after.
struct StreamRef<'a> {
    name: Option<&'a str>,
    arn: Option<&'a str>,
}

impl<'a> StreamRef<'a> {
    fn read(req: &mut Req<'a>) -> Result<Self, ApiError> {
        let name = req.text("StreamName")?;
        let arn = req.text("StreamARN")?;
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
            (None, None) => Err(ApiError::new(
                ErrorKind::Validation,
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

pub(crate) fn child_val(c: &ChildShard) -> Val {
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

/// A list call's page token `tok` as the `NextToken` it answers: base64 of its JSON.
fn next_token(tok: &impl serde::Serialize) -> Result<Val, ApiError> {
    let raw = serde_json::to_vec(tok)
        .map_err(|e| ApiError::new(ErrorKind::InternalFailure, e.to_string()))?;
    Ok(s(base64::engine::general_purpose::STANDARD.encode(raw)))
}

/// The page token a `NextToken` `t` holds, if it is one (base64 of a token's JSON).
fn read_token<T: serde::de::DeserializeOwned>(t: &str) -> Option<T> {
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// A tag map (its size and each key's and value's length are the model's checks).
fn tags_of(req: &mut Req<'_>, field: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    match req.raw(field) {
        None => {}
        Some(Val::Map(m)) => {
            for (k, v) in m {
                let Val::Str(v) = v else {
                    return Err(ApiError::serialization(format!(
                        "{} can not be converted to a String",
                        v.kind()
                    )));
                };
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

/// A list of strings (its length and its members' constraints are the model's checks).
fn string_list(req: &Req<'_>, field: &str) -> Result<Vec<String>, ApiError> {
    let items = match req.raw(field) {
        None => return Ok(Vec::new()),
        Some(Val::Arr(a)) => a,
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List",
                other.kind()
            )))
        }
    };
    items
        .iter()
        .map(|item| match item {
            Val::Str(v) => Ok(v.clone()),
            other => Err(ApiError::serialization(format!(
                "{} can not be converted to a String",
                other.kind()
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn every_action_is_found_by_its_target_and_no_name_is_taken_twice() {
        for &a in Action::ALL {
            let target = format!("Kinesis_20131202.{}", a.name());
            assert_eq!(Action::from_target(&target), Some(a), "{target}");
        }
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        assert_eq!(Action::from_target("Kinesis_20131202.NoSuchAction"), None);
        assert_eq!(
            Action::from_target("PutRecord"),
            None,
            "the prefix is required"
        );
    }
}
