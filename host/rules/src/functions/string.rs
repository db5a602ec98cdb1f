//! String functions. Non-string arguments go through AWS's standard
//! conversion to String (numbers and booleans print, arrays and objects
//! serialise as JSON, Null does not convert and gives Undefined). Indexes
//! count characters (Unicode scalar values).

use std::borrow::Cow;

use super::Func;
use crate::value::{to_int_arg, to_string_conv, Kind, Val};

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

pub(super) fn call<'a>(f: Func, v: &[Val<'a>]) -> Val<'a> {
    out(f, v).unwrap_or(Val::Undefined)
}

fn out<'a>(f: Func, v: &[Val<'a>]) -> Option<Val<'a>> {
    let a0 = v.first();
    Some(match f {
        Func::Concat => return concat(v),
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
        Func::Lpad | Func::Rpad => {
            let text = s(a0?)?;
            let n = int(v.get(1)?)?.clamp(0, 1000) as usize;
            let pad = " ".repeat(n);
            Val::str(if f == Func::Lpad {
                pad + &text
            } else {
                text.into_owned() + &pad
            })
        }
        Func::Replace => {
            let text = s(a0?)?;
            let from = s(v.get(1)?)?;
            let to = s(v.get(2)?)?;
            Val::str(text.replace(&*from, &to))
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
fn concat<'a>(v: &[Val<'a>]) -> Option<Val<'a>> {
    match v.len() {
        0 => return None,
        1 => return v.first().cloned(),
        _ => {}
    }
    if v.iter().any(|x| matches!(x.kind(), Kind::Arr(_))) {
        let mut out = Vec::new();
        for x in v {
            match x.as_value()? {
                serde_json::Value::Array(a) => out.extend(a.iter().cloned()),
                other => out.push(other.clone()),
            }
        }
        return Some(Val::Own(serde_json::Value::Array(out)));
    }
    if v.iter().any(|x| matches!(x.kind(), Kind::Str(_))) {
        let mut out = String::new();
        for x in v {
            out.push_str(&s(x)?);
        }
        return Some(Val::str(out));
    }
    None
}

/// The regex functions. Patterns use Rust's `regex` syntax, which matches
/// Java's for everything except look-around and back-references; a literal
/// pattern Rust cannot compile is a compile-time error, a computed one is
/// Undefined.
pub(super) fn regex_call<'a>(f: Func, pre: Option<&regex::Regex>, v: &[Val<'a>]) -> Val<'a> {
    regex_out(f, pre, v).unwrap_or(Val::Undefined)
}

fn regex_out<'a>(f: Func, pre: Option<&regex::Regex>, v: &[Val<'a>]) -> Option<Val<'a>> {
    let text = s(v.first()?)?;
    let compiled;
    let re = match pre {
        Some(r) => r,
        None => {
            let pat = s(v.get(1)?)?;
            compiled = regex::Regex::new(&pat).ok()?;
            &compiled
        }
    };
    Some(match f {
        Func::RegexpMatches => Val::bool(re.is_match(&text)),
        Func::RegexpSubstr => Val::str(
            re.find(&text)
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        ),
        Func::RegexpReplace => {
            let repl = java_replacement(&s(v.get(2)?)?, re.captures_len());
            Val::str(re.replace_all(&text, repl.as_str()).into_owned())
        }
        _ => return None,
    })
}

/// Translates a Java `Matcher.replaceAll` replacement (`$1`, `${name}`,
/// `\$` escapes) into the `regex` crate's syntax (`${1}`, `$$`).
pub(crate) fn java_replacement(java: &str, groups: usize) -> String {
    let mut out = String::with_capacity(java.len() + 4);
    let mut it = java.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some('$') => out.push_str("$$"),
                Some(x) => out.push(x),
                None => {}
            },
            '$' => match it.peek() {
                Some(d) if d.is_ascii_digit() => {
                    // Java reads further digits only while the group exists.
                    let mut n: usize = 0;
                    let mut first = true;
                    while let Some(d) = it.peek().and_then(|d| d.to_digit(10)) {
                        let next = n * 10 + d as usize;
                        if !first && next >= groups {
                            break;
                        }
                        n = next;
                        first = false;
                        it.next();
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('{') => {
                    out.push('$');
                    for x in it.by_ref() {
                        out.push(x);
                        if x == '}' {
                            break;
                        }
                    }
                }
                _ => out.push_str("$$"),
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::java_replacement;

    #[test]
    fn replacement_translation() {
        assert_eq!(java_replacement("$1a", 2), "${1}a");
        assert_eq!(java_replacement("\\$x", 1), "$$x");
        assert_eq!(java_replacement("$12", 2), "${1}2");
        assert_eq!(java_replacement("$12", 13), "${12}");
    }
}
