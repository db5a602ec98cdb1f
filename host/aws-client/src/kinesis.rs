//! Kinesis, the calls the `kinesis` rule action's remote target needs: `PutRecords` of up to
//! 500 entries into a Kinesis-compatible endpoint (AWS Kinesis, or another Weir's API), used
//! when the action's config has `endpoint = "https://..."`.
//!
//! One request per call, through [`JsonClient`] (`X-Amz-Target:
//! Kinesis_20131202.PutRecords`, JSON 1.1, SigV4 for service `kinesis`). Failures of the whole
//! call are an [`AwsError`]; per-record failures inside a successful answer are
//! [`PutOutcome::Throttled`] (`ProvisionedThroughputExceededException`) or
//! [`PutOutcome::Failed`] (any other `ErrorCode`), one outcome per entry, in order.
//!
//! To add a Kinesis operation here: a method that builds its JSON body, calls
//! [`JsonClient::call`] (or `call_blocking`) with the operation's name, and reads the answer.

use base64::Engine as _;
use serde_json::Value;

use weir_streams::{PutEntry, PutOutcome};

use crate::credentials::Credentials;
use crate::egress::EgressResolver;
use crate::error::AwsError;
use crate::json::{JsonClient, JsonService};

pub use weir_streams::MAX_PUT_RECORDS;

/// Kinesis Data Streams on the JSON protocol.
pub const KINESIS: JsonService = JsonService {
    signing_name: "kinesis",
    target_prefix: "Kinesis_20131202",
    json_version: "1.1",
};

/// A client for one Kinesis-compatible endpoint. Cheap to clone and share across threads;
/// connections are pooled and reused.
#[derive(Debug, Clone)]
pub struct KinesisClient {
    json: JsonClient,
}

impl KinesisClient {
    /// A client for `endpoint`, `http(s)://host[:port][/]` (no path, query or user info),
    /// signing for `region` (e.g. `us-east-1`) with `credentials`, connecting only where
    /// `egress` allows (`EgressResolver::allow_all()` for an endpoint the operator wrote).
    pub fn new(
        endpoint: &str,
        region: &str,
        credentials: Credentials,
        egress: EgressResolver,
    ) -> Result<Self, AwsError> {
        Ok(KinesisClient {
            json: JsonClient::new(KINESIS, endpoint, region, credentials, egress)?,
        })
    }

    /// A client for `endpoint` configured the way the AWS CLI and SDKs are (region and keys
    /// from the environment, see [`Credentials::from_lookup`]), for an endpoint the operator
    /// wrote in the config file: every address allowed. An endpoint an API caller chose must
    /// go through [`Self::new`] with the operator's egress policy instead.
    pub fn from_env(endpoint: &str) -> Result<Self, AwsError> {
        let (region, credentials) =
            Credentials::from_lookup(endpoint, |name| std::env::var(name).ok());
        Self::new(endpoint, &region, credentials, EgressResolver::allow_all())
    }

    /// Where requests go (`scheme://host[:port]/`).
    pub fn endpoint(&self) -> &str {
        self.json.endpoint()
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        self.json.region()
    }

    /// `PutRecords` of up to 500 entries into `stream`, blocking (a pipeline thread calls
    /// it); one outcome per entry, in order. No entries: no request, and an empty answer.
    pub fn put_records(
        &self,
        stream: &str,
        entries: &[PutEntry],
    ) -> Result<Vec<PutOutcome>, AwsError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let label = format!("PutRecords to stream {stream:?}");
        if entries.len() > MAX_PUT_RECORDS {
            return Err(self.json.invalid(
                &label,
                format!(
                    "{} entries; one call takes at most {MAX_PUT_RECORDS}",
                    entries.len()
                ),
            ));
        }
        let answer =
            self.json
                .call_blocking("PutRecords", &label, request_body(stream, entries))?;
        parse_outcomes(&answer, entries.len()).map_err(|reason| self.json.malformed(&label, reason))
    }
}

/// The JSON body of a `PutRecords` request.
fn request_body(stream: &str, entries: &[PutEntry]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut r = serde_json::Map::new();
            r.insert("Data".into(), Value::String(b64.encode(&e.data)));
            r.insert(
                "PartitionKey".into(),
                Value::String(e.partition_key.clone()),
            );
            if let Some(h) = e.explicit_hash_key {
                r.insert("ExplicitHashKey".into(), Value::String(h.to_string()));
            }
            Value::Object(r)
        })
        .collect();
    let body = serde_json::json!({ "StreamName": stream, "Records": records });
    serde_json::to_vec(&body).unwrap_or_else(|_| unreachable!("a JSON value serialises"))
}

/// The outcomes in a `PutRecords` answer, checked against the number of entries sent.
fn parse_outcomes(body: &[u8], expected: usize) -> Result<Vec<PutOutcome>, String> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let records = json
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("no Records list")?;
    if records.len() != expected {
        return Err(format!("{} results for {expected} records", records.len()));
    }
    let text = |r: &Value, name: &str| r.get(name).and_then(Value::as_str).map(str::to_owned);
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if let Some(code) = text(r, "ErrorCode") {
                let message = text(r, "ErrorMessage").unwrap_or_else(|| code.clone());
                return Ok(if code == "ProvisionedThroughputExceededException" {
                    PutOutcome::Throttled { message }
                } else {
                    PutOutcome::Failed {
                        message: format!("{code}: {message}"),
                    }
                });
            }
            match (text(r, "ShardId"), text(r, "SequenceNumber")) {
                (Some(shard_id), Some(sequence_number)) => Ok(PutOutcome::Ok {
                    shard_id,
                    sequence_number,
                }),
                _ => Err(format!(
                    "result {i} has neither ErrorCode nor ShardId and SequenceNumber"
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use weir_api::{router, ApiConfig, ApiState};
    use weir_streams::{shard_id, StartPosition, Streams, StreamsConfig};

    const AKID: &str = "AKIDWEIRTEST";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYWEIRKEY";

    /// Weir's own Kinesis API, verifying signatures against `AKID`/`SECRET`, on 127.0.0.1
    /// with a free port, served by a tokio runtime's worker thread while the test thread
    /// makes blocking calls. Dropping it stops the runtime.
    struct Server {
        streams: Streams,
        endpoint: String,
        _rt: tokio::runtime::Runtime,
        _dir: tempfile::TempDir,
    }

    fn server() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let streams = Streams::open(StreamsConfig::new(dir.path())).expect("open streams");
        let state = ApiState::new(
            streams.clone(),
            ApiConfig {
                keys: HashMap::from([(AKID.to_owned(), SECRET.to_owned())]),
                ..ApiConfig::default()
            },
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        rt.spawn(async move {
            let _ = axum::serve(listener, router(state)).await;
        });
        Server {
            streams,
            endpoint: format!("http://{addr}"),
            _rt: rt,
            _dir: dir,
        }
    }

    /// A client for `endpoint` that may connect anywhere (the test servers are on loopback).
    fn open_client(
        endpoint: &str,
        region: &str,
        c: Credentials,
    ) -> Result<KinesisClient, AwsError> {
        KinesisClient::new(endpoint, region, c, EgressResolver::allow_all())
    }

    fn creds(secret: &str) -> Credentials {
        Credentials {
            access_key_id: AKID.to_owned(),
            secret_access_key: secret.to_owned(),
            session_token: None,
        }
    }

    fn entry(key: &str, hash: Option<u128>, data: &[u8]) -> PutEntry {
        PutEntry {
            partition_key: key.to_owned(),
            explicit_hash_key: hash,
            data: data.to_vec(),
        }
    }

    fn read_shard(streams: &Streams, stream: &str, shard: &str) -> Vec<(String, Vec<u8>, String)> {
        let it = streams
            .get_shard_iterator(stream, shard, &StartPosition::TrimHorizon)
            .expect("iterator");
        streams
            .get_records(&it, 100)
            .expect("get records")
            .records
            .into_iter()
            .map(|r| (r.partition_key, r.data, r.sequence_number))
            .collect()
    }

    #[test]
    fn puts_signed_records_that_read_back_in_order() {
        let srv = server();
        srv.streams.ensure_stream("orders", 2, 24).expect("stream");
        let client = open_client(&srv.endpoint, "eu-west-1", creds(SECRET)).expect("new");
        // Shard 1 of 2 starts at 2^127; the explicit hash key sends the third record there
        // whatever its partition key hashes to.
        let high = (1u128 << 127) + 12345;
        let entries = [
            entry("95B•140", None, b"{\"temp\":21.5}"),
            entry("95B•140", None, &[0, 159, 146, 150, 255]),
            entry("95B•140", Some(high), b"third"),
        ];
        let outcomes = client.put_records("orders", &entries).expect("put");
        assert_eq!(outcomes.len(), 3);
        let mut written = Vec::new();
        for o in &outcomes {
            match o {
                PutOutcome::Ok {
                    shard_id,
                    sequence_number,
                } => written.push((shard_id.clone(), sequence_number.clone())),
                other => panic!("record not written: {other:?}"),
            }
        }
        assert_eq!(
            written[2].0,
            shard_id(1),
            "ExplicitHashKey routes to shard 1"
        );
        // The first two share a partition key, hence a shard, in order.
        assert_eq!(written[0].0, written[1].0);
        let first = read_shard(&srv.streams, "orders", &written[0].0);
        let same_shard: Vec<_> = written
            .iter()
            .zip(&entries)
            .filter(|((s, _), _)| *s == written[0].0)
            .collect();
        assert_eq!(first.len(), same_shard.len());
        for ((key, data, seq), ((_, want_seq), e)) in first.iter().zip(&same_shard) {
            assert_eq!(key, &e.partition_key);
            assert_eq!(data, &e.data);
            assert_eq!(seq, want_seq);
        }
        let third = read_shard(&srv.streams, "orders", &shard_id(1));
        let last = third.last().expect("record on shard 1");
        assert_eq!(last.0, "95B•140");
        assert_eq!(last.1, b"third");
        assert_eq!(last.2, written[2].1);

        // An empty call sends nothing; more than 500 is refused before sending.
        assert_eq!(client.put_records("orders", &[]).expect("empty"), vec![]);
        let many = vec![entry("k", None, b"x"); 501];
        let e = client.put_records("orders", &many).expect_err("too many");
        assert!(matches!(e, AwsError::InvalidRequest { .. }), "{e}");
    }

    #[test]
    fn wrong_secret_names_the_aws_error() {
        let srv = server();
        srv.streams.ensure_stream("s", 1, 24).expect("stream");
        let client = open_client(&srv.endpoint, "us-east-1", creds("not-the-secret")).expect("new");
        let e = client
            .put_records("s", &[entry("k", None, b"x")])
            .expect_err("bad signature");
        assert_eq!(e.aws_error_type(), Some("InvalidSignatureException"), "{e}");
        let text = e.to_string();
        assert!(text.contains("InvalidSignatureException"), "{text}");
        assert!(
            text.contains(&srv.endpoint) && text.contains("\"s\""),
            "{text}"
        );
        assert!(!e.is_retryable());
        // Nothing was written.
        assert!(read_shard(&srv.streams, "s", &shard_id(0)).is_empty());

        // Unknown key id: a different AWS error, same shape.
        let mut unknown = creds(SECRET);
        unknown.access_key_id = "AKIDNOBODY".into();
        let client = open_client(&srv.endpoint, "us-east-1", unknown).expect("new");
        let e = client
            .put_records("s", &[entry("k", None, b"x")])
            .expect_err("unknown key");
        assert_eq!(
            e.aws_error_type(),
            Some("UnrecognizedClientException"),
            "{e}"
        );
    }

    #[test]
    fn missing_stream_is_resource_not_found() {
        let srv = server();
        let client = open_client(&srv.endpoint, "us-east-1", creds(SECRET)).expect("new");
        let e = client
            .put_records("nope", &[entry("k", None, b"x")])
            .expect_err("missing stream");
        match &e {
            AwsError::Service {
                status,
                error_type,
                operation,
                ..
            } => {
                assert_eq!(*status, 400);
                assert_eq!(error_type, "ResourceNotFoundException");
                assert_eq!(operation, "PutRecords to stream \"nope\"");
            }
            other => panic!("expected an HTTP error, got {other:?}"),
        }
        assert!(e.to_string().contains("ResourceNotFoundException"), "{e}");
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        // The verifier checks the token header's presence in the signature, not the token.
        let srv = server();
        srv.streams.ensure_stream("s", 1, 24).expect("stream");
        let mut c = creds(SECRET);
        c.session_token = Some("FQoGZXIvYXdzEXAMPLETOKEN==".into());
        let client = open_client(&format!("{}/", srv.endpoint), "us-east-1", c).expect("new");
        let out = client
            .put_records("s", &[entry("k", None, b"x")])
            .expect("put");
        assert!(matches!(out[0], PutOutcome::Ok { .. }), "{out:?}");
        let headers = client
            .json
            .signed_headers("PutRecords", b"{}", chrono::Utc::now());
        let auth = &headers.last().expect("authorization").1;
        assert!(auth.contains("x-amz-security-token"), "{auth}");
        assert!(!format!("{client:?}").contains(SECRET));
    }

    #[test]
    fn unreachable_endpoint_is_a_connection_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        let client = open_client(&endpoint, "us-east-1", creds(SECRET)).expect("new");
        let e = client
            .put_records("s", &[entry("k", None, b"x")])
            .expect_err("nothing listens");
        assert!(matches!(e, AwsError::Connection { .. }), "{e:?}");
        assert!(e.to_string().contains(&endpoint), "{e}");
        assert!(e.is_retryable());
    }

    /// Names resolved from a table, so a test can point a name at loopback.
    struct MapLookup(HashMap<String, Vec<std::net::IpAddr>>);

    impl crate::egress::Lookup for MapLookup {
        fn lookup(&self, host: &str) -> std::io::Result<Vec<std::net::IpAddr>> {
            self.0
                .get(host)
                .cloned()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))
        }
    }

    #[test]
    fn a_private_endpoint_is_refused_unless_the_policy_allows_it() {
        use weir_support::egress::EgressPolicy;
        let srv = server();
        srv.streams.ensure_stream("s", 1, 24).expect("stream");
        let closed = KinesisClient::new(
            &srv.endpoint,
            "us-east-1",
            creds(SECRET),
            EgressResolver::new(EgressPolicy::default()),
        )
        .expect("new");
        let e = closed
            .put_records("s", &[entry("k", None, b"x")])
            .expect_err("loopback literal");
        assert!(matches!(e, AwsError::Refused { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("127.0.0.1 is a loopback address in 127.0.0.0/8"),
            "{e}"
        );
        assert!(!e.is_retryable());
        // A name that resolves to loopback is refused by the resolver, at connect time.
        let port = srv.endpoint.rsplit(':').next().expect("port");
        let lookup = Arc::new(MapLookup(HashMap::from([(
            "inside.test".to_owned(),
            vec!["127.0.0.1".parse().expect("ip")],
        )])));
        let by_name = KinesisClient::new(
            &format!("http://inside.test:{port}"),
            "us-east-1",
            creds(SECRET),
            EgressResolver::new(EgressPolicy::default()).with_lookup(lookup.clone()),
        )
        .expect("new");
        let e = by_name
            .put_records("s", &[entry("k", None, b"x")])
            .expect_err("name inside");
        assert!(matches!(e, AwsError::Refused { .. }), "{e:?}");
        assert!(
            e.to_string().contains(
                "inside.test resolves only to refused addresses: 127.0.0.1 is a loopback address"
            ),
            "{e}"
        );
        assert!(read_shard(&srv.streams, "s", &shard_id(0)).is_empty());
        // Allow-listed, the same name is delivered to.
        let listed = KinesisClient::new(
            &format!("http://inside.test:{port}"),
            "us-east-1",
            creds(SECRET),
            EgressResolver::new(EgressPolicy::new(
                false,
                vec!["127.0.0.1".parse().expect("entry")],
            ))
            .with_lookup(lookup),
        )
        .expect("new");
        let out = listed
            .put_records("s", &[entry("k", None, b"x")])
            .expect("allowed");
        assert!(matches!(out[0], PutOutcome::Ok { .. }), "{out:?}");
        assert_eq!(read_shard(&srv.streams, "s", &shard_id(0)).len(), 1);
    }

    #[test]
    fn answers_are_parsed_strictly() {
        let ok = br#"{"FailedRecordCount":2,"Records":[
            {"ShardId":"shardId-000000000000","SequenceNumber":"1"},
            {"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"slow down"},
            {"ErrorCode":"InternalFailure","ErrorMessage":"disk"}]}"#;
        assert_eq!(
            parse_outcomes(ok, 3).expect("parse"),
            vec![
                PutOutcome::Ok {
                    shard_id: "shardId-000000000000".into(),
                    sequence_number: "1".into()
                },
                PutOutcome::Throttled {
                    message: "slow down".into()
                },
                PutOutcome::Failed {
                    message: "InternalFailure: disk".into()
                },
            ]
        );
        assert!(parse_outcomes(ok, 2).is_err(), "count mismatch");
        assert!(parse_outcomes(b"{}", 1).is_err());
        assert!(parse_outcomes(b"not json", 1).is_err());
        assert!(parse_outcomes(br#"{"Records":[{"ShardId":"x"}]}"#, 1).is_err());
    }

    #[test]
    fn request_body_matches_the_wire_format() {
        let body = request_body(
            "s",
            &[
                entry("95B•140", None, b"hi"),
                entry("k", Some(u128::MAX), b""),
            ],
        );
        let v: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            v,
            serde_json::json!({
                "StreamName": "s",
                "Records": [
                    {"Data": "aGk=", "PartitionKey": "95B•140"},
                    {"Data": "", "PartitionKey": "k",
                     "ExplicitHashKey": "340282366920938463463374607431768211455"},
                ]
            })
        );
    }
}
