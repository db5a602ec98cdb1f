//! The Lambda output contract: the event a destination function receives and the response
//! it must return (Developer Guide, "Using a Lambda Function as Output",
//! https://docs.aws.amazon.com/kinesisanalytics/latest/dev/how-it-works-output-lambda.html;
//! field names as the Lambda Java events `KinesisAnalyticsOutputDeliveryEvent` and
//! `...Response` spell them).
//!
//! Event: `{"invocationId", "applicationArn", "records": [{"recordId",
//! "lambdaDeliveryRecordMetadata": {"retryHint"}, "data": BASE64}]}`.
//! Response: `{"records": [{"recordId", "result": "Ok" | "DeliveryFailed"}]}`. A record
//! missing from the response, with another id, or without a result is a delivery failure,
//! and failed records are sent again (with a higher `retryHint`) until they are delivered.

use std::fmt::Write as _;

use crate::input::json::{self, write_json_string, Json};

/// One output record to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaRecord {
    /// Unique within the invocation (the service uses a random GUID).
    pub record_id: String,
    /// How many times this record's delivery has failed before.
    pub retry_hint: u64,
    /// The serialised row (`serialize`'s bytes).
    pub data: Vec<u8>,
}

/// The invocation's JSON payload.
pub fn delivery_event(
    invocation_id: &str,
    application_arn: &str,
    records: &[LambdaRecord],
) -> Vec<u8> {
    let mut out = String::from("{\"invocationId\":");
    write_json_string(invocation_id, &mut out);
    out.push_str(",\"applicationArn\":");
    write_json_string(application_arn, &mut out);
    out.push_str(",\"records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"recordId\":");
        write_json_string(&r.record_id, &mut out);
        let _ = write!(
            out,
            ",\"lambdaDeliveryRecordMetadata\":{{\"retryHint\":{}}},\"data\":\"{}\"}}",
            r.retry_hint,
            base64(&r.data)
        );
    }
    out.push_str("]}");
    out.into_bytes()
}

/// What the function said about each record sent, in the order sent: `true` for `Ok`.
/// `problem` says why some records count as failed (an unreadable response, a missing or
/// unknown record id, a result other than `Ok` / `DeliveryFailed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    pub delivered: Vec<bool>,
    pub problem: Option<String>,
}

impl DeliveryOutcome {
    pub fn all_delivered(&self) -> bool {
        self.delivered.iter().all(|d| *d)
    }
}

/// Reads the function's response for the records sent (by id, in the order sent).
pub fn read_delivery_response(response: &[u8], sent_ids: &[&str]) -> DeliveryOutcome {
    let failed = |problem: String| DeliveryOutcome {
        delivered: vec![false; sent_ids.len()],
        problem: Some(problem),
    };
    let Ok(text) = std::str::from_utf8(response) else {
        return failed("the response is not UTF-8".into());
    };
    let doc = match json::parse(text) {
        Ok(d) => d,
        Err(e) => return failed(format!("the response is not JSON: {e}")),
    };
    let Some(Json::Array(records)) = doc.get("records") else {
        return failed("the response has no \"records\" array".into());
    };
    let mut delivered = vec![false; sent_ids.len()];
    let mut answered = vec![false; sent_ids.len()];
    let mut problems = Vec::new();
    for r in records {
        let id = match r.get("recordId") {
            Some(Json::String(id)) => id,
            _ => {
                problems.push("a response record has no recordId".to_string());
                continue;
            }
        };
        let Some(pos) = sent_ids.iter().position(|s| s == id) else {
            problems.push(format!("recordId {id:?} was not sent"));
            continue;
        };
        answered[pos] = true;
        match r.get("result") {
            Some(Json::String(s)) if s == "Ok" => delivered[pos] = true,
            Some(Json::String(s)) if s == "DeliveryFailed" => {}
            _ => problems.push(format!(
                "recordId {id:?} has no result Ok or DeliveryFailed"
            )),
        }
    }
    let missing = answered.iter().filter(|a| !**a).count();
    if missing > 0 {
        problems.push(format!("{missing} record(s) missing from the response"));
    }
    DeliveryOutcome {
        delivered,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// Standard base64 with padding (RFC 4648), as Lambda events carry `data`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn event_has_the_documented_fields() {
        let event = delivery_event(
            "inv-1",
            "arn:aws:kinesisanalytics:us-east-1:123456789012:application/app",
            &[LambdaRecord {
                record_id: "r1".into(),
                retry_hint: 2,
                data: br#"{"A":1}"#.to_vec(),
            }],
        );
        let v: serde_json::Value = serde_json::from_slice(&event).expect("JSON");
        assert_eq!(
            v,
            serde_json::json!({
                "invocationId": "inv-1",
                "applicationArn": "arn:aws:kinesisanalytics:us-east-1:123456789012:application/app",
                "records": [{
                    "recordId": "r1",
                    "lambdaDeliveryRecordMetadata": {"retryHint": 2},
                    "data": "eyJBIjoxfQ=="
                }]
            })
        );
    }

    #[test]
    fn response_acknowledges_by_record_id() {
        let ids = ["a", "b", "c"];
        let r = read_delivery_response(
            br#"{"records":[{"recordId":"b","result":"Ok"},{"recordId":"a","result":"DeliveryFailed"},{"recordId":"c","result":"Ok"}]}"#,
            &ids,
        );
        assert_eq!(r.delivered, vec![false, true, true]);
        assert_eq!(r.problem, None);
        // "Not all records ... are returned", "missing either the record ID or the status
        // field", an id that was not sent: failures.
        let r = read_delivery_response(
            br#"{"records":[{"recordId":"a"},{"result":"Ok"},{"recordId":"z","result":"Ok"}]}"#,
            &ids,
        );
        assert_eq!(r.delivered, vec![false, false, false]);
        let problem = r.problem.expect("problems");
        assert!(
            problem.contains("missing") && problem.contains("\"z\""),
            "{problem}"
        );
        for bad in [&b"nope"[..], b"{}", &[0xff]] {
            let r = read_delivery_response(bad, &ids);
            assert!(!r.all_delivered() && r.problem.is_some());
        }
    }
}
