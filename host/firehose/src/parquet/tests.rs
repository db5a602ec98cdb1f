#![allow(clippy::unwrap_used)]

use super::schema::decimal_bytes;
use super::values::{decimal_be_bytes, timestamp_millis};
use super::*;
use ::parquet::basic::{LogicalType, Repetition, TimeUnit};
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::Field;
use serde_json::Value;
use std::io::Write;
use weir_firehose_model::{HiveSchemaError, HiveType};

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

    check_natural_json(&rows[0]);
    check_coerced_from_strings(&rows[1]);

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

/// Row 0: each column from the JSON type it naturally has, in the schema's column order
/// (`varchar(3)` cut, decimals rounded to their scale).
fn check_natural_json(r: &[(String, Field)]) {
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
}

/// Row 1: each column from a string (or a number for a string column), as Firehose's
/// conversion coerces them; columns the record lacks are null.
fn check_coerced_from_strings(r: &[(String, Field)]) {
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
    // The checks themselves are weir-firehose-model's (`hive_columns`); the writer refuses
    // what it refuses.
    assert!(matches!(
        parse(&[("ok", "int"), ("tags", "array<string>")]),
        Err(SchemaError::Columns(HiveSchemaError::UnsupportedType { column, .. })) if column == "tags"
    ));
    assert_eq!(
        parse(&[("A", "int"), ("a", "string")]),
        Err(SchemaError::Columns(HiveSchemaError::DuplicateColumn(
            "a".into()
        )))
    );
    assert_eq!(
        parse(&[]),
        Err(SchemaError::Columns(HiveSchemaError::NoColumns))
    );
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

/// Spellings of column types, each with whether it is a type Weir converts to. Driven through
/// both the config check (`weir run`'s `[[firehose.tables]]`) and this writer: what one
/// accepts the other must accept, and each accepted type must write a readable file (of one null row).
const SPELLINGS: [(&str, bool); 31] = [
    ("string", true),
    ("varchar(1)", true),
    ("varchar(65535)", true),
    ("char(255)", true),
    ("tinyint", true),
    ("smallint", true),
    ("int", true),
    ("integer", true),
    ("BigInt", true),
    ("float", true),
    ("double", true),
    ("double precision", true),
    ("boolean", true),
    ("timestamp", true),
    ("date", true),
    ("decimal", true),
    ("numeric", true),
    ("decimal(7)", true),
    ("numeric(12,3)", true),
    ("decimal( 10 , 2 )", true),
    ("DECIMAL(38,38)", true),
    ("dbl", false),
    ("varchar", false),
    ("varchar(0)", false),
    ("char(256)", false),
    ("decimal(39,2)", false),
    ("decimal(2,3)", false),
    ("decimal(1,2,3)", false),
    ("array<string>", false),
    ("text", false),
    ("double  precision", false),
];

fn config_accepts(hive_type: &str) -> bool {
    let text = format!(
        "[[firehose.tables]]\ndatabase = \"d\"\ntable = \"t\"\ncolumns = [\"c {hive_type}\"]\n"
    );
    weir_config::Config::parse(&text, "weir.toml").is_ok()
}

#[test]
fn config_and_writer_accept_the_same_column_types() {
    for (spelled, expected) in SPELLINGS {
        let columns = [("c".to_owned(), spelled.to_owned())];
        let writer = match Schema::parse(&columns) {
            Ok(s) => {
                let out = convert(&s, &[b"{}"], DEFAULT_COMPRESSION).unwrap();
                assert!(out.failed.is_empty(), "{spelled}: {:?}", out.failed);
                assert_eq!(rows(&out.file.unwrap()).len(), 1, "{spelled}");
                true
            }
            Err(_) => false,
        };
        assert_eq!(writer, expected, "writer, {spelled:?}");
        assert_eq!(config_accepts(spelled), expected, "config, {spelled:?}");
    }
}
