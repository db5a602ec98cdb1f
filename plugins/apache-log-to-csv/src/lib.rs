//! `apache-log-to-csv`: Apache access-log lines to CSV, like Firehose's Apache-log-to-CSV
//! blueprint.
//!
//! Accepts what `apache-log-to-json` accepts, with the same parser (`log_formats::apache`): the
//! Common Log Format and the Combined format. Each line becomes one CSV record ending with `\n`,
//! no header line. Every row has the same nine columns, so the archive loads as one table
//! (`log_formats::apache::CSV_COLUMNS`): `host`, `ident`, `authuser`, `datetime`, `request`,
//! `response`, `bytes` (CLF's `-` is `0`, as in the JSON blueprint), `referer` and `agent`, the
//! last two empty for a Common Log Format line. Fields holding a comma, a double quote, CR or LF are quoted as RFC 4180 says. A payload
//! with several lines becomes several records. A malformed line fails its record with code
//! `bad-line`, the line number and the line.
//!
//! Try the built component on the sample input (each input line is one record, so `--raw`); its
//! expected output is `examples/records.expected`, checked by `host/tests/cli_plugin_test.rs`:
//!
//! ```text
//! cargo xtask plugins
//! weir plugin test target/plugins/apache-log-to-csv.wasm --raw \
//!     --input plugins/apache-log-to-csv/examples/records.log
//! ```

use weir_sdk::{Host, InitError, Record, RecordError, Transformer};

/// Stateless.
#[derive(Debug)]
pub struct ApacheLogToCsv;

impl Transformer for ApacheLogToCsv {
    fn new(_host: &impl Host) -> Result<Self, InitError> {
        Ok(ApacheLogToCsv)
    }

    fn transform(&mut self, record: Record, _host: &impl Host) -> Result<Vec<Record>, RecordError> {
        log_formats::csv::lines_to_csv(
            &record,
            log_formats::apache::CSV_COLUMNS,
            log_formats::apache::parse_line,
        )
    }
}

weir_sdk::export_transformer!(ApacheLogToCsv);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::testing::{Harness, MockHost};
    use weir_sdk::TransformResult;

    const COMBINED: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;

    fn run(payload: &str) -> TransformResult {
        let mut h = Harness::<ApacheLogToCsv>::new(MockHost::new());
        h.transform(vec![Record::new(payload).with_partition_key("k")])
            .remove(0)
    }

    fn payloads(out: &TransformResult) -> Vec<String> {
        match out {
            TransformResult::Records(rs) => rs
                .iter()
                .map(|r| String::from_utf8(r.payload.clone()).unwrap())
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn combined_line() {
        assert_eq!(
            payloads(&run(COMBINED)),
            ["127.0.0.1,-,frank,10/Oct/2000:13:55:36 -0700,GET /apache_pb.gif HTTP/1.0,200,2326,\
              http://www.example.com/start.html,Mozilla/4.08 [en] (Win98; I ;Nav)\n"]
        );
    }

    #[test]
    fn common_line_with_no_body() {
        assert_eq!(
            payloads(&run(
                "10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] \"POST /api HTTP/1.1\" 201 -"
            )),
            ["10.0.0.1,-,-,01/Jan/2024:00:00:00 +0000,POST /api HTTP/1.1,201,0,,\n"]
        );
    }

    #[test]
    fn fields_with_commas_and_quotes_are_quoted() {
        let line = r#"::1 - - [01/Jan/2024:00:00:00 +0000] "GET /q?x=\"a,b\" HTTP/1.1" 404 12 "-" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101, \"quoted\"""#;
        assert_eq!(
            payloads(&run(line)),
            [
                "::1,-,-,01/Jan/2024:00:00:00 +0000,\"GET /q?x=\"\"a,b\"\" HTTP/1.1\",404,12,-,\
              \"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101, \"\"quoted\"\"\"\n"
            ]
        );
    }

    #[test]
    fn several_lines_become_several_records_with_the_metadata() {
        let out = run(&format!("{COMBINED}\r\n\n{COMBINED}\n"));
        let TransformResult::Records(rs) = &out else {
            panic!("{out:?}")
        };
        assert_eq!(rs.len(), 2);
        assert!(rs.iter().all(|r| r.partition_key == "k"));
        assert!(payloads(&out).iter().all(|p| p.starts_with("127.0.0.1,")
            && p.ends_with("Nav)\n")
            && p.matches('\n').count() == 1));
    }

    #[test]
    fn a_malformed_line_fails_the_record_naming_the_line() {
        let out = run(&format!("{COMBINED}\nh i u [x] \"GET /\" 20x 1\n"));
        match out {
            TransformResult::Failed(e) => {
                assert_eq!(e.code, "bad-line");
                assert!(e.message.starts_with("line 2:"), "{e}");
                assert!(e.message.contains("3-digit"), "{e}");
                assert!(e.message.contains("\"GET /\\\" 20x 1"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        match run("garbage") {
            TransformResult::Failed(e) => assert!(e.message.starts_with("line 1:"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_empty_payload_gives_no_records() {
        assert_eq!(payloads(&run("\n\n")), Vec::<String>::new());
    }

    /// The sample input of `weir plugin test --raw` (one record per line): three good lines and
    /// a bad one.
    #[test]
    fn the_example_input() {
        let batch: Vec<Record> = include_str!("../examples/records.log")
            .lines()
            .map(Record::new)
            .collect();
        let out = Harness::<ApacheLogToCsv>::new(MockHost::new()).transform(batch);
        assert_eq!(out.len(), 4);
        assert_eq!(
            payloads(&out[2]),
            ["::1,-,-,01/Jan/2024:00:00:01 +0000,\"GET /search?q=\"\"a,b\"\" HTTP/1.1\",404,12,-,\
              \"curl/8.5.0, \"\"test\"\"\"\n"]
        );
        assert!(matches!(&out[3], TransformResult::Failed(e) if e.code == "bad-line"));
    }
}
