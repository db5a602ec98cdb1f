//! The Firehose API (`X-Amz-Target: Firehose_20150804.*`, JSON 1.1) on the same listener as
//! Kinesis: field validation as AWS's front end does it, then `weir-firehose`. Responses are
//! plain [`Val`] trees; no engine type is on the wire.

use std::collections::BTreeMap;

use base64::Engine as _;
use weir_firehose::{
    Buffering, Compression, Conversion, CreateRequest, DeliveryStreamSpec, Description, Firehose,
    FirehoseError, Partitioning, Processing, PutOutcome, S3Destination, SourceKind, DESTINATION_ID,
    MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES,
};

use crate::error::{ApiError, ErrorKind};
use crate::firehose_config as cfg;
use crate::request::{check_string, label, name_pattern, Req, NAME_PATTERN};
use crate::value::{map, s, Val};

/// Every Firehose action Weir serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirehoseAction {
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

impl FirehoseAction {
    /// Parses `Firehose_20150804.<Action>`.
    pub fn from_target(target: &str) -> Option<Self> {
        use FirehoseAction::*;
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
            FirehoseAction::PutRecord | FirehoseAction::PutRecordBatch
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

/// Runs one Firehose action.
pub fn dispatch(fh: &Firehose, action: FirehoseAction, body: &Val) -> Result<Val, ApiError> {
    let mut req = Req::new(body)?;
    use FirehoseAction::*;
    match action {
        CreateDeliveryStream => create(fh, &mut req),
        DeleteDeliveryStream => delete(fh, &mut req),
        DescribeDeliveryStream => describe(fh, &mut req),
        ListDeliveryStreams => list(fh, &mut req),
        UpdateDestination => update_destination(fh, &mut req),
        PutRecord => put_record(fh, &mut req),
        PutRecordBatch => put_record_batch(fh, &mut req),
        TagDeliveryStream => tag(fh, &mut req),
        UntagDeliveryStream => untag(fh, &mut req),
        ListTagsForDeliveryStream => list_tags(fh, &mut req),
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
        Some((NAME_PATTERN, name_pattern)),
    )
}

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

const COMPRESSIONS: [&str; 5] = ["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"];

/// The optional stages of a delivery: transformation, dynamic partitioning, conversion.
type Stages = (Option<Processing>, Option<Partitioning>, Option<Conversion>);

/// The S3 destination settings of a create (`full`) or an update (only what is given).
struct S3Fields {
    role_arn: Option<String>,
    bucket_arn: Option<String>,
    prefix: Option<String>,
    error_output_prefix: Option<String>,
    size_mib: Option<i64>,
    interval_s: Option<i64>,
    compression: Option<Compression>,
    file_extension: Option<String>,
    /// `ProcessingConfiguration`, when given (its Lambda and MetadataExtraction processors,
    /// both `None` when disabled).
    processing: Option<cfg::ProcessingFields>,
    /// `DynamicPartitioningConfiguration`, when given.
    partitioning: Option<cfg::PartitioningBlock>,
    /// `DataFormatConversionConfiguration`, when given (`None` inside when disabled).
    conversion: Option<Option<Conversion>>,
}

impl S3Fields {
    /// True when any of processing, partitioning or conversion is enabled.
    fn extras(&self) -> bool {
        self.processing
            .as_ref()
            .is_some_and(|p| p.lambda.is_some() || p.extraction_query.is_some())
            || self.partitioning.is_some_and(|b| b.enabled)
            || self.conversion.as_ref().is_some_and(Option::is_some)
    }

    /// What a create asks for: the transformation, the partitioning and the conversion.
    fn created(&mut self) -> Result<Stages, ApiError> {
        let p = self.processing.take().unwrap_or_default();
        let partitioning = cfg::created_partitioning(p.extraction_query, self.partitioning)?;
        Ok((p.lambda, partitioning, self.conversion.take().flatten()))
    }
}

fn s3_fields(outer: &mut Req<'_>, v: &Val, field: &str, full: bool) -> Result<S3Fields, ApiError> {
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
        size_mib = hr.int("SizeInMBs", false, 1, 128)?.map(|v| v as i64);
        interval_s = hr
            .int("IntervalInSeconds", false, 0, 900)?
            .map(|v| v as i64);
        r.absorb(&mut hr, "bufferingHints");
    }
    let compression = r.enumeration("CompressionFormat", false, &COMPRESSIONS)?;
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

const TAG_KEY_PATTERN: &str = "^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$";
const TAG_VALUE_PATTERN: &str = "^[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$";

/// A tag character: a letter, a separator (space), a digit, or one of `_.:/=+-@%`.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@%".contains(c)
}

fn tag_key_ok(k: &str) -> bool {
    !k.starts_with("aws:") && k.chars().all(tag_char)
}

fn tag_value_ok(v: &str) -> bool {
    v.chars().all(tag_char)
}

/// `RoleARN`'s pattern: an IAM role of a 12-digit account.
const ROLE_ARN_PATTERN: &str = "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+";

fn role_arn_ok(arn: &str) -> bool {
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

/// Tags as a list of `{Key, Value}` (Firehose's shape), 1 to 50 per call.
fn tag_list(
    req: &mut Req<'_>,
    field: &str,
    required: bool,
) -> Result<BTreeMap<String, String>, ApiError> {
    let at = label(field);
    let mut out = BTreeMap::new();
    let items = match req.raw(field) {
        None => {
            if required {
                req.violation(None, &at, "Member must not be null");
            }
            return Ok(out);
        }
        Some(Val::Arr(a)) => a,
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List (at '{field}')",
                other.kind()
            )))
        }
    };
    if items.is_empty() {
        req.violation(
            Some("[]"),
            &at,
            "Member must have length greater than or equal to 1",
        );
    } else if items.len() > 50 {
        req.violation(
            Some("[...]"),
            &at,
            "Member must have length less than or equal to 50",
        );
    }
    for t in items {
        let mut tr = structure(t, field)?;
        let key = tr
            .string("Key", true, 1, 128, Some((TAG_KEY_PATTERN, tag_key_ok)))?
            .unwrap_or_default();
        let value = tr
            .string(
                "Value",
                false,
                0,
                256,
                Some((TAG_VALUE_PATTERN, tag_value_ok)),
            )?
            .unwrap_or_default();
        req.absorb(&mut tr, &format!("{at}.member"));
        out.insert(key.to_owned(), value.to_owned());
    }
    Ok(out)
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

fn create(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let kind = req.enumeration(
        "DeliveryStreamType",
        false,
        &[
            "DirectPut",
            "KinesisStreamAsSource",
            "MSKAsSource",
            "DatabaseAsSource",
        ],
    )?;
    let tags = tag_list(req, "Tags", false)?;
    let encryption = encryption_input(req)?;
    let kinesis_stream_arn = cfg::kinesis_source(req)?;
    req.finish()?;
    let source = match kind {
        None | Some("DirectPut") => SourceKind::DirectPut,
        Some("KinesisStreamAsSource") => SourceKind::KinesisStreamAsSource,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "DeliveryStreamType {other} is not supported by Weir."
            )))
        }
    };
    let destinations: Vec<&str> = [
        "ExtendedS3DestinationConfiguration",
        "S3DestinationConfiguration",
        "HttpEndpointDestinationConfiguration",
        "RedshiftDestinationConfiguration",
        "ElasticsearchDestinationConfiguration",
        "AmazonopensearchserviceDestinationConfiguration",
        "SplunkDestinationConfiguration",
        "AmazonOpenSearchServerlessDestinationConfiguration",
        "SnowflakeDestinationConfiguration",
        "IcebergDestinationConfiguration",
    ]
    .into_iter()
    .filter(|d| req.raw(d).is_some())
    .collect();
    let dest = match destinations.as_slice() {
        [d @ ("ExtendedS3DestinationConfiguration"
        | "S3DestinationConfiguration"
        | "HttpEndpointDestinationConfiguration")] => *d,
        [] => {
            return Err(ApiError::invalid(
                "Exactly one destination configuration must be given; Weir delivers to S3 (ExtendedS3DestinationConfiguration) and HTTP endpoints (HttpEndpointDestinationConfiguration).",
            ))
        }
        [one] => {
            return Err(ApiError::invalid(format!(
                "{one} is not supported by Weir; use ExtendedS3DestinationConfiguration or HttpEndpointDestinationConfiguration."
            )))
        }
        _ => {
            return Err(ApiError::invalid(format!(
                "Only one destination configuration may be given, got {}.",
                destinations.join(", ")
            )))
        }
    };
    let Some(v) = req.raw(dest) else {
        return Err(ApiError::invalid("missing destination"));
    };
    let (mut f, http) = if dest == "HttpEndpointDestinationConfiguration" {
        let mut hr = structure(v, dest)?;
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
        req.absorb(&mut hr, &label(dest));
        req.finish()?;
        let Some(f) = f else {
            return Err(ApiError::invalid("missing S3Configuration"));
        };
        (f, Some(http))
    } else {
        let f = s3_fields(req, v, dest, true)?;
        req.finish()?;
        (f, None)
    };
    if dest == "S3DestinationConfiguration" && f.extras() {
        return Err(ApiError::invalid(
            "S3DestinationConfiguration has no processing, partitioning or format conversion; use ExtendedS3DestinationConfiguration.",
        ));
    }
    let (processing, partitioning, conversion) = f.created()?;
    let buffering = Buffering::new(f.size_mib, f.interval_s)?;
    let destination = S3Destination {
        role_arn: f.role_arn.unwrap_or_default(),
        bucket_arn: f.bucket_arn.unwrap_or_default(),
        prefix: f.prefix.filter(|p| !p.is_empty()),
        error_output_prefix: f.error_output_prefix.filter(|p| !p.is_empty()),
        buffering,
        compression: f.compression.unwrap_or(Compression::Uncompressed),
        file_extension: f.file_extension.filter(|e| !e.is_empty()),
    };
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
        http,
    })?;
    Ok(map(vec![("DeliveryStreamARN", s(arn))]))
}

fn describe(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
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

fn description(d: &Description, after_the_only: bool) -> Val {
    let spec = &d.spec;
    let dest = &spec.destination;
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
    let plain = map(s3.clone());
    s3.push(("S3BackupMode", s("Disabled")));
    if let Some(e) = &dest.file_extension {
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
    let extended = map(s3);
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
    if let Some(arn) = &spec.kinesis_stream_arn {
        out.push((
            "Source",
            map(vec![(
                "KinesisStreamSourceDescription",
                map(vec![
                    ("KinesisStreamARN", s(arn.clone())),
                    ("RoleARN", s(dest.role_arn.clone())),
                    ("DeliveryStartTimestamp", Val::Time(spec.created_ms)),
                ]),
            )]),
        ));
    }
    let destination = match &spec.http {
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
            ("ExtendedS3DestinationDescription", extended),
        ]),
    };
    let destinations = if after_the_only {
        Vec::new()
    } else {
        vec![destination]
    };
    out.push(("Destinations", Val::Arr(destinations)));
    out.push(("HasMoreDestinations", Val::Bool(false)));
    map(out)
}

fn list(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let limit = req.int("Limit", false, 1, 10_000)?.unwrap_or(10) as usize;
    let kind = req.enumeration(
        "DeliveryStreamType",
        false,
        &[
            "DirectPut",
            "KinesisStreamAsSource",
            "MSKAsSource",
            "DatabaseAsSource",
        ],
    )?;
    let start = req.string(
        "ExclusiveStartDeliveryStreamName",
        false,
        1,
        64,
        Some((NAME_PATTERN, name_pattern)),
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

fn update_destination(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
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

/// A record's `Data` (base64 in JSON, bytes in CBOR), at most 1,000 KiB.
fn record_data(req: &mut Req<'_>, v: &Val, at: &str) -> Result<Option<Vec<u8>>, ApiError> {
    let data = match v.get("Data") {
        None | Some(Val::Null) => {
            req.violation(None, &format!("{at}.data"), "Member must not be null");
            return Ok(None);
        }
        Some(Val::Bytes(b)) => b.clone(),
        Some(Val::Str(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| ApiError::serialization("Base64 encoded data is invalid."))?,
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a Blob",
                other.kind()
            )))
        }
    };
    if data.len() > MAX_RECORD_BYTES {
        req.violation(
            Some(&format!(
                "java.nio.HeapByteBuffer[pos=0 lim={} cap={}]",
                data.len(),
                data.len()
            )),
            &format!("{at}.data"),
            &format!("Member must have length less than or equal to {MAX_RECORD_BYTES}"),
        );
    }
    Ok(Some(data))
}

fn put_record(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let data = match req.raw("Record") {
        None => {
            req.violation(None, "record", "Member must not be null");
            None
        }
        Some(v) => {
            structure(v, "Record")?;
            record_data(req, v, "record")?
        }
    };
    req.finish()?;
    let records = vec![data.unwrap_or_default()];
    let (outcomes, encrypted) = fh.put(name.unwrap_or_default(), &records)?;
    match outcomes.into_iter().next() {
        Some(PutOutcome::Ok { record_id }) => Ok(map(vec![
            ("RecordId", s(record_id)),
            ("Encrypted", Val::Bool(encrypted)),
        ])),
        Some(PutOutcome::Failed { message }) => {
            Err(ApiError::new(ErrorKind::ServiceUnavailable, message))
        }
        None => Err(ApiError::new(ErrorKind::ServiceUnavailable, "no outcome")),
    }
}

fn put_record_batch(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let items = match req.raw("Records") {
        None => {
            req.violation(None, "records", "Member must not be null");
            &[][..]
        }
        Some(Val::Arr(a)) => a.as_slice(),
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List (at 'Records')",
                other.kind()
            )))
        }
    };
    if req.raw("Records").is_some() && items.is_empty() {
        req.violation(
            Some("[]"),
            "records",
            "Member must have length greater than or equal to 1",
        );
    }
    if items.len() > MAX_BATCH_RECORDS {
        req.violation(
            Some("[...]"),
            "records",
            &format!("Member must have length less than or equal to {MAX_BATCH_RECORDS}"),
        );
        return Err(req
            .finish()
            .err()
            .unwrap_or_else(|| ApiError::invalid("too many records")));
    }
    let mut records = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        structure(v, "Records")?;
        if let Some(d) = record_data(req, v, &format!("records.{}.member", i + 1))? {
            records.push(d);
        }
    }
    req.finish()?;
    let total: usize = records.iter().map(Vec::len).sum();
    if total > MAX_BATCH_BYTES {
        return Err(ApiError::invalid(format!(
            "Records size exceeds 4 MB limit: the {} records hold {total} bytes.",
            records.len()
        )));
    }
    let (outcomes, encrypted) = fh.put(name.unwrap_or_default(), &records)?;
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o, PutOutcome::Failed { .. }))
        .count();
    let responses = outcomes
        .into_iter()
        .map(|o| match o {
            PutOutcome::Ok { record_id } => map(vec![("RecordId", s(record_id))]),
            PutOutcome::Failed { message } => map(vec![
                ("ErrorCode", s("ServiceUnavailableException")),
                ("ErrorMessage", s(message)),
            ]),
        })
        .collect();
    Ok(map(vec![
        ("FailedPutCount", Val::Int(failed as i128)),
        ("Encrypted", Val::Bool(encrypted)),
        ("RequestResponses", Val::Arr(responses)),
    ]))
}

fn tag(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let tags = tag_list(req, "Tags", true)?;
    req.finish()?;
    fh.tag(name.unwrap_or_default(), tags)?;
    Ok(map(vec![]))
}

fn untag(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let keys = match req.raw("TagKeys") {
        None => {
            req.violation(None, "tagKeys", "Member must not be null");
            Vec::new()
        }
        Some(Val::Arr(a)) => {
            if a.is_empty() || a.len() > 50 {
                req.violation(
                    Some("[...]"),
                    "tagKeys",
                    "Member must have length between 1 and 50",
                );
            }
            let mut keys = Vec::new();
            for k in a {
                let Val::Str(k) = k else {
                    return Err(ApiError::serialization(format!(
                        "{} can not be converted to a String (at 'TagKeys')",
                        k.kind()
                    )));
                };
                check_string(req, k, "tagKeys.member", 1, 128, None);
                keys.push(k.clone());
            }
            keys
        }
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List (at 'TagKeys')",
                other.kind()
            )))
        }
    };
    req.finish()?;
    fh.untag(name.unwrap_or_default(), &keys)?;
    Ok(map(vec![]))
}

fn list_tags(fh: &Firehose, req: &mut Req<'_>) -> Result<Val, ApiError> {
    let name = stream_name(req)?;
    let start = req.string("ExclusiveStartTagKey", false, 1, 128, None)?;
    let limit = req.int("Limit", false, 1, 50)?.unwrap_or(50) as usize;
    req.finish()?;
    let tags = fh.tags(name.unwrap_or_default())?;
    let mut after = tags
        .into_iter()
        .filter(|(k, _)| start.is_none_or(|st| k.as_str() > st));
    let page: Vec<Val> = after
        .by_ref()
        .take(limit)
        .map(|(k, v)| map(vec![("Key", s(k)), ("Value", s(v))]))
        .collect();
    let more = after.next().is_some();
    Ok(map(vec![
        ("Tags", Val::Arr(page)),
        ("HasMoreTags", Val::Bool(more)),
    ]))
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
