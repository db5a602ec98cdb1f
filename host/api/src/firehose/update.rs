//! UpdateDestination: what is given replaces what was, checked by the catalog as a create.

use weir_firehose::{Buffering, DeliveryStreamSpec, Firehose, FirehoseError};

use super::shapes::{s3_fields, S3Fields};
use super::stream_name;
use crate::error::ApiError;
use crate::request::Req;
use crate::value::{map, Val};

pub(super) fn update_destination(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let version = req.string(
        "CurrentDeliveryStreamVersionId",
        true,
        1,
        50,
        Some(("[0-9]+", |v: &str| v.bytes().all(|b| b.is_ascii_digit()))),
    )?;
    let dest_id = req.string("DestinationId", true, 1, 100, None)?;
    req.finish()?;
    let update = ["ExtendedS3DestinationUpdate", "S3DestinationUpdate"]
        .into_iter()
        .find_map(|f| req.raw(f).map(|v| (f, v)));
    let fields = match update {
        Some((field, v)) => {
            let f = s3_fields(req, v, field, false)?;
            req.finish()?;
            if field == "S3DestinationUpdate" && f.extras() {
                return Err(ApiError::invalid(
                    "S3DestinationUpdate has no processing, partitioning or format conversion; use ExtendedS3DestinationUpdate.",
                ));
            }
            Some(f)
        }
        None => None,
    };
    if req.raw("HttpEndpointDestinationUpdate").is_some() {
        return Err(ApiError::invalid(
            "Weir does not change an HTTP endpoint destination in UpdateDestination; create a new delivery stream.",
        ));
    }
    fh.update_destination(
        name.unwrap_or_default(),
        version.unwrap_or_default(),
        dest_id.unwrap_or_default(),
        |spec| {
            let Some(f) = fields else { return Ok(()) };
            merge_update(spec, f)
        },
    )?;
    Ok(map(vec![]))
}

/// Merges an UpdateDestination into a stream's settings, as Firehose does: what is given
/// replaces what was, what is left out stays. A `ProcessingConfiguration` or
/// `DataFormatConversionConfiguration` with `Enabled: false` turns that stage off. Dynamic
/// partitioning can not be turned on or off on an existing stream (AWS refuses both), but its
/// query and retry duration can change. The catalog checks the merged settings as a create's.
fn merge_update(spec: &mut DeliveryStreamSpec, f: S3Fields) -> weir_firehose::Result<()> {
    let invalid = |m: &str| Err(FirehoseError::InvalidArgument(m.to_owned()));
    if spec.http.is_some() && f.extras() {
        return invalid(
            "This delivery stream delivers to an HTTP endpoint: its S3 configuration is a plain backup, with no processing, partitioning or format conversion.",
        );
    }
    let d = &mut spec.destination;
    if let Some(v) = f.role_arn {
        d.role_arn = v;
    }
    if let Some(v) = f.bucket_arn {
        d.bucket_arn = v;
    }
    if let Some(v) = f.prefix {
        d.prefix = Some(v).filter(|p| !p.is_empty());
    }
    if let Some(v) = f.error_output_prefix {
        d.error_output_prefix = Some(v).filter(|p| !p.is_empty());
    }
    if f.size_mib.is_some() || f.interval_s.is_some() {
        d.buffering = Buffering::new(
            f.size_mib.or(Some(i64::from(d.buffering.size_mib))),
            f.interval_s.or(Some(i64::from(d.buffering.interval_s))),
        )?;
    }
    if let Some(c) = f.compression {
        d.compression = c;
    }
    if let Some(e) = f.file_extension {
        d.file_extension = Some(e).filter(|e| !e.is_empty());
    }
    if let Some(b) = f.partitioning {
        if b.enabled != spec.partitioning.is_some() {
            return invalid(
                "Dynamic partitioning can not be enabled or disabled on an existing delivery stream; create a new delivery stream.",
            );
        }
        if let Some(p) = &mut spec.partitioning {
            p.retry_s = b.retry_s;
        }
    }
    if let Some(p) = f.processing {
        match (&mut spec.partitioning, p.extraction_query) {
            (Some(part), Some(query)) => part.query = query,
            (Some(_), None) => {
                return invalid(
                    "This delivery stream partitions dynamically: its ProcessingConfiguration must keep an enabled MetadataExtraction processor.",
                )
            }
            (None, Some(_)) => {
                return invalid(
                    "MetadataExtraction needs dynamic partitioning, which can not be enabled on an existing delivery stream.",
                )
            }
            (None, None) => {}
        }
        spec.processing = p.lambda;
    }
    if let Some(c) = f.conversion {
        spec.conversion = c;
    }
    Ok(())
}
