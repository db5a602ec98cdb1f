//! `sqs`, `sns` and `dynamodbv2`: one request per record to the service's endpoint
//! (`[sqs]`, `[sns]`, `[dynamodb]`, else the environment's), signed with the environment's
//! keys, through `weir-aws-client`.

use weir_aws_client::{
    item_from_json, AwsError, DynamoDbClient, ServiceTarget, SnsClient, SqsClient,
};
use weir_config::{DynamoDbV2Action, ServiceEndpoint, SnsAction, SnsMessageFormat, SqsAction};
use weir_plugins::Record;
use weir_support::error_chain;

use super::super::sinks::{Outcome, Sink, SinkError};
use super::super::work::Meta;

fn target(service: &str, e: &ServiceEndpoint) -> ServiceTarget {
    ServiceTarget::resolve(service, e.endpoint_url.as_deref(), e.region.as_deref())
}

/// A client that could not be set up, named by its action kind (`sqs`, `sns`, `dynamodb`).
fn client_error(service: &'static str, t: &ServiceTarget, source: AwsError) -> SinkError {
    SinkError::Remote {
        service,
        endpoint: t.endpoint.clone(),
        source: Box::new(source),
    }
}

/// A failed call as the record's outcome: AWS's transient failures are tried again, the
/// rest go to the error action. `what` is AWS's own opening of such an error message.
fn outcome(what: &str, e: &AwsError) -> Outcome {
    let reason = format!("{what}. The error received was {}", error_chain(e));
    if e.is_retryable() {
        Outcome::Retry(reason)
    } else {
        Outcome::Fail(reason)
    }
}

/// A record's payload as message text: SNS carries text, so bytes that are not UTF-8 are
/// replaced.
fn text(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

/// `sqs`: `SendMessage` of each record to its rendered queue URL.
pub(crate) struct SqsSink {
    client: SqsClient,
    use_base64: bool,
}

impl SqsSink {
    pub(crate) fn new(a: &SqsAction, e: &ServiceEndpoint) -> Result<Self, SinkError> {
        let t = target("sqs", e);
        Ok(SqsSink {
            client: SqsClient::new(&t).map_err(|s| client_error("sqs", &t, s))?,
            use_base64: a.use_base64,
        })
    }
}

impl Sink for SqsSink {
    fn deliver(&mut self, records: &[Record], meta: &[Meta]) -> Vec<Outcome> {
        records
            .iter()
            .zip(meta)
            .map(|(r, m)| {
                match self
                    .client
                    .send_message(&m.key, &r.payload, self.use_base64)
                {
                    Ok(_) => Outcome::Ok,
                    Err(e) => outcome("Failed to send message to SQS queue", &e),
                }
            })
            .collect()
    }

    /// AWS's `failedResource` is the resource the failed call used: this record's rendered
    /// target.
    fn failed_resource(&self, meta: &Meta) -> Option<String> {
        Some(meta.key.to_string())
    }
}

/// `sns`: `Publish` of each record to its rendered target ARN.
pub(crate) struct SnsSink {
    client: SnsClient,
    json: bool,
}

impl SnsSink {
    pub(crate) fn new(a: &SnsAction, e: &ServiceEndpoint) -> Result<Self, SinkError> {
        let t = target("sns", e);
        Ok(SnsSink {
            client: SnsClient::new(&t).map_err(|s| client_error("sns", &t, s))?,
            json: a.message_format == SnsMessageFormat::Json,
        })
    }
}

impl Sink for SnsSink {
    fn deliver(&mut self, records: &[Record], meta: &[Meta]) -> Vec<Outcome> {
        records
            .iter()
            .zip(meta)
            .map(
                |(r, m)| match self.client.publish(&m.key, &text(&r.payload), self.json) {
                    Ok(_) => Outcome::Ok,
                    Err(e) => outcome("Failed to publish to SNS", &e),
                },
            )
            .collect()
    }

    /// AWS's `failedResource` is the resource the failed call used: this record's rendered
    /// target.
    fn failed_resource(&self, meta: &Meta) -> Option<String> {
        Some(meta.key.to_string())
    }
}

/// `dynamodbv2`: `PutItem` of each record's top-level fields into its rendered table.
pub(crate) struct DynamoDbSink {
    client: DynamoDbClient,
}

impl DynamoDbSink {
    pub(crate) fn new(_a: &DynamoDbV2Action, e: &ServiceEndpoint) -> Result<Self, SinkError> {
        let t = target("dynamodb", e);
        Ok(DynamoDbSink {
            client: DynamoDbClient::new(&t).map_err(|s| client_error("dynamodb", &t, s))?,
        })
    }
}

impl Sink for DynamoDbSink {
    fn deliver(&mut self, records: &[Record], meta: &[Meta]) -> Vec<Outcome> {
        records
            .iter()
            .zip(meta)
            .map(|(r, m)| {
                let item = serde_json::from_slice(&r.payload)
                    .map_err(|e| format!("the rule's output is not JSON: {e}"))
                    .and_then(|v| item_from_json(&v));
                match item {
                    Err(reason) => Outcome::Fail(format!(
                        "Failed to put DynamoDB item into table {}: {reason}",
                        m.key
                    )),
                    Ok(item) => match self.client.put_item(&m.key, item) {
                        Ok(()) => Outcome::Ok,
                        Err(e) => outcome("Failed to put DynamoDB item", &e),
                    },
                }
            })
            .collect()
    }

    /// AWS's `failedResource` is the resource the failed call used: this record's rendered
    /// target.
    fn failed_resource(&self, meta: &Meta) -> Option<String> {
        Some(meta.key.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> ServiceEndpoint {
        ServiceEndpoint {
            endpoint_url: Some(url.to_owned()),
            region: None,
        }
    }

    /// A client that cannot be set up is reported under its own action kind, not Kinesis's.
    #[test]
    fn a_client_setup_failure_names_the_action_kind() {
        let sqs = SqsAction {
            queue_url: weir_rules::Template::parse("http://q/1/a").expect("template"),
            use_base64: false,
        };
        let e = SqsSink::new(&sqs, &endpoint("not a url"))
            .err()
            .expect("a bad endpoint");
        assert!(
            e.to_string()
                .starts_with("remote sqs endpoint \"not a url\""),
            "{e}"
        );
        let e = DynamoDbSink::new(
            &DynamoDbV2Action {
                table_name: weir_rules::Template::parse("t").expect("template"),
            },
            &endpoint("ftp://x"),
        )
        .err()
        .expect("a bad endpoint");
        assert!(e.to_string().starts_with("remote dynamodb endpoint"), "{e}");
    }
}
