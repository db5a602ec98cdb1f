//! RFC 4180 CSV rendering of parsed log lines, for the `*-to-csv` blueprints.
//!
//! A parsed line is the JSON object a `parse_line` of this crate returns; its values become the
//! CSV fields in the object's order (strings as they are, numbers and booleans as their text,
//! null as an empty field). A field holding a comma, a double quote, CR or LF is put in double
//! quotes with its quotes doubled; every other field is written bare. Each line ends with `\n`,
//! as Firehose's CSV blueprints end every record with a newline.

use weir_sdk::serde_json::Value;
use weir_sdk::{Record, RecordError};

/// Appends `field` to `out`, quoted if RFC 4180 needs it.
pub fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// One CSV line, ending with `\n`, from the values of `parsed` (an object; any other value
/// becomes a line with that one value).
pub fn to_csv_line(parsed: &Value) -> String {
    let mut out = String::new();
    let mut push = |i: usize, v: &Value| {
        if i > 0 {
            out.push(',');
        }
        match v {
            Value::Null => {}
            Value::String(s) => push_field(&mut out, s),
            other => push_field(&mut out, &other.to_string()),
        }
    };
    match parsed {
        Value::Object(map) => map.values().enumerate().for_each(|(i, v)| push(i, v)),
        other => push(0, other),
    }
    out.push('\n');
    out
}

/// Turns a text record holding one or more log lines into one CSV record per non-empty line,
/// each parsed by `parse` and keeping the original record's metadata. A line that `parse`
/// rejects fails the whole record with code `bad-line` and the line number, as
/// [`weir_sdk::json::lines_to_json`] does for the JSON blueprints.
pub fn lines_to_csv(
    record: &Record,
    mut parse: impl FnMut(&str) -> Result<Value, String>,
) -> Result<Vec<Record>, RecordError> {
    weir_sdk::json::map_lines(record, |line| parse(line).map(|v| to_csv_line(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::serde_json::json;

    #[test]
    fn rfc4180_quoting() {
        let line = to_csv_line(&json!({
            "plain": "abc", "comma": "a,b", "quote": "say \"hi\"", "cr": "a\rb", "lf": "a\nb",
            "n": 200, "null": null, "b": true, "empty": "", "space": " x "
        }));
        assert_eq!(
            line,
            "abc,\"a,b\",\"say \"\"hi\"\"\",\"a\rb\",\"a\nb\",200,,true,, x \n"
        );
    }

    #[test]
    fn object_order_is_kept() {
        assert_eq!(to_csv_line(&json!({"z": 1, "a": 2, "m": 3})), "1,2,3\n");
        assert_eq!(to_csv_line(&json!("only")), "only\n");
    }

    #[test]
    fn lines_become_records_and_bad_lines_are_numbered() {
        let r = Record::new("a\r\n\n b,c\n").with_partition_key("k");
        let out = lines_to_csv(&r, |l| Ok(json!({"line": l, "len": l.len()}))).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].payload, b"a,1\n");
        assert_eq!(out[1].payload, b"\" b,c\",4\n");
        assert_eq!(out[1].partition_key, "k");
        let err = lines_to_csv(&r, |l| {
            if l == "a" {
                Ok(json!({}))
            } else {
                Err("no".into())
            }
        })
        .unwrap_err();
        assert_eq!(err.code, "bad-line");
        assert_eq!(err.message, "line 3: no: \" b,c\"");
        assert_eq!(
            lines_to_csv(&Record::new(vec![0xff]), |_| Ok(json!({})))
                .unwrap_err()
                .code,
            "bad-utf8"
        );
    }
}
