//! The Firehose API (`X-Amz-Target: Firehose_20150804.*`, JSON 1.1) on the same listener as
//! Kinesis: field validation as AWS's front end does it, then `weir-firehose`. Responses are
//! plain [`Val`] trees; no engine type is on the wire. Limits, names and bounds come from
//! `weir-firehose-model`, which the config and the service use too.
//!
//! Files: this one dispatches and holds the small actions (list, delete, encryption);
//! `shapes.rs` reads an S3 destination's fields, `create.rs`, `describe.rs`, `update.rs`,
//! `records.rs` (PutRecord, PutRecordBatch) and `tags.rs` are one concern each;
//! `destination/` has one module per destination (its create configuration, description and
//! update); `../firehose_config.rs` reads and writes the optional blocks (source, processing,
//! partitioning, conversion).

mod create;
mod describe;
mod destination;
mod records;
mod shapes;
mod tags;
#[cfg(test)]
mod tests;
mod update;

pub(crate) use self::shapes::bounded;
use weir_firehose::{Firehose, FirehoseError, SourceKind};
use weir_firehose_model::{FirehoseModelError, DELIVERY_STREAM_NAME_PATTERN};

use crate::error::{ApiError, ErrorKind};
use crate::request::{label, name_pattern, Req};
use crate::value::{map, s, Val};

/// Every Firehose operation Weir serves (the `X-Amz-Target` after `Firehose_20150804.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirehoseOperation {
    CreateDeliveryStream,
    DeleteDeliveryStream,
    DescribeDeliveryStream,
    ListDeliveryStreams,
    UpdateDestination,
    PutRecord,
    PutRecordBatch,
    TagDeliveryStream,
    UntagDeliveryStream,
    ListTagsForDeliveryStream,
    StartDeliveryStreamEncryption,
    StopDeliveryStreamEncryption,
}

impl FirehoseOperation {
    /// Parses `Firehose_20150804.<Action>`.
    pub fn from_target(target: &str) -> Option<Self> {
        use FirehoseOperation::*;
        Some(match target.strip_prefix("Firehose_20150804.")? {
            "CreateDeliveryStream" => CreateDeliveryStream,
            "DeleteDeliveryStream" => DeleteDeliveryStream,
            "DescribeDeliveryStream" => DescribeDeliveryStream,
            "ListDeliveryStreams" => ListDeliveryStreams,
            "UpdateDestination" => UpdateDestination,
            "PutRecord" => PutRecord,
            "PutRecordBatch" => PutRecordBatch,
            "TagDeliveryStream" => TagDeliveryStream,
            "UntagDeliveryStream" => UntagDeliveryStream,
            "ListTagsForDeliveryStream" => ListTagsForDeliveryStream,
            "StartDeliveryStreamEncryption" => StartDeliveryStreamEncryption,
            "StopDeliveryStreamEncryption" => StopDeliveryStreamEncryption,
            _ => return None,
        })
    }

    pub fn carries_data(self) -> bool {
        matches!(
            self,
            FirehoseOperation::PutRecord | FirehoseOperation::PutRecordBatch
        )
    }
}

impl From<FirehoseError> for ApiError {
    fn from(e: FirehoseError) -> Self {
        let kind = match &e {
            FirehoseError::NotFound(_) => ErrorKind::ResourceNotFound,
            FirehoseError::InUse(_) => ErrorKind::ResourceInUse,
            FirehoseError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            FirehoseError::Validation(_) => ErrorKind::Validation,
            FirehoseError::LimitExceeded(_) => ErrorKind::LimitExceeded,
            FirehoseError::ConcurrentModification(_) => ErrorKind::ConcurrentModification,
            _ => {
                tracing::error!(error = %weir_support::error_chain(&e), "Firehose failure");
                return ApiError::new(
                    ErrorKind::ServiceUnavailable,
                    "The service is unavailable. Back off and retry the operation.",
                );
            }
        };
        ApiError::new(kind, e.to_string())
    }
}

impl From<FirehoseModelError> for ApiError {
    fn from(e: FirehoseModelError) -> Self {
        ApiError::from(FirehoseError::from(e))
    }
}

/// Runs one Firehose operation.
pub fn dispatch(fh: &Firehose, op: FirehoseOperation, body: &Val) -> Result<Val, ApiError> {
    let mut req = Req::new(body)?;
    use FirehoseOperation::*;
    match op {
        CreateDeliveryStream => create::create(fh, &mut req),
        DeleteDeliveryStream => delete(fh, &mut req),
        DescribeDeliveryStream => describe::describe(fh, &mut req),
        ListDeliveryStreams => list(fh, &mut req),
        UpdateDestination => update::update_destination(fh, &mut req),
        PutRecord => records::put_record(fh, &mut req),
        PutRecordBatch => records::put_record_batch(fh, &mut req),
        TagDeliveryStream => tags::tag(fh, &mut req),
        UntagDeliveryStream => tags::untag(fh, &mut req),
        ListTagsForDeliveryStream => tags::list_tags(fh, &mut req),
        StartDeliveryStreamEncryption => start_encryption(fh, &mut req),
        StopDeliveryStreamEncryption => stop_encryption(fh, &mut req),
    }
}

fn stream_name<'a>(req: &mut Req<'a>) -> Result<Option<&'a str>, ApiError> {
    req.string(
        "DeliveryStreamName",
        true,
        1,
        64,
        Some((DELIVERY_STREAM_NAME_PATTERN, name_pattern)),
    )
}

/// `DeliveryStreamType`'s values; Weir serves the first two.
const SOURCE_TYPES: [&str; 4] = [
    "DirectPut",
    "KinesisStreamAsSource",
    "MSKAsSource",
    "DatabaseAsSource",
];

/// A nested structure, or a SerializationException naming the field.
pub(crate) fn structure<'a>(v: &'a Val, field: &str) -> Result<Req<'a>, ApiError> {
    match v {
        Val::Map(_) => Req::new(v),
        other => Err(ApiError::serialization(format!(
            "{} can not be converted to a structure (at '{field}')",
            other.kind()
        ))),
    }
}

/// `DeliveryStreamEncryptionConfigurationInput`: `(KeyType, KeyARN)`.
fn encryption_input(req: &mut Req<'_>) -> Result<Option<(String, Option<String>)>, ApiError> {
    let field = "DeliveryStreamEncryptionConfigurationInput";
    let Some(v) = req.raw(field) else {
        return Ok(None);
    };
    let mut r = structure(v, field)?;
    let key_type = r
        .enumeration("KeyType", true, &["AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK"])?
        .unwrap_or_default()
        .to_owned();
    let key_arn = r.string("KeyARN", false, 1, 512, None)?.map(str::to_owned);
    req.absorb(&mut r, &label(field));
    Ok(Some((key_type, key_arn)))
}

fn list(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let limit = req.int("Limit", false, 1, 10_000)?.unwrap_or(10) as usize;
    let kind = req.enumeration("DeliveryStreamType", false, &SOURCE_TYPES)?;
    let start = req.string(
        "ExclusiveStartDeliveryStreamName",
        false,
        1,
        64,
        Some((DELIVERY_STREAM_NAME_PATTERN, name_pattern)),
    )?;
    req.finish()?;
    let kind = match kind {
        Some("DirectPut") => Some(SourceKind::DirectPut),
        Some("KinesisStreamAsSource") => Some(SourceKind::KinesisStreamAsSource),
        // No MSK or database sources exist here: the filter matches nothing.
        Some(_) => return Ok(names_page(Vec::new(), false)),
        None => None,
    };
    let (names, more) = fh.list(limit, start, kind);
    Ok(names_page(names, more))
}

fn names_page(names: Vec<String>, more: bool) -> Val {
    map(vec![
        (
            "DeliveryStreamNames",
            Val::Arr(names.into_iter().map(s).collect()),
        ),
        ("HasMoreDeliveryStreams", Val::Bool(more)),
    ])
}

fn delete(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    req.boolean("AllowForceDelete")?;
    req.finish()?;
    fh.delete(name.unwrap_or_default())?;
    Ok(map(vec![]))
}

fn start_encryption(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let input = encryption_input(req)?;
    req.finish()?;
    let on = input.unwrap_or_else(|| ("AWS_OWNED_CMK".to_owned(), None));
    fh.set_encryption(name.unwrap_or_default(), Some(on))?;
    Ok(map(vec![]))
}

fn stop_encryption(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    req.finish()?;
    fh.set_encryption(name.unwrap_or_default(), None)?;
    Ok(map(vec![]))
}
