//! The optional parts of a delivery stream's configuration, read from Firehose's JSON and
//! written back for DescribeDeliveryStream: the Kinesis stream source, the processing
//! configuration (a Lambda processor, run as a transformer plugin, and the metadata
//! extraction of dynamic partitioning) and record format conversion to Parquet. Each
//! destination's own settings are in `firehose/destination/`.

use std::collections::BTreeMap;

use weir_firehose::{Conversion, Partitioning, Processing};
use weir_firehose_model::{ParquetCompression, LAMBDA_RETRIES, RETRY_DURATION_S};

use crate::error::ApiError;
use crate::firehose::{bounded, structure};
use crate::request::{label, Req};
use crate::value::{map, s, Val};

/// `KinesisStreamSourceConfiguration`: the source stream's ARN.
pub(crate) fn kinesis_source(req: &mut Req<'_>) -> Result<Option<String>, ApiError> {
    let field = "KinesisStreamSourceConfiguration";
    let Some(v) = req.raw(field) else {
        return Ok(None);
    };
    let mut r = structure(v, field)?;
    let arn = r.string(
        "KinesisStreamARN",
        true,
        1,
        512,
        Some(("arn:.*", |v: &str| v.starts_with("arn:"))),
    )?;
    r.string("RoleARN", true, 1, 512, None)?;
    req.absorb(&mut r, &label(field));
    Ok(arn.map(str::to_owned))
}

/// What a `ProcessingConfiguration` asks for.
#[derive(Default)]
pub(crate) struct ProcessingFields {
    pub lambda: Option<Processing>,
    /// `MetadataExtraction`'s `MetadataExtractionQuery`.
    pub extraction_query: Option<String>,
}

const PROCESSOR_TYPES: [&str; 6] = [
    "RecordDeAggregation",
    "Decompression",
    "CloudWatchLogProcessing",
    "Lambda",
    "MetadataExtraction",
    "AppendDelimiterToRecord",
];

/// Reads `ProcessingConfiguration` of the structure `r`.
pub(crate) fn processing(r: &mut Req<'_>) -> Result<ProcessingFields, ApiError> {
    let field = "ProcessingConfiguration";
    let mut out = ProcessingFields::default();
    let Some(v) = r.raw(field) else {
        return Ok(out);
    };
    let mut pr = structure(v, field)?;
    let enabled = pr.boolean("Enabled")?.unwrap_or(false);
    let processors = match pr.raw("Processors") {
        None => &[][..],
        Some(Val::Arr(a)) => a.as_slice(),
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List (at 'Processors')",
                other.kind()
            )))
        }
    };
    for p in processors {
        let mut one = structure(p, "Processors")?;
        let kind = one
            .enumeration("Type", true, &PROCESSOR_TYPES)?
            .unwrap_or_default();
        let params = parameters(&mut one)?;
        pr.absorb(&mut one, "processors.member");
        if !enabled {
            continue;
        }
        match kind {
            "Lambda" => out.lambda = Some(lambda_processor(&params)?),
            "MetadataExtraction" => out.extraction_query = Some(extraction_query(&params)?),
            other => {
                return Err(ApiError::invalid(format!(
                    "Processor type {other} is not supported by Weir; use Lambda (a transformer plugin) or MetadataExtraction."
                )))
            }
        }
    }
    r.absorb(&mut pr, "processingConfiguration");
    Ok(out)
}

/// A Lambda processor's parameters: the function, run as the transformer plugin it names,
/// and its `NumberOfRetries`.
fn lambda_processor(params: &BTreeMap<String, String>) -> Result<Processing, ApiError> {
    let Some(arn) = params.get("LambdaArn") else {
        return Err(ApiError::invalid(
            "A Lambda processor needs the parameter LambdaArn.",
        ));
    };
    if weir_firehose_model::lambda_function_name(arn).is_none() {
        return Err(ApiError::invalid(format!(
            "LambdaArn {arn:?} is not a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)."
        )));
    }
    let retries = match params.get("NumberOfRetries") {
        None => 3,
        Some(n) => n
            .parse::<u32>()
            .ok()
            .filter(|n| LAMBDA_RETRIES.contains((*n).into()))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "NumberOfRetries {n:?} must be a whole number from {} to {}.",
                    LAMBDA_RETRIES.min, LAMBDA_RETRIES.max
                ))
            })?,
    };
    Ok(Processing {
        lambda_arn: arn.clone(),
        retries,
    })
}

/// A MetadataExtraction processor's query (jq 1.6 syntax, or IoT SQL).
fn extraction_query(params: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let Some(query) = params.get("MetadataExtractionQuery") else {
        return Err(ApiError::invalid(
            "A MetadataExtraction processor needs the parameter MetadataExtractionQuery.",
        ));
    };
    if let Some(engine) = params.get("JsonParsingEngine") {
        if engine != "JQ-1.6" {
            return Err(ApiError::invalid(format!(
                "JsonParsingEngine {engine:?} is not supported; use JQ-1.6."
            )));
        }
    }
    Ok(query.clone())
}

/// A processor's `Parameters` list as a map.
fn parameters(one: &mut Req<'_>) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    let items = match one.raw("Parameters") {
        None => return Ok(out),
        Some(Val::Arr(a)) => a,
        Some(other) => {
            return Err(ApiError::serialization(format!(
                "{} can not be converted to a List (at 'Parameters')",
                other.kind()
            )))
        }
    };
    for p in items {
        let mut pr = structure(p, "Parameters")?;
        let name = pr.enumeration(
            "ParameterName",
            true,
            &[
                "LambdaArn",
                "NumberOfRetries",
                "MetadataExtractionQuery",
                "JsonParsingEngine",
                "RoleArn",
                "BufferSizeInMBs",
                "BufferIntervalInSeconds",
                "SubRecordType",
                "Delimiter",
                "CompressionFormat",
                "DataMessageExtraction",
            ],
        )?;
        let value = pr.string("ParameterValue", true, 1, 5120, None)?;
        one.absorb(&mut pr, "parameters.member");
        if let (Some(n), Some(v)) = (name, value) {
            out.insert(n.to_owned(), v.to_owned());
        }
    }
    Ok(out)
}

/// A `DynamicPartitioningConfiguration` block as given: whether it is enabled, and its
/// `RetryOptions.DurationInSeconds`.
#[derive(Clone, Copy)]
pub(crate) struct PartitioningBlock {
    pub enabled: bool,
    pub retry_s: u32,
}

/// Reads `DynamicPartitioningConfiguration` of the structure `r`, if given.
pub(crate) fn partitioning(r: &mut Req<'_>) -> Result<Option<PartitioningBlock>, ApiError> {
    let field = "DynamicPartitioningConfiguration";
    let Some(v) = r.raw(field) else {
        return Ok(None);
    };
    let mut dr = structure(v, field)?;
    let enabled = dr.boolean("Enabled")?.unwrap_or(false);
    let mut retry_s = 300;
    if let Some(ro) = dr.raw("RetryOptions") {
        let mut rr = structure(ro, "RetryOptions")?;
        retry_s = retry_duration(&mut rr)?;
        dr.absorb(&mut rr, "retryOptions");
    }
    r.absorb(&mut dr, "dynamicPartitioningConfiguration");
    Ok(Some(PartitioningBlock { enabled, retry_s }))
}

/// `RetryOptions.DurationInSeconds`, 300 when not given.
pub(crate) fn retry_duration(rr: &mut Req<'_>) -> Result<u32, ApiError> {
    let v = bounded(rr, "DurationInSeconds", RETRY_DURATION_S)?;
    Ok(v.map_or(300, |v| u32::try_from(v).unwrap_or(RETRY_DURATION_S.max)))
}

/// The partitioning a create asks for: an enabled block and a MetadataExtraction query go
/// together, or neither is given.
pub(crate) fn created_partitioning(
    query: Option<String>,
    block: Option<PartitioningBlock>,
) -> Result<Option<Partitioning>, ApiError> {
    match (block.filter(|b| b.enabled), query) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ApiError::invalid(
            "MetadataExtraction needs DynamicPartitioningConfiguration with Enabled true.",
        )),
        (Some(_), None) => Err(ApiError::invalid(
            "Dynamic partitioning needs a MetadataExtraction processor with a MetadataExtractionQuery.",
        )),
        (Some(b), Some(query)) => Ok(Some(Partitioning {
            query,
            keys: Vec::new(),
            retry_s: b.retry_s,
        })),
    }
}

/// `DataFormatConversionConfiguration`: JSON in (OpenX or Hive JSON SerDe), Parquet out.
pub(crate) fn conversion(r: &mut Req<'_>) -> Result<Option<Conversion>, ApiError> {
    let field = "DataFormatConversionConfiguration";
    let Some(v) = r.raw(field) else {
        return Ok(None);
    };
    let mut cr = structure(v, field)?;
    let enabled = cr.boolean("Enabled")?.unwrap_or(true);
    let mut out = Conversion {
        database: String::new(),
        table: String::new(),
        region: None,
        role_arn: String::new(),
        compression: ParquetCompression::DEFAULT.into(),
    };
    if let Some(sv) = cr.raw("SchemaConfiguration") {
        let mut sr = structure(sv, "SchemaConfiguration")?;
        out.role_arn = sr
            .string("RoleARN", enabled, 1, 512, None)?
            .unwrap_or_default()
            .to_owned();
        out.database = sr
            .string("DatabaseName", enabled, 1, 1024, None)?
            .unwrap_or_default()
            .to_owned();
        out.table = sr
            .string("TableName", enabled, 1, 1024, None)?
            .unwrap_or_default()
            .to_owned();
        out.region = sr
            .string("Region", false, 1, 1024, None)?
            .map(str::to_owned);
        sr.string("CatalogId", false, 1, 1024, None)?;
        sr.string("VersionId", false, 1, 1024, None)?;
        cr.absorb(&mut sr, "schemaConfiguration");
    } else if enabled {
        cr.violation(None, "schemaConfiguration", "Member must not be null");
    }
    if let Some(iv) = cr.raw("InputFormatConfiguration") {
        let known = iv
            .get("Deserializer")
            .is_none_or(|d| d.get("OpenXJsonSerDe").is_some() || d.get("HiveJsonSerDe").is_some());
        if !known {
            return Err(ApiError::invalid(
                "InputFormatConfiguration.Deserializer must be OpenXJsonSerDe or HiveJsonSerDe.",
            ));
        }
    }
    if let Some(ov) = cr.raw("OutputFormatConfiguration") {
        let serializer = ov.get("Serializer");
        if serializer.is_some_and(|s| s.get("OrcSerDe").is_some()) {
            return Err(ApiError::invalid(
                "OrcSerDe is not supported by Weir; use ParquetSerDe.",
            ));
        }
        if let Some(p) = serializer.and_then(|s| s.get("ParquetSerDe")) {
            let mut pr = structure(p, "ParquetSerDe")?;
            if let Some(c) = pr.enumeration("Compression", false, &ParquetCompression::NAMES)? {
                out.compression = c.to_owned();
            }
            cr.absorb(&mut pr, "outputFormatConfiguration.serializer.parquetSerDe");
        }
    }
    r.absorb(&mut cr, "dataFormatConversionConfiguration");
    Ok(enabled.then_some(out))
}

/// The `ProcessingConfiguration` DescribeDeliveryStream shows, if any.
pub(crate) fn processing_description(
    lambda: Option<&Processing>,
    partitioning: Option<&Partitioning>,
) -> Option<Val> {
    let param = |n: &str, v: String| map(vec![("ParameterName", s(n)), ("ParameterValue", s(v))]);
    let mut processors = Vec::new();
    if let Some(p) = lambda {
        processors.push(map(vec![
            ("Type", s("Lambda")),
            (
                "Parameters",
                Val::Arr(vec![
                    param("LambdaArn", p.lambda_arn.clone()),
                    param("NumberOfRetries", p.retries.to_string()),
                ]),
            ),
        ]));
    }
    if let Some(p) = partitioning {
        processors.push(map(vec![
            ("Type", s("MetadataExtraction")),
            (
                "Parameters",
                Val::Arr(vec![
                    param("MetadataExtractionQuery", p.query.clone()),
                    param("JsonParsingEngine", "JQ-1.6".into()),
                ]),
            ),
        ]));
    }
    if processors.is_empty() {
        return None;
    }
    Some(map(vec![
        ("Enabled", Val::Bool(true)),
        ("Processors", Val::Arr(processors)),
    ]))
}

pub(crate) fn partitioning_description(p: &Partitioning) -> Val {
    map(vec![
        ("Enabled", Val::Bool(true)),
        (
            "RetryOptions",
            map(vec![("DurationInSeconds", Val::Int(p.retry_s.into()))]),
        ),
    ])
}

pub(crate) fn conversion_description(c: &Conversion) -> Val {
    let mut schema = vec![
        ("RoleARN", s(c.role_arn.clone())),
        ("DatabaseName", s(c.database.clone())),
        ("TableName", s(c.table.clone())),
        ("VersionId", s("LATEST")),
    ];
    if let Some(r) = &c.region {
        schema.push(("Region", s(r.clone())));
    }
    map(vec![
        ("SchemaConfiguration", map(schema)),
        (
            "InputFormatConfiguration",
            map(vec![(
                "Deserializer",
                map(vec![("OpenXJsonSerDe", map(vec![]))]),
            )]),
        ),
        (
            "OutputFormatConfiguration",
            map(vec![(
                "Serializer",
                map(vec![(
                    "ParquetSerDe",
                    map(vec![("Compression", s(c.compression.clone()))]),
                )]),
            )]),
        ),
        ("Enabled", Val::Bool(true)),
    ])
}
