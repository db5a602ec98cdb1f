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

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use ::parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use ::parquet::column::writer::ColumnWriter;
use ::parquet::data_type::{ByteArray, FixedLenByteArray};
use ::parquet::errors::ParquetError;
use ::parquet::file::properties::{WriterProperties, WriterVersion};
use ::parquet::file::writer::SerializedFileWriter;
use ::parquet::schema::types::Type;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value;
use thiserror::Error;

/// The ParquetSerDe's compression when the configuration names none.
pub const DEFAULT_COMPRESSION: &str = "SNAPPY";

/// The most digits of a Hive decimal.
const MAX_DECIMAL_PRECISION: u8 = 38;

/// A schema or configuration that cannot be converted to; Firehose rejects these when the
/// delivery stream is created or updated, so they map to `InvalidArgumentException`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SchemaError {
    #[error("column {column:?}: unsupported type {hive_type:?}")]
    UnsupportedType { column: String, hive_type: String },
    #[error("a column has an empty name")]
    EmptyName,
    /// Column names are case-insensitive, so `Speed` and `speed` are the same column.
    #[error("column {0:?} appears more than once")]
    DuplicateColumn(String),
    /// Parquet has no file without columns.
    #[error("the table has no columns")]
    NoColumns,
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

/// A column type Weir can write, parsed from its Hive spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiveType {
    String,
    /// Longer values are cut to this many characters, as Hive does.
    Varchar(u32),
    /// Cut to this many characters; trailing spaces are not stored (Hive pads on read).
    Char(u32),
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Boolean,
    Timestamp,
    Date,
    Decimal {
        precision: u8,
        scale: u8,
    },
}

impl HiveType {
    /// `None` for anything but the primitive types above (complex types such as
    /// `array<int>` are not supported yet).
    fn parse(spelled: &str) -> Option<HiveType> {
        let t = spelled.trim().to_ascii_lowercase();
        let simple = match t.as_str() {
            "string" => Some(HiveType::String),
            "tinyint" => Some(HiveType::TinyInt),
            "smallint" => Some(HiveType::SmallInt),
            "int" | "integer" => Some(HiveType::Int),
            "bigint" => Some(HiveType::BigInt),
            "float" => Some(HiveType::Float),
            "double" | "double precision" => Some(HiveType::Double),
            "boolean" => Some(HiveType::Boolean),
            "timestamp" => Some(HiveType::Timestamp),
            "date" => Some(HiveType::Date),
            // Hive's default decimal.
            "decimal" | "numeric" => Some(HiveType::Decimal {
                precision: 10,
                scale: 0,
            }),
            _ => None,
        };
        if simple.is_some() {
            return simple;
        }
        let (name, args) = t.split_once('(')?;
        let args: Vec<&str> = args.strip_suffix(')')?.split(',').map(str::trim).collect();
        match (name.trim(), args.as_slice()) {
            ("varchar", [n]) => n
                .parse()
                .ok()
                .filter(|n| (1..=65535).contains(n))
                .map(HiveType::Varchar),
            ("char", [n]) => n
                .parse()
                .ok()
                .filter(|n| (1..=255).contains(n))
                .map(HiveType::Char),
            ("decimal" | "numeric", [p]) => decimal_type(p, "0"),
            ("decimal" | "numeric", [p, s]) => decimal_type(p, s),
            _ => None,
        }
    }
}

fn decimal_type(precision: &str, scale: &str) -> Option<HiveType> {
    let precision: u8 = precision.parse().ok()?;
    let scale: u8 = scale.parse().ok()?;
    ((1..=MAX_DECIMAL_PRECISION).contains(&precision) && scale <= precision)
        .then_some(HiveType::Decimal { precision, scale })
}

impl fmt::Display for HiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HiveType::String => f.write_str("string"),
            HiveType::Varchar(n) => write!(f, "varchar({n})"),
            HiveType::Char(n) => write!(f, "char({n})"),
            HiveType::TinyInt => f.write_str("tinyint"),
            HiveType::SmallInt => f.write_str("smallint"),
            HiveType::Int => f.write_str("int"),
            HiveType::BigInt => f.write_str("bigint"),
            HiveType::Float => f.write_str("float"),
            HiveType::Double => f.write_str("double"),
            HiveType::Boolean => f.write_str("boolean"),
            HiveType::Timestamp => f.write_str("timestamp"),
            HiveType::Date => f.write_str("date"),
            HiveType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
        }
    }
}

/// One column of the Glue table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Lowercased: Hive and Glue column names are case-insensitive and stored in lower case.
    pub name: String,
    pub hive_type: HiveType,
}

/// The columns of the Glue table, in table order (which is the order in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    columns: Vec<Column>,
    /// Column index by (lowercased) name, for matching keys in wide tables.
    by_name: HashMap<String, usize>,
}

impl Schema {
    /// `columns`: (name, Hive type) as written in the table, e.g. `("ts", "timestamp")`,
    /// `("speed", "double")`, `("price", "decimal(10,2)")`. An unknown type is an error naming
    /// the column and the type.
    pub fn parse(columns: &[(String, String)]) -> Result<Schema, SchemaError> {
        if columns.is_empty() {
            return Err(SchemaError::NoColumns);
        }
        let mut parsed: Vec<Column> = Vec::with_capacity(columns.len());
        for (name, spelled) in columns {
            let name = name.trim().to_lowercase();
            if name.is_empty() {
                return Err(SchemaError::EmptyName);
            }
            if parsed.iter().any(|c| c.name == name) {
                return Err(SchemaError::DuplicateColumn(name));
            }
            let hive_type =
                HiveType::parse(spelled).ok_or_else(|| SchemaError::UnsupportedType {
                    column: name.clone(),
                    hive_type: spelled.clone(),
                })?;
            parsed.push(Column { name, hive_type });
        }
        let by_name = parsed
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        Ok(Schema {
            columns: parsed,
            by_name,
        })
    }

    #[cfg(test)]
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The Parquet message type; the root is named as Hive names it.
    fn parquet_type(&self) -> Result<Type, ParquetError> {
        let fields = self
            .columns
            .iter()
            .map(|c| parquet_field(c).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Type::group_type_builder("hive_schema")
            .with_fields(fields)
            .build()
    }
}

fn parquet_field(column: &Column) -> Result<Type, ParquetError> {
    let (physical, logical) = match column.hive_type {
        HiveType::String | HiveType::Varchar(_) | HiveType::Char(_) => {
            (PhysicalType::BYTE_ARRAY, Some(LogicalType::String))
        }
        HiveType::TinyInt => (PhysicalType::INT32, Some(LogicalType::integer(8, true))),
        HiveType::SmallInt => (PhysicalType::INT32, Some(LogicalType::integer(16, true))),
        HiveType::Int => (PhysicalType::INT32, None),
        HiveType::BigInt => (PhysicalType::INT64, None),
        HiveType::Float => (PhysicalType::FLOAT, None),
        HiveType::Double => (PhysicalType::DOUBLE, None),
        HiveType::Boolean => (PhysicalType::BOOLEAN, None),
        HiveType::Timestamp => (
            PhysicalType::INT64,
            Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
        ),
        HiveType::Date => (PhysicalType::INT32, Some(LogicalType::Date)),
        HiveType::Decimal { precision, scale } => {
            return Type::primitive_type_builder(&column.name, PhysicalType::FIXED_LEN_BYTE_ARRAY)
                .with_repetition(Repetition::OPTIONAL)
                .with_length(decimal_bytes(precision))
                .with_precision(i32::from(precision))
                .with_scale(i32::from(scale))
                .with_logical_type(Some(LogicalType::decimal(
                    i32::from(scale),
                    i32::from(precision),
                )))
                .build();
        }
    };
    Type::primitive_type_builder(&column.name, physical)
        .with_repetition(Repetition::OPTIONAL)
        .with_logical_type(logical)
        .build()
}

/// The fewest bytes whose two's complement holds every `precision`-digit number: what Hive's
/// Parquet writer uses for a FIXED_LEN_BYTE_ARRAY decimal (16 for precision 38).
fn decimal_bytes(precision: u8) -> i32 {
    let max = 10u128.pow(u32::from(precision)) - 1;
    let mut n = 1;
    while (1u128 << (8 * n - 1)) - 1 < max {
        n += 1;
    }
    n
}

/// Parquet compression as Firehose's ParquetSerDe names it (`UNCOMPRESSED`, `GZIP`, `SNAPPY`;
/// the API's enum is upper case, so other spellings are rejected like AWS rejects them). When
/// the configuration has none, pass [`DEFAULT_COMPRESSION`].
pub fn compression_of(name: &str) -> Result<Compression, SchemaError> {
    match name {
        "UNCOMPRESSED" => Ok(Compression::UNCOMPRESSED),
        "GZIP" => Ok(Compression::GZIP(Default::default())),
        "SNAPPY" => Ok(Compression::SNAPPY),
        other => Err(SchemaError::Compression(other.to_string())),
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

/// One converted value, in the column's physical type.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Bool(bool),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Bytes(Vec<u8>),
}

/// Converts one record into `row` (one cell per column, `None` for null), or says why not.
fn convert_record(
    schema: &Schema,
    record: &[u8],
    row: &mut Vec<Option<Cell>>,
) -> Result<(), String> {
    let object = match serde_json::from_slice::<Value>(record) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err("not a JSON object".to_string()),
        Err(e) => return Err(format!("not a JSON object: {e}")),
    };
    // The SerDe lowercases keys; of two keys that differ only in case the later one wins.
    let mut values: Vec<Option<&Value>> = vec![None; schema.columns.len()];
    for (key, value) in &object {
        if let Some(&i) = schema.by_name.get(&key.to_lowercase()) {
            values[i] = Some(value);
        }
    }
    for (column, value) in schema.columns.iter().zip(values) {
        let cell = match value {
            None | Some(Value::Null) => None,
            Some(value) => Some(convert_value(column.hive_type, value).map_err(|why| {
                format!(
                    "column {:?} ({}): cannot convert {}: {why}",
                    column.name,
                    column.hive_type,
                    excerpt(value)
                )
            })?),
        };
        row.push(cell);
    }
    Ok(())
}

/// A value's JSON text, cut short enough for an error message.
fn excerpt(value: &Value) -> String {
    const MAX: usize = 64;
    let text = value.to_string();
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

fn convert_value(hive_type: HiveType, value: &Value) -> Result<Cell, String> {
    match hive_type {
        HiveType::String => Ok(Cell::Bytes(string_of(value).into_bytes())),
        HiveType::Varchar(n) => Ok(Cell::Bytes(truncate(string_of(value), n).into_bytes())),
        HiveType::Char(n) => {
            let s = truncate(string_of(value), n);
            Ok(Cell::Bytes(s.trim_end_matches(' ').as_bytes().to_vec()))
        }
        HiveType::TinyInt => {
            integer(value, i8::MIN.into(), i8::MAX.into()).map(|v| Cell::I32(v as i32))
        }
        HiveType::SmallInt => {
            integer(value, i16::MIN.into(), i16::MAX.into()).map(|v| Cell::I32(v as i32))
        }
        HiveType::Int => {
            integer(value, i32::MIN.into(), i32::MAX.into()).map(|v| Cell::I32(v as i32))
        }
        HiveType::BigInt => integer(value, i64::MIN, i64::MAX).map(Cell::I64),
        HiveType::Float => floating(value).map(|v| Cell::F32(v as f32)),
        HiveType::Double => floating(value).map(Cell::F64),
        HiveType::Boolean => boolean(value).map(Cell::Bool),
        HiveType::Timestamp => timestamp_millis(value).map(Cell::I64),
        HiveType::Date => date_days(value).map(Cell::I32),
        HiveType::Decimal { precision, scale } => {
            let text = match value {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_string(),
                _ => return Err("not a number".to_string()),
            };
            let unscaled = decimal_unscaled(&text, precision, scale)?;
            Ok(Cell::Bytes(decimal_be_bytes(
                unscaled,
                decimal_bytes(precision),
            )))
        }
    }
}

/// A string column takes any value: strings as they are, everything else as its JSON text.
fn string_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn truncate(mut s: String, chars: u32) -> String {
    if let Some((end, _)) = s.char_indices().nth(chars as usize) {
        s.truncate(end);
    }
    s
}

/// An integer from a JSON number or a numeric string (decimal, or hexadecimal with `0x` as the
/// OpenX SerDe allows), within `min..=max`. A number with a fractional part is not an
/// integer; `3.0` is.
fn integer(value: &Value, min: i64, max: i64) -> Result<i64, String> {
    let v = match value {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(v), _) => v,
            (None, _) if n.is_u64() => return Err("out of range".to_string()),
            (None, Some(f)) if f.fract() == 0.0 => {
                if f >= i64::MIN as f64 && f < i64::MAX as f64 {
                    f as i64
                } else {
                    return Err("out of range".to_string());
                }
            }
            _ => return Err("not an integer".to_string()),
        },
        Value::String(s) => {
            let s = s.trim();
            let (negative, digits) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.strip_prefix('+').unwrap_or(s)),
            };
            let parsed = match digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
            {
                Some(hex) => i128::from_str_radix(hex, 16),
                None => digits.parse::<i128>(),
            };
            let magnitude = parsed.map_err(|_| "not an integer".to_string())?;
            let v = if negative { -magnitude } else { magnitude };
            i64::try_from(v).map_err(|_| "out of range".to_string())?
        }
        _ => return Err("not a number".to_string()),
    };
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err("out of range".to_string())
    }
}

fn floating(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| "not a number".to_string()),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| "not a number".to_string()),
        _ => Err("not a number".to_string()),
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        _ => Err("not a boolean".to_string()),
    }
}

/// Milliseconds since the epoch, UTC, the ways the OpenX SerDe reads a timestamp (Firehose
/// documents the same list): a date-time string (`yyyy-MM-dd'T'HH:mm:ss[.S]` with `Z`, an
/// offset or nothing, or `yyyy-[M]M-[d]d HH:mm:ss[.S]`; no zone means UTC), or a number or
/// numeric string: with a fraction it is epoch seconds (`1518033528.123`), an integer of 13 or
/// more digits is epoch milliseconds (`1518033528123`), a shorter one epoch seconds
/// (`1518033528`). The SerDe tells seconds from milliseconds by the digits, so Weir does too.
fn timestamp_millis(value: &Value) -> Result<i64, String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err("not a timestamp".to_string()),
    };
    if text.contains(':') {
        return date_time_millis(&text).ok_or_else(|| "not a timestamp".to_string());
    }
    if text.contains(['.', 'e', 'E']) {
        let seconds: f64 = text.parse().map_err(|_| "not a timestamp".to_string())?;
        let millis = (seconds * 1000.0).trunc();
        if !millis.is_finite() || millis < i64::MIN as f64 || millis >= i64::MAX as f64 {
            return Err("out of range".to_string());
        }
        return Ok(millis as i64);
    }
    let n: i64 = text.parse().map_err(|_| "not a timestamp".to_string())?;
    let digits = text.trim_start_matches(['-', '+']).len();
    if digits >= 13 {
        Ok(n)
    } else {
        n.checked_mul(1000)
            .ok_or_else(|| "out of range".to_string())
    }
}

fn date_time_millis(text: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    // An offset as `+01:00`, `+0100` or `+01`, after a `T` or a space.
    let zoned = ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"]
        .iter()
        .find_map(|format| DateTime::parse_from_str(text, format).ok());
    if let Some(t) = zoned {
        return Some(t.timestamp_millis());
    }
    let text = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|t| t.and_utc().timestamp_millis())
}

/// Days since the epoch from `yyyy-MM-dd`.
fn date_days(value: &Value) -> Result<i32, String> {
    let Value::String(s) = value else {
        return Err("not a date (yyyy-MM-dd)".to_string());
    };
    let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| "not a date (yyyy-MM-dd)".to_string())?;
    let days = date.signed_duration_since(NaiveDate::default()).num_days();
    i32::try_from(days).map_err(|_| "out of range".to_string())
}

/// The unscaled value of decimal text (`-12.345`, `1e-3`) at `scale`, rounded half up like
/// Hive's `HiveDecimal`. The text is parsed as written, so a numeric string keeps every digit;
/// a JSON number has gone through a double already. A value with more than `precision - scale`
/// integer digits fails (Hive would make it null, silently).
fn decimal_unscaled(text: &str, precision: u8, scale: u8) -> Result<i128, String> {
    let bad = || "not a number".to_string();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().map_err(|_| bad())?),
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() && frac_part.is_empty()
        || !all_digits(int_part)
        || !all_digits(frac_part)
        || !(-10_000..=10_000).contains(&exponent)
    {
        return Err(bad());
    }
    let digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| b - b'0')
        .skip_while(|d| *d == 0)
        .collect();
    // value = digits * 10^(exponent - frac_len); unscaled = value * 10^scale.
    let shift = exponent - frac_part.len() as i64 + i64::from(scale);
    let out_of_range = || format!("out of range for decimal({precision},{scale})");
    let (kept, round_up) = if shift >= 0 {
        (&digits[..], false)
    } else {
        let drop = usize::try_from(-shift).unwrap_or(usize::MAX);
        if drop > digits.len() {
            (&digits[..0], false)
        } else {
            let cut = digits.len() - drop;
            (&digits[..cut], drop > 0 && digits[cut] >= 5)
        }
    };
    let mut unscaled: i128 = 0;
    for d in kept {
        unscaled = unscaled
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(*d)))
            .ok_or_else(out_of_range)?;
    }
    if shift > 0 && unscaled != 0 {
        let factor = u32::try_from(shift)
            .ok()
            .and_then(|s| 10i128.checked_pow(s))
            .ok_or_else(out_of_range)?;
        unscaled = unscaled.checked_mul(factor).ok_or_else(out_of_range)?;
    }
    if round_up {
        unscaled += 1;
    }
    if unscaled >= 10i128.pow(u32::from(precision)) {
        return Err(out_of_range());
    }
    Ok(if negative { -unscaled } else { unscaled })
}

/// Big-endian two's complement in `len` bytes, as Parquet stores a fixed-length decimal.
fn decimal_be_bytes(unscaled: i128, len: i32) -> Vec<u8> {
    let bytes = unscaled.to_be_bytes();
    let len = usize::try_from(len).unwrap_or(bytes.len()).min(bytes.len());
    bytes[bytes.len() - len..].to_vec()
}

/// One column's values so far: the non-null values in the physical type's form, and a
/// definition level per row (1 value, 0 null) for the OPTIONAL column.
struct ColumnData {
    values: Values,
    defs: Vec<i16>,
}

enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

impl ColumnData {
    fn new(hive_type: HiveType, rows: usize) -> ColumnData {
        let values = match hive_type {
            HiveType::String | HiveType::Varchar(_) | HiveType::Char(_) => {
                Values::Bytes(Vec::new())
            }
            HiveType::TinyInt | HiveType::SmallInt | HiveType::Int | HiveType::Date => {
                Values::I32(Vec::new())
            }
            HiveType::BigInt | HiveType::Timestamp => Values::I64(Vec::new()),
            HiveType::Float => Values::F32(Vec::new()),
            HiveType::Double => Values::F64(Vec::new()),
            HiveType::Boolean => Values::Bool(Vec::new()),
            HiveType::Decimal { .. } => Values::Fixed(Vec::new()),
        };
        ColumnData {
            values,
            defs: Vec::with_capacity(rows),
        }
    }

    /// Cells come from [`convert_value`] for this column's type, so they always match.
    fn push(&mut self, cell: Option<Cell>) {
        let Some(cell) = cell else {
            self.defs.push(0);
            return;
        };
        self.defs.push(1);
        match (&mut self.values, cell) {
            (Values::Bool(v), Cell::Bool(x)) => v.push(x),
            (Values::I32(v), Cell::I32(x)) => v.push(x),
            (Values::I64(v), Cell::I64(x)) => v.push(x),
            (Values::F32(v), Cell::F32(x)) => v.push(x),
            (Values::F64(v), Cell::F64(x)) => v.push(x),
            (Values::Bytes(v), Cell::Bytes(x)) => v.push(ByteArray::from(x)),
            (Values::Fixed(v), Cell::Bytes(x)) => v.push(FixedLenByteArray::from(x)),
            _ => unreachable!("a cell of another type than its column"),
        }
    }

    fn write(&self, writer: &mut ColumnWriter<'_>) -> Result<(), ParquetError> {
        let defs = Some(&self.defs[..]);
        match (writer, &self.values) {
            (ColumnWriter::BoolColumnWriter(w), Values::Bool(v)) => w.write_batch(v, defs, None),
            (ColumnWriter::Int32ColumnWriter(w), Values::I32(v)) => w.write_batch(v, defs, None),
            (ColumnWriter::Int64ColumnWriter(w), Values::I64(v)) => w.write_batch(v, defs, None),
            (ColumnWriter::FloatColumnWriter(w), Values::F32(v)) => w.write_batch(v, defs, None),
            (ColumnWriter::DoubleColumnWriter(w), Values::F64(v)) => w.write_batch(v, defs, None),
            (ColumnWriter::ByteArrayColumnWriter(w), Values::Bytes(v)) => {
                w.write_batch(v, defs, None)
            }
            (ColumnWriter::FixedLenByteArrayColumnWriter(w), Values::Fixed(v)) => {
                w.write_batch(v, defs, None)
            }
            _ => Err(ParquetError::General(
                "a Parquet column of another type than its values".into(),
            )),
        }?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ::parquet::file::reader::{FileReader, SerializedFileReader};
    use ::parquet::record::Field;
    use std::io::Write;

    fn schema(columns: &[(&str, &str)]) -> Schema {
        let columns: Vec<(String, String)> = columns
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        Schema::parse(&columns).unwrap()
    }

    fn reader(file: &[u8]) -> SerializedFileReader<std::fs::File> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(file).unwrap();
        SerializedFileReader::new(f).unwrap()
    }

    /// The rows of a file, as (column, field) pairs.
    fn rows(file: &[u8]) -> Vec<Vec<(String, Field)>> {
        reader(file)
            .get_row_iter(None)
            .unwrap()
            .map(|row| {
                row.unwrap()
                    .get_column_iter()
                    .map(|(name, field)| (name.clone(), field.clone()))
                    .collect()
            })
            .collect()
    }

    fn field<'a>(row: &'a [(String, Field)], name: &str) -> &'a Field {
        &row.iter().find(|(n, _)| n == name).unwrap().1
    }

    fn decimal_value(f: &Field) -> (i128, i32, i32) {
        let Field::Decimal(d) = f else {
            panic!("not a decimal: {f:?}")
        };
        let data = d.data();
        let mut bytes = [if data[0] & 0x80 != 0 { 0xff } else { 0 }; 16];
        bytes[16 - data.len()..].copy_from_slice(data);
        (i128::from_be_bytes(bytes), d.precision(), d.scale())
    }

    fn all_types() -> Schema {
        schema(&[
            ("s", "string"),
            ("vc", "varchar(3)"),
            ("ch", "char(4)"),
            ("ti", "tinyint"),
            ("si", "smallint"),
            ("i", "int"),
            ("bi", "bigint"),
            ("f", "float"),
            ("d", "double"),
            ("b", "boolean"),
            ("ts", "timestamp"),
            ("dt", "date"),
            ("dec", "decimal(10,2)"),
            ("big", "DECIMAL(38, 4)"),
        ])
    }

    #[test]
    fn round_trips_every_type() {
        let records: Vec<&[u8]> = vec![
            br#"{"s":"hello","vc":"abcdef","ch":"xy","ti":-128,"si":32767,"i":-5,"bi":9007199254740993,
                "f":1.5,"d":2.25,"b":true,"ts":1700000000123,"dt":"2024-02-29","dec":12.345,
                "big":"-12345678901234567890123456789.12345"}"#,
            b"{\"s\":42,\"ti\":\"7\",\"si\":\"-3\",\"i\":\"0x1F\",\"bi\":\"-42\",\"f\":\"2.5\",\"d\":\"1e3\",\"b\":\"FALSE\",\"ts\":\"2024-01-02T03:04:05.678Z\",\"dt\":\"1969-12-31\",\"dec\":\"-0.005\",\"big\":0}\n",
            br#"{"s":{"a":[1,2]},"ts":"2024-01-02 03:04:05","i":3.0,"d":7,"dec":"1e2"}"#,
            br#"{"s":null,"ts":"2024-01-02T04:04:05+01:00"}"#,
            br#"{"s":[1,"x"],"b":false,"ts":1518033528,"f":-0.0}"#,
            br#"{"s":true,"ts":1518033528.5}"#,
        ];
        let out = convert(&all_types(), &records, "SNAPPY").unwrap();
        assert_eq!(out.failed, vec![]);
        let rows = rows(&out.file.unwrap());
        assert_eq!(rows.len(), 6);

        let r = &rows[0];
        let names: Vec<&str> = r.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["s", "vc", "ch", "ti", "si", "i", "bi", "f", "d", "b", "ts", "dt", "dec", "big"]
        );
        assert_eq!(field(r, "s"), &Field::Str("hello".into()));
        assert_eq!(field(r, "vc"), &Field::Str("abc".into()));
        assert_eq!(field(r, "ch"), &Field::Str("xy".into()));
        assert_eq!(field(r, "ti"), &Field::Byte(-128));
        assert_eq!(field(r, "si"), &Field::Short(32767));
        assert_eq!(field(r, "i"), &Field::Int(-5));
        assert_eq!(field(r, "bi"), &Field::Long(9007199254740993));
        assert_eq!(field(r, "f"), &Field::Float(1.5));
        assert_eq!(field(r, "d"), &Field::Double(2.25));
        assert_eq!(field(r, "b"), &Field::Bool(true));
        assert_eq!(field(r, "ts"), &Field::TimestampMillis(1700000000123));
        assert_eq!(field(r, "dt"), &Field::Date(19782));
        assert_eq!(decimal_value(field(r, "dec")), (1235, 10, 2));
        assert_eq!(
            decimal_value(field(r, "big")),
            (-123456789012345678901234567891235, 38, 4)
        );

        let r = &rows[1];
        assert_eq!(field(r, "s"), &Field::Str("42".into()));
        assert_eq!(field(r, "vc"), &Field::Null);
        assert_eq!(field(r, "ch"), &Field::Null);
        assert_eq!(field(r, "ti"), &Field::Byte(7));
        assert_eq!(field(r, "si"), &Field::Short(-3));
        assert_eq!(field(r, "i"), &Field::Int(31));
        assert_eq!(field(r, "bi"), &Field::Long(-42));
        assert_eq!(field(r, "f"), &Field::Float(2.5));
        assert_eq!(field(r, "d"), &Field::Double(1000.0));
        assert_eq!(field(r, "b"), &Field::Bool(false));
        assert_eq!(field(r, "ts"), &Field::TimestampMillis(1704164645678));
        assert_eq!(field(r, "dt"), &Field::Date(-1));
        assert_eq!(decimal_value(field(r, "dec")), (-1, 10, 2));
        assert_eq!(decimal_value(field(r, "big")), (0, 38, 4));

        let r = &rows[2];
        assert_eq!(field(r, "s"), &Field::Str(r#"{"a":[1,2]}"#.into()));
        assert_eq!(field(r, "ts"), &Field::TimestampMillis(1704164645000));
        assert_eq!(field(r, "i"), &Field::Int(3));
        assert_eq!(field(r, "d"), &Field::Double(7.0));
        assert_eq!(decimal_value(field(r, "dec")), (10000, 10, 2));
        for null in ["vc", "ch", "ti", "si", "bi", "f", "b", "dt", "big"] {
            assert_eq!(field(r, null), &Field::Null, "{null}");
        }

        let r = &rows[3];
        assert_eq!(field(r, "s"), &Field::Null);
        assert_eq!(field(r, "ts"), &Field::TimestampMillis(1704164645000));

        let r = &rows[4];
        assert_eq!(field(r, "s"), &Field::Str(r#"[1,"x"]"#.into()));
        assert_eq!(field(r, "b"), &Field::Bool(false));
        assert_eq!(field(r, "ts"), &Field::TimestampMillis(1518033528000));
        assert_eq!(field(r, "f"), &Field::Float(-0.0));

        let r = &rows[5];
        assert_eq!(field(r, "s"), &Field::Str("true".into()));
        assert_eq!(field(r, "ts"), &Field::TimestampMillis(1518033528500));
    }

    #[test]
    fn file_schema_has_the_hive_types() {
        let out = convert(&all_types(), &[b"{}"], "UNCOMPRESSED").unwrap();
        let reader = reader(&out.file.unwrap());
        let meta = reader.metadata();
        assert_eq!(meta.num_row_groups(), 1);
        assert_eq!(meta.file_metadata().num_rows(), 1);
        let schema = meta.file_metadata().schema_descr();
        let described: Vec<String> = schema
            .columns()
            .iter()
            .map(|c| {
                let t = c.self_type();
                assert_eq!(t.get_basic_info().repetition(), Repetition::OPTIONAL);
                format!(
                    "{} {} {:?}",
                    c.name(),
                    c.physical_type(),
                    t.get_basic_info().logical_type_ref()
                )
            })
            .collect();
        let ts = LogicalType::timestamp(true, TimeUnit::MILLIS);
        let expected = [
            format!("s BYTE_ARRAY {:?}", Some(LogicalType::String)),
            format!("vc BYTE_ARRAY {:?}", Some(LogicalType::String)),
            format!("ch BYTE_ARRAY {:?}", Some(LogicalType::String)),
            format!("ti INT32 {:?}", Some(LogicalType::integer(8, true))),
            format!("si INT32 {:?}", Some(LogicalType::integer(16, true))),
            "i INT32 None".to_string(),
            "bi INT64 None".to_string(),
            "f FLOAT None".to_string(),
            "d DOUBLE None".to_string(),
            "b BOOLEAN None".to_string(),
            format!("ts INT64 {:?}", Some(ts)),
            format!("dt INT32 {:?}", Some(LogicalType::Date)),
            format!(
                "dec FIXED_LEN_BYTE_ARRAY {:?}",
                Some(LogicalType::decimal(2, 10))
            ),
            format!(
                "big FIXED_LEN_BYTE_ARRAY {:?}",
                Some(LogicalType::decimal(4, 38))
            ),
        ];
        assert_eq!(described, expected);
        assert_eq!(schema.column(12).type_length(), 5);
        assert_eq!(schema.column(13).type_length(), 16);
    }

    #[test]
    fn keys_match_case_insensitively_and_extra_keys_are_ignored() {
        let s = schema(&[("CarId", "string"), ("speed", "double")]);
        assert_eq!(s.columns()[0].name, "carid");
        let records: Vec<&[u8]> = vec![
            br#"{"CARID":"a","Speed":1.0,"other":{"x":1}}"#,
            br#"{"carId":"b","SPEED":"2"}"#,
        ];
        let out = convert(&s, &records, "SNAPPY").unwrap();
        assert!(out.failed.is_empty());
        let rows = rows(&out.file.unwrap());
        assert_eq!(rows.len(), 2);
        assert_eq!(field(&rows[0], "carid"), &Field::Str("a".into()));
        assert_eq!(field(&rows[0], "speed"), &Field::Double(1.0));
        assert_eq!(rows[0].len(), 2);
        assert_eq!(field(&rows[1], "carid"), &Field::Str("b".into()));
        assert_eq!(field(&rows[1], "speed"), &Field::Double(2.0));
    }

    #[test]
    fn bad_records_fail_alone_and_the_rest_keep_their_order() {
        let s = schema(&[("n", "int"), ("b", "boolean"), ("ts", "timestamp")]);
        let records: Vec<&[u8]> = vec![
            br#"{"n":1}"#,
            b"{\"n\":",
            b"[1,2]",
            b"\"text\"",
            br#"{"n":"abc"}"#,
            br#"{"n":2}"#,
            br#"{"n":3000000000}"#,
            br#"{"n":1.5}"#,
            br#"{"b":"yes"}"#,
            br#"{"ts":"yesterday"}"#,
            br#"{"n":[1]}"#,
            br#"{"n":3}  "#,
            br#"{"n":1e300}"#,
        ];
        let out = convert(&s, &records, "GZIP").unwrap();
        let failed: Vec<usize> = out.failed.iter().map(|(i, _)| *i).collect();
        assert_eq!(failed, vec![1, 2, 3, 4, 6, 7, 8, 9, 10, 12]);
        assert!(
            out.failed[9].1.ends_with(": out of range"),
            "{:?}",
            out.failed[9]
        );
        assert!(
            out.failed[0].1.starts_with("not a JSON object"),
            "{:?}",
            out.failed[0]
        );
        assert_eq!(out.failed[1].1, "not a JSON object");
        assert_eq!(out.failed[2].1, "not a JSON object");
        assert_eq!(
            out.failed[3].1,
            r#"column "n" (int): cannot convert "abc": not an integer"#
        );
        assert_eq!(
            out.failed[4].1,
            r#"column "n" (int): cannot convert 3000000000: out of range"#
        );
        assert!(
            out.failed[6].1.contains(r#"column "b""#),
            "{:?}",
            out.failed[6]
        );
        assert!(
            out.failed[7].1.contains(r#"column "ts""#),
            "{:?}",
            out.failed[7]
        );
        let rows = rows(&out.file.unwrap());
        let ns: Vec<&Field> = rows.iter().map(|r| field(r, "n")).collect();
        assert_eq!(ns, [&Field::Int(1), &Field::Int(2), &Field::Int(3)]);
    }

    #[test]
    fn decimals_out_of_range_fail_and_round_half_up() {
        let s = schema(&[("d", "decimal(4,2)")]);
        let records: Vec<&[u8]> = vec![
            br#"{"d":99.994}"#,
            br#"{"d":99.995}"#,
            br#"{"d":"-1.005"}"#,
            br#"{"d":"12.3.4"}"#,
            br#"{"d":true}"#,
        ];
        let out = convert(&s, &records, "SNAPPY").unwrap();
        let failed: Vec<usize> = out.failed.iter().map(|(i, _)| *i).collect();
        assert_eq!(failed, vec![1, 3, 4]);
        assert!(out.failed[0].1.ends_with("out of range for decimal(4,2)"));
        let rows = rows(&out.file.unwrap());
        assert_eq!(decimal_value(field(&rows[0], "d")), (9999, 4, 2));
        assert_eq!(decimal_value(field(&rows[1], "d")), (-101, 4, 2));
    }

    #[test]
    fn decimal_bytes_match_hive() {
        let by_precision: Vec<i32> = [1, 2, 3, 9, 10, 18, 19, 38]
            .iter()
            .map(|p| decimal_bytes(*p))
            .collect();
        assert_eq!(by_precision, [1, 1, 2, 4, 5, 8, 9, 16]);
        assert_eq!(decimal_be_bytes(-1, 2), [0xff, 0xff]);
        assert_eq!(decimal_be_bytes(258, 3), [0, 1, 2]);
    }

    #[test]
    fn all_failed_gives_no_file() {
        let s = schema(&[("n", "int")]);
        let out = convert(&s, &[b"nope", b"{\"n\":true}"], "SNAPPY").unwrap();
        assert_eq!(out.file, None);
        assert_eq!(out.failed.len(), 2);
        let out = convert(&s, &[], "SNAPPY").unwrap();
        assert_eq!(
            out,
            Converted {
                file: None,
                failed: vec![]
            }
        );
    }

    #[test]
    fn compression_names() {
        assert_eq!(
            compression_of("UNCOMPRESSED").unwrap(),
            Compression::UNCOMPRESSED
        );
        assert!(matches!(
            compression_of("GZIP").unwrap(),
            Compression::GZIP(_)
        ));
        assert_eq!(compression_of("SNAPPY").unwrap(), Compression::SNAPPY);
        assert_eq!(
            compression_of(DEFAULT_COMPRESSION).unwrap(),
            Compression::SNAPPY
        );
        for bad in ["snappy", "ZSTD", "LZO", ""] {
            assert_eq!(
                compression_of(bad),
                Err(SchemaError::Compression(bad.to_string()))
            );
        }
        let s = schema(&[("n", "int")]);
        let err = convert(&s, &[b"{}"], "BROTLI").unwrap_err();
        assert!(matches!(
            err,
            ConversionError::Schema(SchemaError::Compression(_))
        ));
        assert_eq!(
            err.to_string(),
            r#"unsupported Parquet compression "BROTLI": expected UNCOMPRESSED, GZIP or SNAPPY"#
        );
    }

    #[test]
    fn every_compression_writes_a_readable_file() {
        let s = schema(&[("car", "string"), ("speed", "double")]);
        let line = br#"{"car":"a car with a name long enough to compress","speed":88.5}"#;
        let records: Vec<&[u8]> = vec![line; 100];
        let mut sizes = Vec::new();
        for (name, codec) in [
            ("UNCOMPRESSED", "UNCOMPRESSED"),
            ("GZIP", "GZIP"),
            ("SNAPPY", "SNAPPY"),
        ] {
            let file = convert(&s, &records, name).unwrap().file.unwrap();
            let reader = reader(&file);
            let column = reader.metadata().row_group(0).column(0);
            let got = column.compression().to_string();
            assert!(got.starts_with(codec), "{got}");
            let rows = rows(&file);
            assert_eq!(rows.len(), 100);
            assert_eq!(field(&rows[99], "speed"), &Field::Double(88.5));
            sizes.push(file.len());
        }
        assert!(sizes[0] > 0 && sizes[1] > 0 && sizes[2] > 0);
    }

    #[test]
    fn schema_errors() {
        let parse = |columns: &[(&str, &str)]| {
            let columns: Vec<(String, String)> = columns
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect();
            Schema::parse(&columns)
        };
        assert_eq!(
            parse(&[("ok", "int"), ("tags", "array<string>")]),
            Err(SchemaError::UnsupportedType {
                column: "tags".into(),
                hive_type: "array<string>".into()
            })
        );
        for bad in [
            "decimal(39,2)",
            "decimal(5,6)",
            "varchar(0)",
            "char(x)",
            "varchar",
            "text",
        ] {
            assert!(
                matches!(
                    parse(&[("c", bad)]),
                    Err(SchemaError::UnsupportedType { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            parse(&[("A", "int"), ("a", "string")]),
            Err(SchemaError::DuplicateColumn("a".into()))
        );
        assert_eq!(parse(&[]), Err(SchemaError::NoColumns));
        assert_eq!(parse(&[(" ", "int")]), Err(SchemaError::EmptyName));
        let s = parse(&[("x", " Decimal "), ("y", "VARCHAR(10)"), ("z", "integer")]).unwrap();
        let types: Vec<HiveType> = s.columns().iter().map(|c| c.hive_type).collect();
        assert_eq!(
            types,
            [
                HiveType::Decimal {
                    precision: 10,
                    scale: 0
                },
                HiveType::Varchar(10),
                HiveType::Int
            ]
        );
    }

    #[test]
    fn timestamps_the_openx_ways() {
        let ms = |v: Value| timestamp_millis(&v);
        assert_eq!(ms(serde_json::json!(1518033528123i64)), Ok(1518033528123));
        assert_eq!(ms(serde_json::json!("1518033528123")), Ok(1518033528123));
        assert_eq!(ms(serde_json::json!(1518033528)), Ok(1518033528000));
        assert_eq!(ms(serde_json::json!(1518033528.123)), Ok(1518033528123));
        assert_eq!(
            ms(serde_json::json!("2017-02-07T15:13:01.39256Z")),
            Ok(1486480381392)
        );
        assert_eq!(
            ms(serde_json::json!("2017-2-7 15:13:01.14")),
            Ok(1486480381140)
        );
        assert_eq!(
            ms(serde_json::json!("2017-02-07 15:13:01")),
            Ok(1486480381000)
        );
        assert_eq!(
            ms(serde_json::json!("2017-02-07 16:13:01+01:00")),
            Ok(1486480381000)
        );
        assert_eq!(
            ms(serde_json::json!("2017-02-07T16:13:01.5+0100")),
            Ok(1486480381500)
        );
        assert_eq!(
            ms(serde_json::json!("2017-02-07 14:13:01-01")),
            Ok(1486480381000)
        );
        assert_eq!(ms(serde_json::json!("-5")), Ok(-5000));
        assert!(ms(serde_json::json!(true)).is_err());
        assert!(ms(serde_json::json!("2017-02-30 15:13:01")).is_err());
    }

    #[test]
    fn strings_are_cut_to_their_length_by_characters() {
        let s = schema(&[("v", "varchar(2)"), ("c", "char(3)")]);
        let out = convert(&s, &[r#"{"v":"héllo","c":"a  b"}"#.as_bytes()], "SNAPPY").unwrap();
        let rows = rows(&out.file.unwrap());
        assert_eq!(field(&rows[0], "v"), &Field::Str("hé".into()));
        assert_eq!(field(&rows[0], "c"), &Field::Str("a".into()));
    }
}
