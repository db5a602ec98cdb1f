//! DescribeDeliveryStream: the settings as AWS shows them, built from the catalog's spec (the
//! destination's own description by its module in `destination/`).

use weir_firehose::{DeliveryStreamSpec, Description, Firehose, DESTINATION_ID};

use super::{destination, stream_name};
use crate::error::ApiError;
use crate::request::Req;
use crate::value::{map, s, Val};

pub(super) fn describe(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    req.int("Limit", false, 1, 10_000)?;
    let start = req.string("ExclusiveStartDestinationId", false, 1, 100, None)?;
    req.finish()?;
    let d = fh.describe(name.unwrap_or_default())?;
    // A delivery stream has one destination; starting after it leaves none to list.
    let after_the_only = start == Some(DESTINATION_ID);
    Ok(map(vec![(
        "DeliveryStreamDescription",
        description(&d, after_the_only),
    )]))
}

/// `DeliveryStreamDescription`.
fn description(d: &Description, after_the_only: bool) -> Val {
    let spec = &d.spec;
    let mut enc = vec![("Status", s(d.encryption.as_str()))];
    if let Some(kt) = &spec.encryption.key_type {
        enc.push(("KeyType", s(kt.clone())));
    }
    if let Some(k) = &spec.encryption.key_arn {
        enc.push(("KeyARN", s(k.clone())));
    }
    let mut out = vec![
        ("DeliveryStreamName", s(spec.name.clone())),
        ("DeliveryStreamARN", s(d.arn.clone())),
        ("DeliveryStreamStatus", s(d.status.as_str())),
        ("DeliveryStreamEncryptionConfiguration", map(enc)),
        ("DeliveryStreamType", s(spec.source.as_str())),
        ("VersionId", s(spec.version.to_string())),
        ("CreateTimestamp", Val::Time(spec.created_ms)),
    ];
    if spec.version > 1 || spec.updated_ms != spec.created_ms {
        out.push(("LastUpdateTimestamp", Val::Time(spec.updated_ms)));
    }
    if let Some(source) = source_description(spec) {
        out.push(("Source", source));
    }
    let destinations = if after_the_only {
        Vec::new()
    } else {
        vec![destination::description(spec)]
    };
    out.push(("Destinations", Val::Arr(destinations)));
    out.push(("HasMoreDestinations", Val::Bool(false)));
    map(out)
}

/// `Source` of a `KinesisStreamAsSource` delivery stream.
fn source_description(spec: &DeliveryStreamSpec) -> Option<Val> {
    let arn = spec.kinesis_stream_arn.as_ref()?;
    Some(map(vec![(
        "KinesisStreamSourceDescription",
        map(vec![
            ("KinesisStreamARN", s(arn.clone())),
            ("RoleARN", s(spec.destination.s3().role_arn.clone())),
            ("DeliveryStartTimestamp", Val::Time(spec.created_ms)),
        ]),
    )]))
}
