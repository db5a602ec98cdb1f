//! UpdateDestination: what is given replaces what was, checked by the catalog as a create.

use weir_firehose::{DeliveryStreamSpec, Firehose, FirehoseError};

use super::shapes::S3Fields;
use super::{destination, stream_name};
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
    let fields = destination::update_fields(req)?;
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
/// query and retry duration can change. The destination's own settings are merged by its
/// module (`destination/`). The catalog checks the merged settings as a create's.
fn merge_update(spec: &mut DeliveryStreamSpec, f: S3Fields) -> Result<(), FirehoseError> {
    let invalid = |m: &str| Err(FirehoseError::InvalidArgument(m.to_owned()));
    destination::merge(spec, &f)?;
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
