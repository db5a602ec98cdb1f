//! RFC 4180 CSV rendering of parsed log lines, for the `*-to-csv` blueprints.
//!
//! A parsed line is the JSON object a `parse_line` of this crate returns. Every row has the same
//! columns, whatever variant of the format the line was in (an RFC 3164 syslog line has no
//! `version`, a Common Log Format line no `agent`): a CSV archive is read by position (Athena's
//! `LazySimpleSerDe`, `COPY`, spreadsheets), so a column that moved between rows would put values
//! under the wrong header. A [`Column`] names the fields it is taken from, the first present one
//! winning; a field absent or null is an empty value. Strings are written as they are, numbers
//! and booleans as their text. A value holding a comma, a double quote, CR or LF is put in double
//! quotes with its quotes doubled; every other value is written bare. Each row ends with `\n`, as
//! Firehose's CSV blueprints end every record with a newline.

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

/// One CSV column: the parsed fields its value is taken from, the first present (non-null) one
/// winning, so that fields of two format variants meaning the same thing (RFC 3164's `program`,
/// RFC 5424's `appName`) share a column.
pub type Column = &'static [&'static str];

/// One CSV row, ending with `\n`, with one value per column of `columns` taken from `parsed`
/// (an object; any other value has no fields, so every column is empty).
pub fn to_csv_row(parsed: &Value, columns: &[Column]) -> String {
    let mut out = String::new();
    for (i, names) in columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let value = names
            .iter()
            .filter_map(|name| parsed.get(name))
            .find(|v| !v.is_null());
        match value {
            None => {}
            Some(Value::String(s)) => push_field(&mut out, s),
            Some(other) => push_field(&mut out, &other.to_string()),
        }
    }
    out.push('\n');
    out
}

/// Turns a text record holding one or more log lines into one CSV record per non-empty line,
/// each parsed by `parse`, laid out in `columns` and keeping the original record's metadata. A
/// line that `parse` rejects fails the whole record with code `bad-line` and the line number, as
/// [`weir_sdk::json::lines_to_json`] does for the JSON blueprints.
pub fn lines_to_csv(
    record: &Record,
    columns: &[Column],
    mut parse: impl FnMut(&str) -> Result<Value, String>,
) -> Result<Vec<Record>, RecordError> {
    weir_sdk::json::map_lines(record, |line| parse(line).map(|v| to_csv_row(&v, columns)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_sdk::serde_json::json;

    #[test]
    fn rfc4180_quoting() {
        let columns: &[Column] = &[
            &["plain"],
            &["comma"],
            &["quote"],
            &["cr"],
            &["lf"],
            &["n"],
            &["null"],
            &["b"],
            &["empty"],
            &["space"],
        ];
        let line = to_csv_row(
            &json!({
                "plain": "abc", "comma": "a,b", "quote": "say \"hi\"", "cr": "a\rb", "lf": "a\nb",
                "n": 200, "null": null, "b": true, "empty": "", "space": " x "
            }),
            columns,
        );
        assert_eq!(
            line,
            "abc,\"a,b\",\"say \"\"hi\"\"\",\"a\rb\",\"a\nb\",200,,true,, x \n"
        );
    }

    #[test]
    fn columns_are_fixed_whatever_the_fields() {
        let columns: &[Column] = &[&["a"], &["b", "b2"], &["c"]];
        // The columns' order, not the object's; absent and null fields are empty values.
        assert_eq!(
            to_csv_row(&json!({"c": 3, "a": 1, "b": 2}), columns),
            "1,2,3\n"
        );
        assert_eq!(to_csv_row(&json!({"c": 3}), columns), ",,3\n");
        // An alternative name fills the column when the first is absent or null.
        assert_eq!(to_csv_row(&json!({"b2": "x"}), columns), ",x,\n");
        assert_eq!(to_csv_row(&json!({"b": null, "b2": "x"}), columns), ",x,\n");
        assert_eq!(to_csv_row(&json!({"b": "y", "b2": "x"}), columns), ",y,\n");
        // Fields no column names are left out.
        assert_eq!(to_csv_row(&json!({"z": 9, "a": 1}), columns), "1,,\n");
        assert_eq!(to_csv_row(&json!("only"), columns), ",,\n");
    }

    #[test]
    fn lines_become_records_and_bad_lines_are_numbered() {
        let r = Record::new("a\r\n\n b,c\n").with_partition_key("k");
        let columns: &[Column] = &[&["line"], &["len"]];
        let out = lines_to_csv(&r, columns, |l| Ok(json!({"line": l, "len": l.len()}))).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].payload, b"a,1\n");
        assert_eq!(out[1].payload, b"\" b,c\",4\n");
        assert_eq!(out[1].partition_key, "k");
        let err = lines_to_csv(&r, columns, |l| {
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
            lines_to_csv(&Record::new(vec![0xff]), columns, |_| Ok(json!({})))
                .unwrap_err()
                .code,
            "bad-utf8"
        );
    }
}
