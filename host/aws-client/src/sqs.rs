//! SQS, the call the `sqs` rule action needs: `SendMessage`, on SQS's JSON protocol
//! (`X-Amz-Target: AmazonSQS.SendMessage`, JSON 1.0, SigV4 for service `sqs`), which AWS, moto
//! and ElasticMQ speak. The request goes to the client's endpoint with the queue's URL in the
//! body, as the AWS SDKs send it; the URL's own host is not contacted.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::error::AwsError;
use crate::json::{JsonClient, JsonService};
use crate::service::ServiceTarget;
use crate::EgressResolver;

/// SQS on the JSON protocol.
pub const SQS: JsonService = JsonService {
    signing_name: "sqs",
    target_prefix: "AmazonSQS",
    json_version: "1.0",
};

/// A client for one SQS-compatible endpoint. Cheap to clone and share across threads.
#[derive(Debug, Clone)]
pub struct SqsClient {
    json: JsonClient,
}

impl SqsClient {
    /// A client for `target`, every address allowed (the endpoint is the operator's).
    pub fn new(target: &ServiceTarget) -> Result<Self, AwsError> {
        Ok(SqsClient {
            json: JsonClient::new(
                SQS,
                &target.endpoint,
                &target.region,
                target.credentials.clone(),
                EgressResolver::allow_all(),
            )?,
        })
    }

    /// `SendMessage` of `payload` to `queue_url`, blocking (a pipeline thread calls it); the
    /// message's id. The body is the payload as text (bytes that are not UTF-8 replaced, since
    /// SQS carries text), or with `base64` its standard base64 (the action's `useBase64`).
    pub fn send_message(
        &self,
        queue_url: &str,
        payload: &[u8],
        base64: bool,
    ) -> Result<String, AwsError> {
        let body = if base64 {
            base64::engine::general_purpose::STANDARD.encode(payload)
        } else {
            String::from_utf8_lossy(payload).into_owned()
        };
        let label = format!("SendMessage to {queue_url}");
        let request = json!({"QueueUrl": queue_url, "MessageBody": body});
        let answer =
            self.json
                .call_blocking("SendMessage", &label, request.to_string().into_bytes())?;
        let value: Value = serde_json::from_slice(&answer)
            .map_err(|e| self.json.malformed(&label, format!("not JSON: {e}")))?;
        value
            .get("MessageId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| self.json.malformed(&label, "no MessageId".into()))
    }
}
