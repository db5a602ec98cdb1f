use super::*;
use rust_decimal::Decimal;

/// The JSON input schema example of
/// https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sch-mapping.html#sf-map-api-json-example
const JSON_SCHEMA: &str = r#"{
    "RecordColumns": [
        {"SqlType": "VARCHAR(4)", "Name": "TICKER_SYMBOL", "Mapping": "$.TICKER_SYMBOL"},
        {"SqlType": "VARCHAR(16)", "Name": "SECTOR", "Mapping": "$.SECTOR"},
        {"SqlType": "TINYINT", "Name": "CHANGE", "Mapping": "$.CHANGE"},
        {"SqlType": "DECIMAL(5,2)", "Name": "PRICE", "Mapping": "$.PRICE"}
    ],
    "RecordFormat": {
        "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}},
        "RecordFormatType": "JSON"
    },
    "RecordEncoding": "UTF-8"
}"#;

/// The CSV input schema example of the same page (#sf-map-api-csv-example).
const CSV_SCHEMA: &str = r#"{
    "RecordColumns": [
        {"SqlType": "VARCHAR(16)", "Name": "LastName"},
        {"SqlType": "VARCHAR(16)", "Name": "FirstName"},
        {"SqlType": "INTEGER", "Name": "CustomerId"}
    ],
    "RecordFormat": {
        "MappingParameters": {
            "CSVMappingParameters": {"RecordColumnDelimiter": ",", "RecordRowDelimiter": "\n"}
        },
        "RecordFormatType": "CSV"
    },
    "RecordEncoding": "UTF-8"
}"#;

/// The record of https://docs.aws.amazon.com/kinesisanalytics/latest/dev/about-json-path.html,
/// made valid JSON (the page's `streetAddress` is an array of members and a comma is
/// missing before `orders`; the page then reads `$.address.streetAddress.street`, so the
/// reading kept is an object).
const CUSTOMER: &str = r#"{
  "customerName":"John Doe",
  "address": { "streetAddress": { "number":"123", "street":"AnyStreet" }, "city":"Anytown" },
  "orders": [
    { "orderId":"23284", "itemName":"Widget", "itemPrice":"33.99" },
    { "orderId":"63122", "itemName":"Gadget", "itemPrice":"22.50" },
    { "orderId":"77284", "itemName":"Sprocket", "itemPrice":"12.00" }
  ]
}"#;

fn schema(text: &str) -> InputSchema {
    InputSchema::from_json(text).expect("schema parses")
}

fn json_schema(cols: &[(&str, &str, &str)]) -> InputSchema {
    InputSchema {
        record_format: RecordFormat {
            record_format_type: "JSON".into(),
            mapping_parameters: Some(MappingParameters {
                json: Some(JsonMappingParameters {
                    record_row_path: "$".into(),
                }),
                csv: None,
            }),
        },
        record_encoding: Some("UTF-8".into()),
        record_columns: cols
            .iter()
            .map(|(n, m, t)| RecordColumn {
                name: n.to_string(),
                mapping: Some(m.to_string()),
                sql_type: t.to_string(),
            })
            .collect(),
    }
}

fn v(s: &str) -> Value {
    Value::Varchar(s.into())
}

#[test]
fn documented_json_schema_maps_a_ticker_record() {
    let s = schema(JSON_SCHEMA);
    assert_eq!(s.validate(), Ok(()));
    assert_eq!(
        s.columns(),
        vec![
            StreamColumn::new("TICKER_SYMBOL", SqlType::Varchar(4)),
            StreamColumn::new("SECTOR", SqlType::Varchar(16)),
            StreamColumn::new("CHANGE", SqlType::TinyInt),
            StreamColumn::new(
                "PRICE",
                SqlType::Decimal {
                    precision: 5,
                    scale: 2
                }
            ),
        ]
    );
    let m = Mapper::new(&s).expect("mapper");
    let rows = m
        .map(br#"{"TICKER_SYMBOL":"QXZ","SECTOR":"HEALTHCARE","CHANGE":-1,"PRICE":84.51}"#)
        .expect("maps");
    assert_eq!(
        rows,
        vec![vec![
            v("QXZ"),
            v("HEALTHCARE"),
            Value::TinyInt(-1),
            Value::Decimal(Decimal::new(8451, 2))
        ]]
    );
    // Missing elements are NULL; a fraction for TINYINT is a coercion error.
    assert_eq!(
        m.map(br#"{"TICKER_SYMBOL":"QXZ"}"#).expect("maps"),
        vec![vec![v("QXZ"), Value::Null, Value::Null, Value::Null]]
    );
    let err = m
        .map(br#"{"TICKER_SYMBOL":"QXZ","CHANGE":0.5}"#)
        .expect_err("0.5 is no TINYINT");
    assert_eq!(err.name, "CoercionError");
    assert!(err.message.contains("CHANGE"), "{}", err.message);
}

#[test]
fn documented_csv_schema_maps_rows_in_order() {
    let s = schema(CSV_SCHEMA);
    assert_eq!(s.validate(), Ok(()));
    let m = Mapper::new(&s).expect("mapper");
    assert_eq!(
        m.map(b"Doe,John,67321\nRoe,Jane,5\n").expect("maps"),
        vec![
            vec![v("Doe"), v("John"), Value::Integer(67321)],
            vec![v("Roe"), v("Jane"), Value::Integer(5)]
        ]
    );
    // Extra fields are ignored, missing ones are NULL, a non-number is a coercion error.
    assert_eq!(
        m.map(b"Doe,John,1,extra").expect("maps"),
        vec![vec![v("Doe"), v("John"), Value::Integer(1)]]
    );
    assert_eq!(
        m.map(b"Doe").expect("maps"),
        vec![vec![v("Doe"), Value::Null, Value::Null]]
    );
    assert_eq!(m.map(b"Doe,John,x").expect_err("x").name, "CoercionError");
}

#[test]
fn jsonpath_page_elements_nested_and_missing() {
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/about-json-path.html
    let s = json_schema(&[
        ("name", "$.customerName", "VARCHAR(16)"),
        ("lower", "$.customername", "VARCHAR(16)"),
        ("id", "$.customerId", "VARCHAR(16)"),
        ("city", "$.address.city", "VARCHAR(16)"),
        ("street", "$.address.streetAddress.street", "VARCHAR(16)"),
    ]);
    let rows = Mapper::new(&s)
        .expect("mapper")
        .map(CUSTOMER.as_bytes())
        .expect("maps");
    assert_eq!(
        rows,
        vec![vec![
            v("John Doe"),
            Value::Null,
            Value::Null,
            v("Anytown"),
            v("AnyStreet")
        ]]
    );
}

#[test]
fn jsonpath_page_whole_array_in_one_row() {
    let s = json_schema(&[("orders", "$.orders[0:]", "VARCHAR(512)")]);
    let rows = Mapper::new(&s)
        .expect("mapper")
        .map(CUSTOMER.as_bytes())
        .expect("maps");
    // The page prints the second orderId as 61322, a typo of its own record's 63122.
    assert_eq!(
        rows,
        vec![vec![v(
            r#"[{"orderId":"23284","itemName":"Widget","itemPrice":"33.99"},{"orderId":"63122","itemName":"Gadget","itemPrice":"22.50"},{"orderId":"77284","itemName":"Sprocket","itemPrice":"12.00"}]"#
        )]]
    );
}

#[test]
fn jsonpath_page_flattened_array_repeats_other_columns() {
    let s = json_schema(&[
        ("name", "$.customerName", "VARCHAR(16)"),
        ("orderId", "$.orders[0:].orderId", "VARCHAR(8)"),
    ]);
    let rows = Mapper::new(&s)
        .expect("mapper")
        .map(CUSTOMER.as_bytes())
        .expect("maps");
    assert_eq!(
        rows,
        vec![
            vec![v("John Doe"), v("23284")],
            vec![v("John Doe"), v("63122")],
            vec![v("John Doe"), v("77284")],
        ]
    );
    // "An array is always flattened to at least one row": $.orders[0:].itemId matches
    // nothing, so one row with nulls.
    let s = json_schema(&[("itemId", "$.orders[0:].itemId", "VARCHAR(8)")]);
    let rows = Mapper::new(&s)
        .expect("mapper")
        .map(CUSTOMER.as_bytes())
        .expect("maps");
    assert_eq!(rows, vec![vec![Value::Null]]);
    // An empty or absent array: one row too.
    let s = json_schema(&[("k", "$.k", "INTEGER"), ("x", "$.a[0:].x", "INTEGER")]);
    let m = Mapper::new(&s).expect("mapper");
    assert_eq!(
        m.map(br#"{"k":1,"a":[]}"#).expect("maps"),
        vec![vec![Value::Integer(1), Value::Null]]
    );
    assert_eq!(
        m.map(br#"{"k":2}"#).expect("maps"),
        vec![vec![Value::Integer(2), Value::Null]]
    );
    // Elements missing the member give NULL in their row.
    assert_eq!(
        m.map(br#"{"k":3,"a":[{"x":1},{},{"x":3}]}"#).expect("maps"),
        vec![
            vec![Value::Integer(3), Value::Integer(1)],
            vec![Value::Integer(3), Value::Null],
            vec![Value::Integer(3), Value::Integer(3)],
        ]
    );
}

#[test]
fn jsonpath_page_array_limits() {
    // One flattened array and a whole second array: valid.
    let ok = json_schema(&[
        ("a", "$.arrayObjectOne[0:].element", "VARCHAR(8)"),
        ("b", "$.arrayObjectTwo[0:]", "VARCHAR(64)"),
    ]);
    assert_eq!(ok.validate(), Ok(()));
    let rows = Mapper::new(&ok)
        .expect("mapper")
        .map(br#"{"arrayObjectOne":[{"element":"x"},{"element":"y"}],"arrayObjectTwo":[1,2]}"#)
        .expect("maps");
    assert_eq!(
        rows,
        vec![vec![v("x"), v("[1,2]")], vec![v("y"), v("[1,2]")]]
    );
    // Two flattened arrays: not valid.
    let two = json_schema(&[
        ("a", "$.arrayObjectOne[0:].element", "VARCHAR(8)"),
        ("b", "$.arrayObjectTwo[0:].element", "VARCHAR(8)"),
    ]);
    let e = two.validate().expect_err("two arrays");
    assert!(e.contains("only one array"), "{e}");
    // Two levels of dereferencing: not valid.
    let deep = json_schema(&[(
        "a",
        "$.arrayObject[0:].element[0:].subElement",
        "VARCHAR(8)",
    )]);
    assert!(deep.validate().is_err());
}

#[test]
fn record_row_path_selects_the_rows() {
    let mut s = json_schema(&[("x", "$.x", "INTEGER"), ("y", "$.data.y", "INTEGER")]);
    if let Some(p) = s.record_format.mapping_parameters.as_mut() {
        p.json = Some(JsonMappingParameters {
            record_row_path: "$.data[0:]".into(),
        });
    }
    let m = Mapper::new(&s).expect("mapper");
    // `$.x` is read from each row node; `$.data.y` is not under `$.data[0:]`, so it too is
    // read from the row node, where nothing is at `data.y`.
    assert_eq!(
        m.map(br#"{"data":[{"x":1,"y":10},{"x":2}]}"#)
            .expect("maps"),
        vec![
            vec![Value::Integer(1), Value::Null],
            vec![Value::Integer(2), Value::Null]
        ]
    );
    assert_eq!(
        m.map(br#"{"other":1}"#).expect_err("no rows").name,
        "ParseError"
    );
}

#[test]
fn several_documents_and_bad_records() {
    let s = json_schema(&[("x", "$.x", "INTEGER")]);
    let m = Mapper::new(&s).expect("mapper");
    assert_eq!(
        m.map(b"{\"x\":1}\n{\"x\":2}").expect("maps"),
        vec![vec![Value::Integer(1)], vec![Value::Integer(2)]]
    );
    assert_eq!(m.map(b"{\"x\":").expect_err("bad").name, "ParseError");
    assert_eq!(m.map(&[0xff, 0xfe]).expect_err("bad").name, "ParseError");
    assert_eq!(m.map(b"").expect_err("empty").name, "ParseError");
    // A bare scalar is not a row; an array is (read with `$[n]` mappings).
    assert_eq!(m.map(b"42").expect_err("scalar").name, "ParseError");
    assert_eq!(
        m.map(b"{\"x\":1} \"x\"").expect_err("scalar").name,
        "ParseError"
    );
    let arr = json_schema(&[("a", "$[0]", "VARCHAR(4)"), ("b", "$[1]", "DOUBLE")]);
    assert_eq!(
        Mapper::new(&arr)
            .expect("mapper")
            .map(br#"["AAPL", 12.5]"#)
            .expect("maps"),
        vec![vec![v("AAPL"), Value::Double(12.5)]]
    );
}

#[test]
fn unknown_and_missing_members_are_named() {
    let e = InputSchema::from_json(r#"{"RecordFormat":{"RecordFormatType":"JSON"}}"#)
        .expect_err("missing");
    assert!(e.0.contains("RecordColumns"), "{e}");
    let e = InputSchema::from_json(
        r#"{"RecordFormat":{"RecordFormatType":"JSON"},"RecordColumns":[],"Extra":1}"#,
    )
    .expect_err("unknown");
    assert!(e.0.contains("Extra"), "{e}");
    let e = InputSchema::from_json(
        r#"{"RecordFormat":{"RecordFormatType":"JSON"},"RecordColumns":[{"Name":"a","Sqltype":"INT"}]}"#,
    )
    .expect_err("misspelt");
    assert!(e.0.contains("Sqltype"), "{e}");
}

#[test]
fn constraints_give_the_service_messages() {
    let mut s = schema(JSON_SCHEMA);
    s.record_columns.clear();
    assert_eq!(
        s.validate(),
        Err("1 validation error detected: Value '[]' at 'inputSchema.recordColumns' failed to satisfy constraint: Member must have length greater than or equal to 1".into())
    );
    let mut s = schema(JSON_SCHEMA);
    s.record_columns = (0..1001)
        .map(|i| RecordColumn {
            name: format!("C{i}"),
            mapping: Some(format!("$.c{i}")),
            sql_type: "INTEGER".into(),
        })
        .collect();
    let e = s.validate().expect_err("too many");
    assert!(e.contains("less than or equal to 1000"), "{e}");
    let mut s = schema(JSON_SCHEMA);
    s.record_columns[0].name = "bad name".into();
    s.record_encoding = Some("UTF-16".into());
    s.record_format.record_format_type = "XML".into();
    let e = s
        .validate_at("inputs.1.member.inputSchema")
        .expect_err("bad");
    assert!(e.starts_with("3 validation errors detected: "), "{e}");
    assert!(e.contains("at 'inputs.1.member.inputSchema.recordColumns.1.member.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [^-\\s<>&]*"), "{e}");
    assert!(e.contains("Value 'XML' at 'inputs.1.member.inputSchema.recordFormat.recordFormatType' failed to satisfy constraint: Member must satisfy enum value set: [JSON, CSV]"), "{e}");
    assert!(e.contains("recordEncoding"), "{e}");
}

#[test]
fn meaning_is_checked_too() {
    let mut s = schema(JSON_SCHEMA);
    s.record_columns[2].sql_type = "NUMBER".into();
    let e = s.validate().expect_err("bad type");
    assert!(e.contains("recordColumns.3.member.sqlType"), "{e}");
    let mut s = schema(JSON_SCHEMA);
    s.record_columns[1].name = "TICKER_SYMBOL".into();
    assert!(s.validate().expect_err("dup").contains("duplicate"));
    let mut s = schema(JSON_SCHEMA);
    s.record_columns[0].mapping = None;
    assert!(s
        .validate()
        .expect_err("no mapping")
        .contains("Mapping is required"));
    let mut s = schema(JSON_SCHEMA);
    s.record_columns[0].mapping = Some("TICKER".into());
    assert!(s
        .validate()
        .expect_err("bad path")
        .contains("must start with '$'"));
    let mut s = schema(JSON_SCHEMA);
    s.record_columns[0].sql_type = "INTERVAL DAY TO SECOND".into();
    assert!(s.validate().is_err());
    let mut s = schema(CSV_SCHEMA);
    s.record_format.mapping_parameters = Some(MappingParameters {
        json: Some(JsonMappingParameters {
            record_row_path: "$".into(),
        }),
        csv: None,
    });
    assert!(s
        .validate()
        .expect_err("mismatch")
        .contains("JSONMappingParameters"));
}

#[test]
fn schema_round_trips_in_the_aws_shape() {
    let s = schema(JSON_SCHEMA);
    let back: serde_json::Value = serde_json::to_value(&s).expect("serialises");
    let orig: serde_json::Value = serde_json::from_str(JSON_SCHEMA).expect("json");
    assert_eq!(back, orig);
}

#[test]
fn error_rows_have_the_documented_columns() {
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/error-handling.html
    let cols = error_stream_columns();
    let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ERROR_TIME",
            "ERROR_LEVEL",
            "ERROR_NAME",
            "MESSAGE",
            "DATA_ROWTIME",
            "DATA_ROW",
            "PUMP_NAME"
        ]
    );
    let m = Mapper::new(&schema(JSON_SCHEMA)).expect("mapper");
    let err = m.map(br#"{"CHANGE":"x"}"#).expect_err("coercion");
    let row = error_row(
        &err.clone().into(),
        2_000,
        1_000,
        br#"{"CHANGE":"x"}"#,
        None,
    );
    assert_eq!(row.rowtime, 1_000);
    assert_eq!(row.values[0], Value::Timestamp(2_000));
    assert_eq!(row.values[1], v("ERROR"));
    assert_eq!(row.values[2], v("CoercionError"));
    assert_eq!(row.values[3], v(&err.message));
    assert_eq!(row.values[4], Value::Timestamp(1_000));
    assert_eq!(row.values[5], v("7b224348414e4745223a2278227d"));
    assert_eq!(row.values[6], Value::Null);
    for (value, col) in row.values.iter().zip(&cols) {
        assert!(value.fits(&col.ty), "{value:?} in {col:?}");
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn json_mapping_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let s = json_schema(&[
                ("a", "$.a", "INTEGER"),
                ("b", "$.b.c", "VARCHAR(4)"),
                ("c", "$.arr[0:].x", "DECIMAL(5,2)"),
                ("d", "$.d", "TIMESTAMP"),
                ("e", "$.e", "VARBINARY(2)"),
            ]);
            let m = Mapper::new(&s).expect("mapper");
            let _ = m.map(&bytes);
        }

        #[test]
        fn json_like_text_never_panics(text in r#"[\{\}\[\]",:0-9a-z.eE+\- \\]{0,64}"#) {
            let s = json_schema(&[("a", "$.a", "REAL"), ("x", "$.a[0:].b", "CHAR(3)")]);
            let m = Mapper::new(&s).expect("mapper");
            let _ = m.map(text.as_bytes());
        }

        #[test]
        fn csv_mapping_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256),
                                    row in "[\n;|\r]{1,2}", col in "[,;|\t\"]{1,3}") {
            let mut s = schema(CSV_SCHEMA);
            s.record_format.mapping_parameters = Some(MappingParameters {
                json: None,
                csv: Some(CsvMappingParameters { record_row_delimiter: row, record_column_delimiter: col }),
            });
            let m = Mapper::new(&s).expect("mapper");
            let _ = m.map(&bytes);
        }

        #[test]
        fn mapped_values_fit_their_columns(x in any::<i64>(), s in "\\PC{0,20}") {
            let sch = json_schema(&[("x", "$.x", "BIGINT"), ("s", "$.s", "VARCHAR(8)"), ("c", "$.s", "CHAR(3)")]);
            let m = Mapper::new(&sch).expect("mapper");
            let rec = serde_json::json!({"x": x, "s": s}).to_string();
            let rows = m.map(rec.as_bytes()).expect("maps");
            for (value, col) in rows[0].iter().zip(m.columns()) {
                prop_assert!(value.fits(&col.ty));
            }
            prop_assert_eq!(&rows[0][0], &Value::BigInt(x));
            let expect: String = s.chars().take(8).collect();
            prop_assert_eq!(&rows[0][1], &Value::Varchar(expect));
            prop_assert_eq!(rows[0][2].as_str().map(|c| c.chars().count()), Some(3));
        }
    }
}
