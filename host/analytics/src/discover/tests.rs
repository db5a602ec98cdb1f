use super::*;
use crate::input::Mapper;
use crate::value::Value;

fn sql_types(s: &InputSchema) -> Vec<(String, Option<String>, String)> {
    s.record_columns
        .iter()
        .map(|c| (c.name.clone(), c.mapping.clone(), c.sql_type.clone()))
        .collect()
}

#[test]
fn static_data_example_of_the_developer_guide() {
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sch-dis-ref.html: data.csv,
    // read whole as one record (its RawInputRecords shows \r\n line ends).
    let file = "year,month,state,producer_type,energy_source,units,consumption\r\n\
2001,1,AK,TotalElectricPowerIndustry,Coal,ShortTons,47615\r\n\
2001,1,AK,ElectricGeneratorsElectricUtilities,Coal,ShortTons,16535\r\n\
2001,1,AK,CombinedHeatandPowerElectricPower,Coal,ShortTons,22890\r\n\
2001,1,AL,TotalElectricPowerIndustry,Coal,ShortTons,3020601\r\n\
2001,1,AL,ElectricGeneratorsElectricUtilities,Coal,ShortTons,2987681";
    let d = discover_records(&[file.as_bytes().to_vec()]).expect("discovers");
    let expected: serde_json::Value = serde_json::json!({
        "RecordEncoding": "UTF-8",
        "RecordColumns": [
            {"SqlType": "INTEGER", "Name": "COL_year"},
            {"SqlType": "INTEGER", "Name": "COL_month"},
            {"SqlType": "VARCHAR(4)", "Name": "state"},
            {"SqlType": "VARCHAR(64)", "Name": "producer_type"},
            {"SqlType": "VARCHAR(4)", "Name": "energy_source"},
            {"SqlType": "VARCHAR(16)", "Name": "units"},
            {"SqlType": "INTEGER", "Name": "consumption"}
        ],
        "RecordFormat": {
            "RecordFormatType": "CSV",
            "MappingParameters": {
                "CSVMappingParameters": {"RecordRowDelimiter": "\r\n", "RecordColumnDelimiter": ","}
            }
        }
    });
    assert_eq!(
        serde_json::to_value(&d.input_schema).expect("json"),
        expected
    );
    let s = |x: &str| Some(x.to_string());
    assert_eq!(d.parsed_input_records.len(), 6);
    assert_eq!(
        d.parsed_input_records[0],
        vec![
            None,
            None,
            s("state"),
            s("producer_type"),
            s("energy_source"),
            s("units"),
            None
        ]
    );
    assert_eq!(
        d.parsed_input_records[4],
        vec![
            s("2001"),
            s("1"),
            s("AL"),
            s("TotalElectricPowerIndustry"),
            s("Coal"),
            s("ShortTons"),
            s("3020601")
        ]
    );
    assert_eq!(d.input_schema.validate(), Ok(()));
}

#[test]
fn documented_column_renames() {
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sch-dis.html#sch-dis-column-names-examples
    assert_eq!(column_name("USER", 3), "COL_USER");
    assert_eq!(column_name("USER@DOMAIN", 3), "COL_USERDOMAIN");
    assert_eq!(column_name("@@", 0), "COL_0");
    assert_eq!(column_name("TIMESTAMP", 0), "COL_TIMESTAMP");
    assert_eq!(column_name("values", 0), "COL_values");
    assert_eq!(column_name("9lives", 0), "COL_9lives");
    assert_eq!(column_name("ticker_symbol", 0), "ticker_symbol");
    let long = "a".repeat(120);
    let renamed = column_name(&long, 0);
    assert!(
        renamed.starts_with("COL_") && renamed.len() <= 100,
        "{renamed}"
    );
}

#[test]
fn getting_started_stream_gives_its_documented_schema() {
    // The demo stream's records, and the schema the console discovers for them:
    // (TICKER_SYMBOL VARCHAR(4), SECTOR varchar(16), CHANGE REAL, PRICE REAL),
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/continuous-queries-concepts.html
    let samples: Vec<Vec<u8>> = [
        r#"{"TICKER_SYMBOL":"QXZ","SECTOR":"HEALTHCARE","CHANGE":-0.05,"PRICE":84.51}"#,
        r#"{"TICKER_SYMBOL":"AMZN","SECTOR":"TECHNOLOGY","CHANGE":2,"PRICE":1000.5}"#,
        r#"{"TICKER_SYMBOL":"BAC","SECTOR":"FINANCIAL","CHANGE":1.12,"PRICE":27}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let d = discover_records(&samples).expect("discovers");
    let m = |p: &str| Some(p.to_string());
    assert_eq!(
        sql_types(&d.input_schema),
        vec![
            (
                "TICKER_SYMBOL".into(),
                m("$.TICKER_SYMBOL"),
                "VARCHAR(4)".into()
            ),
            ("SECTOR".into(), m("$.SECTOR"), "VARCHAR(16)".into()),
            ("CHANGE".into(), m("$.CHANGE"), "REAL".into()),
            ("PRICE".into(), m("$.PRICE"), "REAL".into()),
        ]
    );
    assert_eq!(
        d.input_schema
            .record_format
            .mapping_parameters
            .as_ref()
            .and_then(|p| p.json.as_ref())
            .map(|j| j.record_row_path.as_str()),
        Some("$")
    );
    assert_eq!(d.parsed_input_records[1][2], Some("2".into()));
    // The discovered schema maps the samples it came from.
    let mapper = Mapper::new(&d.input_schema).expect("valid");
    for s in &samples {
        assert_eq!(mapper.map(s).expect("maps").len(), 1);
    }
}

fn samples(records: &[&str]) -> Vec<Vec<u8>> {
    records.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn string_examples_discover_their_columns() {
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/examples-transforming-strings-substring.html:
    // one column (REFERRER); the page's SQL then declares "referrer" VARCHAR(32).
    let s =
        discover(&samples(&[r#"{ "REFERRER" : "http://www.amazon.com" }"#])).expect("discovers");
    assert_eq!(
        sql_types(&s),
        vec![(
            "REFERRER".into(),
            Some("$.REFERRER".into()),
            "VARCHAR(32)".into()
        )]
    );
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/examples-window-tumbling-event.html:
    // three columns (EVENT_TIME, TICKER, PRICE); the SQL uses TICKER VARCHAR(4) and REAL prices.
    let s = discover(&samples(&[
        r#"{"EVENT_TIME": "2018-06-13T14:11:05.766191", "TICKER": "TBV", "PRICE": 43.65}"#,
        r#"{"EVENT_TIME": "2018-06-13T14:11:05.848967", "TICKER": "AMZN", "PRICE": 35.61}"#,
        r#"{"EVENT_TIME": "2018-06-13T14:11:05.931871", "TICKER": "MSFT", "PRICE": 73.48}"#,
        r#"{"EVENT_TIME": "2018-06-13T14:11:06.014845", "TICKER": "AMZN", "PRICE": 18.64}"#,
    ]))
    .expect("discovers");
    assert_eq!(
        sql_types(&s),
        vec![
            (
                "EVENT_TIME".into(),
                Some("$.EVENT_TIME".into()),
                "VARCHAR(32)".into()
            ),
            (
                "TICKER".into(),
                Some("$.TICKER".into()),
                "VARCHAR(4)".into()
            ),
            ("PRICE".into(), Some("$.PRICE".into()), "REAL".into()),
        ]
    );
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/examples-transforming-strings-variablecolumnlogparse.html:
    // the SQL reads "Col_A" and "Col_E_Unstructured" quoted, so names keep their case.
    let s = discover(&samples(&[
        r#"{"Col_A": "a", "Col_B": "b", "Col_C": "c", "Col_E_Unstructured": "x,y,z"}"#,
    ]))
    .expect("discovers");
    let names: Vec<&str> = s.record_columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Col_A", "Col_B", "Col_C", "Col_E_Unstructured"]);
}

#[test]
fn heart_rates_are_tinyint() {
    // "the discovery process will most likely assign the TINYINT type to this column"
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-anom-score-create-app.html
    let samples: Vec<Vec<u8>> = (60..=100)
        .map(|r| format!(r#"{{"heartRate": {r}, "rateType":"NORMAL"}}"#).into_bytes())
        .collect();
    let s = discover(&samples).expect("discovers");
    assert_eq!(s.record_columns[0].sql_type, "TINYINT");
    assert_eq!(s.record_columns[1].sql_type, "VARCHAR(8)");
    // And a high rate then goes to the error stream, as the page warns.
    let err = Mapper::new(&s)
        .expect("valid")
        .map(br#"{"heartRate": 180, "rateType":"HIGH"}"#)
        .expect_err("180 is no TINYINT");
    assert_eq!(err.name, "CoercionError");
}

#[test]
fn two_record_types_give_the_union_of_their_members() {
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-tworecordtypes.html
    let samples: Vec<Vec<u8>> = [
        r#"{"RecordType": "Order", "Oprice": 2089, "Otype": "Sell", "Oid": 3811, "Oticker": "AAAA"}"#,
        r#"{"RecordType": "Trade", "Tid": 1, "Toid": 3812, "Tprice": 2089, "Tticker": "BBBB"}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let s = discover(&samples).expect("discovers");
    let names: Vec<&str> = s.record_columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "RecordType",
            "Oprice",
            "Otype",
            "Oid",
            "Oticker",
            "Tid",
            "Toid",
            "Tprice",
            "Tticker"
        ]
    );
    let rows = Mapper::new(&s)
        .expect("valid")
        .map(&samples[1])
        .expect("maps");
    assert_eq!(rows[0][1], Value::Null);
    assert_eq!(rows[0][6], Value::SmallInt(3812));
}

#[test]
fn nested_members_arrays_and_clashing_names() {
    let samples = vec![
        br#"{"a":{"id":1,"b":{"c":"x"}},"id":"k","arr":[1,2,3],"ok":true,"user":null}"#.to_vec(),
    ];
    let d = discover_records(&samples).expect("discovers");
    assert_eq!(
        sql_types(&d.input_schema),
        vec![
            ("a_id".into(), Some("$.a.id".into()), "TINYINT".into()),
            ("c".into(), Some("$.a.b.c".into()), "VARCHAR(4)".into()),
            ("id".into(), Some("$.id".into()), "VARCHAR(4)".into()),
            ("arr".into(), Some("$.arr[0:]".into()), "VARCHAR(8)".into()),
            ("ok".into(), Some("$.ok".into()), "BOOLEAN".into()),
            (
                "COL_user".into(),
                Some("$.user".into()),
                "VARCHAR(4)".into()
            ),
        ]
    );
    assert_eq!(d.parsed_input_records[0][3], Some("[1,2,3]".into()));
    assert_eq!(d.input_schema.validate(), Ok(()));
}

#[test]
fn reference_data_example_file_has_a_header() {
    // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-add-reference-data.html:
    // "The console detects two columns"; the SQL then reads "c"."Ticker" and "c"."Company".
    let file =
        b"Ticker, Company\nAMZN,Amazon\nASD, SomeCompanyA\nMMB, SomeCompanyB\nWAS,  SomeCompanyC\n";
    let d = discover_records(&[file.to_vec()]).expect("discovers");
    assert_eq!(
        sql_types(&d.input_schema),
        vec![
            ("Ticker".into(), None, "VARCHAR(4)".into()),
            ("Company".into(), None, "VARCHAR(16)".into()),
        ]
    );
    assert_eq!(d.parsed_input_records.len(), 5);
    // One streamed record per row: no header to find.
    let d = discover_records(&[b"AMZN,Amazon".to_vec(), b"XYZ,SomeCompany".to_vec()])
        .expect("discovers");
    let names: Vec<&str> = d
        .input_schema
        .record_columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["COL_0", "COL_1"]);
}

#[test]
fn headerless_csv_and_other_delimiters() {
    let d = discover_records(&[b"a|1|2.5\nb|2|3\n".to_vec()]).expect("discovers");
    assert_eq!(
        sql_types(&d.input_schema),
        vec![
            ("COL_0".into(), None, "VARCHAR(4)".into()),
            ("COL_1".into(), None, "INTEGER".into()),
            ("COL_2".into(), None, "REAL".into()),
        ]
    );
    let csv = d
        .input_schema
        .record_format
        .mapping_parameters
        .as_ref()
        .and_then(|p| p.csv.as_ref())
        .expect("csv");
    assert_eq!(
        (
            csv.record_row_delimiter.as_str(),
            csv.record_column_delimiter.as_str()
        ),
        ("\n", "|")
    );
}

#[test]
fn nothing_to_discover() {
    assert!(discover(&[]).is_err());
    assert!(discover(&[b"   ".to_vec(), vec![0xff]]).is_err());
    // Free text still gives a one-column schema the records map to.
    let s = discover(&[b"hello world\nagain".to_vec()]).expect("text");
    assert!(Mapper::new(&s).is_ok());
}

#[test]
fn reserved_words_list_has_the_documented_ones() {
    for w in ["TIMESTAMP", "USER", "VALUES", "YEAR", "year", "ROWTIME"] {
        assert!(is_reserved(w), "{w}");
    }
    assert!(!is_reserved("TICKER_SYMBOL"));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn discovery_never_panics_and_its_schema_is_valid(
            samples in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..4)
        ) {
            if let Ok(s) = discover(&samples) {
                prop_assert_eq!(s.validate(), Ok(()));
            }
        }

        #[test]
        fn discovered_json_schema_maps_its_samples(
            keys in proptest::collection::vec("[a-zA-Z@ _]{1,6}", 1..4),
            nums in proptest::collection::vec(-1000i64..1000, 1..4)
        ) {
            let obj: serde_json::Map<String, serde_json::Value> = keys
                .iter()
                .zip(nums.iter().cycle())
                .map(|(k, n)| (k.clone(), serde_json::json!(n)))
                .collect();
            let sample = serde_json::Value::Object(obj).to_string().into_bytes();
            let s = discover(std::slice::from_ref(&sample)).expect("json object");
            prop_assert_eq!(s.validate(), Ok(()));
            let rows = Mapper::new(&s).expect("valid").map(&sample).expect("maps");
            prop_assert_eq!(rows.len(), 1);
            prop_assert!(rows[0].iter().all(|v| !v.is_null()));
        }
    }
}
