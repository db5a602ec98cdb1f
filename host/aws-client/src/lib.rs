//! Weir's client for AWS services and their open counterparts (another Weir, moto, MinIO,
//! ScyllaDB Alternator): the pieces every call shares, and one file per service.
//!
//! - `json`: the AWS JSON protocol (Kinesis, DynamoDB, SQS): SigV4 through `weir-sigv4`,
//!   `X-Amz-Target`, `application/x-amz-json-1.x`, bounded calls (5 s to connect, 30 s per
//!   call, 1 MiB answers), async or blocking.
//! - `error`: [`AwsError`], AWS's `__type` and message parsed from an error answer, and which
//!   failures are worth retrying (connection, 5xx, throttling) and which are not (validation,
//!   authentication, missing resources, egress refusals).
//! - `egress`: the operator's egress policy (`weir_support::egress`) checked on every
//!   connection, after DNS resolution, as reqwest's resolver.
//! - `credentials`: keys and region, given or from the `AWS_*` environment.
//! - `kinesis`: `PutRecords` (the `kinesis` rule action's remote target).
//! - `s3`: a signed `PutObject` whose key reaches the server byte for byte (Firehose's keys
//!   that `object_store` cannot carry).
//! - `signing`: the SigV4 `Authorization` header both protocols send.
//! - `service`: a rule action's endpoint, region and keys (`[sqs]` / `[sns]` / `[dynamodb]`
//!   or the `AWS_*` environment), [`ServiceTarget`].
//! - `sqs`: `SendMessage` (JSON protocol); `dynamodb`: `PutItem` (JSON protocol) and the
//!   DynamoDBv2 action's JSON-to-attribute mapping; `sns`: `Publish` (the query protocol: a
//!   form body, XML answers, its own small request builder over the same signing).
//! - `http_action`: the `http` rule action's POST, with AWS's retry rules.
//!
//! To add a service on the JSON protocol: a file with its [`JsonService`] (signing name,
//! target prefix, JSON version) and one method per operation that builds the body, calls
//! [`JsonClient::call`] and reads the answer, like `kinesis.rs` or `sqs.rs`.
//!
//! One HTTP stack: reqwest (rustls with ring, no aws-lc), the client `object_store` already
//! builds; `s3` drives hyper, the client under reqwest, directly. This is the crate that uses
//! the network and reads the clock (SigV4 signs the time of the request).

mod credentials;
mod dynamodb;
pub mod egress;
mod error;
mod http_action;
mod json;
mod kinesis;
mod s3;
mod service;
mod signing;
mod sns;
mod sqs;

pub use credentials::{Credentials, ANONYMOUS_KEY, DEFAULT_REGION};
pub use dynamodb::{item_from_json, DynamoDbClient, DYNAMODB};
pub use egress::{EgressResolver, Lookup, NameRefused, SystemLookup};
pub use error::{parse_error, AwsError};
pub use http_action::{HttpActionClient, HttpActionError, MAX_HTTP_ANSWER_BYTES, TRY_TIMEOUT};
pub use json::{JsonClient, JsonService, CALL_TIMEOUT, CONNECT_TIMEOUT, MAX_RESPONSE_BYTES};
pub use kinesis::{KinesisClient, KINESIS, MAX_PUT_RECORDS};
pub use s3::{put_object_exact, put_object_with, ExactPut, ExactPutClient, ExactPutError};
pub use service::ServiceTarget;
pub use sns::SnsClient;
pub use sqs::{SqsClient, SQS};
