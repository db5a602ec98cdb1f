//! The sinks of the rule actions that call other services: `sqs`, `sns`, `dynamodbv2`
//! (`aws.rs`), `s3` (`s3.rs`), `http` (`http.rs`) and `lambda` (`lambda.rs`). The plan opens
//! them in its one `match` over action kinds (`Plan::sink`); the clients are
//! `weir-aws-client`'s.
//!
//! Each record arrives with its target already rendered (`Meta::key`: the queue URL, target
//! ARN, table name, object key, URL or function ARN, rendered by the dispatcher against the
//! incoming message, as AWS renders substitution templates). The other templates of an action
//! (an `http` action's header values, a templated `s3` bucket) are rendered here, against the
//! same message (`Origin`), when the record is sent.
//!
//! Outcomes follow AWS: a failure the service calls transient (connection, 5xx, throttling;
//! for `http`, 429 and 5xx only) is `Retry` (the pipeline makes three tries in all, then
//! hands the record to the rule's error action), anything else is `Fail` (straight to the
//! error action), each with AWS's `failedAction` name from the action's `Destination`.

mod aws;
mod http;
mod lambda;
mod s3;

use std::sync::Arc;

use weir_config::Config;
use weir_rules::{EvalContext, Template};
use weir_support::egress::EgressPolicy;

use super::work::Origin;

pub(super) use aws::{DynamoDbSink, SnsSink, SqsSink};
pub(super) use http::HttpSink;
pub(super) use lambda::LambdaSink;
pub(super) use s3::S3Sink;

/// The endpoints a configuration gives these actions: `[sqs]`, `[sns]`, `[dynamodb]`, `[s3]`,
/// and where an `http` action may connect.
///
/// The service endpoints are the operator's (the file alone sets them; a `TopicRulePayload`
/// names a queue URL, topic ARN, table or bucket, which travel in the request to that
/// endpoint and never choose the host), so every address is allowed for them. An `http`
/// action's URL is a rules API caller's, or a file template the payload fills, so it obeys
/// the egress policy Firehose's HTTP endpoints obey (`[firehose] allow_private_endpoints` /
/// `allowed_endpoints`).
#[derive(Debug, Clone, Default)]
pub(super) struct Services {
    pub(super) sqs: weir_config::ServiceEndpoint,
    pub(super) sns: weir_config::ServiceEndpoint,
    pub(super) dynamodb: weir_config::ServiceEndpoint,
    pub(super) s3: Option<weir_config::S3Config>,
    pub(super) egress: EgressPolicy,
}

impl Services {
    pub(super) fn of(config: &Config) -> Self {
        Services {
            sqs: config.sqs.clone(),
            sns: config.sns.clone(),
            dynamodb: config.dynamodb.clone(),
            s3: config.s3.clone(),
            egress: egress_policy(config),
        }
    }
}

/// Where an `http` action may connect: the policy `[firehose] allow_private_endpoints` /
/// `allowed_endpoints` give Firehose's HTTP endpoints (one policy for every URL a rules or
/// Firehose API caller can name).
pub(super) fn egress_policy(config: &Config) -> EgressPolicy {
    EgressPolicy::new(
        config.firehose.allow_private_endpoints,
        config.firehose.allowed_endpoints.clone(),
    )
}

/// Renders `template` against the message a record came from, as the dispatcher renders
/// key templates (the original payload and topic, its client id and arrival time, the
/// lookup tables); the reason when it does not render.
fn render(
    template: &Template,
    origin: &Origin,
    lookup: &super::plan::TableLookup<'_>,
) -> Result<String, String> {
    if template.is_static() {
        return template
            .render(&EvalContext::new("", &[], None))
            .map_err(|e| format!("template {:?}: {e}", template.source()));
    }
    let json = weir_rules::parse_payload(&origin.payload);
    let cx = EvalContext {
        client_id: origin.client_id.as_deref(),
        timestamp_ms: origin.arrival_ms,
        lookup: Some(lookup),
        ..EvalContext::new(&origin.topic, &origin.payload, json.as_ref())
    };
    template
        .render(&cx)
        .map_err(|e| format!("template {:?}: {e}", template.source()))
}

/// The lookup tables templates rendered here may read (`get_dynamodb`).
type Lookup = Arc<weir_plugins::tables::LookupTables>;

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[broker]\nlisten = \"127.0.0.1:0\"\n\n[storage]\ndir = \"data\"\n";

    fn services(text: &str) -> Services {
        Services::of(&Config::parse(text, "weir.toml").expect("config"))
    }

    fn refused(s: &Services, ip: &str) -> bool {
        s.egress
            .check(None, ip.parse().expect("test address"))
            .is_err()
    }

    /// The `http` action's policy is the one `[firehose]`'s keys give Firehose's HTTP
    /// endpoints: closed to non-public addresses by default, opened entry by entry.
    #[test]
    fn the_http_egress_policy_comes_from_the_firehose_keys() {
        let closed = services(BASE);
        for ip in [
            "127.0.0.1",
            "169.254.169.254",
            "10.1.2.3",
            "::1",
            "fd00:ec2::254",
        ] {
            assert!(refused(&closed, ip), "{ip}");
        }
        assert!(!refused(&closed, "93.184.216.34"));
        let one = services(&format!(
            "{BASE}\n[firehose]\nallowed_endpoints = [\"127.0.0.1\"]\n"
        ));
        assert!(!refused(&one, "127.0.0.1"));
        assert!(refused(&one, "127.0.0.2"));
        assert!(refused(&one, "169.254.169.254"));
        let all = services(&format!(
            "{BASE}\n[firehose]\nallow_private_endpoints = true\n"
        ));
        assert!(!refused(&all, "169.254.169.254"));
    }
}
