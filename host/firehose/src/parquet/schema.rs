//! A table's columns as a Parquet message type: which physical and logical type each Hive
//! type is written as (the table in the module's docs).

use std::collections::HashMap;
use std::sync::Arc;

use ::parquet::basic::{LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use ::parquet::errors::ParquetError;
use ::parquet::schema::types::Type;
use weir_firehose_model::{hive_columns, HiveColumn, HiveType};

use super::SchemaError;

/// The columns of the Glue table, in table order (which is the order in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub(super) columns: Vec<HiveColumn>,
    /// Column index by (lowercased) name, for matching keys in wide tables.
    pub(super) by_name: HashMap<String, usize>,
}

impl Schema {
    /// `columns`: (name, Hive type) as written in the table, e.g. `("ts", "timestamp")`,
    /// `("speed", "double")`, `("price", "decimal(10,2)")`, checked by
    /// [`weir_firehose_model::hive_columns`]. An unknown type is an error naming the column
    /// and the type.
    pub fn parse(columns: &[(String, String)]) -> Result<Schema, SchemaError> {
        let columns = hive_columns(columns)?;
        let by_name = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
        Ok(Schema { columns, by_name })
    }

    #[cfg(test)]
    pub fn columns(&self) -> &[HiveColumn] {
        &self.columns
    }

    /// The Parquet message type; the root is named as Hive names it.
    pub(super) fn parquet_type(&self) -> Result<Type, ParquetError> {
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

/// Every column OPTIONAL. The match is exhaustive: a type added to [`HiveType`] does not
/// compile here until it has a Parquet type.
fn parquet_field(column: &HiveColumn) -> Result<Type, ParquetError> {
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
pub(super) fn decimal_bytes(precision: u8) -> i32 {
    let max = 10u128.pow(u32::from(precision)) - 1;
    let mut n = 1;
    while (1u128 << (8 * n - 1)) - 1 < max {
        n += 1;
    }
    n
}
