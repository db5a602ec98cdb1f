//! An S3 destination's fields as CreateDeliveryStream and UpdateDestination send them: read,
//! checked against the model's bounds (violations are the ValidationException AWS's front end
//! answers), and held as given until the handler builds or merges the settings.

use weir_firehose::{Compression, Conversion, Partitioning, Processing};
use weir_firehose_model::{BUFFER_INTERVAL_S, BUFFER_SIZE_MIB};

use super::structure;
use crate::error::ApiError;
use crate::firehose_config as cfg;
use crate::request::{label, Req};
use crate::value::Val;

/// The optional stages of a delivery: transformation, dynamic partitioning, conversion.
pub(super) type Stages = (Option<Processing>, Option<Partitioning>, Option<Conversion>);

/// The S3 destination settings of a create (`full`) or an update (only what is given).
pub(super) struct S3Fields {
    pub(super) role_arn: Option<String>,
    pub(super) bucket_arn: Option<String>,
    pub(super) prefix: Option<String>,
    pub(super) error_output_prefix: Option<String>,
    pub(super) size_mib: Option<i64>,
    pub(super) interval_s: Option<i64>,
    pub(super) compression: Option<Compression>,
    pub(super) file_extension: Option<String>,
    /// `ProcessingConfiguration`, when given (its Lambda and MetadataExtraction processors,
    /// both `None` when disabled).
    pub(super) processing: Option<cfg::ProcessingFields>,
    /// `DynamicPartitioningConfiguration`, when given.
    pub(super) partitioning: Option<cfg::PartitioningBlock>,
    /// `DataFormatConversionConfiguration`, when given (`None` inside when disabled).
    pub(super) conversion: Option<Option<Conversion>>,
}

impl S3Fields {
    /// True when any of processing, partitioning or conversion is enabled.
    pub(super) fn extras(&self) -> bool {
        self.processing
            .as_ref()
            .is_some_and(|p| p.lambda.is_some() || p.extraction_query.is_some())
            || self.partitioning.is_some_and(|b| b.enabled)
            || self.conversion.as_ref().is_some_and(Option::is_some)
    }

    /// What a create asks for: the transformation, the partitioning and the conversion.
    pub(super) fn created(&mut self) -> Result<Stages, ApiError> {
        let p = self.processing.take().unwrap_or_default();
        let partitioning = cfg::created_partitioning(p.extraction_query, self.partitioning)?;
        Ok((p.lambda, partitioning, self.conversion.take().flatten()))
    }
}

/// Reads the S3 destination `v`, the member `field` of `outer`: every field when `full` (a
/// create), only those given otherwise (an update).
pub(super) fn s3_fields(
    outer: &mut Req<'_>,
    v: &Val,
    field: &str,
    full: bool,
) -> Result<S3Fields, ApiError> {
    let mut r = structure(v, field)?;
    let role_arn = r
        .string(
            "RoleARN",
            full,
            1,
            512,
            Some((ROLE_ARN_PATTERN, role_arn_ok)),
        )?
        .map(str::to_owned);
    let bucket_arn = r
        .string("BucketARN", full, 1, 2048, None)?
        .map(str::to_owned);
    let prefix = r.string("Prefix", false, 0, 1024, None)?.map(str::to_owned);
    let error_output_prefix = r
        .string("ErrorOutputPrefix", false, 0, 1024, None)?
        .map(str::to_owned);
    let (mut size_mib, mut interval_s) = (None, None);
    if let Some(h) = r.raw("BufferingHints") {
        let mut hr = structure(h, "BufferingHints")?;
        size_mib = bounded(&mut hr, "SizeInMBs", BUFFER_SIZE_MIB)?;
        interval_s = bounded(&mut hr, "IntervalInSeconds", BUFFER_INTERVAL_S)?;
        r.absorb(&mut hr, "bufferingHints");
    }
    let compression = r.enumeration("CompressionFormat", false, &Compression::NAMES)?;
    let file_extension = r
        .string("FileExtension", false, 0, 128, None)?
        .map(str::to_owned);
    unsupported_settings(&mut r, field)?;
    let processing = match r.raw("ProcessingConfiguration") {
        Some(_) => Some(cfg::processing(&mut r)?),
        None => None,
    };
    let partitioning = cfg::partitioning(&mut r)?;
    let conversion = match r.raw("DataFormatConversionConfiguration") {
        Some(_) => Some(cfg::conversion(&mut r)?),
        None => None,
    };
    if let Some(Val::Str(mode)) = r.raw("S3BackupMode") {
        if mode != "Disabled" {
            return Err(ApiError::invalid(format!(
                "{field}.S3BackupMode {mode} is not supported by Weir yet; use Disabled."
            )));
        }
    }
    outer.absorb(&mut r, &label(field));
    let compression = compression.map(Compression::parse).transpose()?;
    Ok(S3Fields {
        role_arn,
        bucket_arn,
        prefix,
        error_output_prefix,
        size_mib,
        interval_s,
        compression,
        file_extension,
        processing,
        partitioning,
        conversion,
    })
}

/// An optional whole number within the model's `bounds`; out of them is a violation.
pub(crate) fn bounded(
    r: &mut Req<'_>,
    field: &str,
    bounds: weir_firehose_model::Bounds,
) -> Result<Option<i64>, ApiError> {
    let v = r.int(field, false, bounds.min.into(), bounds.max.into())?;
    // Out of i64 is out of bounds, already reported.
    Ok(v.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
}

/// Settings of an S3 destination that Weir can not honour are refused by name rather than
/// accepted and ignored: objects encrypted with a KMS key, and time folders in a zone other
/// than UTC. (`CloudWatchLoggingOptions` is accepted: Weir logs delivery errors to its own
/// log.)
fn unsupported_settings(r: &mut Req<'_>, field: &str) -> Result<(), ApiError> {
    if let Some(e) = r.raw("EncryptionConfiguration") {
        if e.get("KMSEncryptionConfig")
            .is_some_and(|k| !matches!(k, Val::Null))
        {
            return Err(ApiError::invalid(format!(
                "{field}.EncryptionConfiguration: KMSEncryptionConfig is not supported by Weir; use NoEncryptionConfig (the bucket's own default encryption still applies)."
            )));
        }
    }
    if let Some(tz) = r.string("CustomTimeZone", false, 0, 50, None)? {
        if !(tz.is_empty() || tz == "UTC") {
            return Err(ApiError::invalid(format!(
                "{field}.CustomTimeZone {tz:?} is not supported by Weir; prefixes and object names use UTC."
            )));
        }
    }
    Ok(())
}

/// `RoleARN`'s pattern: an IAM role of a 12-digit account.
pub(super) const ROLE_ARN_PATTERN: &str = "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+";

pub(super) fn role_arn_ok(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return false;
    };
    let Some((_, after)) = rest.split_once(":iam::") else {
        return false;
    };
    let Some((account, role)) = after.split_once(":role/") else {
        return false;
    };
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !role.is_empty()
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-/".contains(&b))
}
