//! Application code to statements: `CREATE [OR REPLACE] STREAM`, `CREATE [OR REPLACE] PUMP
//! ... AS INSERT INTO ... SELECT STREAM ...`, separated by `;`, with comments.
//!
//! sqlparser reads the queries with [`KdaDialect`]. What no sqlparser grammar holds is taken
//! out of the token stream first and kept beside the statements, keyed by where it was
//! written: the `STREAM` of `SELECT STREAM` (else it would read as a column), `WINDOWED BY
//! STAGGER (...)` after a FROM, and `OVER (...)` after a stream name in FROM (a stream-to-stream
//! join's window).

pub mod dialect;

use std::collections::{HashMap, HashSet};

use sqlparser::ast::{Expr, Ident, Query, WindowSpec};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

pub use dialect::KdaDialect;

use crate::error::CompileError;
use crate::row::{stored_name, StreamColumn};
use crate::types::SqlType;

/// A place in the code: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl Pos {
    pub fn of(loc: Location) -> Pos {
        Pos {
            line: loc.line,
            column: loc.column,
        }
    }

    pub fn of_ident(ident: &Ident) -> Pos {
        Pos::of(ident.span.start)
    }

    /// A compile error at this place.
    pub fn error(self, message: impl Into<String>) -> CompileError {
        CompileError::new(message, self.line, self.column)
    }
}

/// One statement of the application.
#[derive(Debug, Clone)]
pub enum Statement {
    CreateStream(CreateStream),
    CreatePump(CreatePump),
}

#[derive(Debug, Clone)]
pub struct CreateStream {
    pub name: String,
    pub pos: Pos,
    pub columns: Vec<StreamColumn>,
    /// Per column: declared `NOT NULL`.
    pub not_null: Vec<bool>,
}

#[derive(Debug, Clone)]
pub struct CreatePump {
    pub name: String,
    pub pos: Pos,
    pub stopped: bool,
    pub target: String,
    pub target_pos: Pos,
    /// `INSERT INTO s (a, b)`: the named columns, with where each was written.
    pub columns: Option<Vec<(String, Pos)>>,
    pub query: Box<Query>,
}

/// `WINDOWED BY STAGGER (PARTITION BY ... RANGE INTERVAL ...)`.
#[derive(Debug, Clone)]
pub struct Stagger {
    pub partition_by: Vec<Expr>,
    pub range: Expr,
    pub pos: Pos,
}

/// The parsed application: statements and the dialect's clauses sqlparser does not hold.
#[derive(Debug, Clone, Default)]
pub struct Program {
    pub statements: Vec<Statement>,
    /// SELECTs written `SELECT STREAM`, by the place of their SELECT keyword.
    pub stream_selects: HashSet<Pos>,
    /// Stagger windows, by the place of their query's SELECT keyword.
    pub staggers: HashMap<Pos, Stagger>,
    /// Windows on streams in FROM (`"S" OVER (RANGE ...)`), by the place of the name's last
    /// token.
    pub table_windows: HashMap<Pos, WindowSpec>,
}

/// Parses application code.
pub fn parse_program(code: &str) -> Result<Program, CompileError> {
    let dialect = KdaDialect;
    let tokens = Tokenizer::new(&dialect, code)
        .tokenize_with_location()
        .map_err(|e| CompileError::new(e.message.clone(), e.location.line, e.location.column))?;
    let tokens: Vec<TokenWithSpan> = tokens
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut program = Program::default();
    let tokens = unicode_escapes(code, tokens)?;
    let tokens = nth_value_from(tokens);
    let tokens = strip_dialect_clauses(tokens, &mut program)?;
    for statement in split_statements(tokens) {
        // Where the statement ends: a statement cut short is reported there, not at sqlparser's
        // line 0 for its end of input.
        let end = statement.last().map(|t| t.span.end);
        let parsed = parse_statement(statement).map_err(|mut e| {
            if let (0, Some(end)) = (e.line, end) {
                e.line = end.line;
                e.column = end.column;
            }
            e
        })?;
        program.statements.push(parsed);
    }
    Ok(program)
}

/// `NTH_VALUE(x, n) FROM FIRST | FROM LAST`: the clause sqlparser would read as the
/// query's FROM is folded into the name (`NTH_VALUE_FROM_LAST` for LAST).
fn nth_value_from(mut tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut i = 0;
    while i < tokens.len() {
        let call = is_word(&tokens[i], "NTH_VALUE")
            && tokens.get(i + 1).map(|t| &t.token) == Some(&Token::LParen);
        if call {
            let mut depth = 0usize;
            let mut close = None;
            for (j, t) in tokens.iter().enumerate().skip(i + 1) {
                match t.token {
                    Token::LParen => depth += 1,
                    Token::RParen => {
                        depth -= 1;
                        if depth == 0 {
                            close = Some(j);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if let Some(j) = close {
                let from = tokens.get(j + 1).is_some_and(|t| is_word(t, "FROM"));
                let last = tokens.get(j + 2).is_some_and(|t| is_word(t, "LAST"));
                let first = tokens.get(j + 2).is_some_and(|t| is_word(t, "FIRST"));
                if from && (last || first) {
                    tokens.drain(j + 1..j + 3);
                    if last {
                        let span = tokens[i].span;
                        tokens[i] =
                            TokenWithSpan::new(Token::make_word("NTH_VALUE_FROM_LAST", None), span);
                    }
                }
            }
        }
        i += 1;
    }
    tokens
}

/// `U&'...' UESCAPE 'c'`: the literal re-read from the code with `c` as its escape
/// character (sqlparser reads U& literals with `\` only).
fn unicode_escapes(
    code: &str,
    tokens: Vec<TokenWithSpan>,
) -> Result<Vec<TokenWithSpan>, CompileError> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let escape = match (&t.token, tokens.get(i + 1), tokens.get(i + 2)) {
            (Token::UnicodeStringLiteral(_), Some(u), Some(c)) if is_word(u, "UESCAPE") => {
                match &c.token {
                    Token::SingleQuotedString(c) if c.chars().count() == 1 => c.chars().next(),
                    _ => return Err(Pos::of(c.span.start).error("UESCAPE takes one character")),
                }
            }
            _ => None,
        };
        match escape {
            Some(e) => {
                let pos = Pos::of(t.span.start);
                let body = unicode_body(code, t.span.start)
                    .ok_or_else(|| pos.error("bad Unicode literal"))?;
                let text = unescape_unicode(&body, e).ok_or_else(|| {
                    pos.error(format!(
                        "bad escape in Unicode literal (escape character {e:?})"
                    ))
                })?;
                out.push(TokenWithSpan::new(Token::SingleQuotedString(text), t.span));
                i += 3;
            }
            None => {
                out.push(t.clone());
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The body of the `U&'...'` literal starting at `start` (1-based line and character
/// column), its doubled quotes kept as written.
fn unicode_body(code: &str, start: Location) -> Option<String> {
    let first = usize::try_from(start.line).ok()?.checked_sub(1)?;
    let skip = usize::try_from(start.column).ok()?.checked_sub(1)? + 3;
    let rest = code.split('\n').skip(first).collect::<Vec<_>>().join("\n");
    let mut chars = rest.chars().skip(skip).peekable();
    let mut body = String::new();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.next_if_eq(&'\'').is_some() {
                body.push_str("''");
                continue;
            }
            return Some(body);
        }
        body.push(c);
    }
    None
}

/// A `U&` literal's body with escape character `e`: `ee` is `e`, `e` and 4 hex digits or
/// `e+` and 6 are a code point, `''` is `'`.
fn unescape_unicode(body: &str, e: char) -> Option<String> {
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            chars.next_if_eq(&'\'');
            out.push('\'');
        } else if c == e {
            if chars.next_if_eq(&e).is_some() {
                out.push(e);
                continue;
            }
            let digits = if chars.next_if_eq(&'+').is_some() {
                6
            } else {
                4
            };
            let hex: String = (0..digits).filter_map(|_| chars.next()).collect();
            out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn is_word(t: &TokenWithSpan, word: &str) -> bool {
    matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// Takes out `STREAM` after SELECT, `WINDOWED BY STAGGER (...)` and `OVER (...)` after a
/// stream name, recording each in `program`.
fn strip_dialect_clauses(
    tokens: Vec<TokenWithSpan>,
    program: &mut Program,
) -> Result<Vec<TokenWithSpan>, CompileError> {
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut selects: Vec<(usize, Pos)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth = depth.saturating_sub(1);
                selects.retain(|(d, _)| *d <= depth);
            }
            Token::SemiColon => selects.clear(),
            _ => {}
        }
        if is_word(t, "SELECT") {
            let pos = Pos::of(t.span.start);
            selects.retain(|(d, _)| *d < depth);
            selects.push((depth, pos));
            out.push(t.clone());
            if tokens.get(i + 1).is_some_and(|n| is_word(n, "STREAM")) {
                program.stream_selects.insert(pos);
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        if is_word(t, "WINDOWED")
            && tokens.get(i + 1).is_some_and(|n| is_word(n, "BY"))
            && tokens.get(i + 2).is_some_and(|n| is_word(n, "STAGGER"))
        {
            let pos = Pos::of(t.span.start);
            let (inner, next) = parenthesised(&tokens, i + 3, pos)?;
            let stagger = parse_stagger(inner, pos)?;
            let select = selects
                .last()
                .map(|(_, p)| *p)
                .ok_or_else(|| pos.error("WINDOWED BY STAGGER outside a SELECT"))?;
            program.staggers.insert(select, stagger);
            i = next;
            continue;
        }
        let after_name = out.last().is_some_and(|p| match &p.token {
            Token::Word(w) => w.quote_style.is_some() || w.keyword == Keyword::NoKeyword,
            _ => false,
        });
        if is_word(t, "OVER") && after_name {
            let pos = Pos::of(t.span.start);
            let (inner, next) = parenthesised(&tokens, i + 1, pos)?;
            let name_pos = out.last().map(|p| Pos::of(p.span.start)).unwrap_or(pos);
            let spec = with_parser(inner, |p| p.parse_window_spec())?;
            program.table_windows.insert(name_pos, spec);
            i = next;
            continue;
        }
        out.push(t.clone());
        i += 1;
    }
    Ok(out)
}

/// The tokens inside the parentheses opening at `start` (the closing one included, as
/// sqlparser's window-spec reader wants it), and the index after them.
fn parenthesised(
    tokens: &[TokenWithSpan],
    start: usize,
    pos: Pos,
) -> Result<(Vec<TokenWithSpan>, usize), CompileError> {
    if tokens.get(start).map(|t| &t.token) != Some(&Token::LParen) {
        return Err(pos.error("expected ( after the window keyword"));
    }
    let mut depth = 0usize;
    for (j, t) in tokens.iter().enumerate().skip(start) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Ok((tokens[start + 1..=j].to_vec(), j + 1));
                }
            }
            _ => {}
        }
    }
    Err(pos.error("unbalanced parentheses in window clause"))
}

fn parse_stagger(inner: Vec<TokenWithSpan>, pos: Pos) -> Result<Stagger, CompileError> {
    with_parser(inner, |p| {
        p.expect_keywords(&[Keyword::PARTITION, Keyword::BY])?;
        let partition_by = p.parse_comma_separated(Parser::parse_expr)?;
        p.expect_keyword(Keyword::RANGE)?;
        let range = p.parse_expr()?;
        p.expect_token(&Token::RParen)?;
        Ok(Stagger {
            partition_by,
            range,
            pos,
        })
    })
}

/// Runs a sqlparser reader over `tokens`, which it must read to the end.
fn with_parser<T>(
    tokens: Vec<TokenWithSpan>,
    read: impl FnOnce(&mut Parser) -> Result<T, ParserError>,
) -> Result<T, CompileError> {
    let last = tokens
        .last()
        .map(|t| t.span.end)
        .unwrap_or(Location::new(0, 0));
    let dialect = KdaDialect;
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokens);
    let value = read(&mut parser).map_err(|e| {
        let mut error = parser_error(&e, &parser);
        if error.line == 0 {
            // At the end of the statement: point just past its last token.
            error.line = last.line;
            error.column = last.column + 1;
        }
        error
    })?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(Pos::of(next.span.start).error(format!("unexpected {}", next.token)));
    }
    Ok(value)
}

/// A sqlparser error with its place: sqlparser writes it at the end of the message.
fn parser_error(e: &ParserError, parser: &Parser) -> CompileError {
    let text = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.clone(),
        ParserError::RecursionLimitExceeded => "statement nested too deeply".to_string(),
    };
    if let Some(at) = text.rfind(" at Line: ") {
        let place = &text[at + " at Line: ".len()..];
        let mut parts = place.split(", Column: ");
        let line = parts.next().and_then(|l| l.trim().parse().ok());
        let column = parts.next().and_then(|c| c.trim().parse().ok());
        if let (Some(line), Some(column)) = (line, column) {
            return CompileError::new(text[..at].to_string(), line, column);
        }
    }
    let here = parser.peek_token();
    CompileError::new(text, here.span.start.line, here.span.start.column)
}

fn split_statements(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for t in tokens {
        match t.token {
            Token::SemiColon => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            Token::EOF => {}
            _ => current.push(t),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn parse_statement(tokens: Vec<TokenWithSpan>) -> Result<Statement, CompileError> {
    let start = Pos::of(tokens[0].span.start);
    if !is_word(&tokens[0], "CREATE") {
        return Err(start.error(format!(
            "expected CREATE STREAM or CREATE PUMP, found {}",
            tokens[0].token
        )));
    }
    let mut i = 1;
    if tokens.get(1).is_some_and(|t| is_word(t, "OR"))
        && tokens.get(2).is_some_and(|t| is_word(t, "REPLACE"))
    {
        i = 3;
    }
    let what = tokens.get(i).cloned();
    let rest = tokens[(i + 1).min(tokens.len())..].to_vec();
    match what {
        Some(t) if is_word(&t, "STREAM") => create_stream(rest, start).map(Statement::CreateStream),
        Some(t) if is_word(&t, "PUMP") => create_pump(rest, start).map(Statement::CreatePump),
        Some(t) => Err(Pos::of(t.span.start).error(format!(
            "expected STREAM or PUMP after CREATE, found {}",
            t.token
        ))),
        None => Err(start.error("expected STREAM or PUMP after CREATE")),
    }
}

fn ident_name(ident: &Ident) -> String {
    stored_name(&ident.value, ident.quote_style.is_some())
}

/// `"name" (col TYPE, ...) [DESCRIPTION '...']`.
fn create_stream(tokens: Vec<TokenWithSpan>, pos: Pos) -> Result<CreateStream, CompileError> {
    let mut columns_raw: Vec<(Ident, Vec<TokenWithSpan>)> = Vec::new();
    let name = with_parser(tokens, |p| {
        let name = p.parse_identifier()?;
        p.expect_token(&Token::LParen)?;
        loop {
            let column = p.parse_identifier()?;
            let mut type_tokens = Vec::new();
            let mut depth = 0usize;
            loop {
                let t = p.peek_token();
                match t.token {
                    Token::Comma | Token::RParen if depth == 0 => break,
                    Token::LParen => depth += 1,
                    Token::RParen => depth -= 1,
                    Token::EOF => return p.expected("a column type", t),
                    _ => {}
                }
                type_tokens.push(p.next_token());
            }
            columns_raw.push((column, type_tokens));
            if p.consume_token(&Token::RParen) {
                break;
            }
            p.expect_token(&Token::Comma)?;
        }
        let description = matches!(&p.peek_token().token,
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("DESCRIPTION"));
        if description || p.parse_keyword(Keyword::COMMENT) {
            if description {
                p.next_token();
            }
            p.parse_literal_string()?;
        }
        Ok(name)
    })?;
    let mut columns = Vec::new();
    let mut not_null = Vec::new();
    for (ident, mut type_tokens) in columns_raw {
        let type_pos = type_tokens
            .first()
            .map(|t| Pos::of(t.span.start))
            .unwrap_or(Pos::of_ident(&ident));
        // `NOT NULL` / `NULL` after the type.
        let mut required = false;
        let n = type_tokens.len();
        if n >= 2 && is_word(&type_tokens[n - 2], "NOT") && is_word(&type_tokens[n - 1], "NULL") {
            required = true;
            type_tokens.truncate(n - 2);
        } else if n >= 1 && is_word(&type_tokens[n - 1], "NULL") {
            type_tokens.truncate(n - 1);
        }
        let text = type_tokens
            .iter()
            .map(|t| t.token.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let ty = SqlType::parse(&text).map_err(|e| type_pos.error(e.0))?;
        if matches!(ty, SqlType::IntervalDayTime | SqlType::IntervalYearMonth) {
            // "Allowed in an expression in date arithmetic, but cannot be used as a datatype
            // for a column in a table or stream" (sql-reference-data-types.html).
            return Err(type_pos.error(format!("{ty} cannot be the type of a stream column")));
        }
        let column = ident_name(&ident);
        if column == "ROWTIME" {
            return Err(
                Pos::of_ident(&ident).error("ROWTIME is a system column and cannot be declared")
            );
        }
        if columns.iter().any(|c: &StreamColumn| c.name == column) {
            return Err(Pos::of_ident(&ident).error(format!("column {column} declared twice")));
        }
        columns.push(StreamColumn::new(column, ty));
        not_null.push(required);
    }
    let name_pos = Pos::of_ident(&name);
    let _ = pos;
    Ok(CreateStream {
        name: ident_name(&name),
        pos: name_pos,
        columns,
        not_null,
    })
}

/// `"p" [STOPPED] AS INSERT INTO "s" [(cols)] SELECT STREAM ...`.
fn create_pump(tokens: Vec<TokenWithSpan>, pos: Pos) -> Result<CreatePump, CompileError> {
    let _ = pos;
    with_parser(tokens, |p| {
        let name = p.parse_identifier()?;
        let stopped = matches!(&p.peek_token().token,
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("STOPPED"));
        if stopped {
            p.next_token();
        }
        p.expect_keyword(Keyword::AS)?;
        p.expect_keywords(&[Keyword::INSERT, Keyword::INTO])?;
        let target = p.parse_identifier()?;
        let columns = if p.peek_token().token == Token::LParen
            && !matches!(&p.peek_nth_token(1).token, Token::Word(w) if w.keyword == Keyword::SELECT)
        {
            p.expect_token(&Token::LParen)?;
            let cols = p.parse_comma_separated(|p| p.parse_identifier())?;
            p.expect_token(&Token::RParen)?;
            Some(
                cols.iter()
                    .map(|c| (ident_name(c), Pos::of_ident(c)))
                    .collect(),
            )
        } else {
            None
        };
        let query = p.parse_query()?;
        Ok(CreatePump {
            name: ident_name(&name),
            pos: Pos::of_ident(&name),
            stopped,
            target: ident_name(&target),
            target_pos: Pos::of_ident(&target),
            columns,
            query,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The getting-started application (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/get-started-exercise.html).
    const GETTING_STARTED: &str = r#"
-- ** Continuous Filter **
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), sector VARCHAR(12), change DOUBLE, price DOUBLE);
/* a pump */
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
      SELECT STREAM ticker_symbol, sector, change, price
      FROM   "SOURCE_SQL_STREAM_001"
      WHERE  sector SIMILAR TO '%TECH%';
"#;

    #[test]
    fn statements_of_the_getting_started_app() {
        let program = parse_program(GETTING_STARTED).expect("parses");
        assert_eq!(program.statements.len(), 2);
        let Statement::CreateStream(s) = &program.statements[0] else {
            panic!("stream first")
        };
        assert_eq!(s.name, "DESTINATION_SQL_STREAM");
        assert_eq!(
            s.columns[0],
            StreamColumn::new("TICKER_SYMBOL", SqlType::Varchar(4))
        );
        assert_eq!(s.columns[2].ty, SqlType::Double);
        let Statement::CreatePump(p) = &program.statements[1] else {
            panic!("pump second")
        };
        assert_eq!(p.name, "STREAM_PUMP");
        assert_eq!(p.target, "DESTINATION_SQL_STREAM");
        assert_eq!(program.stream_selects.len(), 1);
        let text = p.query.to_string();
        assert!(text.starts_with("SELECT ticker_symbol"), "{text}");
    }

    #[test]
    fn stagger_and_stream_windows_are_kept_aside() {
        let code = r#"CREATE PUMP "P" AS INSERT INTO "D"
            SELECT STREAM TICKER_SYMBOL, COUNT(*) FROM "S"
            WINDOWED BY STAGGER (PARTITION BY FLOOR(EVENT_TIME TO MINUTE), TICKER_SYMBOL RANGE INTERVAL '1' MINUTE);
            CREATE PUMP "Q" AS INSERT INTO "E" SELECT STREAM * FROM "O" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS o
            JOIN "T" AS t ON o.id = t.id"#;
        let program = parse_program(code).expect("parses");
        assert_eq!(program.staggers.len(), 1);
        let stagger = program.staggers.values().next().expect("one");
        assert_eq!(stagger.partition_by.len(), 2);
        assert_eq!(program.table_windows.len(), 1);
        assert_eq!(program.stream_selects.len(), 2);
    }

    #[test]
    fn step_reads_as_a_function() {
        let code = r#"CREATE PUMP "P" AS INSERT INTO "D" SELECT STREAM COUNT(*) FROM "S"
            GROUP BY STEP("S".ROWTIME BY INTERVAL '60' SECOND)"#;
        let program = parse_program(code).expect("parses");
        let Statement::CreatePump(p) = &program.statements[0] else {
            panic!()
        };
        assert!(p
            .query
            .to_string()
            .contains("STEP(\"S\".ROWTIME, INTERVAL '60' SECOND)"));
    }

    proptest::proptest! {
        /// Whatever the code, parsing gives statements or an error with a place: it never
        /// panics (a user's typo must not take the host down).
        #[test]
        fn parsing_never_panics(words in proptest::collection::vec(proptest::sample::select(vec![
            "CREATE", "OR", "REPLACE", "STREAM", "PUMP", "\"S\"", "AS", "INSERT", "INTO", "SELECT",
            "FROM", "WHERE", "GROUP", "BY", "STEP", "(", ")", ",", ";", "ROWTIME", "INTERVAL", "'1'",
            "MINUTE", "OVER", "RANGE", "PRECEDING", "WINDOWED", "STAGGER", "PARTITION", "x", "1", "+",
            "--", "/*", "'", "SIMILAR", "SUBSTRING", "CEILING", "TO", "TRIM", "BOTH", "JOIN", "ON",
        ]), 0..40)) {
            let code = words.join(" ");
            if let Err(e) = parse_program(&code) {
                proptest::prop_assert!(!e.message.is_empty());
            }
        }
    }

    #[test]
    fn a_statement_cut_short_is_reported_where_it_ends() {
        let e = parse_program("CREATE OR REPLACE STREAM \"S\" (a INTEGER);\nCREATE STREAM")
            .expect_err("incomplete");
        assert_eq!((e.line, e.column), (2, 14), "{e}");
    }

    #[test]
    fn errors_say_where() {
        let e =
            parse_program("CREATE STREAM \"S\" (a VARCHAR(4),\n b STRING)").expect_err("bad type");
        assert_eq!((e.line, e.column), (2, 4), "{e}");
        let e = parse_program("CREATE PUMP \"P\" AS INSERT INTO \"D\"\nSELECT STREAM a FROM")
            .expect_err("bad");
        assert_eq!(e.line, 2, "{e}");
        let e = parse_program("DROP STREAM x").expect_err("not create");
        assert_eq!((e.line, e.column), (1, 1));
    }
}
