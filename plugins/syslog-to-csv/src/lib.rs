//! `syslog-to-csv`: syslog lines to CSV, like Firehose's syslog-to-CSV blueprint.
//!
//! Accepts what `syslog-to-json` accepts, with the same parser (`log_formats::syslog`), and
//! writes each line as one CSV record ending with `\n` (no header line). Every row has the same
//! ten columns, RFC 5424's fields, whatever the line's format, so the archive loads as one table
//! (`log_formats::syslog::CSV_COLUMNS`):
//!
//! `facility`, `severity`, `version`, `timestamp`, `hostname`, `appName`, `processId`,
//! `messageId`, `structuredData`, `message`
//!
//! A field the line does not have is an empty value: an RFC 3164 line has no `version`,
//! `messageId` or `structuredData`, and no `facility` or `severity` without its `<PRI>`; its
//! `program` goes in the `appName` column. RFC 5424's nil `-` and a missing process id are empty
//! too.
//!
//! Fields holding a comma, a double quote, CR or LF are quoted as RFC 4180 says. A payload with
//! several lines becomes several records. A malformed line fails its record with code
//! `bad-line`, the line number and the line.
//!
//! Try the built component on the sample input (each input line is one record, so `--raw`); its
//! expected output is `examples/records.expected`, checked by `host/tests/cli_plugin_test.rs`:
//!
//! ```text
//! cargo xtask plugins
//! weir plugin test target/plugins/syslog-to-csv.wasm --raw \
//!     --input plugins/syslog-to-csv/examples/records.log
//! ```

use weir_sdk::{Host, InitError, Record, RecordError, Transformer};

/// Stateless.
#[derive(Debug)]
pub struct SyslogToCsv;

impl Transformer for SyslogToCsv {
    fn new(_host: &impl Host) -> Result<Self, InitError> {
        Ok(SyslogToCsv)
    }

    fn transform(&mut self, record: Record, _host: &impl Host) -> Result<Vec<Record>, RecordError> {
        log_formats::csv::lines_to_csv(
            &record,
            log_formats::syslog::CSV_COLUMNS,
            log_formats::syslog::parse_line,
        )
    }
}

weir_sdk::export_transformer!(SyslogToCsv);

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::testing::{Harness, MockHost};
    use weir_sdk::TransformResult;

    fn run(payload: &str) -> TransformResult {
        let mut h = Harness::<SyslogToCsv>::new(MockHost::new());
        h.transform(vec![Record::new(payload).with_topic("logs")])
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
    fn rfc3164_with_and_without_pri() {
        assert_eq!(
            payloads(&run(
                "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick"
            )),
            ["4,2,,Oct 11 22:14:15,mymachine,su,,,,'su root' failed for lonvick\n"]
        );
        assert_eq!(
            payloads(&run(
                "Feb  5 17:32:18 10.0.0.99 sshd[4721]: Accepted publickey"
            )),
            [",,,Feb  5 17:32:18,10.0.0.99,sshd,4721,,,Accepted publickey\n"]
        );
    }

    #[test]
    fn rfc5424_with_structured_data_is_quoted() {
        let line = r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App"] An application event, with a comma"#;
        assert_eq!(
            payloads(&run(line)),
            [
                "20,5,1,2003-10-11T22:14:15.003Z,mymachine.example.com,evntslog,,ID47,\
              \"[exampleSDID@32473 iut=\"\"3\"\" eventSource=\"\"App\"\"]\",\
              \"An application event, with a comma\"\n"
            ]
        );
        assert_eq!(
            payloads(&run("<13>1 2024-01-01T00:00:00Z h a 1 - -")),
            ["1,5,1,2024-01-01T00:00:00Z,h,a,1,,,\n"]
        );
    }

    #[test]
    fn a_message_with_quotes_is_quoted() {
        assert_eq!(
            payloads(&run(r#"Oct 11 22:14:15 h app: said "hi""#)),
            [",,,Oct 11 22:14:15,h,app,,,,\"said \"\"hi\"\"\"\n"]
        );
    }

    #[test]
    fn several_lines_become_several_records_with_the_metadata() {
        let out = run("Oct 11 22:14:15 a p: one\r\n\nOct 11 22:14:16 b p: two\n");
        assert_eq!(
            payloads(&out),
            [
                ",,,Oct 11 22:14:15,a,p,,,,one\n",
                ",,,Oct 11 22:14:16,b,p,,,,two\n"
            ]
        );
        let TransformResult::Records(rs) = &out else {
            panic!("{out:?}")
        };
        assert!(rs.iter().all(|r| r.source_topic == "logs"));
    }

    #[test]
    fn a_malformed_line_fails_the_record_naming_the_line() {
        for (payload, line_no, why) in [
            (
                "Oct 11 22:14:15 a p: one\n<999>Oct 11 22:14:15 h p: m",
                2,
                "0 to 191",
            ),
            ("Oct 11 22:14:15 h no tag here", 1, "TAG:"),
            ("short", 1, "too short"),
        ] {
            match run(payload) {
                TransformResult::Failed(e) => {
                    assert_eq!(e.code, "bad-line");
                    assert!(e.message.starts_with(&format!("line {line_no}:")), "{e}");
                    assert!(e.message.contains(why), "{e}");
                }
                other => panic!("{payload:?}: {other:?}"),
            }
        }
        match Harness::<SyslogToCsv>::new(MockHost::new())
            .transform(vec![Record::new(vec![0xff, b'\n'])])
            .remove(0)
        {
            TransformResult::Failed(e) => assert_eq!(e.code, "bad-utf8"),
            other => panic!("{other:?}"),
        }
    }

    /// The sample input of `weir plugin test --raw` (one record per line): three good lines and
    /// a bad one.
    #[test]
    fn the_example_input() {
        let batch: Vec<Record> = include_str!("../examples/records.log")
            .lines()
            .map(Record::new)
            .collect();
        let out = Harness::<SyslogToCsv>::new(MockHost::new()).transform(batch);
        assert_eq!(out.len(), 4);
        assert_eq!(
            payloads(&out[1]),
            [",,,Feb  5 17:32:18,10.0.0.99,sshd,4721,,,Accepted publickey for alice from 10.0.0.7 port 50122\n"]
        );
        assert_eq!(
            payloads(&out[2]),
            [
                "20,5,1,2003-10-11T22:14:15.003Z,mymachine.example.com,evntslog,,ID47,\
              \"[exampleSDID@32473 iut=\"\"3\"\" eventSource=\"\"Application\"\"]\",\
              \"An application event, with a comma\"\n"
            ]
        );
        assert!(matches!(&out[3], TransformResult::Failed(e) if e.code == "bad-line"));
    }
}
