//! The engine end to end through the test command's harness, on the docs' examples.

use super::*;

/// The getting-started demo stream's schema (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/get-started-exercise.html).
const STOCK_SCHEMA: &str = r#"{
  "RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
  "RecordEncoding": "UTF-8",
  "RecordColumns": [
    {"Name": "TICKER_SYMBOL", "SqlType": "VARCHAR(4)", "Mapping": "$.TICKER_SYMBOL"},
    {"Name": "SECTOR", "SqlType": "VARCHAR(16)", "Mapping": "$.SECTOR"},
    {"Name": "CHANGE", "SqlType": "REAL", "Mapping": "$.CHANGE"},
    {"Name": "PRICE", "SqlType": "REAL", "Mapping": "$.PRICE"}
  ]
}"#;

fn stock(t: &str, ticker: &str, sector: &str, change: f64, price: f64) -> String {
    format!(
        r#"{{"rowtime": "2019-01-01T{t}Z", "data": {{"TICKER_SYMBOL": "{ticker}", "SECTOR": "{sector}", "CHANGE": {change}, "PRICE": {price}}}}}"#
    )
}

fn run(code: &str, rows: &[String]) -> Vec<serde_json::Value> {
    let out = run_test(code, STOCK_SCHEMA, &rows.join("\n"), None).expect("runs");
    out.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn stream_rows<'a>(out: &'a [serde_json::Value], stream: &str) -> Vec<&'a serde_json::Value> {
    out.iter().filter(|v| v["stream"] == stream).collect()
}

/// The continuous filter of the getting-started exercise
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/get-started-exercise.html).
#[test]
fn continuous_filter_keeps_tech_rows_with_their_rowtime() {
    let code = r#"
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), sector VARCHAR(12), change DOUBLE, price DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
      SELECT STREAM ticker_symbol, sector, change, price
      FROM   "SOURCE_SQL_STREAM_001"
      WHERE  sector SIMILAR TO '%TECH%';"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "AAA", "TECHNOLOGY", 1.5, 100.0),
            stock("10:00:01.000", "BBB", "ENERGY", -0.5, 20.0),
            stock("10:00:02.000", "CCC", "HIGHTECH", 0.25, 30.5),
        ],
    );
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["stream"], "DESTINATION_SQL_STREAM");
    assert_eq!(out[0]["ROWTIME"], "2019-01-01T10:00:00.000Z");
    assert_eq!(out[0]["TICKER_SYMBOL"], "AAA");
    assert_eq!(out[0]["PRICE"], 100.0);
    assert_eq!(out[1]["TICKER_SYMBOL"], "CCC");
    assert_eq!(out[1]["ROWTIME"], "2019-01-01T10:00:02.000Z");
}

/// The exact output line format of issue 30 item 4.
#[test]
fn output_lines_are_ordered_json_objects() {
    let code = r#"CREATE STREAM "D" (TICKER_SYMBOL VARCHAR(4), PRICE DOUBLE);
        CREATE PUMP "P" AS INSERT INTO "D" SELECT STREAM TICKER_SYMBOL, PRICE FROM "SOURCE_SQL_STREAM_001";"#;
    let out = run_test(
        code,
        STOCK_SCHEMA,
        &stock("10:00:00.000", "AAA", "X", 0.0, 100.0),
        None,
    )
    .expect("runs");
    assert_eq!(
        out,
        "{\"stream\": \"D\", \"ROWTIME\": \"2019-01-01T10:00:00.000Z\", \"TICKER_SYMBOL\": \"AAA\", \"PRICE\": 100.0}\n"
    );
}

/// Tumbling window on ROWTIME (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/examples-window-tumbling-rowtime.html):
/// one row per ticker per minute, at the minute's end, and the last minute is not flushed
/// because stream time ends at the last input row.
#[test]
fn tumbling_step_window_emits_at_the_window_end() {
    let code = r#"
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (TICKER VARCHAR(4), MIN_PRICE REAL, MAX_PRICE REAL);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM TICKER_SYMBOL, MIN(PRICE), MAX(PRICE)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY TICKER_SYMBOL, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '60' SECOND);"#;
    let out = run(
        code,
        &[
            stock("10:00:05.000", "AAA", "X", 0.0, 10.0),
            stock("10:00:10.000", "BBB", "X", 0.0, 5.0),
            stock("10:00:50.000", "AAA", "X", 0.0, 12.5),
            stock("10:01:00.000", "AAA", "X", 0.0, 7.0),
            stock("10:01:30.000", "AAA", "X", 0.0, 8.0),
        ],
    );
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["ROWTIME"], "2019-01-01T10:01:00.000Z");
    assert_eq!(out[0]["TICKER"], "AAA");
    assert_eq!(out[0]["MIN_PRICE"], 10.0);
    assert_eq!(out[0]["MAX_PRICE"], 12.5);
    assert_eq!(out[1]["TICKER"], "BBB");
    assert_eq!(out[1]["MIN_PRICE"], 5.0);
}

/// GROUP BY FLOOR(ROWTIME TO MINUTE) with COUNT(*), HAVING, and the window start selected.
#[test]
fn tumbling_floor_window_with_having() {
    let code = r#"
CREATE STREAM "D" (MINUTE_START TIMESTAMP, TICKER VARCHAR(4), N BIGINT);
CREATE PUMP "P" AS INSERT INTO "D"
    SELECT STREAM FLOOR(ROWTIME TO MINUTE), TICKER_SYMBOL, COUNT(*) AS N
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY FLOOR(ROWTIME TO MINUTE), TICKER_SYMBOL
    HAVING COUNT(*) > 1;"#;
    let out = run(
        code,
        &[
            stock("10:00:05.000", "AAA", "X", 0.0, 10.0),
            stock("10:00:10.000", "BBB", "X", 0.0, 5.0),
            stock("10:00:50.000", "AAA", "X", 0.0, 12.5),
            stock("10:02:00.000", "AAA", "X", 0.0, 7.0),
        ],
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["ROWTIME"], "2019-01-01T10:01:00.000Z");
    assert_eq!(out[0]["MINUTE_START"], "2019-01-01T10:00:00.000Z");
    assert_eq!(out[0]["N"], 2);
}

/// Sliding window with a named WINDOW clause
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sliding-window-concepts.html).
#[test]
fn sliding_range_window_averages_per_partition() {
    let code = r#"
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), avg_price DOUBLE, n BIGINT);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM ticker_symbol, AVG(price) OVER W1 AS avg_price, COUNT(*) OVER W1
  FROM "SOURCE_SQL_STREAM_001"
  WINDOW W1 AS (PARTITION BY ticker_symbol RANGE INTERVAL '10' SECOND PRECEDING);"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "AAA", "X", 0.0, 10.0),
            stock("10:00:05.000", "AAA", "X", 0.0, 20.0),
            stock("10:00:06.000", "BBB", "X", 0.0, 1.0),
            stock("10:00:12.000", "AAA", "X", 0.0, 30.0),
        ],
    );
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(out[0]["AVG_PRICE"], 10.0);
    assert_eq!(out[1]["AVG_PRICE"], 15.0);
    assert_eq!(out[2]["AVG_PRICE"], 1.0);
    // 10:00:00 has left the 10-second window of 10:00:12.
    assert_eq!(out[3]["AVG_PRICE"], 25.0);
    assert_eq!(out[3]["N"], 2);
    assert_eq!(out[3]["ROWTIME"], "2019-01-01T10:00:12.000Z");
}

/// ROWS n PRECEDING and LAG (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-lag.html).
#[test]
fn rows_window_and_lag() {
    let code = r#"
CREATE STREAM "D" (T VARCHAR(4), PREV REAL, SUM2 REAL);
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM TICKER_SYMBOL, LAG(PRICE, 1) OVER (PARTITION BY TICKER_SYMBOL ROWS 1 PRECEDING),
         SUM(PRICE) OVER (PARTITION BY TICKER_SYMBOL ROWS 1 PRECEDING)
  FROM "SOURCE_SQL_STREAM_001";"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "AAA", "X", 0.0, 1.0),
            stock("10:00:01.000", "AAA", "X", 0.0, 2.0),
            stock("10:00:02.000", "AAA", "X", 0.0, 4.0),
        ],
    );
    assert_eq!(out[0]["PREV"], serde_json::Value::Null);
    assert_eq!(out[1]["PREV"], 1.0);
    assert_eq!(out[2]["PREV"], 2.0);
    assert_eq!(out[1]["SUM2"], 3.0);
    assert_eq!(out[2]["SUM2"], 6.0);
}

/// Pumps chained through an in-application stream, with a subquery in FROM and `SELECT *`.
#[test]
fn pumps_chain_through_streams_in_emission_order() {
    let code = r#"
CREATE STREAM "MID" (TICKER VARCHAR(4), DOUBLED DOUBLE);
CREATE STREAM "D" (TICKER VARCHAR(4), DOUBLED DOUBLE);
CREATE PUMP "P1" AS INSERT INTO "MID"
  SELECT STREAM TICKER_SYMBOL, PRICE * 2 FROM "SOURCE_SQL_STREAM_001";
CREATE PUMP "P2" AS INSERT INTO "D"
  SELECT STREAM * FROM (SELECT STREAM * FROM "MID" WHERE DOUBLED > 10) AS m;"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "AAA", "X", 0.0, 4.0),
            stock("10:00:01.000", "BBB", "X", 0.0, 6.0),
        ],
    );
    let streams: Vec<&str> = out
        .iter()
        .map(|v| v["stream"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(streams, ["MID", "MID", "D"]);
    assert_eq!(out[2]["TICKER"], "BBB");
    assert_eq!(out[2]["DOUBLED"], 12.0);
    assert_eq!(out[2]["ROWTIME"], "2019-01-01T10:00:01.000Z");
}

/// Division by zero goes to error_stream with the documented columns and the pump goes on
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/error-handling.html).
#[test]
fn runtime_errors_go_to_error_stream_and_the_pump_goes_on() {
    let code = r#"
CREATE STREAM "D" (TICKER VARCHAR(4), Q INTEGER);
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM TICKER_SYMBOL, 10 / CAST(PRICE AS INTEGER) FROM "SOURCE_SQL_STREAM_001";"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "AAA", "X", 0.0, 0.0),
            stock("10:00:01.000", "BBB", "X", 0.0, 5.0),
        ],
    );
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["stream"], "error_stream");
    assert_eq!(out[0]["ERROR_NAME"], "DivisionByZero");
    assert_eq!(out[0]["PUMP_NAME"], "P");
    assert_eq!(out[0]["DATA_ROWTIME"], "2019-01-01T10:00:00.000Z");
    for col in ["ERROR_TIME", "ERROR_LEVEL", "MESSAGE", "DATA_ROW"] {
        assert!(out[0].get(col).is_some(), "{col}");
    }
    assert_eq!(out[1]["Q"], 2);
}

/// A record the schema cannot map goes to error_stream without a pump name.
#[test]
fn unmappable_records_go_to_error_stream() {
    let code = r#"CREATE STREAM "D" (P REAL);
        CREATE PUMP "P" AS INSERT INTO "D" SELECT STREAM PRICE FROM "SOURCE_SQL_STREAM_001";"#;
    let rows = [
        r#"{"rowtime": "2019-01-01T10:00:00.000Z", "data": "not json"}"#.to_string(),
        stock("10:00:01.000", "AAA", "X", 0.0, 3.0),
    ];
    let out = run(code, &rows);
    assert_eq!(out[0]["stream"], "error_stream");
    assert_eq!(out[0]["PUMP_NAME"], serde_json::Value::Null);
    assert_eq!(out[1]["P"], 3.0);
}

/// The special syntaxes and expressions, evaluated per row.
#[test]
fn special_syntaxes_and_predicates() {
    let code = r#"
CREATE STREAM "D" (S VARCHAR(8), POS INTEGER, TR VARCHAR(8), BIG BOOLEAN, KIND VARCHAR(8), M TIMESTAMP, SECS BIGINT);
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM SUBSTRING(SECTOR FROM 2 FOR 3), POSITION('C' IN SECTOR), TRIM(BOTH 'x' FROM 'xxabxx'),
         PRICE BETWEEN 10 AND 20,
         CASE WHEN TICKER_SYMBOL IN ('AAA', 'BBB') THEN 'known' WHEN TICKER_SYMBOL LIKE 'C%' THEN 'c' ELSE 'other' END,
         FLOOR(ROWTIME TO MINUTE),
         EXTRACT(SECOND FROM ROWTIME)
  FROM "SOURCE_SQL_STREAM_001" WHERE CHANGE IS NOT NULL;"#;
    let out = run(code, &[stock("10:03:07.000", "CCC", "TECH", 1.0, 15.0)]);
    assert_eq!(out[0]["S"], "ECH");
    assert_eq!(out[0]["POS"], 3);
    assert_eq!(out[0]["TR"], "ab");
    assert_eq!(out[0]["BIG"], true);
    assert_eq!(out[0]["KIND"], "c");
    assert_eq!(out[0]["M"], "2019-01-01T10:03:00.000Z");
    assert_eq!(out[0]["SECS"], 7);
}

/// Timestamp literals and interval arithmetic, APPROXIMATE_ARRIVAL_TIME on the source.
#[test]
fn literals_intervals_and_arrival_time() {
    let code = r#"
CREATE STREAM "D" (LATER TIMESTAMP, EARLY BOOLEAN, ARRIVED TIMESTAMP);
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM ROWTIME + INTERVAL '1:30' MINUTE TO SECOND, ROWTIME < TIMESTAMP '2019-01-01 12:00:00',
         APPROXIMATE_ARRIVAL_TIME
  FROM "SOURCE_SQL_STREAM_001";"#;
    let out = run(code, &[stock("10:00:00.000", "AAA", "X", 0.0, 1.0)]);
    assert_eq!(out[0]["LATER"], "2019-01-01T10:01:30.000Z");
    assert_eq!(out[0]["EARLY"], true);
    assert_eq!(out[0]["ARRIVED"], "2019-01-01T10:00:00.000Z");
}

/// Compile errors carry a line and a column.
#[test]
fn compile_errors_point_at_the_code() {
    let cases = [
        (
            "CREATE STREAM \"D\" (A INTEGER);\nCREATE PUMP \"P\" AS INSERT INTO \"D\" SELECT STREAM NOPE FROM \"SOURCE_SQL_STREAM_001\";",
            (2, 50),
            "NOPE",
        ),
        (
            "CREATE PUMP \"P\" AS INSERT INTO \"NOWHERE\" SELECT STREAM PRICE FROM \"SOURCE_SQL_STREAM_001\";",
            (1, 32),
            "undeclared",
        ),
        (
            "CREATE STREAM \"D\" (A INTEGER, B INTEGER);\nCREATE PUMP \"P\" AS INSERT INTO \"D\" SELECT STREAM PRICE FROM \"SOURCE_SQL_STREAM_001\";",
            (2, 32),
            "columns",
        ),
        (
            "CREATE STREAM \"D\" (A INTEGER);\nCREATE PUMP \"P\" AS INSERT INTO \"D\" SELECT STREAM ABS(PRICE, 2) FROM \"SOURCE_SQL_STREAM_001\";",
            (2, 50),
            "ABS",
        ),
        (
            "CREATE STREAM \"D\" (A INTEGER);\nCREATE PUMP \"P\" AS INSERT INTO \"D\" SELECT STREAM TICKER_SYMBOL + 1 FROM \"SOURCE_SQL_STREAM_001\";",
            (2, 50),
            "arithmetic",
        ),
        (
            "CREATE STREAM \"D\" (A BIGINT);\nCREATE PUMP \"P\" AS INSERT INTO \"D\" SELECT STREAM COUNT(*) FROM \"SOURCE_SQL_STREAM_001\" GROUP BY TICKER_SYMBOL;",
            (2, 97),
            "window",
        ),
    ];
    for (code, (line, column), word) in cases {
        match run_test(code, STOCK_SCHEMA, "", None) {
            Err(HarnessError::Compile(e)) => {
                assert_eq!((e.line, e.column), (line, column), "{code}: {e}");
                assert!(e.message.contains(word), "{code}: {e}");
            }
            other => panic!("{code}: {other:?}"),
        }
    }
}

/// Stream-to-reference join, JOIN and LEFT JOIN
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-add-reference-data.html).
#[test]
fn reference_joins() {
    let reference = r#"{
      "TableName": "CompanyName",
      "ReferenceSchema": {
        "RecordFormat": {"RecordFormatType": "CSV", "MappingParameters": {"CSVMappingParameters": {"RecordRowDelimiter": "\n", "RecordColumnDelimiter": ","}}},
        "RecordEncoding": "UTF-8",
        "RecordColumns": [{"Name": "Ticker", "SqlType": "VARCHAR(4)"}, {"Name": "Company", "SqlType": "VARCHAR(16)"}]
      },
      "Rows": ["AAA,Amazon", "BBB,Boeing"]
    }"#;
    let code = r#"
CREATE STREAM "D" (TICKER VARCHAR(4), COMPANY VARCHAR(16), PRICE REAL);
CREATE STREAM "L" (TICKER VARCHAR(4), COMPANY VARCHAR(16));
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM s.TICKER_SYMBOL, c."Company", s.PRICE
  FROM "SOURCE_SQL_STREAM_001" AS s JOIN "CompanyName" AS c ON s.TICKER_SYMBOL = c."Ticker";
CREATE PUMP "Q" AS INSERT INTO "L"
  SELECT STREAM s.TICKER_SYMBOL, c."Company"
  FROM "SOURCE_SQL_STREAM_001" AS s LEFT JOIN "CompanyName" AS c ON s.TICKER_SYMBOL = c."Ticker";"#;
    let rows = [
        stock("10:00:00.000", "AAA", "X", 0.0, 1.0),
        stock("10:00:01.000", "ZZZ", "X", 0.0, 2.0),
    ];
    let out = run_test(code, STOCK_SCHEMA, &rows.join("\n"), Some(reference)).expect("runs");
    let out: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let d = stream_rows(&out, "D");
    assert_eq!(d.len(), 1, "{out:?}");
    assert_eq!(d[0]["COMPANY"], "Amazon");
    let l = stream_rows(&out, "L");
    assert_eq!(l.len(), 2);
    assert_eq!(l[1]["COMPANY"], serde_json::Value::Null);
}

/// Stream-to-stream join with a window on the joined stream
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-join-clause.html).
#[test]
fn stream_to_stream_join_within_the_window() {
    let code = r#"
CREATE STREAM "BUYS" (TICKER VARCHAR(4), PRICE REAL);
CREATE STREAM "D" (TICKER VARCHAR(4), BUY REAL, SELL REAL);
CREATE PUMP "B" AS INSERT INTO "BUYS"
  SELECT STREAM TICKER_SYMBOL, PRICE FROM "SOURCE_SQL_STREAM_001" WHERE SECTOR = 'BUY';
CREATE PUMP "J" AS INSERT INTO "D"
  SELECT STREAM s.TICKER_SYMBOL, b.PRICE, s.PRICE
  FROM "SOURCE_SQL_STREAM_001" AS s
  JOIN "BUYS" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS b ON s.TICKER_SYMBOL = b.TICKER
  WHERE s.SECTOR = 'SELL';"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "AAA", "BUY", 0.0, 10.0),
            stock("10:00:30.000", "AAA", "SELL", 0.0, 11.0),
            stock("10:02:00.000", "AAA", "SELL", 0.0, 12.0),
        ],
    );
    let d = stream_rows(&out, "D");
    assert_eq!(d.len(), 1, "{out:?}");
    assert_eq!(d[0]["BUY"], 10.0);
    assert_eq!(d[0]["SELL"], 11.0);
    assert_eq!(d[0]["ROWTIME"], "2019-01-01T10:00:30.000Z");
}

/// Stagger window (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/stagger-window-concepts.html):
/// the window opens with its key's first row and closes a minute later.
#[test]
fn stagger_window_closes_range_after_it_opened() {
    let code = r#"
CREATE STREAM "D" (TICKER VARCHAR(4), N BIGINT);
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM TICKER_SYMBOL, COUNT(*) FROM "SOURCE_SQL_STREAM_001"
  WINDOWED BY STAGGER (PARTITION BY TICKER_SYMBOL RANGE INTERVAL '1' MINUTE);"#;
    let out = run(
        code,
        &[
            stock("10:00:20.000", "AAA", "X", 0.0, 1.0),
            stock("10:00:50.000", "AAA", "X", 0.0, 1.0),
            stock("10:00:55.000", "BBB", "X", 0.0, 1.0),
            stock("10:01:20.000", "CCC", "X", 0.0, 1.0),
        ],
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["TICKER"], "AAA");
    assert_eq!(out[0]["N"], 2);
    assert_eq!(out[0]["ROWTIME"], "2019-01-01T10:01:20.000Z");
}

/// A checkpoint taken mid-window restores into a fresh application, which then emits the
/// window's row with the rows from before the checkpoint counted.
#[test]
fn checkpoint_keeps_open_windows() {
    use crate::app::Application;
    use crate::row::{StreamColumn, StreamRow};
    use crate::types::SqlType;
    use crate::value::Value;
    let code = r#"CREATE STREAM "D" (N BIGINT);
        CREATE PUMP "P" AS INSERT INTO "D" SELECT STREAM COUNT(*) FROM "IN"
        GROUP BY STEP("IN".ROWTIME BY INTERVAL '1' MINUTE);"#;
    let inputs = [(
        "IN".to_string(),
        StreamSchema::from(vec![StreamColumn::new("X", SqlType::Integer)]),
    )];
    let mut a = Application::compile(code, &inputs, &[]).expect("compiles");
    assert!(a
        .push("IN", StreamRow::new(0, vec![Value::Integer(1)]))
        .is_empty());
    assert!(a
        .push("IN", StreamRow::new(1000, vec![Value::Integer(2)]))
        .is_empty());
    let saved = a.checkpoint();
    let mut b = Application::compile(code, &inputs, &[]).expect("compiles");
    b.restore(&saved).expect("restores");
    let out = b.advance(60_000);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].row, StreamRow::new(60_000, vec![Value::BigInt(2)]));
}

/// LAG with a default and IGNORE NULLS, limited to its window
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-lag.html).
#[test]
fn lag_ignores_nulls_within_the_window() {
    let code = r#"
CREATE STREAM "D" (T VARCHAR(4), P DOUBLE, PREV DOUBLE, PREV2 DOUBLE);
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM TICKER_SYMBOL, PRICE,
    LAG(PRICE, 1, 0) IGNORE NULLS OVER (PARTITION BY TICKER_SYMBOL RANGE INTERVAL '1' MINUTE PRECEDING),
    LAG(PRICE, 2, 0) IGNORE NULLS OVER (PARTITION BY TICKER_SYMBOL RANGE INTERVAL '1' MINUTE PRECEDING)
  FROM "SOURCE_SQL_STREAM_001";"#;
    let null_price = r#"{"rowtime": "2019-01-01T10:00:20.000Z", "data": {"TICKER_SYMBOL": "AAA", "SECTOR": "X", "CHANGE": 0.0, "PRICE": null}}"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "AAA", "X", 0.0, 10.0),
            null_price.to_string(),
            stock("10:00:30.000", "AAA", "X", 0.0, 30.0),
            stock("10:00:40.000", "AAA", "X", 0.0, 40.0),
            stock("10:01:35.000", "AAA", "X", 0.0, 50.0),
        ],
    );
    let prev: Vec<(f64, f64)> = out
        .iter()
        .map(|v| {
            (
                v["PREV"].as_f64().unwrap_or(-1.0),
                v["PREV2"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    assert_eq!(
        prev,
        [
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 0.0),
            (30.0, 10.0),
            (40.0, 0.0)
        ]
    );
}

/// A tumbling window over another pump's tumbling output: stream time reaching the later
/// window's end flushes it though no row reached the second pump then.
#[test]
fn chained_tumbling_windows_flush_on_stream_time() {
    let code = r#"
CREATE STREAM "PER_MINUTE" (N BIGINT);
CREATE STREAM "PER_TWO" (TOTAL BIGINT, WINDOW_END TIMESTAMP);
CREATE PUMP "P1" AS INSERT INTO "PER_MINUTE"
  SELECT STREAM COUNT(*) FROM "SOURCE_SQL_STREAM_001" GROUP BY FLOOR(ROWTIME TO MINUTE);
CREATE PUMP "P2" AS INSERT INTO "PER_TWO"
  SELECT STREAM SUM(N), ROWTIME AS WINDOW_END FROM "PER_MINUTE"
  GROUP BY STEP("PER_MINUTE".ROWTIME BY INTERVAL '2' MINUTE);"#;
    let out = run(
        code,
        &[
            stock("10:00:10.000", "A", "X", 0.0, 1.0),
            stock("10:00:20.000", "A", "X", 0.0, 1.0),
            stock("10:01:10.000", "A", "X", 0.0, 1.0),
            stock("10:02:10.000", "A", "X", 0.0, 1.0),
            stock("10:04:00.000", "A", "X", 0.0, 1.0),
        ],
    );
    let lines: Vec<(String, String)> = out
        .iter()
        .map(|v| (v["stream"].to_string(), v["ROWTIME"].to_string()))
        .collect();
    // 10:00 -> PER_MINUTE at 10:01; 10:01 -> at 10:02, which is PER_TWO's window
    // [10:02, 10:04); the 10:00-10:02 window of PER_TWO holds the 10:01 row only.
    assert_eq!(lines.len(), 5, "{out:?}");
    let two = stream_rows(&out, "PER_TWO");
    assert_eq!(two.len(), 2, "{out:?}");
    assert_eq!(two[0]["ROWTIME"], "2019-01-01T10:02:00.000Z");
    assert_eq!(two[0]["TOTAL"], 2);
    assert_eq!(two[0]["WINDOW_END"], "2019-01-01T10:02:00.000Z");
    assert_eq!(two[1]["ROWTIME"], "2019-01-01T10:04:00.000Z");
    assert_eq!(two[1]["TOTAL"], 2);
}

/// ROWTIME never decreases on a stream: an input row stamped earlier than the one before
/// takes the later ROWTIME (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/timestamps-rowtime-concepts.html).
#[test]
fn rowtime_never_decreases() {
    let code = r#"CREATE STREAM "D" (P REAL);
        CREATE PUMP "P" AS INSERT INTO "D" SELECT STREAM PRICE FROM "SOURCE_SQL_STREAM_001";"#;
    let out = run(
        code,
        &[
            stock("10:00:05.000", "A", "X", 0.0, 1.0),
            stock("10:00:01.000", "A", "X", 0.0, 2.0),
        ],
    );
    assert_eq!(out[1]["ROWTIME"], "2019-01-01T10:00:05.000Z");
}

/// CREATE OR REPLACE: the later definition of a stream and of a pump wins.
#[test]
fn create_or_replace_keeps_the_last_definition() {
    let code = r#"
CREATE OR REPLACE STREAM "D" (P REAL);
CREATE OR REPLACE STREAM "D" (P REAL, T VARCHAR(4));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM PRICE, 'one' FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE PUMP "P" AS INSERT INTO "D" SELECT STREAM PRICE, 'two' FROM "SOURCE_SQL_STREAM_001";"#;
    let out = run(code, &[stock("10:00:05.000", "A", "X", 0.0, 1.0)]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["T"], "two");
}

/// More compile errors with their places: a non-boolean WHERE, a LAG offset that is not a
/// constant, an aggregate without a window, a column neither grouped nor aggregated.
#[test]
fn more_compile_errors() {
    let cases = [
        ("SELECT STREAM PRICE FROM \"SOURCE_SQL_STREAM_001\" WHERE PRICE", "BOOLEAN"),
        (
            "SELECT STREAM LAG(PRICE, PRICE) OVER (ROWS 2 PRECEDING) FROM \"SOURCE_SQL_STREAM_001\"",
            "LAG",
        ),
        ("SELECT STREAM SUM(PRICE) FROM \"SOURCE_SQL_STREAM_001\"", "GROUP BY or OVER"),
        (
            "SELECT STREAM PRICE FROM \"SOURCE_SQL_STREAM_001\" GROUP BY FLOOR(ROWTIME TO MINUTE)",
            "grouped or aggregated",
        ),
        ("SELECT STREAM SUM(TICKER_SYMBOL) OVER (ROWS 1 PRECEDING) FROM \"SOURCE_SQL_STREAM_001\"", "number"),
        ("SELECT STREAM PRICE FROM \"NOPE\"", "NOPE"),
        ("SELECT STREAM ROWTIME FROM \"SOURCE_SQL_STREAM_001\"", "cannot be assigned"),
    ];
    for (select, word) in cases {
        let code = format!(
            "CREATE STREAM \"D\" (P DOUBLE);\nCREATE PUMP \"P\" AS INSERT INTO \"D\"\n{select};"
        );
        match run_test(&code, STOCK_SCHEMA, "", None) {
            Err(HarnessError::Compile(e)) => {
                assert_eq!(e.line, 3, "{select}: {e}");
                assert!(e.column >= 1, "{select}: {e}");
                assert!(e.message.contains(word), "{select}: {e}");
            }
            other => panic!("{select}: {other:?}"),
        }
    }
}

/// `VARCHAR(n)` columns take what the CAST to their type gives (SQL assignment): a longer
/// string is cut to n characters.
#[test]
fn target_columns_cast_values_to_their_types() {
    let code = r#"CREATE STREAM "D" (S VARCHAR(3), N INTEGER, R REAL);
        CREATE PUMP "P" AS INSERT INTO "D" SELECT STREAM SECTOR, PRICE, 1 FROM "SOURCE_SQL_STREAM_001";"#;
    let out = run(code, &[stock("10:00:05.000", "A", "TECHNOLOGY", 0.0, 7.0)]);
    assert_eq!(out[0]["S"], "TEC");
    assert_eq!(out[0]["N"], 7);
    assert_eq!(out[0]["R"], 1.0);
}

/// TOP_K_ITEMS_TUMBLING (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/top-k.html).
#[test]
fn top_k_items_per_tumbling_window() {
    let code = r#"CREATE STREAM "D" (T VARCHAR(4), N BIGINT);
        CREATE PUMP "P" AS INSERT INTO "D" SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING(
            CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 'TICKER_SYMBOL', 2, 60));"#;
    let out = run(
        code,
        &[
            stock("10:00:01.000", "A", "X", 0.0, 1.0),
            stock("10:00:02.000", "B", "X", 0.0, 1.0),
            stock("10:00:03.000", "B", "X", 0.0, 1.0),
            stock("10:00:04.000", "C", "X", 0.0, 1.0),
            stock("10:01:04.000", "C", "X", 0.0, 1.0),
        ],
    );
    let got: Vec<(String, i64)> = out
        .iter()
        .map(|v| {
            (
                v["T"].as_str().unwrap_or("").to_string(),
                v["N"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, [("B".to_string(), 2), ("A".to_string(), 1)]);
    assert_eq!(out[0]["ROWTIME"], "2019-01-01T10:01:00.000Z");
}

/// SELECT STREAM DISTINCT with ROWTIME among its items, and a GROUP BY window over the
/// subquery's ROWTIME column
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/count-distinct-items.html).
#[test]
fn distinct_rows_then_a_window_over_the_subquery_rowtime() {
    let code = r#"
CREATE STREAM "D" (T VARCHAR(4), N BIGINT);
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM TICKER_SYMBOL, COUNT(d.PRICE)
  FROM (SELECT STREAM DISTINCT ROWTIME AS WT, TICKER_SYMBOL, PRICE FROM "SOURCE_SQL_STREAM_001") AS d
  GROUP BY TICKER_SYMBOL, STEP(d.WT BY INTERVAL '5' SECOND);"#;
    let out = run(
        code,
        &[
            stock("10:00:01.000", "A", "X", 0.0, 1.0),
            stock("10:00:01.000", "A", "X", 0.0, 1.0),
            stock("10:00:02.000", "A", "X", 0.0, 1.0),
            stock("10:00:06.000", "A", "X", 0.0, 1.0),
        ],
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["N"], 2);
    assert_eq!(out[0]["ROWTIME"], "2019-01-01T10:00:05.000Z");
}

/// An outer stream-to-stream join: the unmatched outer row comes out when its window ends,
/// stamped with that end; a matched one at the later ROWTIME of the pair
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-join-clause.html).
#[test]
fn outer_stream_join_emits_unmatched_rows_at_the_window_end() {
    let code = r#"
CREATE STREAM "O" (ID VARCHAR(4));
CREATE STREAM "S" (ID VARCHAR(4));
CREATE STREAM "D" (ID VARCHAR(4), SID VARCHAR(4), OT TIMESTAMP);
CREATE PUMP "PO" AS INSERT INTO "O" SELECT STREAM TICKER_SYMBOL FROM "SOURCE_SQL_STREAM_001" WHERE SECTOR = 'O';
CREATE PUMP "PS" AS INSERT INTO "S" SELECT STREAM TICKER_SYMBOL FROM "SOURCE_SQL_STREAM_001" WHERE SECTOR = 'S';
CREATE PUMP "J" AS INSERT INTO "D"
  SELECT STREAM o.ID, s.ID, o.ROWTIME FROM "O" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS o
  LEFT JOIN "S" AS s ON o.ID = s.ID;"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "A", "O", 0.0, 1.0),
            stock("10:00:10.000", "B", "O", 0.0, 1.0),
            stock("10:00:20.000", "B", "S", 0.0, 1.0),
            stock("10:02:00.000", "Z", "Z", 0.0, 1.0),
        ],
    );
    let d = stream_rows(&out, "D");
    assert_eq!(d.len(), 2, "{out:?}");
    assert_eq!(d[0]["SID"], "B");
    assert_eq!(d[0]["ROWTIME"], "2019-01-01T10:00:20.000Z");
    assert_eq!(d[0]["OT"], "2019-01-01T10:00:10.000Z");
    assert_eq!(d[1]["ID"], "A");
    assert_eq!(d[1]["SID"], serde_json::Value::Null);
    assert_eq!(d[1]["ROWTIME"], "2019-01-01T10:01:00.000Z");
}

proptest::proptest! {
    /// Whatever the select list, compiling and running never panics: a bad one is a compile
    /// error, a failing row an error_stream row.
    #[test]
    fn compiling_and_running_never_panic(words in proptest::collection::vec(proptest::sample::select(vec![
        "PRICE", "CHANGE", "TICKER_SYMBOL", "ROWTIME", "+", "-", "*", "/", "(", ")", ",", "0", "1",
        "'a'", "SUM", "COUNT", "AVG", "LAG", "OVER", "ROWS", "RANGE", "INTERVAL", "'1'", "SECOND",
        "PRECEDING", "PARTITION", "BY", "CASE", "WHEN", "THEN", "ELSE", "END", "IS", "NULL", "NOT",
        "CAST", "AS", "DOUBLE", "STEP", "FLOOR", "TO", "MINUTE", "||", "=", "<", "AND", "OR", "*",
    ]), 1..16), group in proptest::bool::ANY) {
        let select = words.join(" ");
        let tail = if group { " GROUP BY FLOOR(ROWTIME TO SECOND), TICKER_SYMBOL" } else { "" };
        let code = format!(
            "CREATE STREAM \"D\" (P DOUBLE);\nCREATE PUMP \"P\" AS INSERT INTO \"D\"\nSELECT STREAM {select} FROM \"SOURCE_SQL_STREAM_001\"{tail};"
        );
        let rows = [
            stock("10:00:00.000", "A", "X", 0.0, 1.0),
            stock("10:00:01.500", "B", "X", -1.0, 0.0),
            stock("10:00:03.000", "A", "X", 2.0, 3.0),
        ];
        match run_test(&code, STOCK_SCHEMA, &rows.join("\n"), None) {
            Ok(_) => {}
            Err(HarnessError::Compile(e)) => proptest::prop_assert!(e.line >= 1, "{code}: {e}"),
            Err(other) => proptest::prop_assert!(false, "{code}: {other}"),
        }
    }
}

/// A pump reading what it (or a pump it feeds) inserts into would loop on one row forever:
/// a compile error.
#[test]
fn pump_cycles_are_compile_errors() {
    let code = r#"CREATE STREAM "A" (P DOUBLE);
CREATE STREAM "B" (P DOUBLE);
CREATE PUMP "P1" AS INSERT INTO "A" SELECT STREAM P FROM "B";
CREATE PUMP "P2" AS INSERT INTO "B" SELECT STREAM P FROM "A";"#;
    match run_test(code, STOCK_SCHEMA, "", None) {
        Err(HarnessError::Compile(e)) => {
            assert!(e.message.contains("cycle"), "{e}");
            assert_eq!(e.line, 3);
        }
        other => panic!("{other:?}"),
    }
}

/// `NOT NULL` columns refuse NULL (an error_stream row); `U&'...' UESCAPE` literals
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-data-types.html,
/// https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-literals.html).
#[test]
fn not_null_columns_and_unicode_literals() {
    let code = r#"CREATE STREAM "D" (A VARCHAR(4) NOT NULL, B VARCHAR(8) NULL, U VARCHAR(4));
        CREATE PUMP "P" AS INSERT INTO "D"
        SELECT STREAM CASE WHEN PRICE > 1 THEN 'x' END, u&'can''t', u&'!0041!!' UESCAPE '!'
        FROM "SOURCE_SQL_STREAM_001";"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "A", "X", 0.0, 2.0),
            stock("10:00:01.000", "A", "X", 0.0, 0.0),
        ],
    );
    assert_eq!(out[0]["A"], "x");
    assert_eq!(out[0]["B"], "can't");
    assert_eq!(out[0]["U"], "A!");
    assert_eq!(out[1]["stream"], "error_stream");
    assert_eq!(out[1]["ERROR_NAME"], "NotNullViolation");
}

/// Streaming UNION ALL: both sides' rows, each keeping its input row's ROWTIME
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-query.html).
#[test]
fn union_all_merges_streams() {
    let code = r#"
CREATE STREAM "PHONE" (T VARCHAR(4), P REAL);
CREATE STREAM "WEB" (T VARCHAR(4), P REAL);
CREATE STREAM "ALL_ORDERS" (T VARCHAR(4), P REAL);
CREATE PUMP "A" AS INSERT INTO "PHONE" SELECT STREAM TICKER_SYMBOL, PRICE FROM "SOURCE_SQL_STREAM_001" WHERE SECTOR = 'PHONE';
CREATE PUMP "B" AS INSERT INTO "WEB" SELECT STREAM TICKER_SYMBOL, PRICE FROM "SOURCE_SQL_STREAM_001" WHERE SECTOR = 'WEB';
CREATE PUMP "C" AS INSERT INTO "ALL_ORDERS"
  SELECT STREAM * FROM "PHONE" UNION ALL SELECT STREAM * FROM "WEB";"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "A", "PHONE", 0.0, 1.0),
            stock("10:00:01.000", "B", "WEB", 0.0, 2.0),
            stock("10:00:02.000", "C", "OTHER", 0.0, 3.0),
        ],
    );
    let all = stream_rows(&out, "ALL_ORDERS");
    assert_eq!(all.len(), 2, "{out:?}");
    assert_eq!(all[0]["T"], "A");
    assert_eq!(all[1]["T"], "B");
    assert_eq!(all[1]["ROWTIME"], "2019-01-01T10:00:01.000Z");
}

/// NTH_VALUE (FROM FIRST / FROM LAST) and EXP_AVG over a sliding window
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-nth-value.html,
/// https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-exp-avg.html).
#[test]
fn nth_value_and_exp_avg() {
    let code = r#"
CREATE STREAM "D" (FIRST2 REAL, LAST1 REAL, EXPAVG DOUBLE);
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM NTH_VALUE(PRICE, 2) FROM FIRST OVER W, NTH_VALUE(PRICE, 1) FROM LAST OVER W,
         EXP_AVG(PRICE, INTERVAL '10' SECOND) OVER W
  FROM "SOURCE_SQL_STREAM_001"
  WINDOW W AS (RANGE INTERVAL '1' MINUTE PRECEDING);"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "A", "X", 0.0, 1.0),
            stock("10:00:01.000", "A", "X", 0.0, 2.0),
            stock("10:00:02.000", "A", "X", 0.0, 4.0),
        ],
    );
    assert_eq!(out[0]["FIRST2"], serde_json::Value::Null);
    assert_eq!(out[2]["FIRST2"], 2.0);
    assert_eq!(out[2]["LAST1"], 4.0);
    let avg = out[2]["EXPAVG"].as_f64().unwrap_or(-1.0);
    assert!((avg - 7.0 / 3.0).abs() < 1e-9, "{avg}");
}

/// Restarting from a checkpoint after any row gives the same output as never stopping:
/// every kind of state (tumbling, sliding, stagger, stream join, DISTINCT, LAG) survives the
/// JSON round trip.
#[test]
fn checkpoint_after_every_row_changes_nothing() {
    use crate::app::Application;
    use crate::row::StreamRow;
    let code = r#"
CREATE STREAM "T" (K VARCHAR(4), N BIGINT, A DOUBLE);
CREATE STREAM "S" (K VARCHAR(4), A DOUBLE, PREV DOUBLE);
CREATE STREAM "G" (K VARCHAR(4), N BIGINT);
CREATE STREAM "B" (K VARCHAR(4), P DOUBLE);
CREATE STREAM "J" (K VARCHAR(4), P DOUBLE, Q DOUBLE);
CREATE STREAM "U" (K VARCHAR(4), W TIMESTAMP);
CREATE PUMP "PT" AS INSERT INTO "T" SELECT STREAM TICKER_SYMBOL, COUNT(*), AVG(PRICE)
  FROM "SOURCE_SQL_STREAM_001" GROUP BY TICKER_SYMBOL, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '10' SECOND);
CREATE PUMP "PS" AS INSERT INTO "S" SELECT STREAM TICKER_SYMBOL, AVG(PRICE) OVER W, LAG(PRICE) OVER W
  FROM "SOURCE_SQL_STREAM_001" WINDOW W AS (PARTITION BY TICKER_SYMBOL RANGE INTERVAL '15' SECOND PRECEDING);
CREATE PUMP "PG" AS INSERT INTO "G" SELECT STREAM TICKER_SYMBOL, COUNT(*) FROM "SOURCE_SQL_STREAM_001"
  WINDOWED BY STAGGER (PARTITION BY TICKER_SYMBOL RANGE INTERVAL '7' SECOND);
CREATE PUMP "PB" AS INSERT INTO "B" SELECT STREAM TICKER_SYMBOL, PRICE FROM "SOURCE_SQL_STREAM_001" WHERE SECTOR = 'B';
CREATE PUMP "PJ" AS INSERT INTO "J" SELECT STREAM s.TICKER_SYMBOL, b.P, s.PRICE
  FROM "SOURCE_SQL_STREAM_001" AS s LEFT JOIN "B" OVER (RANGE INTERVAL '5' SECOND PRECEDING) AS b
  ON s.TICKER_SYMBOL = b.K WHERE s.SECTOR = 'S';
CREATE PUMP "PU" AS INSERT INTO "U" SELECT STREAM DISTINCT TICKER_SYMBOL, FLOOR(ROWTIME TO SECOND)
  FROM "SOURCE_SQL_STREAM_001";"#;
    let schema = crate::input::InputSchema::from_json(STOCK_SCHEMA).expect("schema");
    let inputs = [(
        INPUT_STREAM.to_string(),
        StreamSchema::from(schema.columns()),
    )];
    let mapper = crate::input::Mapper::new(&schema).expect("mapper");
    let rows: Vec<StreamRow> = (0..60)
        .flat_map(|i| {
            let t = format!("10:00:{:02}.{:03}", i / 2, (i % 2) * 500);
            let ticker = ["A", "B", "C"][i % 3];
            let sector = ["B", "S", "X"][(i / 3) % 3];
            let line = stock(&t, ticker, sector, 0.0, i as f64);
            let v: serde_json::Value = serde_json::from_str(&line).expect("json");
            let rowtime =
                crate::value::parse_timestamp(v["rowtime"].as_str().unwrap_or("")).expect("time");
            mapper
                .map(v["data"].to_string().as_bytes())
                .expect("maps")
                .into_iter()
                .map(move |values| StreamRow::new(rowtime, values))
        })
        .collect();
    let mut straight = Application::compile(code, &inputs, &[]).expect("compiles");
    let expected: Vec<_> = rows
        .iter()
        .flat_map(|r| straight.push(INPUT_STREAM, r.clone()))
        .collect();
    assert!(expected.len() > 60, "{}", expected.len());
    let mut app = Application::compile(code, &inputs, &[]).expect("compiles");
    let mut got = Vec::new();
    for r in &rows {
        let saved = serde_json::to_string(&app.checkpoint()).expect("json");
        app = Application::compile(code, &inputs, &[]).expect("compiles");
        app.restore(&serde_json::from_str(&saved).expect("parses"))
            .expect("restores");
        got.extend(app.push(INPUT_STREAM, r.clone()));
    }
    assert_eq!(got, expected);
}

/// ORDER BY in a streaming GROUP BY sorts the rows of each window
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-order-by-clause.html);
/// without GROUP BY only ROWTIME order is allowed.
#[test]
fn order_by_sorts_each_windows_rows() {
    let code = r#"CREATE STREAM "D" (T VARCHAR(4), TOTAL REAL);
        CREATE PUMP "P" AS INSERT INTO "D"
        SELECT STREAM TICKER_SYMBOL, SUM(PRICE) AS TOTAL FROM "SOURCE_SQL_STREAM_001"
        GROUP BY FLOOR(ROWTIME TO MINUTE), TICKER_SYMBOL
        ORDER BY FLOOR(ROWTIME TO MINUTE), TOTAL DESC;"#;
    let out = run(
        code,
        &[
            stock("10:00:01.000", "A", "X", 0.0, 1.0),
            stock("10:00:02.000", "B", "X", 0.0, 5.0),
            stock("10:00:03.000", "C", "X", 0.0, 3.0),
            stock("10:01:00.000", "A", "X", 0.0, 1.0),
        ],
    );
    let order: Vec<&str> = out.iter().map(|v| v["T"].as_str().unwrap_or("")).collect();
    assert_eq!(order, ["B", "C", "A"]);
    assert_eq!(out[0].as_object().map(|o| o.len()), Some(4), "{out:?}");
    let bad = r#"CREATE STREAM "D" (P REAL);
        CREATE PUMP "P" AS INSERT INTO "D" SELECT STREAM PRICE FROM "SOURCE_SQL_STREAM_001" ORDER BY PRICE;"#;
    assert!(matches!(
        run_test(bad, STOCK_SCHEMA, "", None),
        Err(HarnessError::Compile(_))
    ));
}

/// FULL OUTER JOIN of two windowed streams: unmatched rows of either side come out at
/// the end of their window.
#[test]
fn full_outer_stream_join() {
    let code = r#"
CREATE STREAM "O" (ID VARCHAR(4));
CREATE STREAM "S" (ID VARCHAR(4));
CREATE STREAM "D" (OID VARCHAR(4), SID VARCHAR(4));
CREATE PUMP "PO" AS INSERT INTO "O" SELECT STREAM TICKER_SYMBOL FROM "SOURCE_SQL_STREAM_001" WHERE SECTOR = 'O';
CREATE PUMP "PS" AS INSERT INTO "S" SELECT STREAM TICKER_SYMBOL FROM "SOURCE_SQL_STREAM_001" WHERE SECTOR = 'S';
CREATE PUMP "J" AS INSERT INTO "D"
  SELECT STREAM o.ID, s.ID FROM "O" OVER (RANGE INTERVAL '10' SECOND PRECEDING) AS o
  FULL OUTER JOIN "S" OVER (RANGE INTERVAL '10' SECOND PRECEDING) AS s ON o.ID = s.ID;"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "A", "O", 0.0, 1.0),
            stock("10:00:01.000", "B", "S", 0.0, 1.0),
            stock("10:00:02.000", "C", "O", 0.0, 1.0),
            stock("10:00:03.000", "C", "S", 0.0, 1.0),
            stock("10:01:00.000", "Z", "Z", 0.0, 1.0),
        ],
    );
    let d: Vec<(String, String, String)> = stream_rows(&out, "D")
        .iter()
        .map(|v| {
            (
                v["ROWTIME"].to_string(),
                v["OID"].to_string(),
                v["SID"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        d,
        [
            (
                "\"2019-01-01T10:00:03.000Z\"".into(),
                "\"C\"".into(),
                "\"C\"".into()
            ),
            (
                "\"2019-01-01T10:00:10.000Z\"".into(),
                "\"A\"".into(),
                "null".into()
            ),
            (
                "\"2019-01-01T10:00:11.000Z\"".into(),
                "null".into(),
                "\"B\"".into()
            ),
        ]
    );
}

/// The tumbling-window page's `SELECT STREAM ROWTIME, ticker, MIN(price), MAX(price)` into a
/// stream without a ROWTIME column: the leading ROWTIME is the row's ROWTIME
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/tumbling-window-concepts.html).
#[test]
fn a_leading_rowtime_item_is_the_rows_rowtime() {
    let code = r#"
CREATE STREAM "D" (T VARCHAR(4), LO REAL, HI REAL);
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM ROWTIME, Ticker_Symbol, MIN(Price) AS Price, MAX(Price) AS Price
  FROM "SOURCE_SQL_STREAM_001"
  GROUP BY Ticker_Symbol, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '60' SECOND);
CREATE STREAM "E" (T VARCHAR(4));
CREATE PUMP "Q" AS INSERT INTO "E" (ROWTIME, T)
  SELECT STREAM ROWTIME, TICKER_SYMBOL FROM "SOURCE_SQL_STREAM_001";"#;
    let out = run(
        code,
        &[
            stock("10:00:05.000", "A", "X", 0.0, 2.0),
            stock("10:00:25.000", "A", "X", 0.0, 1.0),
            stock("10:01:05.000", "A", "X", 0.0, 3.0),
        ],
    );
    let d = stream_rows(&out, "D");
    assert_eq!(d.len(), 1, "{out:?}");
    assert_eq!(d[0]["ROWTIME"], "2019-01-01T10:01:00.000Z");
    assert_eq!(d[0]["LO"], 1.0);
    assert_eq!(d[0]["HI"], 2.0);
    assert_eq!(stream_rows(&out, "E").len(), 3);
}

/// A subquery's column computed from ROWTIME alone (`FLOOR(ROWTIME TO MINUTE) AS M`) makes a
/// window in the outer GROUP BY like the expression itself.
#[test]
fn a_subquery_time_column_is_a_window() {
    let code = r#"
CREATE STREAM "D" (M TIMESTAMP, N BIGINT);
CREATE PUMP "P" AS INSERT INTO "D"
  SELECT STREAM q.M, COUNT(*) FROM
    (SELECT STREAM FLOOR(ROWTIME TO MINUTE) AS M, TICKER_SYMBOL FROM "SOURCE_SQL_STREAM_001") AS q
  GROUP BY q.M;"#;
    let out = run(
        code,
        &[
            stock("10:00:05.000", "A", "X", 0.0, 1.0),
            stock("10:00:35.000", "B", "X", 0.0, 1.0),
            stock("10:01:05.000", "C", "X", 0.0, 1.0),
        ],
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["M"], "2019-01-01T10:00:00.000Z");
    assert_eq!(out[0]["N"], 2);
    assert_eq!(out[0]["ROWTIME"], "2019-01-01T10:01:00.000Z");
}

/// `INSERT INTO s (ROWTIME, ...)` sets each row's ROWTIME; one that would go back in time is
/// an error_stream row (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/error-handling.html:
/// "The rows are out of order").
#[test]
fn inserting_into_rowtime_sets_it_and_refuses_going_back() {
    let code = r#"CREATE STREAM "D" (T VARCHAR(4));
        CREATE PUMP "P" AS INSERT INTO "D" (ROWTIME, T)
        SELECT STREAM CASE WHEN PRICE > 5 THEN ROWTIME - INTERVAL '1' MINUTE ELSE ROWTIME + INTERVAL '1' SECOND END,
               TICKER_SYMBOL
        FROM "SOURCE_SQL_STREAM_001";"#;
    let out = run(
        code,
        &[
            stock("10:00:00.000", "A", "X", 0.0, 1.0),
            stock("10:00:10.000", "B", "X", 0.0, 9.0),
            stock("10:00:20.000", "C", "X", 0.0, 1.0),
        ],
    );
    assert_eq!(out[0]["ROWTIME"], "2019-01-01T10:00:01.000Z");
    assert_eq!(out[1]["stream"], "error_stream");
    assert_eq!(out[1]["ERROR_NAME"], "RowtimeOutOfOrder");
    assert_eq!(out[2]["T"], "C");
    assert_eq!(out[2]["ROWTIME"], "2019-01-01T10:00:21.000Z");
}

/// A checkpoint restored into changed code: a pump whose query changed shape starts empty
/// and runs (it must not silently drop rows), one that kept its shape keeps its windows.
#[test]
fn restore_into_changed_code_keeps_what_fits() {
    use crate::app::Application;
    use crate::row::{StreamColumn, StreamRow};
    use crate::types::SqlType;
    use crate::value::Value;
    let old = r#"CREATE STREAM "D" (N BIGINT); CREATE STREAM "E" (N BIGINT);
        CREATE PUMP "P" AS INSERT INTO "D" SELECT STREAM COUNT(*) FROM "IN"
        GROUP BY STEP("IN".ROWTIME BY INTERVAL '1' MINUTE);
        CREATE PUMP "Q" AS INSERT INTO "E" SELECT STREAM X FROM "IN";"#;
    // P is unchanged (spacing aside); Q changed kind; R keeps its kind but adds an aggregate.
    let old = old.replace(
        r#"CREATE PUMP "Q""#,
        r#"CREATE STREAM "F" (N BIGINT, M BIGINT);
        CREATE PUMP "R" AS INSERT INTO "F" (N) SELECT STREAM COUNT(*) FROM "IN"
        GROUP BY STEP("IN".ROWTIME BY INTERVAL '1' MINUTE);
        CREATE PUMP "Q""#,
    );
    let new = r#"CREATE STREAM "D" (N BIGINT); CREATE STREAM "E" (N BIGINT);
        CREATE PUMP "P" AS INSERT INTO "D"   SELECT STREAM COUNT(*) FROM "IN"
        GROUP BY STEP("IN".ROWTIME BY INTERVAL '1' MINUTE);
        CREATE STREAM "F" (N BIGINT, M BIGINT);
        CREATE PUMP "R" AS INSERT INTO "F" SELECT STREAM COUNT(*), MAX(X) FROM "IN"
        GROUP BY STEP("IN".ROWTIME BY INTERVAL '1' MINUTE);
        CREATE PUMP "Q" AS INSERT INTO "E" SELECT STREAM SUM(X) FROM "IN"
        GROUP BY STEP("IN".ROWTIME BY INTERVAL '1' MINUTE);"#;
    let inputs = [(
        "IN".to_string(),
        StreamSchema::from(vec![StreamColumn::new("X", SqlType::BigInt)]),
    )];
    let mut a = Application::compile(&old, &inputs, &[]).expect("compiles");
    a.push("IN", StreamRow::new(0, vec![Value::BigInt(1)]));
    let mut b = Application::compile(new, &inputs, &[]).expect("compiles");
    b.restore(&a.checkpoint()).expect("restores");
    assert!(b
        .push("IN", StreamRow::new(1_000, vec![Value::BigInt(7)]))
        .is_empty());
    let out = b.advance(60_000);
    let streams: Vec<(&str, &[Value])> = out
        .iter()
        .map(|e| (e.stream.as_str(), e.row.values.as_slice()))
        .collect();
    assert_eq!(
        streams,
        [
            ("D", &[Value::BigInt(2)][..]),
            ("F", &[Value::BigInt(1), Value::BigInt(7)][..]),
            ("E", &[Value::BigInt(7)][..])
        ]
    );
}

/// IN and EXISTS over a reference table
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-streaming-operators.html:
/// `(col1, col2) IN (select a, b from my_table)`).
#[test]
fn in_and_exists_over_a_reference_table() {
    let reference = r#"{
      "TableName": "WATCH",
      "ReferenceSchema": {
        "RecordFormat": {"RecordFormatType": "CSV", "MappingParameters": {"CSVMappingParameters": {"RecordRowDelimiter": "\n", "RecordColumnDelimiter": ","}}},
        "RecordEncoding": "UTF-8",
        "RecordColumns": [{"Name": "T", "SqlType": "VARCHAR(4)"}, {"Name": "S", "SqlType": "VARCHAR(8)"}]
      },
      "Rows": ["A,TECH", "B,ENERGY"]
    }"#;
    let code = r#"
CREATE STREAM "D" (T VARCHAR(4));
CREATE STREAM "E" (T VARCHAR(4));
CREATE PUMP "P" AS INSERT INTO "D" SELECT STREAM TICKER_SYMBOL FROM "SOURCE_SQL_STREAM_001"
  WHERE (TICKER_SYMBOL, SECTOR) IN (SELECT T, S FROM WATCH) AND TICKER_SYMBOL NOT IN (SELECT T FROM WATCH WHERE S = 'ENERGY');
CREATE PUMP "Q" AS INSERT INTO "E" SELECT STREAM TICKER_SYMBOL FROM "SOURCE_SQL_STREAM_001"
  WHERE EXISTS (SELECT * FROM WATCH WHERE T = 'B');"#;
    let rows = [
        stock("10:00:00.000", "A", "TECH", 0.0, 1.0),
        stock("10:00:01.000", "A", "ENERGY", 0.0, 1.0),
        stock("10:00:02.000", "B", "ENERGY", 0.0, 1.0),
    ];
    let out = run_test(code, STOCK_SCHEMA, &rows.join("\n"), Some(reference)).expect("runs");
    let out: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let d = stream_rows(&out, "D");
    assert_eq!(d.len(), 1, "{out:?}");
    assert_eq!(d[0]["ROWTIME"], "2019-01-01T10:00:00.000Z");
    assert_eq!(stream_rows(&out, "E").len(), 3);
}
