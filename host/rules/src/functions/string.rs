//! String functions. Non-string arguments go through AWS's standard
//! conversion to String (numbers and booleans print, arrays and objects
//! serialise as JSON, Null does not convert and gives Undefined). Indexes
//! count characters (Unicode scalar values).
//!
//! Functions whose result can be larger than their input (`concat`, `lpad`,
//! `rpad`, `replace`, `regexp_replace`) work out the result's size before
//! building it and refuse one over [`MAX_STRING_BYTES`].

use std::borrow::Cow;

use super::pattern;
use super::replacement::{java_replacement, replace_all_bounded, Expansion};
use super::Func;
use crate::eval::EvalError;
use crate::value::{to_int_arg, to_string_conv, Kind, Val};

/// The longest string a function may build, in bytes.
///
/// `replace(s, '', t)` puts `t` between every two characters of `s`, and
/// `regexp_replace` can expand each match many times over, so without a cap
/// one message makes the result |s| x |t| bytes: gigabytes from a 128 KiB
/// payload. 1 MiB is the largest payload Weir's broker accepts
/// (`max_payload_size` in host/src/runtime/ingress.rs) and the largest
/// Kinesis record, so no result above it could be delivered as one record
/// anyway, and it is 8 times AWS IoT's 128 KiB message limit, room for any
/// honest rewrite of an AWS-sized message.
pub(crate) const MAX_STRING_BYTES: usize = 1 << 20;

/// Most spaces `lpad` and `rpad` add: AWS documents the count as an
/// integer from 0 to 1000 (larger counts are clamped).
const MAX_PAD: i64 = 1000;

fn s<'v>(v: &'v Val<'_>) -> Option<Cow<'v, str>> {
    to_string_conv(v.kind())
}

fn int(v: &Val<'_>) -> Option<i64> {
    to_int_arg(v.kind())
}

/// Java's `String.trim()` notion of whitespace: every char up to U+0020.
fn is_java_ws(c: char) -> bool {
    c <= ' '
}

/// Refuses a result of `len` bytes (`None`: the size overflowed `usize`)
/// when it is over [`MAX_STRING_BYTES`].
fn check_size(function: &'static str, len: Option<usize>) -> Result<(), EvalError> {
    match len {
        Some(n) if n <= MAX_STRING_BYTES => Ok(()),
        _ => Err(too_large(function)),
    }
}

fn too_large(function: &'static str) -> EvalError {
    EvalError::StringTooLarge {
        function,
        limit: MAX_STRING_BYTES,
    }
}

/// Evaluates a string function; `Err` only for a result over the size cap.
pub(super) fn call<'a>(f: Func, v: &[Val<'a>]) -> Result<Val<'a>, EvalError> {
    let out = match f {
        Func::Concat => concat(v)?,
        Func::Lpad | Func::Rpad => pad(f, v)?,
        Func::Replace => replace(v)?,
        _ => out(f, v),
    };
    Ok(out.unwrap_or(Val::Undefined))
}

fn out<'a>(f: Func, v: &[Val<'a>]) -> Option<Val<'a>> {
    let a0 = v.first();
    Some(match f {
        Func::Lower => Val::str(s(a0?)?.to_lowercase()),
        Func::Upper => Val::str(s(a0?)?.to_uppercase()),
        Func::Length => Val::int(i64::try_from(s(a0?)?.chars().count()).ok()?),
        Func::NumBytes => Val::int(i64::try_from(s(a0?)?.len()).ok()?),
        Func::Trim => Val::str(s(a0?)?.trim_matches(is_java_ws).to_string()),
        Func::Ltrim => Val::str(s(a0?)?.trim_start_matches(is_java_ws).to_string()),
        Func::Rtrim => Val::str(s(a0?)?.trim_end_matches(is_java_ws).to_string()),
        Func::Substring => {
            let text = s(a0?)?;
            let len = text.chars().count() as i64;
            let start = int(v.get(1)?)?.clamp(0, len);
            let end = match v.get(2) {
                Some(e) => int(e)?.clamp(0, len),
                None => len,
            };
            if end <= start {
                return Some(Val::str(String::new()));
            }
            let taken: String = text
                .chars()
                .skip(start as usize)
                .take((end - start) as usize)
                .collect();
            Val::str(taken)
        }
        Func::StartsWith => Val::bool(s(a0?)?.starts_with(&*s(v.get(1)?)?)),
        Func::EndsWith => Val::bool(s(a0?)?.ends_with(&*s(v.get(1)?)?)),
        Func::IndexOf => {
            let text = s(a0?)?;
            let needle = s(v.get(1)?)?;
            match text.find(&*needle) {
                Some(byte) => Val::int(i64::try_from(text[..byte].chars().count()).ok()?),
                None => Val::int(-1),
            }
        }
        Func::Chr => {
            let code = u32::try_from(int(a0?)?).ok()?;
            Val::str(char::from_u32(code)?.to_string())
        }
        _ => return None,
    })
}

/// `concat`: no arguments is Undefined, one is returned unchanged; with any
/// array the arrays are flattened into one array (other arguments become
/// elements); otherwise, if any argument is a string, the string forms are
/// joined. Other mixes (e.g. only numbers) are Undefined.
fn concat<'a>(v: &[Val<'a>]) -> Result<Option<Val<'a>>, EvalError> {
    match v.len() {
        0 => return Ok(None),
        1 => return Ok(v.first().cloned()),
        _ => {}
    }
    if v.iter().any(|x| matches!(x.kind(), Kind::Arr(_))) {
        let mut out = Vec::new();
        for x in v {
            match x.as_value() {
                Some(serde_json::Value::Array(a)) => out.extend(a.iter().cloned()),
                Some(other) => out.push(other.clone()),
                None => return Ok(None),
            }
        }
        return Ok(Some(Val::Own(serde_json::Value::Array(out))));
    }
    if v.iter().any(|x| matches!(x.kind(), Kind::Str(_))) {
        let Some(parts) = v.iter().map(s).collect::<Option<Vec<_>>>() else {
            return Ok(None);
        };
        let len = parts.iter().try_fold(0usize, |n, p| n.checked_add(p.len()));
        check_size("concat", len)?;
        return Ok(Some(Val::str(parts.concat())));
    }
    Ok(None)
}

/// `lpad(s, n)` / `rpad(s, n)`: `s` with `n` spaces (0 to 1000) before or
/// after it.
fn pad<'a>(f: Func, v: &[Val<'a>]) -> Result<Option<Val<'a>>, EvalError> {
    let (Some(text), Some(n)) = (v.first().and_then(s), v.get(1).and_then(int)) else {
        return Ok(None);
    };
    let n = usize::try_from(n.clamp(0, MAX_PAD)).unwrap_or(0);
    let (name, left) = if f == Func::Lpad {
        ("lpad", true)
    } else {
        ("rpad", false)
    };
    check_size(name, text.len().checked_add(n))?;
    let mut out = String::with_capacity(text.len() + n);
    if left {
        out.extend(std::iter::repeat_n(' ', n));
    }
    out.push_str(&text);
    if !left {
        out.extend(std::iter::repeat_n(' ', n));
    }
    Ok(Some(Val::str(out)))
}

/// `replace(s, from, to)`: every occurrence of `from` replaced, as Java's
/// `String.replace`; an empty `from` matches before every character and at
/// the end (`replace('ab', '', '-')` is `-a-b-`). The occurrences are
/// counted first, so an oversized result is refused without being built.
fn replace<'a>(v: &[Val<'a>]) -> Result<Option<Val<'a>>, EvalError> {
    let (Some(text), Some(from), Some(to)) = (
        v.first().and_then(s),
        v.get(1).and_then(s),
        v.get(2).and_then(s),
    ) else {
        return Ok(None);
    };
    let count = text.matches(&*from).count();
    let len = count
        .checked_mul(from.len())
        .and_then(|removed| text.len().checked_sub(removed))
        .zip(count.checked_mul(to.len()))
        .and_then(|(kept, added)| kept.checked_add(added));
    check_size("replace", len)?;
    Ok(Some(Val::str(text.replace(&*from, &to))))
}

/// The regex functions. Patterns use Rust's `regex` syntax, which matches
/// Java's for everything except look-around and back-references; a literal
/// pattern Rust cannot compile is a compile-time error, a computed one is
/// Undefined. A computed pattern over the limits of [`pattern`] is an
/// error, and so is a `regexp_replace` result over [`MAX_STRING_BYTES`].
pub(super) fn regex_call<'a>(
    f: Func,
    pre: Option<&regex::Regex>,
    v: &[Val<'a>],
) -> Result<Val<'a>, EvalError> {
    Ok(regex_out(f, pre, v)?.unwrap_or(Val::Undefined))
}

fn regex_out<'a>(
    f: Func,
    pre: Option<&regex::Regex>,
    v: &[Val<'a>],
) -> Result<Option<Val<'a>>, EvalError> {
    let name = match f {
        Func::RegexpMatches => "regexp_matches",
        Func::RegexpReplace => "regexp_replace",
        Func::RegexpSubstr => "regexp_substr",
        _ => return Ok(None),
    };
    let Some(text) = v.first().and_then(s) else {
        return Ok(None);
    };
    let compiled;
    let re = match pre {
        Some(r) => r,
        None => {
            let Some(pat) = v.get(1).and_then(s) else {
                return Ok(None);
            };
            compiled = match pattern::dynamic(&pat) {
                Ok(re) => re,
                Err(e) => return e.to_eval(name).map_or(Ok(None), Err),
            };
            &*compiled
        }
    };
    Ok(Some(match f {
        Func::RegexpMatches => Val::bool(re.is_match(&text)),
        Func::RegexpSubstr => Val::str(
            re.find(&text)
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        ),
        _ => {
            let Some(java) = v.get(2).and_then(s) else {
                return Ok(None);
            };
            let repl = Expansion::parse(&java_replacement(&java, re.captures_len()), re);
            match replace_all_bounded(re, &text, &repl, MAX_STRING_BYTES) {
                Ok(out) => Val::str(out),
                Err(_) => return Err(too_large(name)),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::pattern::{dynamic_len, CACHE_CAPACITY, MAX_PATTERN_BYTES};
    use super::MAX_STRING_BYTES;
    use crate::{EvalError, Message, Rule};

    /// Evaluates `select` (the part after SELECT) over `payload`.
    fn eval(select: &str, payload: &Value) -> Result<Option<Value>, EvalError> {
        let rule = Rule::compile(&format!("SELECT {select} FROM 't'")).expect("compiles");
        let msg = Message::new("t", serde_json::to_vec(payload).expect("payload"));
        rule.evaluate_json(&msg.context())
    }

    fn error(select: &str, payload: &Value) -> String {
        match eval(select, payload) {
            Err(e) => e.to_string(),
            Ok(v) => panic!("{select}: expected an error, got {v:?}"),
        }
    }

    #[test]
    fn replace_keeps_aws_results() {
        let got = eval(
            "replace('abcd', 'bc', 'x') AS a, replace('ab', '', '-') AS b, \
             replace('', '', '-') AS c, replace(s, 'a', 'bb') AS d",
            &json!({"s": "a".repeat(128 * 1024)}),
        )
        .expect("evaluates")
        .expect("fires");
        assert_eq!(got["a"], "axd");
        assert_eq!(got["b"], "-a-b-");
        assert_eq!(got["c"], "-");
        assert_eq!(got["d"].as_str().map(str::len), Some(256 * 1024));
    }

    #[test]
    fn replace_refuses_a_result_over_the_cap() {
        // 128 KiB of text with 8 bytes put around every character: 1.1 MiB.
        let payload = json!({"s": "a".repeat(128 * 1024)});
        assert_eq!(
            error("replace(s, '', '12345678') AS r", &payload),
            "function replace: result would be larger than the limit of 1048576 bytes"
        );
        // Exactly at the cap is allowed: 8 Ki occurrences grown to 128 bytes each.
        let at_cap = json!({"s": "a".repeat(8 * 1024)});
        let got = eval(
            &format!("replace(s, 'a', '{}') AS r", "b".repeat(128)),
            &at_cap,
        )
        .expect("evaluates")
        .expect("fires");
        assert_eq!(got["r"].as_str().map(str::len), Some(MAX_STRING_BYTES));
    }

    #[test]
    fn regexp_replace_refuses_a_result_over_the_cap() {
        // Each match expands nine times: 9 x 128 KiB.
        let payload = json!({"s": "a".repeat(128 * 1024), "p": "a", "r": "$0".repeat(9)});
        let want =
            "function regexp_replace: result would be larger than the limit of 1048576 bytes";
        assert_eq!(error("regexp_replace(s, 'a', r) AS x", &payload), want);
        assert_eq!(error("regexp_replace(s, p, r) AS x", &payload), want);
        // Eight times is exactly 1 MiB.
        let got = eval(
            &format!("regexp_replace(s, 'a', '{}') AS x", "$0".repeat(8)),
            &payload,
        )
        .expect("evaluates")
        .expect("fires");
        assert_eq!(got["x"].as_str().map(str::len), Some(MAX_STRING_BYTES));
    }

    #[test]
    fn concat_and_pad_refuse_a_result_over_the_cap() {
        let half =
            json!({"s": "a".repeat(MAX_STRING_BYTES / 2), "t": "a".repeat(MAX_STRING_BYTES - 1)});
        assert!(eval("concat(s, s) AS r", &half).is_ok());
        assert_eq!(
            error("concat(s, s, 'x') AS r", &half),
            "function concat: result would be larger than the limit of 1048576 bytes"
        );
        assert!(eval("lpad(t, 1) AS r", &half).is_ok());
        assert_eq!(
            error("lpad(t, 2) AS r", &half),
            "function lpad: result would be larger than the limit of 1048576 bytes"
        );
        assert_eq!(
            error("rpad(t, 2) AS r", &half),
            "function rpad: result would be larger than the limit of 1048576 bytes"
        );
    }

    #[test]
    fn payload_pattern_over_the_limits_is_an_error() {
        let big = json!({"s": "aaa", "p": "a{1000}{1000}"});
        assert_eq!(
            error("regexp_matches(s, p) AS r", &big),
            "function regexp_matches: pattern compiles to more than the limit of 1048576 bytes"
        );
        let long = json!({"s": "aaa", "p": "a".repeat(MAX_PATTERN_BYTES + 1)});
        assert_eq!(
            error("regexp_substr(s, p) AS r", &long),
            "function regexp_substr: pattern is 4097 bytes long, more than the limit of 4096 bytes"
        );
        // An invalid pattern stays bad data: Undefined, no error.
        let bad = json!({"s": "aaa", "p": "("});
        assert_eq!(eval("regexp_matches(s, p) AS r", &bad), Ok(Some(json!({}))));
    }

    #[test]
    fn literal_pattern_over_the_limits_is_a_compile_diagnostic() {
        let diags = |pattern: &str| -> Vec<String> {
            match Rule::compile(&format!(
                "SELECT regexp_matches(s, '{pattern}') AS r FROM 't'"
            )) {
                Err(d) => d.iter().map(|d| d.message.clone()).collect(),
                Ok(_) => panic!("{pattern}: compiled"),
            }
        };
        assert_eq!(
            diags("a{1000}{1000}"),
            ["regexp_matches: regular expression 'a{1000}{1000}' compiles to more than the limit \
              of 1048576 bytes (large counts of Unicode classes such as \\w{1,32} are big; ASCII \
              classes such as [A-Za-z0-9_] are not)"]
        );
        assert_eq!(
            diags(&"a".repeat(5000)),
            ["regexp_matches: regular expression is 5000 bytes long, more than the limit of 4096 bytes"]
        );
    }

    #[test]
    fn payload_pattern_repeated_gives_the_same_result_and_the_cache_stays_bounded() {
        let rule =
            Rule::compile("SELECT regexp_replace(s, p, '<$1>') AS r FROM 't'").expect("compiles");
        let run = |p: &str| {
            let msg = Message::new(
                "t",
                serde_json::to_vec(&json!({"s": "abcabc", "p": p})).expect("payload"),
            );
            rule.evaluate_json(&msg.context())
        };
        let first = run("(b)");
        assert_eq!(first, Ok(Some(json!({"r": "a<b>ca<b>c"}))));
        for i in 0..(2 * CACHE_CAPACITY) {
            assert!(run(&format!("(b)|x{i}")).is_ok());
            assert!(dynamic_len() <= CACHE_CAPACITY);
            assert_eq!(run("(b)"), first);
        }
    }

    #[test]
    fn rule_stays_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Rule>();
    }
}
