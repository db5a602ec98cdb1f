//! `apache-log-to-json`: Apache access-log lines to JSON, like Firehose's Apache-log blueprint.
//!
//! Accepts the Common Log Format (`%h %l %u %t "%r" %>s %b`) and the Combined format (adding
//! `"%{Referer}i" "%{User-agent}i"`). Each line becomes one JSON record with the fields `host`,
//! `ident`, `authuser`, `datetime`, `request`, `response` (number), `bytes` (number; CLF's `-`
//! means no body, 0) and, for Combined lines, `referer` and `agent`. A payload with several lines
//! becomes several records. A malformed line fails its record with the line named.
//!
//! Try the built component on the sample input (each input line is one record, so `--raw`); its
//! expected output is `examples/records.expected`, checked by `host/tests/cli_plugin_test.rs`:
//!
//! ```text
//! cargo xtask plugins
//! weir plugin test target/plugins/apache-log-to-json.wasm --raw \
//!     --input plugins/apache-log-to-json/examples/records.log
//! ```

use weir_sdk::{json as sdk_json, Host, InitError, Record, RecordError, Transformer};

/// Stateless.
#[derive(Debug)]
pub struct ApacheLogToJson;

impl Transformer for ApacheLogToJson {
    fn new(_host: &impl Host) -> Result<Self, InitError> {
        Ok(ApacheLogToJson)
    }

    fn transform(&mut self, record: Record, _host: &impl Host) -> Result<Vec<Record>, RecordError> {
        sdk_json::lines_to_json(&record, parse_line)
    }
}

/// Parses one access-log line (the parser lives in `log-formats`, shared with
/// `apache-log-to-csv`).
pub use log_formats::apache::parse_line;

weir_sdk::export_transformer!(ApacheLogToJson);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::serde_json::json;
    use weir_sdk::testing::{Harness, MockHost};
    use weir_sdk::TransformResult;

    const COMBINED: &str = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;

    #[test]
    fn combined_line() {
        let v = parse_line(COMBINED).unwrap();
        assert_eq!(
            v.to_string(),
            json!({"host": "127.0.0.1", "ident": "-", "authuser": "frank",
                   "datetime": "10/Oct/2000:13:55:36 -0700", "request": "GET /apache_pb.gif HTTP/1.0",
                   "response": 200, "bytes": 2326, "referer": "http://www.example.com/start.html",
                   "agent": "Mozilla/4.08 [en] (Win98; I ;Nav)"}).to_string()
        );
    }

    #[test]
    fn common_line_with_no_body_and_escaped_quotes() {
        let v =
            parse_line(r#"::1 - - [01/Jan/2024:00:00:00 +0000] "GET /q?x=\"y\" HTTP/1.1" 304 -"#)
                .unwrap();
        assert_eq!(v["bytes"], 0);
        assert_eq!(v["request"], "GET /q?x=\"y\" HTTP/1.1");
        assert!(v.get("agent").is_none());
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        for (line, why) in [
            ("", "host is missing"),
            ("h i u 10/Oct/2000 \"GET /\" 200 1", "datetime should start"),
            ("h i u [x] \"GET / 200 1", "no closing quote"),
            ("h i u [x] \"GET /\" 20x 1", "3-digit"),
            ("h i u [x] \"GET /\" 200 12k", "bytes"),
            (
                "h i u [x] \"GET /\" 200 1 \"r\"",
                "agent should be in double quotes",
            ),
            (
                "h i u [x] \"GET /\" 200 1 \"r\" \"a\" extra",
                "unexpected text",
            ),
        ] {
            let err = parse_line(line).unwrap_err();
            assert!(err.contains(why), "{line:?}: {err}");
        }
    }

    #[test]
    fn several_lines_become_several_records_and_a_bad_one_fails_the_record() {
        let mut h = Harness::<ApacheLogToJson>::new(MockHost::new());
        let payload = format!("{COMBINED}\n{COMBINED}\n");
        let out = h.transform(vec![Record::new(payload), Record::new("garbage")]);
        match &out[0] {
            TransformResult::Records(rs) => assert_eq!(rs.len(), 2),
            other => panic!("{other:?}"),
        }
        match &out[1] {
            TransformResult::Failed(e) => {
                assert_eq!(e.code, "bad-line");
                assert!(e.message.starts_with("line 1:"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
}
