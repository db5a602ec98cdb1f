//! The one tokenizer of Java date patterns in Weir: IoT SQL's `parse_time`/`time_to_epoch`
//! (Joda-Time patterns, as AWS IoT uses) and Firehose's `!{timestamp:...}` prefixes
//! (`java.time.format.DateTimeFormatter` patterns) both read their patterns here.
//!
//! Both syntaxes share the lexical rules: a run of one ASCII letter is a field (`MMM` is the
//! letter `M` three times), `'...'` quotes literal text with `''` for a quote (inside quotes or
//! out), and any other character is literal text. They differ in one place, [`DateSyntax`]:
//! `DateTimeFormatter` reserves `[ ] { } #` (optional sections and future use), Joda takes them
//! as text. Which letters, at which widths, a caller can render differs with what it renders
//! (IoT SQL has zones, Firehose prefixes are UTC), so the caller says which fields it supports
//! and the tokenizer refuses the others: a typo in a rule or a prefix fails when it is
//! configured, not when the first message arrives.

/// One piece of a date pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateToken {
    /// Text copied as is: quoted text and non-letters, adjacent pieces merged.
    Literal(String),
    /// A pattern letter and how many times it repeats (`MMM` is `('M', 3)`).
    Field(char, usize),
}

/// Which Java formatter's syntax a pattern follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSyntax {
    /// Joda-Time's `DateTimeFormat` (AWS IoT SQL): every non-letter is text.
    Joda,
    /// `java.time`'s `DateTimeFormatter` (Firehose prefixes): `[ ] { } #` are reserved.
    DateTimeFormatter,
}

/// Why a date pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatePatternError {
    #[error("unterminated quote")]
    UnterminatedQuote,
    #[error("reserved character `{0}`")]
    Reserved(char),
    #[error("field `{}` is not supported", std::iter::repeat_n(*.letter, *.count).collect::<String>())]
    UnsupportedField { letter: char, count: usize },
}

/// Splits `pattern` into literal text and fields, refusing a field for which
/// `supported(letter, count)` is false.
pub fn tokenize(
    pattern: &str,
    syntax: DateSyntax,
    supported: impl Fn(char, usize) -> bool,
) -> Result<Vec<DateToken>, DatePatternError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let (text, next) = quoted(&chars, i)?;
            push_literal(&mut out, &text);
            i = next;
        } else if c.is_ascii_alphabetic() {
            let count = chars[i..].iter().take_while(|&&x| x == c).count();
            if !supported(c, count) {
                return Err(DatePatternError::UnsupportedField { letter: c, count });
            }
            out.push(DateToken::Field(c, count));
            i += count;
        } else if syntax == DateSyntax::DateTimeFormatter && "[]{}#".contains(c) {
            return Err(DatePatternError::Reserved(c));
        } else {
            push_literal(&mut out, c.encode_utf8(&mut [0; 4]));
            i += 1;
        }
    }
    Ok(out)
}

/// The text of the quoted literal opening at `chars[start]` and the index just past it. `''`
/// is a quote, both as the whole literal and inside one.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), DatePatternError> {
    if chars.get(start + 1) == Some(&'\'') {
        return Ok(("'".into(), start + 2));
    }
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err(DatePatternError::UnterminatedQuote),
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                text.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((text, i + 1)),
            Some(&ch) => {
                text.push(ch);
                i += 1;
            }
        }
    }
}

fn push_literal(out: &mut Vec<DateToken>, text: &str) {
    match out.last_mut() {
        Some(DateToken::Literal(l)) => l.push_str(text),
        _ => out.push(DateToken::Literal(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DateToken::{Field, Literal};

    fn any(_: char, _: usize) -> bool {
        true
    }

    fn lit(s: &str) -> DateToken {
        Literal(s.into())
    }

    #[test]
    fn fields_quotes_and_text() {
        assert_eq!(
            tokenize("yyyy-MM-dd'T'HH:mm:ss.SSSZ", DateSyntax::Joda, any),
            Ok(vec![
                Field('y', 4),
                lit("-"),
                Field('M', 2),
                lit("-"),
                Field('d', 2),
                lit("T"),
                Field('H', 2),
                lit(":"),
                Field('m', 2),
                lit(":"),
                Field('s', 2),
                lit("."),
                Field('S', 3),
                Field('Z', 1),
            ])
        );
        // `''` is a quote alone or inside quotes; adjacent text is one literal.
        assert_eq!(
            tokenize(
                "'year='yyyy'' 'o''clock'",
                DateSyntax::DateTimeFormatter,
                any
            ),
            Ok(vec![lit("year="), Field('y', 4), lit("' o'clock")])
        );
        assert_eq!(tokenize("", DateSyntax::Joda, any), Ok(vec![]));
        assert_eq!(tokenize("é日", DateSyntax::Joda, any), Ok(vec![lit("é日")]));
    }

    #[test]
    fn refusals_name_their_reason() {
        for syntax in [DateSyntax::Joda, DateSyntax::DateTimeFormatter] {
            assert_eq!(
                tokenize("yyyy'open", syntax, any),
                Err(DatePatternError::UnterminatedQuote)
            );
            assert_eq!(
                tokenize("'a''", syntax, any),
                Err(DatePatternError::UnterminatedQuote)
            );
        }
        let e = tokenize("yyyy-hhh", DateSyntax::Joda, |c, n| c != 'h' || n <= 2);
        assert_eq!(
            e,
            Err(DatePatternError::UnsupportedField {
                letter: 'h',
                count: 3
            })
        );
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err("field `hhh` is not supported".into())
        );
        // Reserved in java.time only; quoted, it is text in both.
        assert_eq!(
            tokenize("yyyy[MM]", DateSyntax::DateTimeFormatter, any),
            Err(DatePatternError::Reserved('['))
        );
        assert_eq!(
            tokenize("yyyy[MM]", DateSyntax::Joda, any),
            Ok(vec![Field('y', 4), lit("["), Field('M', 2), lit("]")])
        );
        assert_eq!(
            tokenize("'#'", DateSyntax::DateTimeFormatter, any),
            Ok(vec![lit("#")])
        );
    }
}
