//! DynamoDB, the call the `dynamodbv2` rule action needs: `PutItem` (JSON 1.0,
//! `DynamoDB_20120810.PutItem`, SigV4 for service `dynamodb`), to AWS or any compatible
//! endpoint (ScyllaDB Alternator, DynamoDB Local, moto).
//!
//! [`item_from_json`] is the DynamoDBv2 action's mapping, as AWS documents it ("each
//! attribute in the payload is written to a separate column"): each top-level field of the
//! rule's output becomes an attribute, typed by its JSON value: a string `S`, a number `N`
//! (its decimal text), a boolean `BOOL`, null `NULL`, an object `M`, an array `L`.

use serde_json::{json, Map, Value};

use crate::error::AwsError;
use crate::json::{JsonClient, JsonService};
use crate::service::ServiceTarget;
use crate::EgressResolver;

/// DynamoDB on the JSON protocol.
pub const DYNAMODB: JsonService = JsonService {
    signing_name: "dynamodb",
    target_prefix: "DynamoDB_20120810",
    json_version: "1.0",
};

/// A client for one DynamoDB-compatible endpoint. Cheap to clone and share across threads.
#[derive(Debug, Clone)]
pub struct DynamoDbClient {
    json: JsonClient,
}

impl DynamoDbClient {
    /// A client for `target`, every address allowed (the endpoint is the operator's).
    pub fn new(target: &ServiceTarget) -> Result<Self, AwsError> {
        Ok(DynamoDbClient {
            json: JsonClient::new(
                DYNAMODB,
                &target.endpoint,
                &target.region,
                target.credentials.clone(),
                EgressResolver::allow_all(),
            )?,
        })
    }

    /// `PutItem` of `item` (already in DynamoDB's attribute-value form) into `table`,
    /// blocking.
    pub fn put_item(&self, table: &str, item: Map<String, Value>) -> Result<(), AwsError> {
        let label = format!("PutItem to table {table:?}");
        let request = json!({"TableName": table, "Item": item});
        self.json
            .call_blocking("PutItem", &label, request.to_string().into_bytes())?;
        Ok(())
    }
}

/// The item the DynamoDBv2 action writes for a rule output: one attribute per top-level
/// field. Only an object has fields; anything else is refused with the reason.
pub fn item_from_json(output: &Value) -> Result<Map<String, Value>, String> {
    match output {
        Value::Object(fields) => Ok(fields
            .iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect()),
        other => Err(format!(
            "the rule's output is not a JSON object (it is {}): DynamoDBv2 writes one attribute per top-level field",
            match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        )),
    }
}

/// One JSON value as a DynamoDB attribute value.
fn attribute(v: &Value) -> Value {
    match v {
        Value::Null => json!({"NULL": true}),
        Value::Bool(b) => json!({"BOOL": b}),
        Value::Number(n) => json!({"N": n.to_string()}),
        Value::String(s) => json!({"S": s}),
        Value::Array(a) => json!({"L": a.iter().map(attribute).collect::<Vec<_>>()}),
        Value::Object(o) => json!({"M": o
            .iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect::<Map<String, Value>>()}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_json_type_has_its_attribute_type() {
        let item = item_from_json(&json!({
            "plate": "ABC123", "speed": 81.5, "laps": 3, "ok": true, "gone": null,
            "pos": {"lat": 1.5, "tags": ["a", 2]}
        }))
        .expect("an object");
        assert_eq!(
            Value::Object(item),
            json!({
                "plate": {"S": "ABC123"}, "speed": {"N": "81.5"}, "laps": {"N": "3"},
                "ok": {"BOOL": true}, "gone": {"NULL": true},
                "pos": {"M": {"lat": {"N": "1.5"}, "tags": {"L": [{"S": "a"}, {"N": "2"}]}}}
            })
        );
        let e = item_from_json(&json!([1])).expect_err("not an object");
        assert!(e.contains("is an array"), "{e}");
    }
}
