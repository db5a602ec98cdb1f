//! `regexp_replace`'s replacement strings: Java's syntax translated to the
//! `regex` crate's, and a `replace_all` that stops before its result grows
//! past a limit.
//!
//! `Regex::replace_all` cannot be bounded: one replacement such as
//! `$0$0$0...` expands every match many times over, so a 128 KiB message
//! could build a string of gigabytes before its length could be checked.
//! [`Expansion`] is the replacement parsed once, so the size of each
//! expansion is known before it is written.

use regex::{Captures, Regex};

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

/// One piece of a parsed replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    /// A capture group by index; a group that did not take part in the
    /// match (or does not exist) expands to nothing.
    Group(usize),
}

/// A replacement in the `regex` crate's syntax, parsed against one regex.
/// Parsing follows `regex::Captures::expand` rule for rule (`$$`, `$name`,
/// `${name}`, numbers as indexes, unknown groups empty, a `$` that starts no
/// reference is literal), so the output is what `replace_all` would build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expansion {
    pieces: Vec<Piece>,
}

impl Expansion {
    pub(crate) fn parse(rust: &str, re: &Regex) -> Self {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = rust;
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            rest = &rest[i..];
            if rest[1..].starts_with('$') {
                lit.push('$');
                rest = &rest[2..];
                continue;
            }
            let Some((name, end)) = cap_ref(rest) else {
                lit.push('$');
                rest = &rest[1..];
                continue;
            };
            rest = &rest[end..];
            let index = match name.parse::<usize>() {
                Ok(i) => Some(i),
                Err(_) => re.capture_names().position(|n| n == Some(name)),
            };
            if let Some(i) = index {
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Group(i));
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Expansion { pieces }
    }

    /// The length in bytes of this replacement for one match.
    fn len(&self, caps: &Captures<'_>) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(s) => s.len(),
                Piece::Group(i) => caps.get(*i).map_or(0, |m| m.len()),
            })
            .fold(0, usize::saturating_add)
    }

    fn write(&self, caps: &Captures<'_>, out: &mut String) {
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Group(i) => {
                    if let Some(m) = caps.get(*i) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
    }
}

/// The result would be longer than the limit; nothing more was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// `re.replace_all(text, replacement)`, refusing before the result would
/// exceed `max` bytes.
pub(crate) fn replace_all_bounded(
    re: &Regex,
    text: &str,
    replacement: &Expansion,
    max: usize,
) -> Result<String, TooLarge> {
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        let gap = &text[last..m.start()];
        let grown = out
            .len()
            .saturating_add(gap.len())
            .saturating_add(replacement.len(&caps));
        if grown > max {
            return Err(TooLarge);
        }
        out.push_str(gap);
        replacement.write(&caps, &mut out);
        last = m.end();
    }
    let tail = &text[last..];
    if out.len().saturating_add(tail.len()) > max {
        return Err(TooLarge);
    }
    out.push_str(tail);
    Ok(out)
}

/// A capture reference at the start of `rep` (which starts with `$`): its
/// name and the byte length of the whole reference, as the regex crate's
/// interpolation reads it.
fn cap_ref(rep: &str) -> Option<(&str, usize)> {
    let body = rep.get(1..)?;
    if let Some(braced) = body.strip_prefix('{') {
        let close = braced.find('}')?;
        return Some((&braced[..close], close + 3));
    }
    let len = body
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    (len > 0).then(|| (&body[..len], len + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_translation() {
        assert_eq!(java_replacement("$1a", 2), "${1}a");
        assert_eq!(java_replacement("\\$x", 1), "$$x");
        assert_eq!(java_replacement("$12", 2), "${1}2");
        assert_eq!(java_replacement("$12", 13), "${12}");
    }

    /// The bounded replacement builds exactly what `Regex::replace_all`
    /// builds, including the corners of the replacement syntax.
    #[test]
    fn bounded_replace_agrees_with_replace_all() {
        let texts = ["", "abc", "a-b-c", "xyz", "ß∂ƒ-abc-ab", "aaaa"];
        let patterns = ["", "b", "(a)(b)?", "(?P<x>a)|(?P<y>c)", "-", "a*", "(.)"];
        let replacements = [
            "",
            "<$1>",
            "${1}x",
            "$0$0",
            "$$",
            "$",
            "${x}-${y}",
            "$x$y",
            "${nope}",
            "$99",
            "${",
            "${a$1",
            "a$",
            "$-",
            "${+1}",
            "${}",
            "\\$1",
        ];
        for p in patterns {
            let re = Regex::new(p).expect("test pattern");
            for java in replacements {
                let rust = java_replacement(java, re.captures_len());
                let exp = Expansion::parse(&rust, &re);
                for t in texts {
                    let want = re.replace_all(t, rust.as_str()).into_owned();
                    let got = replace_all_bounded(&re, t, &exp, usize::MAX);
                    assert_eq!(
                        got,
                        Ok(want),
                        "pattern {p:?}, replacement {java:?}, text {t:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn bounded_replace_stops_at_the_limit() {
        let re = Regex::new("a").expect("test pattern");
        let exp = Expansion::parse("$0$0$0", &re);
        assert_eq!(
            replace_all_bounded(&re, "aaaa", &exp, 12),
            Ok("aaaaaaaaaaaa".into())
        );
        assert_eq!(replace_all_bounded(&re, "aaaa", &exp, 11), Err(TooLarge));
        // The unmatched tail counts too.
        assert_eq!(replace_all_bounded(&re, "abbb", &exp, 5), Err(TooLarge));
        assert_eq!(
            replace_all_bounded(&re, "abbb", &exp, 6),
            Ok("aaabbb".into())
        );
    }
}
