//! The AWS IoT SQL dialect for `sqlparser`, and the small rewrite that lets
//! sqlparser read the AWS forms it has no syntax for.
//!
//! * `SELECT VALUE expr`: the `VALUE` word is blanked out and the position of
//!   its `SELECT` remembered, so the compiler knows which SELECT had it.
//! * `FROM 'topic/filter'`: a single-quoted string where SQL wants a table
//!   name; the string is replaced by a backquoted identifier of the same
//!   length and the real filter is remembered by position.
//! * `SELECT * AS alias` (and `SELECT x, * AS alias`): the whole payload as
//!   the value of one key, as the Developer Guide's DynamoDBv2 example writes
//!   it (`SELECT * AS message FROM 'some/topic'`,
//!   <https://docs.aws.amazon.com/iot/latest/developerguide/dynamodb-v2-rule-action.html>).
//!   sqlparser takes no alias on `*`, so a select-list `*` followed by `AS`
//!   becomes the identifier `_` and its position is remembered; the compiler
//!   reads the identifier at that position as the payload.
//!
//! Strings take single or double quotes: AWS IoT SQL has no quoted field
//! names (its pages write `"myValue"` and `get(mydata, "item2")`, and a field
//! whose name has a hyphen or a digit is read with `get`).
//!
//! The rewrites keep every character at its line and column, so sqlparser's
//! positions are the user's positions. Object literals `{'k': v}` and array
//! literals `[a, b]` need no rewrite: the dialect turns on sqlparser's
//! dictionary syntax, and bracketed arrays are always parsed.

use sqlparser::dialect::Dialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use super::diagnostic::Diagnostic;

/// sqlparser dialect for AWS IoT SQL (version 2016-03-23).
#[derive(Debug, Default, Clone, Copy)]
pub struct IotSqlDialect;

impl Dialect for IotSqlDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_'
    }

    /// Only the backquote, which AWS IoT SQL does not use: the FROM rewrite
    /// below needs a delimited identifier, and `"..."` is a string.
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`'
    }

    /// `{'key': value}` object literals.
    fn supports_dictionary_syntax(&self) -> bool {
        true
    }

    /// AWS's `x IN arr`, where the right side is any array expression.
    fn supports_in_unparenthesized_expr(&self) -> bool {
        true
    }
}

/// A topic filter taken out of a `FROM '...'` clause.
#[derive(Debug, Clone)]
pub(crate) struct FromTopic {
    pub(crate) at: Location,
    pub(crate) filter: String,
}

/// SQL text rewritten for sqlparser, plus what the rewrite removed.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) text: String,
    /// Start positions of the SELECT keywords that were followed by VALUE.
    pub(crate) value_selects: Vec<Location>,
    pub(crate) from_topics: Vec<FromTopic>,
    /// Start positions of the select-list `*`s that had an alias (`* AS name`),
    /// each now the identifier `_`.
    pub(crate) aliased_stars: Vec<Location>,
}

/// Tokenizes with sqlparser and applies the two position-preserving rewrites.
pub(crate) fn prepare(sql: &str) -> Result<Prepared, Diagnostic> {
    let tokens = Tokenizer::new(&IotSqlDialect, sql)
        .tokenize_with_location()
        .map_err(|e| {
            let msg = e.message.clone();
            Diagnostic::new(msg, e.location.line, e.location.column)
        })?;
    let significant: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut chars: Vec<char> = sql.chars().collect();
    let line_starts = line_starts(&chars);
    let mut value_selects = Vec::new();
    let mut from_topics = Vec::new();
    let mut aliased_stars = Vec::new();
    for (i, t) in significant.iter().enumerate() {
        if t.token != Token::Mul || i == 0 {
            continue;
        }
        let after_as = matches!(
            significant.get(i + 1).map(|n| &n.token),
            Some(Token::Word(w)) if w.keyword == Keyword::AS
        );
        // `*` opens a select item after SELECT (or DISTINCT) or a comma; after
        // anything else it is a multiplication or a function's argument.
        let opens_item = match &significant[i - 1].token {
            Token::Comma => true,
            Token::Word(w) => matches!(w.keyword, Keyword::SELECT | Keyword::DISTINCT),
            _ => false,
        };
        if after_as && opens_item {
            aliased_stars.push(t.span.start);
            replace(&mut chars, &line_starts, t, |_, _| '_');
        }
    }
    for (i, pair) in significant.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        let Token::Word(w) = &a.token else { continue };
        match (w.keyword, &b.token) {
            (Keyword::SELECT, Token::Word(v))
                if v.quote_style.is_none()
                    && v.value.eq_ignore_ascii_case("value")
                    && !names_a_field(significant.get(i + 2).map(|t| &t.token)) =>
            {
                value_selects.push(a.span.start);
                replace(&mut chars, &line_starts, b, |_, _| ' ');
            }
            (Keyword::FROM, Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)) => {
                from_topics.push(FromTopic {
                    at: b.span.start,
                    filter: s.clone(),
                });
                replace(&mut chars, &line_starts, b, |i, last| {
                    if i == 0 || i == last {
                        '`'
                    } else {
                        'x'
                    }
                });
            }
            _ => {}
        }
    }
    Ok(Prepared {
        text: chars.into_iter().collect(),
        value_selects,
        from_topics,
        aliased_stars,
    })
}

/// After `SELECT value`, these tokens mean `value` is a field name
/// (`SELECT value FROM ...`, `SELECT value, x ...`, `SELECT value.x ...`),
/// not the VALUE keyword.
fn names_a_field(next: Option<&Token>) -> bool {
    match next {
        None | Some(Token::EOF | Token::Comma | Token::Period | Token::LBracket) => true,
        Some(Token::Word(w)) => matches!(w.keyword, Keyword::FROM | Keyword::AS),
        Some(_) => false,
    }
}

fn line_starts(chars: &[char]) -> Vec<usize> {
    let mut starts = vec![0];
    for (i, c) in chars.iter().enumerate() {
        if *c == '\n' {
            starts.push(i + 1);
        }
    }
    starts
}

fn char_index(line_starts: &[usize], loc: Location) -> Option<usize> {
    let line = usize::try_from(loc.line).ok()?.checked_sub(1)?;
    let col = usize::try_from(loc.column).ok()?.checked_sub(1)?;
    Some(line_starts.get(line)? + col)
}

/// Rewrites the characters of one token in place; newlines stay so that
/// positions after the token do not move. `f(i, last)` gives the new char
/// for the i-th char of the token.
fn replace(
    chars: &mut [char],
    line_starts: &[usize],
    tok: &TokenWithSpan,
    f: impl Fn(usize, usize) -> char,
) {
    let (Some(start), Some(end)) = (
        char_index(line_starts, tok.span.start),
        char_index(line_starts, tok.span.end),
    ) else {
        return;
    };
    let end = end.min(chars.len());
    if start >= end {
        return;
    }
    let last = end - start - 1;
    for (i, c) in chars[start..end].iter_mut().enumerate() {
        if *c != '\n' && *c != '\r' {
            *c = f(i, last);
        }
    }
}
