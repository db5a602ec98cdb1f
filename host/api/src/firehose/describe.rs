//! DescribeDeliveryStream: the settings as AWS shows them, built from the catalog's spec.

use weir_firehose::{DeliveryStreamSpec, Description, Firehose, S3Destination, DESTINATION_ID};

use super::stream_name;
use crate::error::ApiError;
use crate::firehose_config as cfg;
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
        vec![destination_description(spec)]
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
            ("RoleARN", s(spec.destination.role_arn.clone())),
            ("DeliveryStartTimestamp", Val::Time(spec.created_ms)),
        ]),
    )]))
}

/// The one `DestinationDescription`: the HTTP endpoint with its S3 backup, or the S3
/// destination in both its plain and extended forms.
fn destination_description(spec: &DeliveryStreamSpec) -> Val {
    let plain = map(plain_s3(&spec.destination));
    match &spec.http {
        Some(h) => {
            let mut d = cfg::http_description(h, plain);
            if let (Val::Map(m), Some(p)) = (
                &mut d,
                cfg::processing_description(spec.processing.as_ref(), None),
            ) {
                m.push(("ProcessingConfiguration".into(), p));
            }
            map(vec![
                ("DestinationId", s(DESTINATION_ID)),
                ("HttpEndpointDestinationDescription", d),
            ])
        }
        None => map(vec![
            ("DestinationId", s(DESTINATION_ID)),
            ("S3DestinationDescription", plain),
            ("ExtendedS3DestinationDescription", extended_s3(spec)),
        ]),
    }
}

/// `S3DestinationDescription`'s members.
fn plain_s3(dest: &S3Destination) -> Vec<(&'static str, Val)> {
    let mut s3 = vec![
        ("RoleARN", s(dest.role_arn.clone())),
        ("BucketARN", s(dest.bucket_arn.clone())),
    ];
    if let Some(p) = &dest.prefix {
        s3.push(("Prefix", s(p.clone())));
    }
    if let Some(p) = &dest.error_output_prefix {
        s3.push(("ErrorOutputPrefix", s(p.clone())));
    }
    s3.push((
        "BufferingHints",
        map(vec![
            ("SizeInMBs", Val::Int(dest.buffering.size_mib.into())),
            (
                "IntervalInSeconds",
                Val::Int(dest.buffering.interval_s.into()),
            ),
        ]),
    ));
    s3.push(("CompressionFormat", s(dest.compression.as_str())));
    s3.push((
        "EncryptionConfiguration",
        map(vec![("NoEncryptionConfig", s("NoEncryption"))]),
    ));
    s3
}

/// `ExtendedS3DestinationDescription`: the plain members and the stages.
fn extended_s3(spec: &DeliveryStreamSpec) -> Val {
    let mut s3 = plain_s3(&spec.destination);
    s3.push(("S3BackupMode", s("Disabled")));
    if let Some(e) = &spec.destination.file_extension {
        s3.push(("FileExtension", s(e.clone())));
    }
    if let Some(p) =
        cfg::processing_description(spec.processing.as_ref(), spec.partitioning.as_ref())
    {
        s3.push(("ProcessingConfiguration", p));
    }
    if let Some(p) = &spec.partitioning {
        s3.push((
            "DynamicPartitioningConfiguration",
            cfg::partitioning_description(p),
        ));
    }
    if let Some(c) = &spec.conversion {
        s3.push((
            "DataFormatConversionConfiguration",
            cfg::conversion_description(c),
        ));
    }
    map(s3)
}
