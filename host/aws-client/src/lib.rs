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
//!
//! To add a service on the JSON protocol (SQS, DynamoDB): a file with its [`JsonService`]
//! (signing name, target prefix, JSON version) and one method per operation that builds the
//! body, calls [`JsonClient::call`] and reads the answer, like `kinesis.rs`. SNS speaks the
//! query protocol (a form body, XML answers): it would reuse `credentials`, `egress` and the
//! signing, with its own request builder.
//!
//! One HTTP stack: reqwest (rustls with ring, no aws-lc), the client `object_store` already
//! builds; `s3` drives hyper, the client under reqwest, directly. This is the crate that uses
//! the network and reads the clock (SigV4 signs the time of the request).

mod credentials;
pub mod egress;
mod error;
mod json;
mod kinesis;
mod s3;
mod signing;

pub use credentials::{Credentials, ANONYMOUS_KEY, DEFAULT_REGION};
pub use egress::{EgressResolver, Lookup, NameRefused, SystemLookup};
pub use error::{parse_error, AwsError};
pub use json::{JsonClient, JsonService, CALL_TIMEOUT, CONNECT_TIMEOUT, MAX_RESPONSE_BYTES};
pub use kinesis::{KinesisClient, KINESIS, MAX_PUT_RECORDS};
pub use s3::{put_object_exact, ExactPut, ExactPutClient, ExactPutError};
