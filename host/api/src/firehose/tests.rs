//! The Firehose API on a real service (folder storage in a temporary directory): the model's
//! bounds at their edges, as boto3 sees them.

#![allow(clippy::unwrap_used)]

use weir_firehose::{Firehose, FirehoseConfig, Storage};

use super::{dispatch, FirehoseOperation};
use crate::error::{ApiError, ErrorKind};
use crate::value::{from_json, Val};

struct Service {
    fh: Firehose,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn service() -> Service {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut config = FirehoseConfig::new(
        dir.path().join("firehose"),
        Storage::Folder(dir.path().join("s3")),
    );
    // ACTIVE at once: these tests update and put right after creating.
    config.transition_delay = std::time::Duration::ZERO;
    let fh = Firehose::open(config, rt.handle().clone()).unwrap();
    Service {
        fh,
        _rt: rt,
        _dir: dir,
    }
}

fn call(fh: &Firehose, op: &str, body: &str) -> Result<Val, ApiError> {
    let op = FirehoseOperation::from_target(&format!("Firehose_20150804.{op}")).unwrap();
    dispatch(fh, op, &from_json(body.as_bytes()).unwrap())
}

/// CreateDeliveryStream of `name` with these `BufferingHints`.
fn create(fh: &Firehose, name: &str, hints: &str) -> Result<Val, ApiError> {
    call(
        fh,
        "CreateDeliveryStream",
        &format!(
            r#"{{"DeliveryStreamName":"{name}","ExtendedS3DestinationConfiguration":{{
                "RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::bucket",
                "BufferingHints":{hints}}}}}"#
        ),
    )
}

fn refusal(r: Result<Val, ApiError>) -> (ErrorKind, String) {
    let e = r.err().unwrap();
    (e.kind, e.message)
}

#[test]
fn buffering_hints_are_accepted_at_their_edges_and_refused_past_them() {
    let s = service();
    create(&s.fh, "low", r#"{"SizeInMBs":1,"IntervalInSeconds":0}"#).unwrap();
    create(
        &s.fh,
        "high",
        r#"{"SizeInMBs":128,"IntervalInSeconds":900}"#,
    )
    .unwrap();
    let d = call(
        &s.fh,
        "DescribeDeliveryStream",
        r#"{"DeliveryStreamName":"high"}"#,
    )
    .unwrap();
    let hints = d
        .get("DeliveryStreamDescription")
        .and_then(|d| d.get("Destinations"))
        .and_then(|d| match d {
            Val::Arr(a) => a.first(),
            _ => None,
        })
        .and_then(|d| d.get("ExtendedS3DestinationDescription"))
        .and_then(|d| d.get("BufferingHints"))
        .unwrap();
    assert_eq!(hints.get("SizeInMBs"), Some(&Val::Int(128)));
    assert_eq!(hints.get("IntervalInSeconds"), Some(&Val::Int(900)));
    let at = "extendedS3DestinationConfiguration.bufferingHints";
    for (hints, field, value, constraint) in [
        (
            r#"{"SizeInMBs":0}"#,
            "sizeInMBs",
            0,
            "greater than or equal to 1",
        ),
        (
            r#"{"SizeInMBs":129}"#,
            "sizeInMBs",
            129,
            "less than or equal to 128",
        ),
        (
            r#"{"IntervalInSeconds":-1}"#,
            "intervalInSeconds",
            -1,
            "greater than or equal to 0",
        ),
        (
            r#"{"IntervalInSeconds":901}"#,
            "intervalInSeconds",
            901,
            "less than or equal to 900",
        ),
    ] {
        assert_eq!(
            refusal(create(&s.fh, "past", hints)),
            (
                ErrorKind::Validation,
                format!("1 validation error detected: Value '{value}' at '{at}.{field}' failed to satisfy constraint: Member must have value {constraint}")
            ),
            "{hints}"
        );
    }
    assert!(call(
        &s.fh,
        "DescribeDeliveryStream",
        r#"{"DeliveryStreamName":"past"}"#
    )
    .is_err());
}

#[test]
fn update_destination_takes_the_same_bounds() {
    let s = service();
    create(&s.fh, "up", r#"{"SizeInMBs":5}"#).unwrap();
    let update = |version: u32, hints: &str| {
        call(
            &s.fh,
            "UpdateDestination",
            &format!(
                r#"{{"DeliveryStreamName":"up","CurrentDeliveryStreamVersionId":"{version}",
                "DestinationId":"destinationId-000000000001",
                "ExtendedS3DestinationUpdate":{{"BufferingHints":{hints}}}}}"#
            ),
        )
    };
    update(1, r#"{"IntervalInSeconds":900}"#).unwrap();
    let (kind, message) = refusal(update(2, r#"{"IntervalInSeconds":901}"#));
    assert_eq!(kind, ErrorKind::Validation);
    assert!(
        message.ends_with("'extendedS3DestinationUpdate.bufferingHints.intervalInSeconds' failed to satisfy constraint: Member must have value less than or equal to 900"),
        "{message}"
    );
}

#[test]
fn an_http_endpoint_buffers_at_most_64_mib() {
    let s = service();
    let (kind, message) = refusal(call(
        &s.fh,
        "CreateDeliveryStream",
        r#"{"DeliveryStreamName":"web","HttpEndpointDestinationConfiguration":{
            "EndpointConfiguration":{"Url":"https://example.com/in"},
            "BufferingHints":{"SizeInMBs":65},
            "S3Configuration":{"RoleARN":"arn:aws:iam::000000000000:role/r",
                "BucketARN":"arn:aws:s3:::bucket"}}}"#,
    ));
    assert_eq!(kind, ErrorKind::Validation);
    assert!(
        message.contains("'httpEndpointDestinationConfiguration.bufferingHints.sizeInMBs' failed to satisfy constraint: Member must have value less than or equal to 64"),
        "{message}"
    );
}

#[test]
fn a_record_of_the_size_limit_is_taken_and_one_byte_more_is_not() {
    use base64::Engine as _;
    let s = service();
    create(&s.fh, "rec", r#"{"SizeInMBs":1}"#).unwrap();
    let put = |len: usize| {
        let data = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; len]);
        call(
            &s.fh,
            "PutRecord",
            &format!(r#"{{"DeliveryStreamName":"rec","Record":{{"Data":"{data}"}}}}"#),
        )
    };
    put(weir_firehose_model::MAX_RECORD_BYTES).unwrap();
    let (kind, message) = refusal(put(weir_firehose_model::MAX_RECORD_BYTES + 1));
    assert_eq!(kind, ErrorKind::Validation);
    assert!(
        message.ends_with("Member must have length less than or equal to 1024000"),
        "{message}"
    );
}

#[test]
fn an_undeclared_conversion_table_points_at_firehose_tables() {
    let s = service();
    let (kind, message) = refusal(call(
        &s.fh,
        "CreateDeliveryStream",
        r#"{"DeliveryStreamName":"conv","ExtendedS3DestinationConfiguration":{
            "RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::bucket",
            "DataFormatConversionConfiguration":{"SchemaConfiguration":{
                "RoleARN":"arn:aws:iam::000000000000:role/r","DatabaseName":"db","TableName":"t"}}}}"#,
    ));
    assert_eq!(kind, ErrorKind::InvalidArgument);
    assert_eq!(message, weir_firehose_model::undeclared_table("db.t"));
    assert!(message.contains("[[firehose.tables]]"), "{message}");
}
