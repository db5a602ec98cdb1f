//! The S3 destination on the wire: `ExtendedS3DestinationConfiguration` and its plain subset
//! `S3DestinationConfiguration` in a create, `ExtendedS3DestinationDescription` with
//! `S3DestinationDescription`, and `ExtendedS3DestinationUpdate` / `S3DestinationUpdate`.
//! The fields themselves are read by `shapes.rs`, shared with the backup of the other
//! destinations.

use weir_firehose::{
    Buffering, Compression, DeliveryDestination, DeliveryStreamSpec, FirehoseError, S3Destination,
    DESTINATION_ID,
};

use super::Created;
use crate::error::ApiError;
use crate::firehose::shapes::{s3_fields, S3Fields};
use crate::firehose_config as cfg;
use crate::request::Req;
use crate::value::{map, s, Val};

pub(super) const EXTENDED: &str = "ExtendedS3DestinationConfiguration";
pub(super) const PLAIN: &str = "S3DestinationConfiguration";
const EXTENDED_UPDATE: &str = "ExtendedS3DestinationUpdate";
const PLAIN_UPDATE: &str = "S3DestinationUpdate";

pub(super) fn created_extended(req: &mut Req<'_>, v: &Val) -> Result<Created, ApiError> {
    created(req, v, EXTENDED)
}

/// The plain form: no processing, partitioning or conversion.
pub(super) fn created_plain(req: &mut Req<'_>, v: &Val) -> Result<Created, ApiError> {
    created(req, v, PLAIN)
}

fn created(req: &mut Req<'_>, v: &Val, field: &str) -> Result<Created, ApiError> {
    let mut f = s3_fields(req, v, field, true)?;
    req.finish()?;
    if field == PLAIN && f.extras() {
        return Err(ApiError::invalid(
            "S3DestinationConfiguration has no processing, partitioning or format conversion; use ExtendedS3DestinationConfiguration.",
        ));
    }
    let stages = f.created()?;
    Ok((DeliveryDestination::ExtendedS3(destination(f)?), stages))
}

/// The S3 destination a create's fields make, with the model's defaults for what is left out
/// (also an HTTP endpoint's backup).
pub(super) fn destination(f: S3Fields) -> Result<S3Destination, ApiError> {
    Ok(S3Destination {
        buffering: Buffering::new(f.size_mib, f.interval_s)?,
        role_arn: f.role_arn.unwrap_or_default(),
        bucket_arn: f.bucket_arn.unwrap_or_default(),
        prefix: f.prefix.filter(|p| !p.is_empty()),
        error_output_prefix: f.error_output_prefix.filter(|p| !p.is_empty()),
        compression: f.compression.unwrap_or(Compression::Uncompressed),
        file_extension: f.file_extension.filter(|e| !e.is_empty()),
    })
}

/// The S3 destination in both its plain and extended forms.
pub(super) fn description(spec: &DeliveryStreamSpec, d: &S3Destination) -> Val {
    map(vec![
        ("DestinationId", s(DESTINATION_ID)),
        ("S3DestinationDescription", map(plain_description(d))),
        ("ExtendedS3DestinationDescription", extended(spec, d)),
    ])
}

/// `S3DestinationDescription`'s members (also an HTTP endpoint's backup).
pub(super) fn plain_description(dest: &S3Destination) -> Vec<(&'static str, Val)> {
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
fn extended(spec: &DeliveryStreamSpec, d: &S3Destination) -> Val {
    let mut s3 = plain_description(d);
    s3.push(("S3BackupMode", s("Disabled")));
    if let Some(e) = &d.file_extension {
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

/// `ExtendedS3DestinationUpdate` or `S3DestinationUpdate`, when given: only what it gives.
pub(super) fn update_fields(req: &mut Req<'_>) -> Result<Option<S3Fields>, ApiError> {
    let Some((field, v)) = [EXTENDED_UPDATE, PLAIN_UPDATE]
        .into_iter()
        .find_map(|f| req.raw(f).map(|v| (f, v)))
    else {
        return Ok(None);
    };
    let f = s3_fields(req, v, field, false)?;
    req.finish()?;
    if field == PLAIN_UPDATE && f.extras() {
        return Err(ApiError::invalid(
            "S3DestinationUpdate has no processing, partitioning or format conversion; use ExtendedS3DestinationUpdate.",
        ));
    }
    Ok(Some(f))
}

/// What an update gives replaces what was; what it leaves out stays.
pub(super) fn merge(d: &mut S3Destination, f: &S3Fields) -> Result<(), FirehoseError> {
    if let Some(v) = &f.role_arn {
        d.role_arn = v.clone();
    }
    if let Some(v) = &f.bucket_arn {
        d.bucket_arn = v.clone();
    }
    if let Some(v) = &f.prefix {
        d.prefix = Some(v.clone()).filter(|p| !p.is_empty());
    }
    if let Some(v) = &f.error_output_prefix {
        d.error_output_prefix = Some(v.clone()).filter(|p| !p.is_empty());
    }
    if f.size_mib.is_some() || f.interval_s.is_some() {
        d.buffering = Buffering::new(
            f.size_mib.or(Some(i64::from(d.buffering.size_mib))),
            f.interval_s.or(Some(i64::from(d.buffering.interval_s))),
        )
        .map_err(FirehoseError::from)?;
    }
    if let Some(c) = f.compression {
        d.compression = c;
    }
    if let Some(e) = &f.file_extension {
        d.file_extension = Some(e.clone()).filter(|e| !e.is_empty());
    }
    Ok(())
}
