//! A column's cells gathered for one row group, then written as its Parquet column chunk.

use ::parquet::column::writer::ColumnWriter;
use ::parquet::data_type::{ByteArray, FixedLenByteArray};
use ::parquet::errors::ParquetError;
use weir_firehose_model::HiveType;

use super::values::Cell;

/// One column's values so far: the non-null values in the physical type's form, and a
/// definition level per row (1 value, 0 null) for the OPTIONAL column.
pub(super) struct ColumnData {
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
    pub(super) fn new(hive_type: HiveType, rows: usize) -> ColumnData {
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
    pub(super) fn push(&mut self, cell: Option<Cell>) {
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

    pub(super) fn write(&self, writer: &mut ColumnWriter<'_>) -> Result<(), ParquetError> {
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
