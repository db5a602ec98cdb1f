//! Record format conversion, JSON to Apache Parquet: what Firehose does for a
//! `DataFormatConversionConfiguration` with the OpenX JSON SerDe as input and the Parquet
//! SerDe as output. The columns come from a Glue table; Weir takes them as (name, Hive type)
//! pairs so that this module needs no catalog.
//!
//! The reading side follows the OpenX JSON SerDe as Firehose documents it: keys are matched to
//! columns case-insensitively, extra keys are ignored, a missing key or `null` is a null, and
//! scalars are coerced leniently (`"42"` is a fine `int`). A record that cannot be converted
//! is not written; the caller sends it to the error output (`format-conversion-failed`).
//!
//! Every column is written OPTIONAL with these Parquet types:
//!
//! | Hive type              | Parquet physical type        | Logical type                 |
//! |------------------------|------------------------------|------------------------------|
//! | `string`, `varchar(n)`, `char(n)` | BYTE_ARRAY        | STRING                       |
//! | `tinyint`, `smallint`  | INT32                        | INTEGER(8/16, signed)        |
//! | `int`                  | INT32                        | none                         |
//! | `bigint`               | INT64                        | none                         |
//! | `float`, `double`      | FLOAT, DOUBLE                | none                         |
//! | `boolean`              | BOOLEAN                      | none                         |
//! | `timestamp`            | INT64                        | TIMESTAMP(MILLIS, UTC)       |
//! | `date`                 | INT32                        | DATE                         |
//! | `decimal(p,s)`         | FIXED_LEN_BYTE_ARRAY         | DECIMAL(p,s)                 |
//!
//! Decimals are real decimals, in as many bytes as Hive's Parquet writer uses for the
//! precision, so Athena and Spark read them as `decimal(p,s)` and not as a double.
//! (Hive itself writes timestamps as INT96; INT64 millis is what current readers prefer and
//! what Athena reads as `timestamp` too.)
//!
//! The column types are `weir-firehose-model`'s [`HiveType`]: the same parser checks the
//! config's `[[firehose.tables]]`, so a type the config accepts is one this module writes.
//! Files: `schema.rs` (Hive to Parquet types), `values.rs` (JSON values to cells, the OpenX
//! SerDe's coercions), `columns.rs` (cells to column chunks).

mod columns;
mod schema;
mod values;

use std::sync::Arc;

use ::parquet::basic::Compression;
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::{WriterProperties, WriterVersion};
use ::parquet::file::writer::SerializedFileWriter;
use thiserror::Error;
use weir_firehose_model::{HiveSchemaError, ParquetCompression};

use self::columns::ColumnData;
pub use self::schema::Schema;
use self::values::convert_record;

/// The ParquetSerDe's compression when the configuration names none.
pub const DEFAULT_COMPRESSION: &str = ParquetCompression::DEFAULT;

/// A schema or configuration that cannot be converted to; Firehose rejects these when the
/// delivery stream is created or updated, so they map to `InvalidArgumentException`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SchemaError {
    /// The table's columns, as `weir-firehose-model` checks them.
    #[error(transparent)]
    Columns(#[from] HiveSchemaError),
    #[error("unsupported Parquet compression {0:?}: expected UNCOMPRESSED, GZIP or SNAPPY")]
    Compression(String),
}

/// Why a whole batch could not be converted (as opposed to single records, which are
/// reported in [`Converted::failed`]).
#[derive(Debug, Error)]
pub enum ConversionError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The Parquet writer failed; with an in-memory sink this is a bug, not bad input.
    #[error("writing Parquet: {0}")]
    Parquet(#[from] ParquetError),
}

/// Parquet compression as Firehose's ParquetSerDe names it (`UNCOMPRESSED`, `GZIP`, `SNAPPY`;
/// the API's enum is upper case, so other spellings are rejected like AWS rejects them). When
/// the configuration has none, pass [`DEFAULT_COMPRESSION`].
pub fn compression_of(name: &str) -> Result<Compression, SchemaError> {
    match ParquetCompression::parse(name) {
        Some(ParquetCompression::Uncompressed) => Ok(Compression::UNCOMPRESSED),
        Some(ParquetCompression::Gzip) => Ok(Compression::GZIP(Default::default())),
        Some(ParquetCompression::Snappy) => Ok(Compression::SNAPPY),
        None => Err(SchemaError::Compression(name.to_string())),
    }
}

/// The result of converting a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// One Parquet file with every converted record as a row, in order, in one row group;
    /// `None` if no record converted (Firehose writes no empty files).
    pub file: Option<Vec<u8>>,
    /// The records that were left out: index into the input and why.
    pub failed: Vec<(usize, String)>,
}

/// Converts records (each one JSON object, maybe followed by a newline or other whitespace)
/// into one Parquet file with the `schema`'s columns, compressed as `compression` names it
/// (see [`compression_of`]). A record that is not a JSON object or has a value that does not
/// fit its column fails alone; an error is returned only for a bad compression name or a
/// failing writer.
pub fn convert(
    schema: &Schema,
    records: &[&[u8]],
    compression: &str,
) -> Result<Converted, ConversionError> {
    let compression = compression_of(compression)?;
    let mut columns: Vec<ColumnData> = schema
        .columns
        .iter()
        .map(|c| ColumnData::new(c.hive_type, records.len()))
        .collect();
    let mut failed = Vec::new();
    let mut row = Vec::with_capacity(columns.len());
    let mut rows = 0usize;
    for (index, record) in records.iter().enumerate() {
        row.clear();
        match convert_record(schema, record, &mut row) {
            Ok(()) => {
                for (data, cell) in columns.iter_mut().zip(row.drain(..)) {
                    data.push(cell);
                }
                rows += 1;
            }
            Err(message) => failed.push((index, message)),
        }
    }
    if rows == 0 {
        return Ok(Converted { file: None, failed });
    }

    let properties = WriterProperties::builder()
        .set_compression(compression)
        // Version 1 pages, as the ParquetSerDe writes by default (`WriterVersion` V1): every
        // reader, old Hive included, understands them.
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .build();
    let mut writer = SerializedFileWriter::new(
        Vec::new(),
        Arc::new(schema.parquet_type()?),
        Arc::new(properties),
    )?;
    let mut group = writer.next_row_group()?;
    for data in &columns {
        let Some(mut column) = group.next_column()? else {
            return Err(
                ParquetError::General("fewer Parquet columns than table columns".into()).into(),
            );
        };
        data.write(column.untyped())?;
        column.close()?;
    }
    group.close()?;
    let file = writer.into_inner()?;
    Ok(Converted {
        file: Some(file),
        failed,
    })
}

#[cfg(test)]
mod tests;
