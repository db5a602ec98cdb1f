//! Output serialisation: how a row of an in-application stream becomes the bytes of one
//! record at a destination (a stream, a delivery stream, a Lambda-contract plugin), by the
//! output's `DestinationSchema` (`RecordFormatType` `JSON` or `CSV`,
//! https://docs.aws.amazon.com/kinesisanalytics/latest/dev/API_DestinationSchema.html).
//!
//! Choices the documentation leaves open, kept in one place:
//! - JSON: one object per row, members in column order named as the columns are stored
//!   (`{"TICKER_SYMBOL":"AAA","PRICE":100.0}`), numbers as JSON numbers, booleans as JSON
//!   booleans, NULL as `null`, no trailing newline (each row is its own record).
//!   ROWTIME is not a column, so it is not written unless the query selected it into one.
//! - CSV: fields joined with `,`, the record ended with `\n`, NULL as an empty field, an
//!   empty string as `""`, a field holding `,`, `"`, `\r` or `\n` quoted with `""` for a quote.
//! - Timestamps, dates, times and intervals as SQL's text form (`2019-01-01 10:00:00.000`),
//!   the form a CAST to VARCHAR gives, in both formats.

pub mod lambda;

use serde::{Deserialize, Serialize};

use crate::input::json::write_json_string;
use crate::input::validate::{join, Violation};
use crate::input::RecordFormatType;
use crate::row::{StreamColumn, StreamRow};
use crate::value::Value;

/// `DestinationSchema` in AWS's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationSchema {
    #[serde(rename = "RecordFormatType")]
    pub record_format_type: String,
}

impl DestinationSchema {
    /// The model's enum constraint, under `path` (e.g. `outputs.1.member.destinationSchema`).
    pub fn violations(&self, path: &str) -> Vec<Violation> {
        if RecordFormatType::parse(&self.record_format_type).is_some() {
            Vec::new()
        } else {
            vec![Violation::new(
                join(path, "recordFormatType"),
                &self.record_format_type,
                "Member must satisfy enum value set: [JSON, CSV]",
            )]
        }
    }

    /// AWS's message for a wrong format, or nothing.
    pub fn validate(&self) -> Result<(), String> {
        let v = self.violations("destinationSchema");
        if v.is_empty() {
            Ok(())
        } else {
            Err(crate::input::validate::summarize(&v))
        }
    }

    /// The format; JSON when the text is not one (validation refuses such schemas).
    pub fn format(&self) -> RecordFormatType {
        RecordFormatType::parse(&self.record_format_type).unwrap_or(RecordFormatType::Json)
    }
}

/// Serialises a row by format name: `"CSV"` (any case) gives CSV, anything else JSON.
pub fn serialize(format: &str, columns: &[StreamColumn], row: &StreamRow) -> Vec<u8> {
    let f = if format.eq_ignore_ascii_case("CSV") {
        RecordFormatType::Csv
    } else {
        RecordFormatType::Json
    };
    serialize_as(f, columns, row)
}

/// Serialises a row as one destination record.
pub fn serialize_as(
    format: RecordFormatType,
    columns: &[StreamColumn],
    row: &StreamRow,
) -> Vec<u8> {
    let mut out = String::new();
    match format {
        RecordFormatType::Json => {
            out.push('{');
            for (i, (col, v)) in columns.iter().zip(&row.values).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(&col.name, &mut out);
                out.push(':');
                write_json_value(v, &mut out);
            }
            out.push('}');
        }
        RecordFormatType::Csv => {
            for (i, v) in row.values.iter().take(columns.len()).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if v.is_null() {
                    continue;
                }
                let text = text_of(v);
                // An empty string is quoted so it reads back apart from NULL.
                if text.is_empty() || text.contains([',', '"', '\n', '\r']) {
                    out.push('"');
                    out.push_str(&text.replace('"', "\"\""));
                    out.push('"');
                } else {
                    out.push_str(&text);
                }
            }
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// SQL's text form, with CHAR's padding kept (it is part of the value).
fn text_of(v: &Value) -> String {
    v.to_string()
}

fn write_json_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::TinyInt(_)
        | Value::SmallInt(_)
        | Value::Integer(_)
        | Value::BigInt(_)
        | Value::Decimal(_)
        | Value::Real(_)
        | Value::Double(_) => {
            // Value::to_json prints REAL through its own shortest form and non-finite
            // floats as strings.
            out.push_str(&v.to_json().to_string());
        }
        Value::Row(cols) => {
            out.push('{');
            for (i, (name, inner)) in cols.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(name, out);
                out.push(':');
                write_json_value(inner, out);
            }
            out.push('}');
        }
        other => write_json_string(&text_of(other), out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SqlType;
    use rust_decimal::Decimal;

    fn cols() -> Vec<StreamColumn> {
        vec![
            StreamColumn::new("TICKER_SYMBOL", SqlType::Varchar(4)),
            StreamColumn::new("price", SqlType::Double),
            StreamColumn::new("CHANGE", SqlType::Real),
            StreamColumn::new(
                "AMOUNT",
                SqlType::Decimal {
                    precision: 8,
                    scale: 2,
                },
            ),
            StreamColumn::new("AT", SqlType::Timestamp),
            StreamColumn::new("OK", SqlType::Boolean),
            StreamColumn::new("NOTE", SqlType::Varchar(16)),
        ]
    }

    fn row() -> StreamRow {
        StreamRow::new(
            0,
            vec![
                Value::Varchar("AAA".into()),
                Value::Double(100.0),
                Value::Real(0.1),
                Value::Decimal(Decimal::new(1250, 2)),
                Value::Timestamp(1_546_336_800_000),
                Value::Boolean(true),
                Value::Null,
            ],
        )
    }

    #[test]
    fn json_object_with_stored_names() {
        let out = String::from_utf8(serialize("JSON", &cols(), &row())).expect("utf8");
        assert_eq!(
            out,
            r#"{"TICKER_SYMBOL":"AAA","price":100.0,"CHANGE":0.1,"AMOUNT":12.5,"AT":"2019-01-01 10:00:00.000","OK":true,"NOTE":null}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(parsed["price"], serde_json::json!(100.0));
    }

    #[test]
    fn csv_line_with_quoting() {
        let out = String::from_utf8(serialize("CSV", &cols(), &row())).expect("utf8");
        assert_eq!(out, "AAA,100.0,0.1,12.50,2019-01-01 10:00:00.000,TRUE,\n");
        let r = StreamRow::new(0, vec![Value::Varchar("a,\"b\"".into())]);
        let out = serialize_as(RecordFormatType::Csv, &cols()[..1], &r);
        assert_eq!(out, b"\"a,\"\"b\"\"\"\n");
        let r = StreamRow::new(0, vec![Value::Varchar(String::new()), Value::Null]);
        assert_eq!(
            serialize_as(RecordFormatType::Csv, &cols()[..2], &r),
            b"\"\",\n"
        );
    }

    #[test]
    fn destination_schema_shape_and_enum() {
        // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/how-it-works-output.html
        let d: DestinationSchema =
            serde_json::from_str(r#"{"RecordFormatType":"CSV"}"#).expect("parses");
        assert_eq!(d.format(), RecordFormatType::Csv);
        assert_eq!(d.validate(), Ok(()));
        let bad: DestinationSchema =
            serde_json::from_str(r#"{"RecordFormatType":"XML"}"#).expect("parses");
        assert_eq!(
            bad.validate(),
            Err("1 validation error detected: Value 'XML' at 'destinationSchema.recordFormatType' failed to satisfy constraint: Member must satisfy enum value set: [JSON, CSV]".into())
        );
        assert!(serde_json::from_str::<DestinationSchema>("{}").is_err());
        assert!(
            serde_json::from_str::<DestinationSchema>(r#"{"RecordFormatType":"JSON","X":1}"#)
                .is_err()
        );
    }

    fn value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(Value::BigInt),
            any::<f64>().prop_map(Value::Double),
            any::<f32>().prop_map(Value::Real),
            "\\PC{0,12}".prop_map(Value::Varchar),
            "[,\"\n\r a]{0,6}".prop_map(Value::Varchar),
            (-1_000_000_000_000i64..4_000_000_000_000).prop_map(Value::Timestamp),
        ]
    }

    proptest::proptest! {
        #[test]
        fn json_records_are_json_and_csv_records_are_one_line_of_fields(
            values in proptest::collection::vec(value(), 1..6)
        ) {
            let columns: Vec<StreamColumn> = (0..values.len())
                .map(|i| StreamColumn::new(format!("c\"{i}"), SqlType::Varchar(16)))
                .collect();
            let row = StreamRow::new(0, values.clone());
            let json: serde_json::Value =
                serde_json::from_slice(&serialize("JSON", &columns, &row)).expect("valid JSON");
            let obj = json.as_object().expect("an object");
            proptest::prop_assert_eq!(obj.len(), values.len());
            for (c, v) in columns.iter().zip(&values) {
                proptest::prop_assert_eq!(obj[&c.name].is_null(), v.is_null());
            }
            let csv = serialize("CSV", &columns, &row);
            proptest::prop_assert_eq!(csv.last(), Some(&b'\n'));
            if values.len() == 1 && values[0].is_null() {
                // One NULL field is an empty line, which CSV readers skip.
                return Ok(());
            }
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(csv.as_slice());
            let records: Vec<csv::StringRecord> =
                reader.records().collect::<Result<_, _>>().expect("valid CSV");
            proptest::prop_assert_eq!(records.len(), 1);
            proptest::prop_assert_eq!(records[0].len(), values.len());
        }
    }
}
