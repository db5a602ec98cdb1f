//! CreateDeliveryStream: the source, exactly one destination Weir serves (read by its module
//! in `destination/`), its stages, then the catalog, which checks the settings as a whole.

use weir_firehose::{CreateRequest, Firehose, SourceKind};

use super::destination;
use super::tags::tag_list;
use super::{encryption_input, stream_name, SOURCE_TYPES};
use crate::error::ApiError;
use crate::firehose_config as cfg;
use crate::request::Req;
use crate::value::{map, s, Val};

pub(super) fn create(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let kind = req.enumeration("DeliveryStreamType", false, &SOURCE_TYPES)?;
    let tags = tag_list(req, "Tags", false)?;
    let encryption = encryption_input(req)?;
    let kinesis_stream_arn = cfg::kinesis_source(req)?;
    req.finish()?;
    let source = source_kind(kind)?;
    let (destination, (processing, partitioning, conversion)) = destination::created(req)?;
    let arn = fh.create(CreateRequest {
        name: name.unwrap_or_default().to_owned(),
        source,
        kinesis_stream_arn,
        destination,
        tags,
        encryption,
        processing,
        partitioning,
        conversion,
    })?;
    Ok(map(vec![("DeliveryStreamARN", s(arn))]))
}

/// `DeliveryStreamType`: DirectPut when not given.
fn source_kind(kind: Option<&str>) -> Result<SourceKind, ApiError> {
    match kind {
        None | Some("DirectPut") => Ok(SourceKind::DirectPut),
        Some("KinesisStreamAsSource") => Ok(SourceKind::KinesisStreamAsSource),
        Some(other) => Err(ApiError::invalid(format!(
            "DeliveryStreamType {other} is not supported by Weir."
        ))),
    }
}
