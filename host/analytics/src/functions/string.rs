//! Character functions: CHAR_LENGTH, INITCAP, LOWER, UPPER, OVERLAY, POSITION, SUBSTRING (its
//! positional, regular-expression and SIMILAR forms), TRIM, REGEX_REPLACE, and the LIKE and
//! SIMILAR TO predicates. Positions and lengths count characters, not bytes.

use crate::error::SqlError;
use crate::value::Value;

use super::regex_cache::{self, RegexKind};
use super::{int_arg, str_arg};

/// Which ends TRIM cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrimSpec {
    Leading,
    Trailing,
    Both,
}

pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, SqlError> {
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    match name {
        "CHAR_LENGTH" | "CHARACTER_LENGTH" => {
            let s = str_arg(name, &args[0])?;
            i32::try_from(s.chars().count())
                .map(Value::Integer)
                .map_err(|_| SqlError::overflow("string length"))
        }
        "LOWER" => Ok(Value::Varchar(str_arg(name, &args[0])?.to_lowercase())),
        "UPPER" => Ok(Value::Varchar(str_arg(name, &args[0])?.to_uppercase())),
        "INITCAP" => Ok(Value::Varchar(initcap(str_arg(name, &args[0])?))),
        "OVERLAY" => overlay(&args[0], &args[1], &args[2], args.get(3)),
        "POSITION" => position(&args[0], &args[1]),
        "SUBSTRING" => substring_comma(&args[0], &args[1], args.get(2)),
        _ => regex_replace(args),
    }
}

/// INITCAP: the first letter of each word upper-case, the others lower-case; a word starts
/// after any character that is not a letter or digit.
fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

/// The characters of `s` from 1-based `start` (which may be below 1) for `len` characters
/// (to the end when `None`), as the SQL standard's SUBSTRING computes them.
fn char_range(s: &str, start: i64, len: Option<i64>) -> Result<String, SqlError> {
    if let Some(l) = len {
        if l < 0 {
            return Err(SqlError::new(
                "SubstringError",
                format!("SUBSTRING length {l} is negative"),
            ));
        }
    }
    let end = match len {
        Some(l) => start.saturating_add(l),
        None => i64::MAX,
    };
    let from = start.max(1);
    if end <= from {
        return Ok(String::new());
    }
    let skip = usize::try_from(from - 1).unwrap_or(usize::MAX);
    let take = usize::try_from(end - from).unwrap_or(usize::MAX);
    Ok(s.chars().skip(skip).take(take).collect())
}

/// `SUBSTRING(s FROM start [FOR length])` and `SUBSTRING(s, start [, length])`; with a
/// character `from`, `SUBSTRING(s FROM regex)`: the first match of the (Java) regular
/// expression, NULL when nothing matches.
///
/// The docs say both that a start past the end gives an empty string and that it gives
/// NULL; this keeps the empty string (the SQL standard's answer, and the one the examples
/// table shows). A negative length is an error, as in the standard.
pub fn substring(s: &Value, from: &Value, length: Option<&Value>) -> Result<Value, SqlError> {
    if s.is_null() || from.is_null() || length.is_some_and(Value::is_null) {
        return Ok(Value::Null);
    }
    if let Value::Binary(b) = s {
        let start = int_arg("SUBSTRING", from)?;
        let len = length.map(|l| int_arg("SUBSTRING", l)).transpose()?;
        let end = len.map_or(i64::MAX, |l| start.saturating_add(l));
        let from = start.max(1);
        let skip = usize::try_from(from - 1).unwrap_or(usize::MAX);
        let take = usize::try_from(end.saturating_sub(from).max(0)).unwrap_or(usize::MAX);
        return Ok(Value::Binary(
            b.iter().skip(skip).take(take).copied().collect(),
        ));
    }
    let text = str_arg("SUBSTRING", s)?;
    if let Some(pattern) = from.as_str() {
        let re = regex_cache::java(pattern, false)?;
        return Ok(re
            .find(text)
            .map(|m| Value::Varchar(m.as_str().to_string()))
            .unwrap_or(Value::Null));
    }
    let start = int_arg("SUBSTRING", from)?;
    let len = length.map(|l| int_arg("SUBSTRING", l)).transpose()?;
    Ok(Value::Varchar(char_range(text, start, len)?))
}

/// `SUBSTRING(s, start [, length])`, the comma form: as [`substring`], except that a start
/// past the end of the string gives NULL. The SUBSTRING page says both "empty string" and
/// "null" for that case; its example tables show `SUBSTRING('123456789' FROM 17 FOR 4)` as the
/// empty string and `SUBSTRING('123456789', 10, 4)` as null, so each form keeps its table's
/// answer.
pub fn substring_comma(s: &Value, from: &Value, length: Option<&Value>) -> Result<Value, SqlError> {
    if let (Some(text), Some(start)) = (s.as_str(), from.as_i64()) {
        if start > text.chars().count() as i64 && !length.is_some_and(Value::is_null) {
            return Ok(Value::Null);
        }
    }
    substring(s, from, length)
}

/// `SUBSTRING(s SIMILAR pattern ESCAPE esc)`: the pattern has three parts separated by
/// `esc"`; the middle part of the first place where the three match in a row is returned,
/// NULL when there is none. The SUBSTRING page's example finds `'23#"456#"78'` inside
/// `'123456789'` (giving `456`), so the match is searched for, not anchored to the whole
/// string as SQL:2008 has it.
pub fn substring_similar(s: &Value, pattern: &Value, escape: &Value) -> Result<Value, SqlError> {
    if s.is_null() || pattern.is_null() || escape.is_null() {
        return Ok(Value::Null);
    }
    let text = str_arg("SUBSTRING", s)?;
    let pat = str_arg("SUBSTRING", pattern)?;
    let esc = single_char(str_arg("SUBSTRING", escape)?)?;
    let sep = format!("{esc}\"");
    let parts: Vec<&str> = pat.split(sep.as_str()).collect();
    if parts.len() != 3 {
        return Err(SqlError::new(
            "InvalidPattern",
            format!("SUBSTRING SIMILAR pattern {pat:?} needs two {sep} separators"),
        ));
    }
    let re = format!(
        "(?s)(?:{})({})(?:{})",
        similar_regex(parts[0], Some(esc))?,
        similar_regex(parts[1], Some(esc))?,
        similar_regex(parts[2], Some(esc))?
    );
    let re = regex_cache::compiled(&re)?;
    Ok(re
        .captures(text)
        .and_then(|c| c.get(1))
        .map(|m| Value::Varchar(m.as_str().to_string()))
        .unwrap_or(Value::Null))
}

/// `POSITION(needle IN haystack)`: the 1-based character position of the first occurrence,
/// 0 when absent, 1 for an empty needle.
pub fn position(needle: &Value, haystack: &Value) -> Result<Value, SqlError> {
    if needle.is_null() || haystack.is_null() {
        return Ok(Value::Null);
    }
    let n = str_arg("POSITION", needle)?;
    let h = str_arg("POSITION", haystack)?;
    let pos = match h.find(n) {
        Some(byte) => h[..byte].chars().count() + 1,
        None => 0,
    };
    i32::try_from(pos)
        .map(Value::Integer)
        .map_err(|_| SqlError::overflow("position"))
}

/// `TRIM([LEADING|TRAILING|BOTH] [chars] FROM s)`: removes `chars` (blank by default) from
/// the chosen ends. Every character of `chars` is trimmed (the docs' examples use one).
pub fn trim(spec: TrimSpec, chars: Option<&Value>, s: &Value) -> Result<Value, SqlError> {
    if s.is_null() || chars.is_some_and(Value::is_null) {
        return Ok(Value::Null);
    }
    let text = str_arg("TRIM", s)?;
    let set: Vec<char> = match chars {
        Some(c) => str_arg("TRIM", c)?.chars().collect(),
        None => vec![' '],
    };
    let hit = |c: char| set.contains(&c);
    let r = match spec {
        TrimSpec::Leading => text.trim_start_matches(hit),
        TrimSpec::Trailing => text.trim_end_matches(hit),
        TrimSpec::Both => text.trim_start_matches(hit).trim_end_matches(hit),
    };
    Ok(Value::Varchar(r.to_string()))
}

/// `OVERLAY(s PLACING r FROM start [FOR length])`: `s` with `length` characters from `start`
/// (the length of `r` by default) replaced by `r`.
fn overlay(s: &Value, r: &Value, start: &Value, len: Option<&Value>) -> Result<Value, SqlError> {
    let text = str_arg("OVERLAY", s)?;
    let put = str_arg("OVERLAY", r)?;
    let start = int_arg("OVERLAY", start)?;
    let len = match len {
        Some(l) => int_arg("OVERLAY", l)?,
        None => put.chars().count() as i64,
    };
    if len < 0 {
        return Err(SqlError::new(
            "InvalidArgument",
            format!("OVERLAY length {len} is negative"),
        ));
    }
    let mut out = char_range(text, 1, Some(start.saturating_sub(1).max(0)))?;
    out.push_str(put);
    out.push_str(&char_range(text, start.saturating_add(len), None)?);
    Ok(Value::Varchar(out))
}

/// `REGEX_REPLACE(s, regex, replacement [, start [, occurrence]])`: replaces matches of the
/// Java regex found from 1-based character `start` (default 1); `occurrence` 0 (the default)
/// replaces every match, n > 0 only the n-th. The replacement takes Java's `$n` group
/// references and `\` escapes.
fn regex_replace(args: &[Value]) -> Result<Value, SqlError> {
    let text = str_arg("REGEX_REPLACE", &args[0])?;
    let re = regex_cache::java(str_arg("REGEX_REPLACE", &args[1])?, false)?;
    let replacement = str_arg("REGEX_REPLACE", &args[2])?;
    let start = args
        .get(3)
        .map(|v| int_arg("REGEX_REPLACE", v))
        .transpose()?
        .unwrap_or(1);
    let occurrence = args
        .get(4)
        .map(|v| int_arg("REGEX_REPLACE", v))
        .transpose()?
        .unwrap_or(0);
    if start < 1 || occurrence < 0 {
        return Err(SqlError::new(
            "InvalidArgument",
            format!("REGEX_REPLACE start {start} and occurrence {occurrence} must be positive"),
        ));
    }
    let offset = text
        .char_indices()
        .nth(usize::try_from(start - 1).unwrap_or(usize::MAX))
        .map(|(b, _)| b)
        .unwrap_or(text.len());
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..offset]);
    let mut last = offset;
    for (n, caps) in re.captures_iter(&text[offset..]).enumerate() {
        let Some(m) = caps.get(0) else { continue };
        if occurrence != 0 && n as i64 + 1 != occurrence {
            continue;
        }
        out.push_str(&text[last..offset + m.start()]);
        expand_java_replacement(replacement, &caps, &mut out)?;
        last = offset + m.end();
        if occurrence != 0 {
            break;
        }
    }
    out.push_str(&text[last..]);
    Ok(Value::Varchar(out))
}

/// Java's `Matcher.appendReplacement` syntax: `$n` (as many digits as name a group),
/// `${name}`, and `\x` for a literal `x`.
fn expand_java_replacement(
    rep: &str,
    caps: &regex::Captures<'_>,
    out: &mut String,
) -> Result<(), SqlError> {
    let bad = |m: &str| SqlError::new("InvalidArgument", format!("REGEX_REPLACE replacement: {m}"));
    let chars: Vec<char> = rep.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let c = chars.get(i + 1).ok_or_else(|| bad("trailing backslash"))?;
                out.push(*c);
                i += 2;
            }
            '$' => {
                i += 1;
                if chars.get(i) == Some(&'{') {
                    let close = chars[i..]
                        .iter()
                        .position(|c| *c == '}')
                        .ok_or_else(|| bad("unclosed ${"))?;
                    let name: String = chars[i + 1..i + close].iter().collect();
                    let m = caps
                        .name(&name)
                        .ok_or_else(|| bad(&format!("no group named {name}")))?;
                    out.push_str(m.as_str());
                    i += close + 1;
                    continue;
                }
                let first = chars
                    .get(i)
                    .and_then(|c| c.to_digit(10))
                    .ok_or_else(|| bad("$ must be followed by a group number"))?;
                let mut group = first as usize;
                i += 1;
                while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                    let next = group * 10 + d as usize;
                    if next >= caps.len() {
                        break;
                    }
                    group = next;
                    i += 1;
                }
                if group >= caps.len() {
                    return Err(bad(&format!("no group {group}")));
                }
                if let Some(m) = caps.get(group) {
                    out.push_str(m.as_str());
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(())
}

fn single_char(s: &str) -> Result<char, SqlError> {
    let mut it = s.chars();
    match (it.next(), it.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(SqlError::new(
            "InvalidEscape",
            format!("escape {s:?} must be one character"),
        )),
    }
}

fn escape_arg(escape: Option<&Value>, func: &str) -> Result<Option<char>, SqlError> {
    match escape {
        None => Ok(None),
        Some(v) => single_char(str_arg(func, v)?).map(Some),
    }
}

/// The regex of a LIKE pattern: `%` any sequence, `_` one character, the escape character
/// making the next one literal.
fn like_regex(pattern: &str, esc: Option<char>) -> Result<String, SqlError> {
    let mut re = String::from("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == esc {
            let n = chars.next().ok_or_else(|| {
                SqlError::new(
                    "InvalidEscape",
                    format!("LIKE pattern {pattern:?} ends with its escape"),
                )
            })?;
            re.push_str(&regex::escape(&n.to_string()));
        } else if c == '%' {
            re.push_str(".*");
        } else if c == '_' {
            re.push('.');
        } else {
            re.push_str(&regex::escape(&c.to_string()));
        }
    }
    re.push('$');
    Ok(re)
}

/// The regex of a SIMILAR TO pattern (SQL's regular expressions): `%` and `_` as in LIKE,
/// `| * + ? {m,n} ( ) [...] [^...]` as in regexes, `[seq^seq]` (characters of the first
/// sequence not in the second, as SQLstream's SIMILAR TO table has it), every other
/// character literal.
fn similar_regex(pattern: &str, esc: Option<char>) -> Result<String, SqlError> {
    let mut re = String::new();
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut excluding = false;
    while let Some(c) = chars.next() {
        if Some(c) == esc {
            let n = chars.next().ok_or_else(|| {
                SqlError::new(
                    "InvalidEscape",
                    format!("SIMILAR TO pattern {pattern:?} ends with its escape"),
                )
            })?;
            re.push_str(&regex::escape(&n.to_string()));
            continue;
        }
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    if excluding {
                        re.push(']');
                        excluding = false;
                    }
                    re.push(']');
                }
                // `[seq^seq]`: a character of the first sequence that is not in the second.
                '^' if !excluding => {
                    excluding = true;
                    re.push_str("&&[^");
                }
                '\\' | '[' | '&' | '~' => {
                    re.push('\\');
                    re.push(c);
                }
                _ => re.push(c),
            }
            continue;
        }
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            '[' => {
                in_class = true;
                re.push('[');
                if chars.peek() == Some(&'^') {
                    re.push('^');
                    chars.next();
                }
            }
            '|' | '*' | '+' | '?' | '{' | '}' | '(' | ')' => re.push(c),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    if in_class {
        return Err(SqlError::new(
            "InvalidPattern",
            format!("SIMILAR TO pattern {pattern:?} has an unclosed ["),
        ));
    }
    Ok(re)
}

/// `s LIKE pattern [ESCAPE esc]`: TRUE, FALSE, or NULL on a NULL operand.
pub fn like(s: &Value, pattern: &Value, escape: Option<&Value>) -> Result<Value, SqlError> {
    if s.is_null() || pattern.is_null() || escape.is_some_and(Value::is_null) {
        return Ok(Value::Null);
    }
    let text = str_arg("LIKE", s)?;
    let pat = str_arg("LIKE", pattern)?;
    let esc = escape_arg(escape, "LIKE")?;
    let re = match esc {
        None => regex_cache::cached(RegexKind::Like, pat, || like_regex(pat, None))?,
        Some(e) => regex_cache::cached(RegexKind::Like, &format!("{e}\u{0}{pat}"), || {
            like_regex(pat, Some(e))
        })?,
    };
    Ok(Value::Boolean(re.is_match(text)))
}

/// `s SIMILAR TO pattern [ESCAPE esc]`: the whole string must match.
pub fn similar_to(s: &Value, pattern: &Value, escape: Option<&Value>) -> Result<Value, SqlError> {
    if s.is_null() || pattern.is_null() || escape.is_some_and(Value::is_null) {
        return Ok(Value::Null);
    }
    let text = str_arg("SIMILAR TO", s)?;
    let pat = str_arg("SIMILAR TO", pattern)?;
    let esc = escape_arg(escape, "SIMILAR TO")?;
    let build = || Ok(format!("(?s)^(?:{})$", similar_regex(pat, esc)?));
    let re = match esc {
        None => regex_cache::cached(RegexKind::Similar, pat, build)?,
        Some(e) => regex_cache::cached(RegexKind::Similar, &format!("{e}\u{0}{pat}"), build)?,
    };
    Ok(Value::Boolean(re.is_match(text)))
}

#[cfg(test)]
mod tests {
    use super::super::call_scalar;
    use super::*;

    fn v(s: &str) -> Value {
        Value::Varchar(s.into())
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-substring.html>
    #[test]
    fn substring_examples() {
        let s = v("123456789");
        let sub = |from: i64, len: Option<i64>| {
            substring(&s, &Value::BigInt(from), len.map(Value::BigInt).as_ref())
        };
        assert_eq!(sub(3, Some(4)), Ok(v("3456")));
        assert_eq!(
            call_scalar(
                "SUBSTRING",
                &[v("123456789"), Value::Integer(3), Value::Integer(4)]
            ),
            Ok(v("3456"))
        );
        assert_eq!(sub(8, Some(4)), Ok(v("89")));
        assert_eq!(sub(17, Some(4)), Ok(v("")));
        assert_eq!(sub(-1, Some(4)), Ok(v("12")));
        assert_eq!(sub(6, None), Ok(v("6789")));
        assert_eq!(sub(6, Some(0)), Ok(v("")));
        assert_eq!(
            sub(6, Some(-1)).expect_err("negative").name,
            "SubstringError"
        );
        assert_eq!(
            substring(&Value::Null, &Value::Integer(1), None),
            Ok(Value::Null)
        );
    }

    /// The developer guide's SUBSTRING example (examples-transforming-strings-substring):
    /// `SUBSTRING(referrer, 12, POSITION('.com' IN referrer) - POSITION('www.' IN referrer) - 4)`
    /// turns `http://www.amazon.com` into `amazon`.
    #[test]
    fn substring_referrer_example() {
        let r = v("http://www.amazon.com");
        let com = position(&v(".com"), &r).expect("pos");
        let www = position(&v("www."), &r).expect("pos");
        assert_eq!(
            (com.clone(), www.clone()),
            (Value::Integer(18), Value::Integer(8))
        );
        let len = Value::Integer(18 - 8 - 4);
        assert_eq!(
            substring(&r, &Value::Integer(12), Some(&len)),
            Ok(v("amazon"))
        );
    }

    #[test]
    fn substring_regex_and_similar_forms() {
        assert_eq!(
            substring(&v("TECHNOLOGY"), &v("L[A-Z]*"), None),
            Ok(v("LOGY"))
        );
        assert_eq!(substring(&v("abc"), &v("[0-9]+"), None), Ok(Value::Null));
        assert_eq!(
            substring_similar(&v("abcdefg"), &v("a#\"%#\"g"), &v("#")),
            Ok(v("bcdef"))
        );
        assert_eq!(
            substring_similar(&v("xbcdefx"), &v("a#\"%#\"g"), &v("#")),
            Ok(Value::Null)
        );
        // The SUBSTRING page's SIMILAR examples.
        assert_eq!(
            substring_similar(&v("123456789"), &v("23#\"456#\"78"), &v("#")),
            Ok(v("456"))
        );
        assert_eq!(
            substring_similar(&v("TECHNOLOGY"), &v("TECH%\"NOLO%\"GY"), &v("%")),
            Ok(v("NOLO"))
        );
        // ... and its FROM-regex and comma examples.
        assert_eq!(
            substring(&v("TECHNOLOGY"), &v("FOO"), None),
            Ok(Value::Null)
        );
        assert_eq!(substring(&v("TECHNOLOGY"), &v("O[A-Z]"), None), Ok(v("OL")));
        let comma = |a: i32, b: i32| {
            call_scalar(
                "SUBSTRING",
                &[v("123456789"), Value::Integer(a), Value::Integer(b)],
            )
        };
        assert_eq!(comma(7, 4), Ok(v("789")));
        assert_eq!(comma(10, 4), Ok(Value::Null));
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-position.html>
    #[test]
    fn position_examples() {
        let p = |n: &str, h: &str| position(&v(n), &v(h));
        assert_eq!(p("findme", "1234findmeXXX"), Ok(Value::Integer(5)));
        assert_eq!(p("findme", "1234not-hereXXX"), Ok(Value::Integer(0)));
        assert_eq!(p("1", "1234567"), Ok(Value::Integer(1)));
        assert_eq!(p("7", "1234567"), Ok(Value::Integer(7)));
        assert_eq!(p("", "1234567"), Ok(Value::Integer(1)));
        // Positions count characters, not bytes.
        assert_eq!(p("é", "aéb"), Ok(Value::Integer(2)));
        assert_eq!(position(&Value::Null, &v("x")), Ok(Value::Null));
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-trim.html>
    #[test]
    fn trim_examples() {
        let t = |spec, chars: Option<&str>, text: &str| trim(spec, chars.map(v).as_ref(), &v(text));
        let both = TrimSpec::Both;
        assert_eq!(
            t(both, None, " Trim front and back "),
            Ok(v("Trim front and back"))
        );
        assert_eq!(
            t(both, Some(" "), " Trim front and back "),
            Ok(v("Trim front and back"))
        );
        assert_eq!(
            t(TrimSpec::Leading, Some("x"), "xxxTrim frontxxx"),
            Ok(v("Trim frontxxx"))
        );
        assert_eq!(
            t(TrimSpec::Trailing, Some("x"), "xxxTrimxBackxxx"),
            Ok(v("xxxTrimxBack"))
        );
        assert_eq!(
            t(both, Some("y"), "xxxNo y to trimxxx"),
            Ok(v("xxxNo y to trimxxx"))
        );
        assert_eq!(
            t(both, None, "\tx "),
            Ok(v("\tx")),
            "only blanks by default"
        );
        assert_eq!(trim(both, None, &Value::Null), Ok(Value::Null));
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-initcap.html>,
    /// sql-reference-char-length.html, sql-reference-lower.html, sql-reference-upper.html
    #[test]
    fn case_and_length() {
        assert_eq!(
            call_scalar("INITCAP", &[v("Each FIRST lEtTeR is cAPITALIZED")]),
            Ok(v("Each First Letter Is Capitalized"))
        );
        assert_eq!(
            call_scalar("INITCAP", &[v("i have_a-dream")]),
            Ok(v("I Have_A-Dream"))
        );
        let len = |x: Value| call_scalar("CHAR_LENGTH", &[x]);
        assert_eq!(len(v("one")), Ok(Value::Integer(3)));
        assert_eq!(len(v("")), Ok(Value::Integer(0)));
        assert_eq!(
            call_scalar("CHARACTER_LENGTH", &[v("fred")]),
            Ok(Value::Integer(4))
        );
        assert_eq!(len(Value::Null), Ok(Value::Null));
        // CAST('fred' AS CHAR(16)) is blank-padded: 16.
        let padded =
            crate::functions::cast(&v("fred"), &crate::types::SqlType::Char(16)).expect("cast");
        assert_eq!(len(padded), Ok(Value::Integer(16)));
        assert_eq!(len(v("héllo")), Ok(Value::Integer(5)));
        assert_eq!(call_scalar("UPPER", &[v("abc")]), Ok(v("ABC")));
        assert_eq!(call_scalar("LOWER", &[v("ABC")]), Ok(v("abc")));
        assert_eq!(call_scalar("UPPER", &[Value::Null]), Ok(Value::Null));
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-overlay.html>
    #[test]
    fn overlay_examples() {
        let o = |from: i32, len: Option<i32>| {
            let mut args = vec![v("12345"), v("foo"), Value::Integer(from)];
            args.extend(len.map(Value::Integer));
            call_scalar("OVERLAY", &args)
        };
        assert_eq!(o(1, None), Ok(v("foo45")));
        assert_eq!(o(0, None), Ok(v("foo345")));
        assert_eq!(o(-2, None), Ok(v("foo12345")));
        assert_eq!(o(4, None), Ok(v("123foo")));
        assert_eq!(o(17, None), Ok(v("12345foo")));
        assert_eq!(o(2, Some(0)), Ok(v("1foo2345")));
        assert_eq!(o(2, Some(2)), Ok(v("1foo45")));
        assert_eq!(o(2, Some(9)), Ok(v("1foo")));
        assert_eq!(
            o(2, Some(-1)).expect_err("negative").name,
            "InvalidArgument"
        );
        assert_eq!(
            call_scalar("OVERLAY", &[v("12345"), Value::Null, Value::Integer(1)]),
            Ok(Value::Null)
        );
    }

    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-regex-replace.html>
    #[test]
    fn regex_replace_forms() {
        let rr = |args: Vec<Value>| call_scalar("REGEX_REPLACE", &args);
        // Example 1: REGEX_REPLACE(SECTOR, 'TECHNOLOGY', 'INFORMATION TECHNOLOGY', 1, 0).
        let ex1 = |sector: Value| {
            rr(vec![
                sector,
                v("TECHNOLOGY"),
                v("INFORMATION TECHNOLOGY"),
                Value::Integer(1),
                Value::Integer(0),
            ])
        };
        assert_eq!(ex1(v("TECHNOLOGY")), Ok(v("INFORMATION TECHNOLOGY")));
        assert_eq!(ex1(v("ENERGY")), Ok(v("ENERGY")));
        assert_eq!(ex1(Value::Null), Ok(Value::Null));
        assert_eq!(
            rr(vec![
                v("TECHNOLOGY"),
                v("TECH"),
                v("CHEM"),
                Value::Integer(1),
                Value::Integer(0)
            ]),
            Ok(v("CHEMNOLOGY"))
        );
        assert_eq!(
            rr(vec![
                v("aaa"),
                v("a"),
                v("b"),
                Value::Integer(2),
                Value::Integer(0)
            ]),
            Ok(v("abb"))
        );
        assert_eq!(
            rr(vec![
                v("aaa"),
                v("a"),
                v("b"),
                Value::Integer(1),
                Value::Integer(2)
            ]),
            Ok(v("aba"))
        );
        assert_eq!(
            rr(vec![v("John Smith"), v("(\\w+) (\\w+)"), v("$2, $1")]),
            Ok(v("Smith, John"))
        );
        assert_eq!(rr(vec![v("a.b"), v("\\."), v("\\$")]), Ok(v("a$b")));
        assert!(rr(vec![v("ab"), v("a"), v("$9")]).is_err());
    }

    /// The LIKE table of <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-string-operators.html>
    #[test]
    fn like_predicate() {
        let t = Value::Boolean(true);
        let f = Value::Boolean(false);
        let bs = v("\\");
        for (s, p, esc, want) in [
            ("a", "a", None, &t),
            ("a", "A", None, &f),
            ("a", "b", None, &f),
            ("ab", "a_", None, &t),
            ("ab", "a%", None, &t),
            ("ab", "a\\_", Some(&bs), &f),
            ("ab", "a\\%", Some(&bs), &f),
            ("a_", "a\\_", Some(&bs), &t),
            ("a%", "a\\%", Some(&bs), &t),
            ("a", "a_", None, &f),
            ("a", "a%", None, &t),
            ("abcd", "a_", None, &f),
            ("abcd", "a%", None, &t),
            ("", "", None, &t),
            ("1a", "_a", None, &t),
            ("123aXYZ", "%a%", None, &t),
            ("123aXYZ", "_%_a%_", None, &t),
            ("a.c", "a.c", None, &t),
            ("abc", "a.c", None, &f),
        ] {
            assert_eq!(like(&v(s), &v(p), esc), Ok(want.clone()), "{s} LIKE {p}");
        }
        assert_eq!(like(&Value::Null, &v("%"), None), Ok(Value::Null));
        assert_eq!(
            like(&v("a"), &v("%"), Some(&v("ab")))
                .expect_err("escape")
                .name,
            "InvalidEscape"
        );
    }

    /// The SIMILAR TO table of
    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-string-operators.html>
    /// (its `amyfred` rows lost their `|` in print; `'123aXYZ' SIMILAR TO ''` is printed TRUE
    /// against the page's own rule that the whole string must match: kept FALSE).
    #[test]
    fn similar_to_predicate() {
        let t = Value::Boolean(true);
        let f = Value::Boolean(false);
        for (s, p, want) in [
            ("a", "a", &t),
            ("a", "A", &f),
            ("a", "b", &f),
            ("ab", "a_", &t),
            ("ab", "a%", &t),
            ("a", "a_", &f),
            ("a", "a%", &t),
            ("abcd", "a_", &f),
            ("abcd", "a%", &t),
            ("", "", &t),
            ("1a", "_a", &t),
            ("123aXYZ", "", &f),
            ("123aXYZ", "_%_a%_", &t),
            ("xy", "(xy)", &t),
            ("abd", "[ab][bcde]d", &t),
            ("bdd", "[ab][bcde]d", &t),
            ("abd", "[ab]d", &f),
            ("cd", "[a-e]d", &t),
            ("amy", "amy|fred", &t),
            ("fred", "amy|fred", &t),
            ("mike", "amy|fred", &f),
            ("acd", "ab*c+d", &t),
            ("accccd", "ab*c+d", &t),
            ("abd", "ab*c+d", &f),
            ("aabc", "ab*c+d", &f),
            ("abb", "a(b{3})", &f),
            ("abbb", "a(b{3})", &t),
            ("abbbbb", "a(b{3})", &f),
            ("abbbbb", "ab{3,6}", &t),
            ("abbbbbbbb", "ab{3,6}", &f),
            ("", "ab?", &f),
            ("", "(ab)?", &t),
            ("a", "ab?", &t),
            ("a", "(ab)?", &f),
            ("a", "a(b?)", &t),
            ("ab", "ab?", &t),
            ("ab", "a(b?)", &t),
            ("abb", "ab?", &f),
        ] {
            assert_eq!(
                similar_to(&v(s), &v(p), None),
                Ok(want.clone()),
                "{s} SIMILAR TO {p}"
            );
        }
        // Regex characters that SIMILAR TO does not give a meaning stay literal; the escape
        // makes a special one literal; [seq^seq] excludes.
        assert_eq!(similar_to(&v("a.c"), &v("a.c"), None), Ok(t.clone()));
        assert_eq!(similar_to(&v("abc"), &v("a.c"), None), Ok(f.clone()));
        assert_eq!(
            similar_to(&v("a%"), &v("a#%"), Some(&v("#"))),
            Ok(t.clone())
        );
        assert_eq!(
            similar_to(&v("13aq%24br"), &v("13aq!%24br"), Some(&v("!"))),
            Ok(t.clone())
        );
        assert_eq!(similar_to(&v("b"), &v("[a-z^aeiou]"), None), Ok(t.clone()));
        assert_eq!(similar_to(&v("e"), &v("[a-z^aeiou]"), None), Ok(f.clone()));
        assert_eq!(similar_to(&v("x"), &v("[^a-c]"), None), Ok(t.clone()));
        assert_eq!(similar_to(&Value::Null, &v("a"), None), Ok(Value::Null));
    }
}
