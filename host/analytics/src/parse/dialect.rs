//! The SQLstream dialect as sqlparser sees it: ANSI identifiers (double quotes keep case),
//! plus `STEP(expr BY interval)`, which no stock dialect reads.

use sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident, ObjectName,
};
use sqlparser::dialect::Dialect;
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

    /// `STEP(x BY INTERVAL '1' MINUTE)` becomes the two-argument function `STEP(x, interval)`.
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let is_step = matches!(&parser.peek_token().token,
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("STEP"))
            && parser.peek_nth_token(1).token == Token::LParen;
        if !is_step {
            return None;
        }
        Some(parse_step(parser))
    }
}

fn parse_step(parser: &mut Parser) -> Result<Expr, ParserError> {
    let name = match parser.next_token().token {
        Token::Word(w) => Ident::with_span(parser.peek_token().span, w.value),
        other => return Err(ParserError::ParserError(format!("expected STEP, found {other}"))),
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
