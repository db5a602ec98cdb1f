//! `syslog-to-json`: syslog lines to JSON, like Firehose's syslog blueprint.
//!
//! Understands both formats in use:
//! - RFC 3164 (BSD): `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`, the `<PRI>` being optional as in
//!   files written by syslog daemons. Output: `timestamp`, `hostname`, `program`, `processId`
//!   (null when absent), `message`, plus `facility` and `severity` when `<PRI>` is present.
//! - RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`. Output: `facility`, `severity`,
//!   `version`, `timestamp`, `hostname`, `appName`, `processId`, `messageId`, `structuredData`
//!   (raw text), `message`; the nil value `-` becomes null.
//!
//! A payload with several lines becomes several records; a malformed line fails its record with
//! the line named.
//!
//! Try the built component on the sample input (each input line is one record, so `--raw`); its
//! expected output is `examples/records.expected`, checked by `host/tests/cli_plugin_test.rs`:
//!
//! ```text
//! cargo xtask plugins
//! weir plugin test target/plugins/syslog-to-json.wasm --raw \
//!     --input plugins/syslog-to-json/examples/records.log
//! ```

use weir_sdk::{json as sdk_json, Host, InitError, Record, RecordError, Transformer};

/// Stateless.
#[derive(Debug)]
pub struct SyslogToJson;

impl Transformer for SyslogToJson {
    fn new(_host: &impl Host) -> Result<Self, InitError> {
        Ok(SyslogToJson)
    }

    fn transform(&mut self, record: Record, _host: &impl Host) -> Result<Vec<Record>, RecordError> {
        sdk_json::lines_to_json(&record, parse_line)
    }
}

/// Parses one syslog line in either format (the parser lives in `log-formats`, shared with
/// `syslog-to-csv`).
pub use log_formats::syslog::parse_line;

weir_sdk::export_transformer!(SyslogToJson);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::serde_json::{json, Value};
    use weir_sdk::testing::{Harness, MockHost};
    use weir_sdk::TransformResult;

    #[test]
    fn rfc3164_with_and_without_pri() {
        let v =
            parse_line("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick").unwrap();
        assert_eq!(
            v.to_string(),
            json!({"facility": 4, "severity": 2, "timestamp": "Oct 11 22:14:15",
                   "hostname": "mymachine", "program": "su", "processId": null,
                   "message": "'su root' failed for lonvick"})
            .to_string()
        );
        let v = parse_line("Feb  5 17:32:18 10.0.0.99 sshd[4721]: Accepted publickey").unwrap();
        assert_eq!(v["processId"], "4721");
        assert_eq!(v["program"], "sshd");
        assert!(v.get("facility").is_none());
    }

    #[test]
    fn a_multibyte_character_where_the_month_or_day_belongs_is_a_bad_line_not_a_panic() {
        for line in [
            "Océ 11 22:14:15 h p: m",
            "Oct € 22:14:15 h p: m",
            "Oct 1é 22:14:15 h p: m",
        ] {
            let err = parse_line(line).expect_err(line);
            assert!(err.contains("is not `Mmm dd hh:mm:ss`"), "{line}: {err}");
        }
        assert!(parse_line("Oct 11 22:14:1é h p: m").is_err());
    }

    #[test]
    fn rfc5424_with_structured_data_and_nil_values() {
        let v = parse_line(r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\]x"][b@1 c="d"] An application event"#).unwrap();
        assert_eq!(v["facility"], 20);
        assert_eq!(v["severity"], 5);
        assert_eq!(v["appName"], "evntslog");
        assert_eq!(v["processId"], Value::Null);
        assert_eq!(v["messageId"], "ID47");
        assert_eq!(
            v["structuredData"],
            r#"[exampleSDID@32473 iut="3" eventSource="App\]x"][b@1 c="d"]"#
        );
        assert_eq!(v["message"], "An application event");
        let v = parse_line("<13>1 2024-01-01T00:00:00Z h a 1 - -").unwrap();
        assert_eq!(v["structuredData"], Value::Null);
        assert_eq!(v["message"], Value::Null);
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        for (line, why) in [
            ("<999>Oct 11 22:14:15 h p: m", "0 to 191"),
            ("<12 Oct", "no closing"),
            ("Octo 11 22:14:15 h p: m", "Mmm dd"),
            ("Oct 11 22:14:15 h no tag here", "TAG:"),
            ("Oct 11 22:14:15 h p[12: m", "closing `]`"),
            ("<1>1 2024-01-01T00:00:00Z h a 1 m [x", "no closing `]`"),
            ("<1>1 2024-01-01T00:00:00Z h", "app-name is missing"),
            ("short", "too short"),
        ] {
            let err = parse_line(line).unwrap_err();
            assert!(err.contains(why), "{line:?}: {err}");
        }
    }

    #[test]
    fn batch_of_lines() {
        let mut h = Harness::<SyslogToJson>::new(MockHost::new());
        let out = h.transform(vec![Record::new(
            "Oct 11 22:14:15 a p: one\nOct 11 22:14:16 b p: two\n",
        )]);
        match &out[0] {
            TransformResult::Records(rs) => {
                assert_eq!(rs.len(), 2);
                assert_eq!(rs[1].json().unwrap()["message"], "two");
            }
            other => panic!("{other:?}"),
        }
    }
}
