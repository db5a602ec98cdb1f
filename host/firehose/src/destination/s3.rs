//! The S3 destination (`ExtendedS3DestinationConfiguration`): objects in a bucket, grouped by
//! partition keys, converted to Parquet or compressed, cut at `SizeInMBs`. Also the backup
//! of the other destinations, whose error records and backed-up objects it names and holds.

use serde::{Deserialize, Serialize};
use serde_json::json;
use weir_support::now_ms;

use crate::batch::{self, Failure, Item, KeyKind, Output, Place};
use crate::catalog::Inner;
use crate::error::{FirehoseError, Result};
use crate::model::{bucket_of, Buffering, Compression, DeliveryStreamSpec};
use crate::prefix::Prefixes;

/// An S3 destination (`ExtendedS3DestinationConfiguration`), or another destination's S3
/// backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Destination {
    pub role_arn: String,
    pub bucket_arn: String,
    pub prefix: Option<String>,
    pub error_output_prefix: Option<String>,
    pub buffering: Buffering,
    pub compression: Compression,
    /// `FileExtension`: replaces the extension data objects get from their compression or
    /// conversion (`.gz`, `.parquet`), as on AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_extension: Option<String>,
}

impl S3Destination {
    /// The bucket named by `arn:aws:s3:::BUCKET`, checked against S3's naming rules.
    pub fn bucket(&self) -> Result<&str> {
        Ok(bucket_of(&self.bucket_arn)?)
    }

    /// The prefixes after Firehose's rules; also the check that they are valid together.
    pub fn prefixes(&self) -> Result<Prefixes> {
        Prefixes::new(self.prefix.as_deref(), self.error_output_prefix.as_deref())
            .map_err(|e| FirehoseError::InvalidArgument(e.to_string()))
    }

    /// Everything CreateDeliveryStream and UpdateDestination must refuse.
    pub fn validate(&self) -> Result<()> {
        self.bucket()?;
        self.prefixes()?;
        if self.role_arn.is_empty() {
            return Err(FirehoseError::Validation(
                "1 validation error detected: Value at 'roleARN' failed to satisfy constraint: Member must not be null".into(),
            ));
        }
        if let Some(ext) = &self.file_extension {
            if !weir_firehose_model::file_extension_ok(ext) {
                return Err(FirehoseError::Validation(format!(
                    "1 validation error detected: Value '{ext}' at 'fileExtension' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
                    weir_firehose_model::FILE_EXTENSION_PATTERN
                )));
            }
        }
        Ok(())
    }

    /// Every stage applies to S3; the object compression must leave Parquet files (which
    /// carry their own) alone.
    pub(crate) fn check_stages(&self, spec: &DeliveryStreamSpec) -> Result<()> {
        if spec.conversion.is_some() && self.compression != Compression::Uncompressed {
            return Err(FirehoseError::InvalidArgument(
                "CompressionFormat must be UNCOMPRESSED when DataFormatConversionConfiguration is enabled; set the Parquet compression in ParquetSerDe.Compression.".into(),
            ));
        }
        Ok(())
    }
}

/// The objects of one delivery to S3: `items` grouped by partition keys, then each group
/// converted to one Parquet file or cut into compressed objects of at most `SizeInMBs`.
/// A record failing its partition keys or conversion, or whose object key cannot be written,
/// goes to `failures`.
pub(super) fn prepare(
    place: &Place<'_>,
    items: Vec<Item>,
    failures: &mut Vec<Failure>,
) -> Result<Vec<Output>> {
    let (inner, spec) = (place.inner(), place.spec());
    let mut outputs = Vec::new();
    for (keys, group) in batch::partition(spec, items, failures)? {
        match &spec.conversion {
            Some(c) => outputs.extend(parquet_object(
                inner, spec, c, place, &keys, group, failures,
            )?),
            None => {
                // One object per buffer's worth: a delivery that read past the size hint (a
                // whole 4 MiB PutRecordBatch arriving at once) still makes objects of at most
                // SizeInMBs each.
                let mut rest = group;
                let sizes: Vec<usize> = batch::by_size(&rest, place.object_bytes())
                    .iter()
                    .map(|run| run.len())
                    .collect();
                for n in sizes {
                    let run: Vec<Item> = rest.drain(..n).collect();
                    let out = batch::data_object(spec, run, &keys)?;
                    if let Output::Object {
                        key,
                        records: Some(run),
                        ..
                    } = &out
                    {
                        if let Err(why) = place.stores().check_key(key) {
                            batch::unwritable(key, &why, run, failures);
                            continue;
                        }
                    }
                    outputs.push(out);
                }
            }
        }
    }
    Ok(outputs)
}

/// One group converted to a Parquet object (none when every record failed conversion).
fn parquet_object(
    inner: &Inner,
    spec: &DeliveryStreamSpec,
    c: &crate::model::Conversion,
    place: &Place<'_>,
    keys: &[(String, String)],
    group: Vec<Item>,
    failures: &mut Vec<Failure>,
) -> Result<Option<Output>> {
    let table = format!("{}.{}", c.database, c.table);
    let columns = inner.config.schemas.get(&table).ok_or_else(|| {
        FirehoseError::InvalidArgument(weir_firehose_model::undeclared_table(&table))
    })?;
    let schema = crate::parquet::Schema::parse(columns)
        .map_err(|e| FirehoseError::InvalidArgument(e.to_string()))?;
    let datas: Vec<&[u8]> = group.iter().map(|i| i.data.as_slice()).collect();
    let converted = crate::parquet::convert(&schema, &datas, &c.compression)
        .map_err(|e| FirehoseError::InvalidArgument(e.to_string()))?;
    let mut failed_rows = std::collections::BTreeSet::new();
    for (i, why) in converted.failed {
        failed_rows.insert(i);
        let it = &group[i];
        failures.push(Failure {
            kind: "format-conversion-failed",
            line: json!({
                "attemptsMade": 1,
                "arrivalTimestamp": it.arrival_ms,
                "lastErrorCode": "DataFormatConversion.MalformedData",
                "lastErrorMessage": why,
                "attemptEndingTimestamp": now_ms(),
                "rawData": batch::b64(&it.data),
                "dataCatalogTable": {
                    "databaseName": c.database,
                    "tableName": c.table,
                    "region": c.region.clone().unwrap_or_else(|| inner.config.region.clone()),
                    "versionId": "LATEST",
                },
            }),
            arrival_ms: it.arrival_ms,
        });
    }
    let Some(file) = converted.file else {
        return Ok(None);
    };
    let kept: Vec<Item> = group
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !failed_rows.contains(i))
        .map(|(_, it)| it)
        .collect();
    let oldest = batch::oldest(kept.iter().map(|i| i.arrival_ms));
    let key = batch::object_key(spec, oldest, KeyKind::Data(keys), ".parquet")?;
    match place.stores().check_key(&key) {
        Ok(()) => Ok(Some(Output::Object {
            key,
            body: file.into(),
            records: Some(kept),
        })),
        Err(why) => {
            batch::unwritable(&key, &why, &kept, failures);
            Ok(None)
        }
    }
}
