//! The log-parsing functions of the SQL Reference. Each returns a row value
//! ([`Value::Row`]) read with `(f(...)).COLUMN1` or `t.r.COLUMN1`; a line that does not parse
//! gives NULL (every column then reads NULL).
//!
//! - `REGEX_LOG_PARSE(s, pattern)`: the Java regex must match the whole line
//!   (`Matcher.matches()`); one VARCHAR column per capture group, `COLUMN1`, `COLUMN2`, ...
//! - `FAST_REGEX_LOG_PARSE(s, pattern)`: the same columns, with the docs' "lazy semantics"
//!   (each group takes as little as it can; the expressions between groups, like `_+` in
//!   `(.*)_+(.*)`, still take all they can, which is what the page's examples B and C show:
//!   `Mary____had_a_little_lamb` gives `Mary` and `had_a_little_lamb`) and the whole line
//!   accounted for; the page's `<Alpha>` is the POSIX class. The docs' "no backtracking" is
//!   not reproduced: a line KDA's fast parser gave up on may match here.
//! - `VARIABLE_COLUMN_LOG_PARSE(s, columns, delimiter [, escape, quote])`: `columns` is a
//!   count (columns `COLUMN1`..`COLUMNn`, VARCHAR) or a list `'NAME TYPE type, ...'` (values
//!   cast to each type). Missing fields are NULL, extra fields are dropped.
//! - `FIXED_COLUMN_LOG_PARSE(s, 'NAME TYPE type START n [FOR m], ...')`: `START` counts
//!   characters from 0; without `FOR` the column runs to the end of the line. Values other
//!   than CHAR are trimmed of blanks before the cast; an empty one is NULL.
//! - `W3C_LOG_PARSE(s, format)`: the predefined formats `COMMON`, `COMMON WITH VHOST`,
//!   `NCSA EXTENDED`, `REFERER`, `AGENT`, or an Apache `LogFormat` string; one VARCHAR
//!   column per specifier named `COLUMN1`.. (the developer guide's W3C_LOG_PARSE example reads
//!   `l.r.COLUMN1` to `COLUMN7` for COMMON). `%t` keeps its brackets and a quoted specifier
//!   (`"%r"`) loses its quotes. The IIS format is not supported (the docs give no layout).

use crate::error::SqlError;
use crate::types::SqlType;
use crate::value::Value;

use super::cast::cast;
use super::regex_cache;
use super::{int_arg, str_arg};

pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, SqlError> {
    if args[0].is_null() {
        return Ok(Value::Null);
    }
    let line = str_arg(name, &args[0])?;
    match name {
        "REGEX_LOG_PARSE" => regex_parse(line, str_arg(name, &args[1])?, false),
        "FAST_REGEX_LOG_PARSE" => regex_parse(line, str_arg(name, &args[1])?, true),
        "VARIABLE_COLUMN_LOG_PARSE" => variable_column(line, args),
        "FIXED_COLUMN_LOG_PARSE" => fixed_column(line, str_arg(name, &args[1])?),
        "W3C_LOG_PARSE" => w3c(line, str_arg(name, &args[1])?),
        other => Err(SqlError::new(
            "UnknownFunction",
            format!("no function named {other}"),
        )),
    }
}

/// The most columns a counted VARIABLE_COLUMN_LOG_PARSE may return (a row of a stream has
/// far fewer; the bound keeps a wrong count from allocating without end).
const MAX_COLUMNS: i64 = 1024;

fn column_name(i: usize) -> String {
    format!("COLUMN{}", i + 1)
}

fn regex_parse(line: &str, pattern: &str, lazy: bool) -> Result<Value, SqlError> {
    let re = regex_cache::java_with(pattern, true, lazy)?;
    let Some(caps) = re.captures(line) else {
        return Ok(Value::Null);
    };
    Ok(Value::Row(
        (1..caps.len())
            .map(|i| {
                let v = caps
                    .get(i)
                    .map(|m| Value::Varchar(m.as_str().to_string()))
                    .unwrap_or(Value::Null);
                (column_name(i - 1), v)
            })
            .collect(),
    ))
}

/// A column of a log parser's column list.
struct ColumnSpec {
    name: String,
    ty: SqlType,
    start: Option<usize>,
    len: Option<usize>,
}

/// Splits at commas outside parentheses (so `DECIMAL(8,2)` stays whole).
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut from = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[from..]);
    parts
}

/// Parses `NAME TYPE type [NOT NULL] [START n [FOR m]], ...`.
fn column_list(spec: &str) -> Result<Vec<ColumnSpec>, SqlError> {
    let bad = |m: String| SqlError::new("InvalidArgument", m);
    let mut cols = Vec::new();
    for part in split_top_level(spec) {
        // Column lists are often written over several lines: any run of blanks is one.
        let part = part.split_whitespace().collect::<Vec<_>>().join(" ");
        let part = part.as_str();
        if part.is_empty() {
            continue;
        }
        let upper = part.to_ascii_uppercase();
        let type_at = upper
            .find(" TYPE ")
            .ok_or_else(|| bad(format!("column {part:?} needs `NAME TYPE type`")))?;
        let raw_name = part[..type_at].trim();
        let name = match raw_name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
            Some(quoted) => quoted.to_string(),
            None => raw_name.to_ascii_uppercase(),
        };
        let mut rest = upper[type_at + 6..].trim().to_string();
        let mut start = None;
        let mut len = None;
        if let Some(i) = rest.find(" FOR ") {
            len = Some(
                rest[i + 5..]
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| bad(format!("column {part:?}: FOR takes a number")))?,
            );
            rest.truncate(i);
        }
        if let Some(i) = rest.find(" START ") {
            start = Some(
                rest[i + 7..]
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| bad(format!("column {part:?}: START takes a number")))?,
            );
            rest.truncate(i);
        }
        let ty_text = rest.trim().trim_end_matches("NOT NULL").trim().to_string();
        let ty = SqlType::parse(&ty_text).map_err(|e| bad(format!("column {part:?}: {}", e.0)))?;
        cols.push(ColumnSpec {
            name,
            ty,
            start,
            len,
        });
    }
    Ok(cols)
}

/// A field's text converted to its column's type (an empty non-character field is NULL).
fn typed(field: Option<String>, ty: &SqlType) -> Result<Value, SqlError> {
    match field {
        None => Ok(Value::Null),
        Some(f) => {
            if !ty.is_character() && f.trim().is_empty() {
                return Ok(Value::Null);
            }
            cast(&Value::Varchar(f), ty)
        }
    }
}

/// Splits a line at `delim` (a string), honouring an escape character and quotes.
fn split_fields(
    line: &str,
    delim: &str,
    escape: Option<char>,
    quote: Option<(char, char)>,
) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = line.chars().collect();
    let delim: Vec<char> = delim.chars().collect();
    let mut i = 0;
    let mut quoted: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if Some(c) == escape && i + 1 < chars.len() {
            cur.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if let Some(end) = quoted {
            if c == end {
                quoted = None;
            } else {
                cur.push(c);
            }
            i += 1;
            continue;
        }
        if let Some((begin, end)) = quote {
            if c == begin {
                quoted = Some(end);
                i += 1;
                continue;
            }
        }
        if !delim.is_empty() && chars[i..].starts_with(&delim) {
            fields.push(std::mem::take(&mut cur));
            i += delim.len();
            continue;
        }
        cur.push(c);
        i += 1;
    }
    fields.push(cur);
    fields
}

fn variable_column(line: &str, args: &[Value]) -> Result<Value, SqlError> {
    const F: &str = "VARIABLE_COLUMN_LOG_PARSE";
    if args[1..].iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let cols: Vec<ColumnSpec> = match &args[1] {
        Value::Char(s) | Value::Varchar(s) => column_list(s)?,
        n => {
            let count = int_arg(F, n)?;
            if !(0..=MAX_COLUMNS).contains(&count) {
                return Err(SqlError::new(
                    "InvalidArgument",
                    format!("{F}: {count} columns is outside 0..={MAX_COLUMNS}"),
                ));
            }
            (0..count as usize)
                .map(|i| ColumnSpec {
                    name: column_name(i),
                    ty: SqlType::Varchar(crate::types::MAX_CHAR_LENGTH),
                    start: None,
                    len: None,
                })
                .collect()
        }
    };
    let delim = str_arg(F, &args[2])?;
    let escape = args
        .get(3)
        .map(|v| str_arg(F, v))
        .transpose()?
        .and_then(|s| s.chars().next());
    let quote = args
        .get(4)
        .map(|v| str_arg(F, v))
        .transpose()?
        .and_then(|s| {
            let mut it = s.chars();
            it.next().map(|b| (b, it.next().unwrap_or(b)))
        });
    let mut fields = split_fields(line, delim, escape, quote).into_iter();
    let mut row = Vec::with_capacity(cols.len());
    for col in &cols {
        row.push((col.name.clone(), typed(fields.next(), &col.ty)?));
    }
    Ok(Value::Row(row))
}

fn fixed_column(line: &str, spec: &str) -> Result<Value, SqlError> {
    let cols = column_list(spec)?;
    let chars: Vec<char> = line.chars().collect();
    let mut row = Vec::with_capacity(cols.len());
    for col in &cols {
        let start = col.start.ok_or_else(|| {
            SqlError::new(
                "InvalidArgument",
                format!("FIXED_COLUMN_LOG_PARSE column {} needs START", col.name),
            )
        })?;
        let field = if start >= chars.len() {
            None
        } else {
            let end = col
                .len
                .map_or(chars.len(), |l| start.saturating_add(l).min(chars.len()));
            Some(chars[start..end].iter().collect::<String>())
        };
        let field = if col.ty.is_character() {
            field
        } else {
            field.map(|f| f.trim().to_string())
        };
        row.push((col.name.clone(), typed(field, &col.ty)?));
    }
    Ok(Value::Row(row))
}

/// The Apache `LogFormat` of a predefined W3C format name.
fn predefined(format: &str) -> Option<&'static str> {
    let norm = format.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(match norm.to_ascii_uppercase().as_str() {
        "COMMON" => "%h %l %u %t \"%r\" %>s %b",
        "COMMON WITH VHOST" => "%v %h %l %u %t \"%r\" %>s %b",
        "NCSA EXTENDED" => "%h %l %u %t \"%r\" %>s %b \"%[Referer]i\" \"%[User-agent]i\"",
        "REFERER" => "%[Referer]i ---> %U",
        "AGENT" => "%[User-agent]i",
        _ => return None,
    })
}

/// The regex (one group per specifier) of an Apache `LogFormat` string.
fn w3c_regex(format: &str) -> Result<String, SqlError> {
    let chars: Vec<char> = format.chars().collect();
    let mut re = String::from("^");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            if c == ' ' {
                re.push_str(" +");
            } else {
                re.push_str(&regex::escape(&c.to_string()));
            }
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'%') {
            re.push('%');
            i += 2;
            continue;
        }
        let quoted = i > 0 && chars[i - 1] == '"';
        i += 1;
        // modifiers: < > ! digits commas, then {...} or [...], then the letter
        while i < chars.len() && matches!(chars[i], '<' | '>' | '!' | ',' | '0'..='9') {
            i += 1;
        }
        if i < chars.len() && (chars[i] == '{' || chars[i] == '[') {
            let close = if chars[i] == '{' { '}' } else { ']' };
            while i < chars.len() && chars[i] != close {
                i += 1;
            }
            i += 1;
        }
        let letter = chars.get(i).copied().ok_or_else(|| {
            SqlError::new(
                "InvalidArgument",
                format!("W3C_LOG_PARSE format {format:?} ends inside a specifier"),
            )
        })?;
        i += 1;
        if quoted {
            re.push_str("((?:[^\"\\\\]|\\\\.)*)");
        } else if letter == 't' {
            re.push_str("(\\[[^\\]]*\\])");
        } else {
            re.push_str("(\\S*)");
        }
    }
    re.push_str(" *$");
    Ok(re)
}

fn w3c(line: &str, format: &str) -> Result<Value, SqlError> {
    if format.trim().eq_ignore_ascii_case("IIS") {
        return Err(SqlError::new(
            "InvalidArgument",
            "W3C_LOG_PARSE: the IIS format is not supported",
        ));
    }
    let log_format = predefined(format).unwrap_or(format);
    let re = regex_cache::cached(regex_cache::RegexKind::W3c, log_format, || {
        w3c_regex(log_format)
    })?;
    let Some(caps) = re.captures(line) else {
        return Ok(Value::Null);
    };
    Ok(Value::Row(
        (1..caps.len())
            .map(|i| {
                let v = caps
                    .get(i)
                    .map(|m| Value::Varchar(m.as_str().to_string()))
                    .unwrap_or(Value::Null);
                (column_name(i - 1), v)
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::call_scalar;
    use super::*;

    fn v(s: &str) -> Value {
        Value::Varchar(s.into())
    }
    fn row(cols: &[(&str, Value)]) -> Value {
        Value::Row(
            cols.iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        )
    }

    /// The developer guide's W3C_LOG_PARSE example
    /// (<https://docs.aws.amazon.com/kinesisanalytics/latest/dev/examples-transforming-strings-w3clogparse.html>):
    /// COMMON gives COLUMN1..COLUMN7.
    #[test]
    fn w3c_common_example() {
        let line = "192.168.254.30 - John [24/May/2004:22:01:02 -0700] \"GET /icons/apache_pb.gif HTTP/1.1\" 304 0";
        assert_eq!(
            call_scalar("W3C_LOG_PARSE", &[v(line), v("COMMON")]),
            Ok(row(&[
                ("COLUMN1", v("192.168.254.30")),
                ("COLUMN2", v("-")),
                ("COLUMN3", v("John")),
                ("COLUMN4", v("[24/May/2004:22:01:02 -0700]")),
                ("COLUMN5", v("GET /icons/apache_pb.gif HTTP/1.1")),
                ("COLUMN6", v("304")),
                ("COLUMN7", v("0")),
            ]))
        );
        assert_eq!(
            call_scalar("W3C_LOG_PARSE", &[v("not a log line"), v("COMMON")]),
            Ok(Value::Null)
        );
    }

    #[test]
    fn w3c_other_formats() {
        let line = "203.0.113.24 - - [25/Mar/2018:15:25:37 -0700] \"GET /index.php HTTP/1.1\" 200 125 \"-\" \"Mozilla/5.0 [en] Gecko/20100101 Firefox/52.0\"";
        let r = call_scalar("W3C_LOG_PARSE", &[v(line), v("NCSA EXTENDED")]).expect("parses");
        let Value::Row(cols) = r else {
            panic!("not a row: {r:?}")
        };
        assert_eq!(cols.len(), 9);
        assert_eq!(cols[7], ("COLUMN8".to_string(), v("-")));
        assert_eq!(
            cols[8],
            (
                "COLUMN9".to_string(),
                v("Mozilla/5.0 [en] Gecko/20100101 Firefox/52.0")
            )
        );
        assert_eq!(
            call_scalar("W3C_LOG_PARSE", &[v("www.x.com 1.2.3.4"), v("%v %h")]),
            Ok(row(&[
                ("COLUMN1", v("www.x.com")),
                ("COLUMN2", v("1.2.3.4"))
            ]))
        );
        assert!(call_scalar("W3C_LOG_PARSE", &[v("x"), v("IIS")]).is_err());
    }

    /// The developer guide's REGEX_LOG_PARSE example
    /// (<https://docs.aws.amazon.com/kinesisanalytics/latest/dev/examples-transforming-strings-regexlogparse.html>):
    /// `REGEX_LOG_PARSE(LOGENTRY, '(\w.+) (\d.+) (\w.+) (\w.+)')`, read as REC.COLUMN1 and
    /// REC.COLUMN2 (the output stream's VARCHAR(24) columns then truncate them).
    #[test]
    fn regex_log_parse_example() {
        let line = "203.0.113.24 - - [25/Mar/2018:15:25:37 -0700] \"GET /index.php HTTP/1.1\" 200 125 \"-\" \"Mozilla/5.0 [en] Gecko/20100101 Firefox/52.0\"";
        let r = call_scalar(
            "REGEX_LOG_PARSE",
            &[v(line), v(r"(\w.+) (\d.+) (\w.+) (\w.+)")],
        )
        .expect("parses");
        let Value::Row(cols) = r else {
            panic!("not a row: {r:?}")
        };
        assert_eq!(cols.len(), 4);
        assert_eq!(cols[0].0, "COLUMN1");
        let Value::Varchar(c1) = &cols[0].1 else {
            panic!("COLUMN1 {:?}", cols[0].1)
        };
        assert!(c1.starts_with("203.0.113.24 - - [25/Mar"), "{c1}");
        assert_eq!(cols[3].1, v("Firefox/52.0\""));
        assert_eq!(cols[2].1, v("Gecko/20100101"));
        assert_eq!(
            call_scalar("REGEX_LOG_PARSE", &[v("abc"), v(r"(\d+)")]),
            Ok(Value::Null)
        );
        assert_eq!(
            call_scalar("FAST_REGEX_LOG_PARSE", &[v("a=1"), v(r"(\w)=(\d)")]),
            Ok(row(&[("COLUMN1", v("a")), ("COLUMN2", v("1"))]))
        );
        // https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-fast-regex-log-parser.html:
        // lazy where REGEX_LOG_PARSE is greedy.
        assert_eq!(
            call_scalar("FAST_REGEX_LOG_PARSE", &[v("a b c"), v("(.*) (.*)")]),
            Ok(row(&[("COLUMN1", v("a")), ("COLUMN2", v("b c"))]))
        );
        // The page's Further FRLP Examples B and C.
        for pattern in ["(.*)_+(.*)", "(.*)_+(<Alpha>.*)"] {
            assert_eq!(
                call_scalar(
                    "FAST_REGEX_LOG_PARSE",
                    &[v("Mary____had_a_little_lamb"), v(pattern)]
                ),
                Ok(row(&[
                    ("COLUMN1", v("Mary")),
                    ("COLUMN2", v("had_a_little_lamb"))
                ])),
                "{pattern}"
            );
        }
        assert_eq!(
            call_scalar("REGEX_LOG_PARSE", &[v("a b c"), v("(.*) (.*)")]),
            Ok(row(&[("COLUMN1", v("a b")), ("COLUMN2", v("c"))]))
        );
    }

    /// The developer guide's VARIABLE_COLUMN_LOG_PARSE example
    /// (<https://docs.aws.amazon.com/kinesisanalytics/latest/dev/examples-transforming-strings-variablecolumnlogparse.html>):
    /// `'x,y,z'` with `'COL_1 TYPE VARCHAR(16), COL_2 TYPE VARCHAR(16), COL_3 TYPE VARCHAR(16)'`.
    #[test]
    fn variable_column_example() {
        assert_eq!(
            call_scalar(
                "VARIABLE_COLUMN_LOG_PARSE",
                &[
                    v("x,y,z"),
                    v("COL_1 TYPE VARCHAR(16), COL_2 TYPE VARCHAR(16), COL_3 TYPE VARCHAR(16)"),
                    v(","),
                ]
            ),
            Ok(row(&[
                ("COL_1", v("x")),
                ("COL_2", v("y")),
                ("COL_3", v("z"))
            ]))
        );
    }

    /// The SQL Reference's VARIABLE_COLUMN_LOG_PARSE page: an escape hides a delimiter
    /// (`a\,b` is one field), so do quotes; a count names the columns COLUMN1...
    #[test]
    fn variable_column_escape_quote_count_types() {
        let p = |args: Vec<Value>| call_scalar("VARIABLE_COLUMN_LOG_PARSE", &args);
        assert_eq!(
            p(vec![
                v("a\\,b,c"),
                Value::Integer(2),
                v(","),
                v("\\"),
                v("\"")
            ]),
            Ok(row(&[("COLUMN1", v("a,b")), ("COLUMN2", v("c"))]))
        );
        assert_eq!(
            p(vec![
                v("\"a,b\",c"),
                Value::Integer(3),
                v(","),
                v("\\"),
                v("\"")
            ]),
            Ok(row(&[
                ("COLUMN1", v("a,b")),
                ("COLUMN2", v("c")),
                ("COLUMN3", Value::Null)
            ]))
        );
        assert_eq!(
            p(vec![
                v("7\t2.5"),
                v("N TYPE INTEGER, D TYPE DECIMAL(4,2) NOT NULL"),
                v("\t")
            ]),
            Ok(row(&[
                ("N", Value::Integer(7)),
                ("D", Value::Decimal(rust_decimal::Decimal::new(250, 2))),
            ]))
        );
        assert_eq!(
            p(vec![v("a::b"), Value::Integer(2), v("::")]),
            Ok(row(&[("COLUMN1", v("a")), ("COLUMN2", v("b"))]))
        );
        assert!(p(vec![v("x"), v("N TYPE INTEGER"), v(",")]).is_err());
    }

    /// FIXED_COLUMN_LOG_PARSE
    /// (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-fixed-column-log-parse.html>);
    /// the two examples are SQLstream's log-parsing examples, whose engine KDA ran
    /// (<http://sqlstream.com/docs/int_parsing_log_file_records.html>): START counts from 0.
    #[test]
    fn fixed_column_examples() {
        assert_eq!(
            call_scalar(
                "FIXED_COLUMN_LOG_PARSE",
                &[
                    v("  1   true"),
                    v("a TYPE Integer START 0 FOR 3, b TYPE boolean START 4")
                ]
            ),
            Ok(row(&[
                ("A", Value::Integer(1)),
                ("B", Value::Boolean(true))
            ]))
        );
        assert_eq!(
            call_scalar(
                "FIXED_COLUMN_LOG_PARSE",
                &[
                    v("  1   true 423.345 "),
                    v("a TYPE Integer START 0 FOR 3, b TYPE boolean\n               START 4 FOR 6, c TYPE numeric(5,2) START 10"),
                ]
            ),
            Ok(row(&[
                ("A", Value::Integer(1)),
                ("B", Value::Boolean(true)),
                ("C", Value::Decimal(rust_decimal::Decimal::new(42_335, 2))),
            ]))
        );
    }

    #[test]
    fn fixed_column_parse() {
        assert_eq!(
            call_scalar(
                "FIXED_COLUMN_LOG_PARSE",
                &[
                    v("ABC 42  hello"),
                    v("CODE TYPE CHAR(3) START 0 FOR 3, N TYPE INTEGER START 3 FOR 4, REST TYPE VARCHAR(20) START 8"),
                ]
            ),
            Ok(row(&[
                ("CODE", Value::Char("ABC".into())),
                ("N", Value::Integer(42)),
                ("REST", v("hello")),
            ]))
        );
    }
}
