//! Java regular expressions (what the SQL Reference's REGEX_REPLACE, SUBSTRING ... FROM, and
//! REGEX_LOG_PARSE take) translated to the `regex` crate, with a small per-thread cache of
//! compiled patterns: patterns are nearly always literals in the application code, so each is
//! compiled once per thread and reused for every row.
//!
//! Translation (Java → `regex`):
//! - `\d \w \s` (and `\D \W \S`) are ASCII-only in Java; they become ASCII classes.
//! - `\p{Lower} \p{Upper} \p{Alpha} \p{Digit} \p{Alnum} \p{Punct} \p{Space} \p{XDigit}`
//!   (Java's POSIX classes) become ASCII classes.
//! - `\Q...\E` quoting becomes escaped literals.
//! - Possessive quantifiers (`*+ ++ ?+`) become greedy ones (same matches on the patterns a
//!   log parser uses; they only differ in backtracking cost).
//!
//! Limits: back-references (`\1`), look-around (`(?=`, `(?!`, `(?<=`, `(?<!`) and atomic
//! groups (`(?>`) have no equivalent in `regex` (which guarantees linear time) and are
//! reported as an `InvalidRegex` error.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use crate::error::SqlError;

/// At most this many compiled patterns are kept per thread and kind; past it that kind's
/// cache starts over (an application has a handful of literal patterns; a pattern computed
/// per row would otherwise grow the cache without bound).
const CACHE_CAPACITY: usize = 256;

/// What a cached pattern's key is: the source it was built from differs by kind (a LIKE
/// pattern and a Java regex with the same text are different regexes), so each kind has its
/// own map, looked up by the caller's text without building anything on a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegexKind {
    /// A `regex`-crate pattern as is.
    Raw = 0,
    /// A Java regex, found anywhere.
    Java,
    /// A Java regex that must match the whole input (`Matcher.matches()`).
    JavaWhole,
    /// A Java regex with lazy quantifiers, matching the whole input.
    JavaLazyWhole,
    /// A LIKE pattern (the key carries the escape).
    Like,
    /// A SIMILAR TO pattern (the key carries the escape).
    Similar,
    /// A W3C (Apache `LogFormat`) format.
    W3c,
}

const KINDS: usize = 7;

thread_local! {
    static CACHE: RefCell<[HashMap<String, Arc<Regex>>; KINDS]> =
        RefCell::new(std::array::from_fn(|_| HashMap::new()));
}

/// The compiled regex cached under (`kind`, `key`); on a miss `source` builds the
/// `regex`-crate pattern, which is compiled and kept.
pub fn cached(
    kind: RegexKind,
    key: &str,
    source: impl FnOnce() -> Result<String, SqlError>,
) -> Result<Arc<Regex>, SqlError> {
    let k = kind as usize;
    if let Some(r) = CACHE.with(|c| c.borrow()[k].get(key).cloned()) {
        return Ok(r);
    }
    let re = Regex::new(&source()?)
        .map_err(|e| SqlError::new("InvalidRegex", format!("invalid regular expression: {e}")))?;
    let re = Arc::new(re);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c[k].len() >= CACHE_CAPACITY {
            c[k].clear();
        }
        c[k].insert(key.to_string(), re.clone());
    });
    Ok(re)
}

/// A compiled regex for the `regex`-crate pattern `pattern`, from the cache when it was seen.
pub fn compiled(pattern: &str) -> Result<Arc<Regex>, SqlError> {
    cached(RegexKind::Raw, pattern, || Ok(pattern.to_string()))
}

/// A compiled regex for a Java pattern (translated first). `anchored` wraps it so it must
/// match the whole input, as Java's `Matcher.matches()` does.
pub fn java(pattern: &str, anchored: bool) -> Result<Arc<Regex>, SqlError> {
    java_with(pattern, anchored, false)
}

/// Like [`java`], with every greedy quantifier made lazy when `lazy` is set
/// (FAST_REGEX_LOG_PARSE's "lazy semantics": each group takes as little as it can).
pub fn java_with(pattern: &str, anchored: bool, lazy: bool) -> Result<Arc<Regex>, SqlError> {
    let kind = match (anchored, lazy) {
        (false, false) => RegexKind::Java,
        (true, false) => RegexKind::JavaWhole,
        (_, true) => RegexKind::JavaLazyWhole,
    };
    cached(kind, pattern, || {
        let t = translate(pattern, lazy)?;
        Ok(if anchored || lazy {
            format!("^(?:{t})$")
        } else {
            t
        })
    })
}

fn posix_class(name: &str) -> Option<&'static str> {
    Some(match name {
        "Lower" => "[a-z]",
        "Upper" => "[A-Z]",
        "ASCII" => "[\\x00-\\x7F]",
        "Alpha" => "[a-zA-Z]",
        "Digit" => "[0-9]",
        "Alnum" => "[a-zA-Z0-9]",
        "Punct" => "[!-/:-@\\[-`{-~]",
        "Graph" => "[!-~]",
        "Print" => "[ -~]",
        "Blank" => "[ \\t]",
        "Cntrl" => "[\\x00-\\x1F\\x7F]",
        "XDigit" => "[0-9a-fA-F]",
        "Space" => "[ \\t\\n\\x0B\\f\\r]",
        _ => return None,
    })
}

/// Translates a Java regex to the `regex` crate's syntax (see the module doc for what changes
/// and what is refused).
pub fn translate_java(p: &str) -> Result<String, SqlError> {
    translate(p, false)
}

fn translate(p: &str, lazy: bool) -> Result<String, SqlError> {
    let unsupported = |what: &str| {
        SqlError::new(
            "InvalidRegex",
            format!("{what} in regular expression {p:?} is not supported"),
        )
    };
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    // Groups open at this point: FAST_REGEX_LOG_PARSE's lazy semantics concern what a group
    // takes; the expressions between groups (`_+` in `(.*)_+(.*)`) keep matching greedily.
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        if in_class && c != '\\' {
            // Inside [...]: `]` closes (except first), everything else is copied.
            out.push(c);
            i += 1;
            if c == ']' {
                in_class = false;
            }
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            '\\' if i + 1 < chars.len() => {
                let n = chars[i + 1];
                i += 2;
                match n {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str("[ \\t\\n\\x0B\\f\\r]"),
                    'S' => out.push_str("[^ \\t\\n\\x0B\\f\\r]"),
                    'Q' => {
                        let mut lit = String::new();
                        while i < chars.len() {
                            if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                                i += 2;
                                break;
                            }
                            lit.push(chars[i]);
                            i += 1;
                        }
                        out.push_str(&regex::escape(&lit));
                    }
                    'p' | 'P' if chars.get(i) == Some(&'{') => {
                        let close = chars[i..].iter().position(|c| *c == '}').map(|k| i + k);
                        let Some(close) = close else {
                            return Err(unsupported("an unclosed \\p{"));
                        };
                        let name: String = chars[i + 1..close].iter().collect();
                        let name = name.strip_prefix("Is").unwrap_or(&name).to_string();
                        match posix_class(&name) {
                            Some(cls) if n == 'p' => out.push_str(cls),
                            Some(cls) => {
                                out.push_str("[^");
                                out.push_str(&cls[1..]);
                            }
                            None => {
                                out.push('\\');
                                out.push(n);
                                out.push('{');
                                out.push_str(&name);
                                out.push('}');
                            }
                        }
                        i = close + 1;
                    }
                    '1'..='9' => return Err(unsupported("a back-reference")),
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i + 2..chars.len().min(i + 4)].iter().collect();
                if rest.starts_with('=')
                    || rest.starts_with('!')
                    || rest.starts_with("<=")
                    || rest.starts_with("<!")
                {
                    return Err(unsupported("look-around"));
                }
                if rest.starts_with('>') {
                    return Err(unsupported("an atomic group"));
                }
                // `(?:`, `(?i)`, `(?<name>` (the crate takes Java's named-group form) pass.
                out.push_str("(?");
                depth += 1;
                i += 2;
            }
            '(' => {
                out.push('(');
                depth += 1;
                i += 1;
            }
            ')' => {
                out.push(')');
                depth = depth.saturating_sub(1);
                i += 1;
            }
            // The FAST_REGEX_LOG_PARSE page writes POSIX classes as `<Alpha>`.
            '<' if lazy => {
                let close = chars[i..].iter().position(|c| *c == '>').map(|k| i + k);
                let class = close.and_then(|close| {
                    let name: String = chars[i + 1..close].iter().collect();
                    posix_class(&name).map(|cls| (cls, close))
                });
                match class {
                    Some((cls, close)) => {
                        out.push_str(cls);
                        i = close + 1;
                    }
                    None => {
                        out.push('<');
                        i += 1;
                    }
                }
            }
            '*' | '+' | '?' | '}' => {
                out.push(c);
                i += 1;
                match chars.get(i) {
                    // Possessive quantifier: drop the `+` (same matches, other cost).
                    Some('+') => i += 1,
                    // Already lazy.
                    Some('?') => {
                        out.push('?');
                        i += 1;
                        continue;
                    }
                    _ => {}
                }
                if lazy && depth > 0 {
                    out.push('?');
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_classes_are_ascii() {
        let re = java(r"\d+", true).expect("compiles");
        assert!(re.is_match("123"));
        assert!(!re.is_match("١٢٣"), "Java's \\d is ASCII only");
        let re = java(r"\p{Alpha}+\Q.*\E", true).expect("compiles");
        assert!(re.is_match("abc.*"));
        assert!(!re.is_match("abcxx"));
    }

    #[test]
    fn classes_groups_and_lazy_quantifiers() {
        assert_eq!(translate_java(r"[\d.]+").expect("ok"), "[[0-9].]+");
        assert_eq!(translate_java(r"[]a]").expect("ok"), r"[\]a]");
        assert_eq!(
            translate(r"(?:a+)(b*)c?x{2}", true).expect("ok"),
            "(?:a+?)(b*?)c?x{2}"
        );
        assert_eq!(translate(r"a*?(b++)", true).expect("ok"), "a*?(b+?)");
        assert_eq!(
            translate(r"(.*)_+(<Alpha>.*)", true).expect("ok"),
            "(.*?)_+([a-zA-Z].*?)"
        );
        assert_eq!(translate(r"<Alpha>", false).expect("ok"), "<Alpha>");
        assert_eq!(translate(r"[*+?]", true).expect("ok"), "[*+?]");
        let re = java_with(r"(.*) (.*)", true, true).expect("compiles");
        let caps = re.captures("a b c").expect("matches");
        assert_eq!((&caps[1], &caps[2]), ("a", "b c"));
        let re = java(r"(?<word>\w+)", true).expect("named group");
        assert_eq!(&re.captures("abc").expect("matches")["word"], "abc");
    }

    #[test]
    fn unsupported_constructs_are_errors() {
        for p in [r"(a)\1", "a(?=b)", "(?>a)", "(?<!a)b"] {
            assert_eq!(java(p, false).expect_err(p).name, "InvalidRegex");
        }
        assert_eq!(java("(", false).expect_err("bad").name, "InvalidRegex");
    }

    #[test]
    fn cache_returns_the_same_compiled_pattern() {
        let a = compiled("x+y").expect("compiles");
        let b = compiled("x+y").expect("compiles");
        assert!(Arc::ptr_eq(&a, &b));
    }
}
