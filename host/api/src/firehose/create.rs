//! CreateDeliveryStream: the source, exactly one destination Weir serves, its stages, then
//! the catalog, which checks the settings as a whole.

use weir_firehose::{CreateRequest, Firehose, HttpDestination, S3Destination, SourceKind};

use super::shapes::{s3_fields, S3Fields};
use super::tags::tag_list;
use super::{encryption_input, stream_name, structure, SOURCE_TYPES};
use crate::error::ApiError;
use crate::firehose_config as cfg;
use crate::request::{label, Req};
use crate::value::{map, s, Val};

/// The destinations Weir delivers to.
const S3: &str = "ExtendedS3DestinationConfiguration";
const PLAIN_S3: &str = "S3DestinationConfiguration";
const HTTP: &str = "HttpEndpointDestinationConfiguration";

/// Every destination configuration CreateDeliveryStream takes, served or not.
const DESTINATIONS: [&str; 10] = [
    S3,
    PLAIN_S3,
    HTTP,
    "RedshiftDestinationConfiguration",
    "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration",
    "SplunkDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
];

pub(super) fn create(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let kind = req.enumeration("DeliveryStreamType", false, &SOURCE_TYPES)?;
    let tags = tag_list(req, "Tags", false)?;
    let encryption = encryption_input(req)?;
    let kinesis_stream_arn = cfg::kinesis_source(req)?;
    req.finish()?;
    let source = source_kind(kind)?;
    let dest = chosen_destination(req)?;
    let Some(v) = req.raw(dest) else {
        return Err(ApiError::invalid("missing destination"));
    };
    let (mut f, http) = if dest == HTTP {
        let (f, http) = http_endpoint(req, v)?;
        (f, Some(http))
    } else {
        let f = s3_fields(req, v, dest, true)?;
        req.finish()?;
        (f, None)
    };
    if dest == PLAIN_S3 && f.extras() {
        return Err(ApiError::invalid(
            "S3DestinationConfiguration has no processing, partitioning or format conversion; use ExtendedS3DestinationConfiguration.",
        ));
    }
    let (processing, partitioning, conversion) = f.created()?;
    let arn = fh.create(CreateRequest {
        name: name.unwrap_or_default().to_owned(),
        source,
        kinesis_stream_arn,
        destination: s3_destination(f)?,
        tags,
        encryption,
        processing,
        partitioning,
        conversion,
        http,
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

/// The one destination configuration given, if Weir serves it.
fn chosen_destination(req: &Req<'_>) -> Result<&'static str, ApiError> {
    let given: Vec<&'static str> = DESTINATIONS
        .into_iter()
        .filter(|d| req.raw(d).is_some())
        .collect();
    match given.as_slice() {
        [d @ (S3 | PLAIN_S3 | HTTP)] => Ok(d),
        [] => Err(ApiError::invalid(
            "Exactly one destination configuration must be given; Weir delivers to S3 (ExtendedS3DestinationConfiguration) and HTTP endpoints (HttpEndpointDestinationConfiguration).",
        )),
        [one] => Err(ApiError::invalid(format!(
            "{one} is not supported by Weir; use ExtendedS3DestinationConfiguration or HttpEndpointDestinationConfiguration."
        ))),
        _ => Err(ApiError::invalid(format!(
            "Only one destination configuration may be given, got {}.",
            given.join(", ")
        ))),
    }
}

/// `HttpEndpointDestinationConfiguration` `v`: the endpoint, and its `S3Configuration` (a
/// plain backup) carrying the endpoint's processing.
fn http_endpoint(req: &mut Req<'_>, v: &Val) -> Result<(S3Fields, HttpDestination), ApiError> {
    let mut hr = structure(v, HTTP)?;
    let p = cfg::processing(&mut hr)?;
    if p.extraction_query.is_some() {
        return Err(ApiError::invalid(
            "Dynamic partitioning (MetadataExtraction) applies to S3 destinations only.",
        ));
    }
    let http = cfg::http_destination(&mut hr)?;
    let f = match hr.raw("S3Configuration") {
        Some(s3v) => {
            let mut f = s3_fields(&mut hr, s3v, "S3Configuration", true)?;
            if f.extras() {
                return Err(ApiError::invalid(
                    "S3Configuration of an HTTP endpoint destination is a plain S3 backup: no processing, partitioning or format conversion.",
                ));
            }
            f.processing = Some(p);
            Some(f)
        }
        None => {
            hr.violation(None, "s3Configuration", "Member must not be null");
            None
        }
    };
    req.absorb(&mut hr, &label(HTTP));
    req.finish()?;
    let Some(f) = f else {
        return Err(ApiError::invalid("missing S3Configuration"));
    };
    Ok((f, http))
}

/// The S3 destination a create's fields make, with the model's defaults for what is left out.
fn s3_destination(f: S3Fields) -> Result<S3Destination, ApiError> {
    Ok(S3Destination {
        buffering: weir_firehose_model::Buffering::new(f.size_mib, f.interval_s)?,
        role_arn: f.role_arn.unwrap_or_default(),
        bucket_arn: f.bucket_arn.unwrap_or_default(),
        prefix: f.prefix.filter(|p| !p.is_empty()),
        error_output_prefix: f.error_output_prefix.filter(|p| !p.is_empty()),
        compression: f
            .compression
            .unwrap_or(weir_firehose_model::Compression::Uncompressed),
        file_extension: f.file_extension.filter(|e| !e.is_empty()),
    })
}
