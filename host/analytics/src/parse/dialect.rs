//! The SQLstream dialect as sqlparser sees it: ANSI identifiers (double quotes keep case),
//! plus `STEP(expr BY interval)`, which no stock dialect reads.

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident, ObjectName,
};
use sqlparser::dialect::{Dialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// The KDA (SQLstream) dialect.
#[derive(Debug, Default, Clone, Copy)]
pub struct KdaDialect;

impl Dialect for KdaDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '$'
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '"'
    }

    fn supports_window_clause_named_window_reference(&self) -> bool {
        true
    }

    /// `CURSOR(SELECT STREAM ...)`, the stream argument of `TABLE(TOP_K_ITEMS_TUMBLING(...))`.
    fn supports_subquery_as_function_arg(&self) -> bool {
        true
    }

    /// `U&'\0009'` (Unicode escapes; `UESCAPE` is handled before sqlparser sees it).
    fn supports_unicode_string_literal(&self) -> bool {
        true
    }

    /// `TRIM(BOTH FROM s)`: the character list may be left out after the side.
    fn supports_comma_separated_trim(&self) -> bool {
        true
    }

    /// The dialect's own call syntaxes: `STEP(x BY INTERVAL '1' MINUTE)` becomes the
    /// two-argument function `STEP(x, interval)`; `CEILING(x TO unit)` reads as `CEIL(x TO
    /// unit)`; `SUBSTRING(s SIMILAR p ESCAPE e)` becomes `SUBSTRING_SIMILAR(s, p, e)`.
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        if parser.peek_nth_token(1).token != Token::LParen {
            return None;
        }
        let word = match &parser.peek_token().token {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            _ => return None,
        };
        match word.as_str() {
            "STEP" => Some(parse_step(parser)),
            "CEILING" => {
                parser.next_token();
                Some(parser.parse_ceil_floor_expr(true))
            }
            "SUBSTRING" if similar_inside(parser) => Some(parse_substring_similar(parser)),
            _ => None,
        }
    }
}

/// Whether the parenthesised arguments ahead hold `SIMILAR` at their own level.
fn similar_inside(parser: &Parser) -> bool {
    let mut depth = 0usize;
    for n in 1.. {
        match parser.peek_nth_token(n).token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return false;
                }
            }
            Token::EOF => return false,
            Token::Word(w) if depth == 1 && w.value.eq_ignore_ascii_case("SIMILAR") => return true,
            _ => {}
        }
    }
    false
}

fn parse_substring_similar(parser: &mut Parser) -> Result<Expr, ParserError> {
    let span = parser.next_token().span;
    parser.expect_token(&Token::LParen)?;
    let like = KdaDialect.prec_value(Precedence::Like);
    let value = parser.parse_subexpr(like)?;
    parser.expect_keyword(Keyword::SIMILAR)?;
    let pattern = parser.parse_subexpr(like)?;
    parser.expect_keyword(Keyword::ESCAPE)?;
    let escape = parser.parse_expr()?;
    parser.expect_token(&Token::RParen)?;
    Ok(function_call(
        Ident::with_span(span, "SUBSTRING_SIMILAR"),
        vec![value, pattern, escape],
    ))
}

fn parse_step(parser: &mut Parser) -> Result<Expr, ParserError> {
    let name = match parser.next_token().token {
        Token::Word(w) => Ident::with_span(parser.peek_token().span, w.value),
        other => {
            return Err(ParserError::ParserError(format!(
                "expected STEP, found {other}"
            )))
        }
    };
    parser.expect_token(&Token::LParen)?;
    let value = parser.parse_expr()?;
    parser.expect_keyword(Keyword::BY)?;
    let width = parser.parse_expr()?;
    parser.expect_token(&Token::RParen)?;
    Ok(function_call(name, vec![value, width]))
}

/// A plain function call expression, as sqlparser would build for `name(args)`.
pub fn function_call(name: Ident, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![name]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None::<DuplicateTreatment>,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}
