//! The running host (`weir run`): broker ingress, rule dispatch, one pipeline per action, the
//! destinations, metrics, configuration reload and an orderly stop.
//!
//! A message's path: [`ingress`] (embedded rumqttd link or external rumqttc client) ->
//! the dispatcher thread ([`plan::Plan::dispatch`]: topic index, rule evaluation, key
//! templates) -> one bounded queue per action -> [`pipeline`] (transformers, filters, buffer)
//! -> a [`sinks::Sink`]. Failures go to the rule's error action, itself a pipeline. Every
//! record holds a share of its message's [`ack::AckToken`] until it is delivered, handed to
//! the error action or dead-letter store, or made durable in its action's [`spool`] (what waits
//! in a buffer); the message is acknowledged to the broker (embedded or external) only when
//! every share is let go.

// Private: the runtime's API is `RunningHost`, `replay` and `plugin_admin`, so the compiler can
// tell when something inside is no longer used.
mod ack;
mod admin;
mod analytics;
mod api_rules;
mod cluster;
mod dead_letter;
pub use admin::plugin_admin;
mod descriptors;
mod firehose;
pub use descriptors::prepare as prepare_descriptors;
mod host;
mod http_publish;
mod ingress;
mod kinesis_local;
mod kinesis_put;
mod lifecycle;
mod liveness;
mod metrics;
mod pipeline;
mod plan;
mod plugin_spec;
mod replay;
mod resources;
mod rule_actions;
mod shadow_read;
mod shadow_topics;
mod sinks;
mod spool;
mod work;

pub use host::{HostError, RunningHost};
pub use ingress::Listening;
pub use metrics::{ActionCounts, RuleCounts, ShardCounts, Snapshot};
pub use replay::{replay, Message, ReplayReport};
