//! Apache access-log lines: the Common Log Format (`%h %l %u %t "%r" %>s %b`) and the Combined
//! format (adding `"%{Referer}i" "%{User-agent}i"`).
//!
//! [`parse_line`] gives a JSON object with the fields, in this order, `host`, `ident`, `authuser`,
//! `datetime`, `request`, `response` (number), `bytes` (number; CLF's `-` means no body, 0) and,
//! for Combined lines, `referer` and `agent`.

use weir_sdk::serde_json::{json, Map, Value};

use crate::csv::Column;

/// The nine CSV columns of `apache-log-to-csv`, the Combined format's fields in order; a Common
/// Log Format line leaves `referer` and `agent` empty.
pub const CSV_COLUMNS: &[Column] = &[
    &["host"],
    &["ident"],
    &["authuser"],
    &["datetime"],
    &["request"],
    &["response"],
    &["bytes"],
    &["referer"],
    &["agent"],
];

/// Parses one access-log line.
pub fn parse_line(line: &str) -> Result<Value, String> {
    let mut cur = Cursor(line);
    let host = cur.token("host")?;
    let ident = cur.token("ident")?;
    let authuser = cur.token("authuser")?;
    let datetime = cur.delimited('[', ']', "datetime")?;
    let request = cur.quoted("request")?;
    let status = cur.token("status")?;
    if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("status {status:?} is not a 3-digit code"));
    }
    let bytes = match cur.token("bytes")? {
        "-" => 0,
        b => b
            .parse::<u64>()
            .map_err(|_| format!("bytes {b:?} is not a number"))?,
    };
    let mut out = Map::new();
    out.insert("host".into(), json!(host));
    out.insert("ident".into(), json!(ident));
    out.insert("authuser".into(), json!(authuser));
    out.insert("datetime".into(), json!(datetime));
    out.insert("request".into(), json!(request));
    out.insert("response".into(), json!(status.parse::<u16>().unwrap_or(0)));
    out.insert("bytes".into(), json!(bytes));
    if !cur.at_end() {
        out.insert("referer".into(), json!(cur.quoted("referer")?));
        out.insert("agent".into(), json!(cur.quoted("agent")?));
        if !cur.at_end() {
            return Err(format!(
                "unexpected text after the user agent: {:?}",
                cur.0.trim()
            ));
        }
    }
    Ok(Value::Object(out))
}

/// A tiny left-to-right scanner over one line.
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    fn skip_blanks(&mut self) {
        self.0 = self.0.trim_start_matches([' ', '\t']);
    }

    fn at_end(&mut self) -> bool {
        self.skip_blanks();
        self.0.is_empty()
    }

    fn token(&mut self, what: &str) -> Result<&'a str, String> {
        self.skip_blanks();
        let end = self.0.find([' ', '\t']).unwrap_or(self.0.len());
        if end == 0 {
            return Err(format!("{what} is missing"));
        }
        let (tok, rest) = self.0.split_at(end);
        self.0 = rest;
        Ok(tok)
    }

    fn delimited(&mut self, open: char, close: char, what: &str) -> Result<&'a str, String> {
        self.skip_blanks();
        let rest = self
            .0
            .strip_prefix(open)
            .ok_or_else(|| format!("{what} should start with {open:?}"))?;
        let end = rest
            .find(close)
            .ok_or_else(|| format!("{what} has no closing {close:?}"))?;
        self.0 = &rest[end + close.len_utf8()..];
        Ok(&rest[..end])
    }

    /// A double-quoted field; `\"` and `\\` inside are unescaped as Apache escapes them.
    fn quoted(&mut self, what: &str) -> Result<String, String> {
        self.skip_blanks();
        let rest = self
            .0
            .strip_prefix('"')
            .ok_or_else(|| format!("{what} should be in double quotes"))?;
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.0 = &rest[i + 1..];
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(format!("{what} has no closing quote"))
    }
}
