//! From sqlparser's AST to the compiled `Query`, checking everything AWS
//! rejects and collecting every problem found as a [`Diagnostic`].

use serde_json::Value;
use sqlparser::ast::{
    self, AccessExpr, BinaryOperator, CeilFloorKind, DataType, DateTimeField, FunctionArg,
    FunctionArgExpr, FunctionArguments, GroupByExpr, ObjectNamePart, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Spanned, Statement, Subscript, TableFactor,
    UnaryOperator,
};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Span};

use super::diagnostic::Diagnostic;
use super::dialect::{prepare, IotSqlDialect, Prepared};
use super::eval::{ArithOp, CastTo, CmpOp, Expr, Item, Path, Projection, Query, Seg};
use super::functions::{
    self, time, Func, PatternError, Resolved, MAX_PATTERN_BYTES, REGEX_SIZE_LIMIT,
};
use super::topic::validate_filter;
use super::value::Num;

mod calls;
mod forms;

/// Deepest nesting sqlparser may recurse into (parentheses, nested calls).
/// Its frames are large in debug builds; 40 levels fit comfortably in a
/// 2 MiB thread stack and far exceed what real rules use.
const PARSER_DEPTH: usize = 20;

/// Deepest compiled expression tree accepted (left-deep chains such as
/// `a + b + c + ...` do not count against [`PARSER_DEPTH`]); deeper SQL is
/// rejected rather than risking a stack overflow in the evaluator.
const MAX_DEPTH: usize = 256;

pub(crate) struct Compiled {
    pub(crate) query: Query,
    pub(crate) topic_filter: String,
}

/// Parses and compiles one rule statement.
pub(crate) fn compile_rule(sql: &str) -> Result<Compiled, Vec<Diagnostic>> {
    let prepared = prepare(sql).map_err(|d| vec![d])?;
    let stmts = Parser::new(&IotSqlDialect)
        .with_recursion_limit(PARSER_DEPTH)
        .try_with_sql(&prepared.text)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| vec![parser_diag(&e, &prepared.text)])?;
    let stmt = match stmts.as_slice() {
        [one] => one,
        [] => return Err(vec![Diagnostic::new("expected a SELECT statement", 1, 1)]),
        [_, second, ..] => {
            return Err(vec![Diagnostic::at(
                "only one statement is allowed in a rule",
                second.span(),
            )])
        }
    };
    let Statement::Query(q) = stmt else {
        return Err(vec![Diagnostic::at(
            "a rule must be a SELECT statement",
            stmt.span(),
        )]);
    };
    let mut c = Compiler {
        prepared: &prepared,
        diags: Vec::new(),
        topic: None,
        depth: 0,
    };
    let query = c.query(q, true);
    if c.topic.is_none() && c.diags.is_empty() {
        c.diags
            .push(Diagnostic::new("missing FROM 'topic/filter'", 1, 1));
    }
    match (c.diags.is_empty(), c.topic) {
        (true, Some(topic_filter)) => Ok(Compiled {
            query,
            topic_filter,
        }),
        _ => {
            let mut d = c.diags;
            d.sort_by_key(|d| (d.line, d.column));
            Err(d)
        }
    }
}

/// Parses and compiles a lone expression (a substitution template's `${...}`).
pub(crate) fn compile_expr(text: &str) -> Result<Expr, Vec<Diagnostic>> {
    let prepared = prepare(text).map_err(|d| vec![d])?;
    let mut parser = Parser::new(&IotSqlDialect)
        .with_recursion_limit(PARSER_DEPTH)
        .try_with_sql(&prepared.text)
        .map_err(|e| vec![parser_diag(&e, &prepared.text)])?;
    let e = parser
        .parse_expr()
        .map_err(|e| vec![parser_diag(&e, &prepared.text)])?;
    let next = parser.peek_token();
    if next.token != sqlparser::tokenizer::Token::EOF {
        return Err(vec![Diagnostic::at(
            format!("unexpected {} after the expression", next.token),
            next.span,
        )]);
    }
    let mut c = Compiler {
        prepared: &prepared,
        diags: Vec::new(),
        topic: None,
        depth: 0,
    };
    let out = c.expr(&e);
    if c.diags.is_empty() {
        Ok(out)
    } else {
        Err(c.diags)
    }
}

/// sqlparser puts the position at the end of its message
/// ("... at Line: 1, Column: 5"); move it into the diagnostic.
/// Errors at the end of input carry no position; they point just past the
/// last character.
fn parser_diag(e: &ParserError, text: &str) -> Diagnostic {
    let raw = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.clone(),
        ParserError::RecursionLimitExceeded => {
            return Diagnostic::new("expression is nested too deeply", 1, 1)
        }
    };
    if let Some(idx) = raw.rfind(" at Line: ") {
        let (msg, pos) = raw.split_at(idx);
        let nums: Vec<u64> = pos
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        if let [line, col, ..] = nums.as_slice() {
            return Diagnostic::new(msg.trim().to_string(), *line, *col);
        }
    }
    let line = text.split('\n').count() as u64;
    let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
    Diagnostic::new(raw, line, col)
}

struct Compiler<'p> {
    prepared: &'p Prepared,
    diags: Vec<Diagnostic>,
    topic: Option<String>,
    depth: usize,
}

fn placeholder() -> Expr {
    Expr::Lit(Value::Null)
}

fn join_span(a: Span, fallback: Location) -> Span {
    if a.start.line == 0 {
        Span::new(fallback, fallback)
    } else {
        a
    }
}

impl Compiler<'_> {
    fn err(&mut self, msg: impl Into<String>, span: Span) {
        self.diags.push(Diagnostic::at(msg, span));
    }

    /// Compiles one SELECT (the rule's, or a nested one over an array field when `top` is
    /// false). Every clause AWS IoT SQL lacks is reported, not ignored, so a rule never
    /// silently means less than it says; compilation goes on to report every error at once.
    fn query(&mut self, q: &ast::Query, top: bool) -> Query {
        let empty = Query {
            projection: Projection::Items(Vec::new()),
            source: None,
            filter: None,
        };
        self.refuse_query_clauses(q);
        let SetExpr::Select(s) = q.body.as_ref() else {
            self.err(
                "only a single SELECT is supported (no UNION, VALUES or parentheses)",
                q.body.span(),
            );
            return empty;
        };
        let sel_span = s.select_token.0.span;
        self.refuse_select_clauses(s, sel_span);
        let source = self.source(s, top, sel_span);
        let is_value = self.prepared.value_selects.contains(&sel_span.start);
        let projection = self.projection(&s.projection, is_value, top, sel_span);
        let filter = s.selection.as_ref().map(|w| self.expr(w));
        Query {
            projection,
            source,
            filter,
        }
    }

    /// Reports the query-level clauses AWS IoT SQL does not have (WITH, ORDER BY, LIMIT,
    /// FETCH, locking, FOR).
    fn refuse_query_clauses(&mut self, q: &ast::Query) {
        let fallback = q.span();
        if let Some(w) = &q.with {
            self.err("WITH is not supported in AWS IoT SQL", w.span());
        }
        if let Some(o) = &q.order_by {
            self.err(
                "ORDER BY is not supported in AWS IoT SQL",
                join_span(o.span(), fallback.start),
            );
        }
        if let Some(l) = &q.limit_clause {
            self.err(
                "LIMIT is not supported in AWS IoT SQL",
                join_span(l.span(), fallback.start),
            );
        }
        if q.fetch.is_some() || !q.locks.is_empty() || q.for_clause.is_some() {
            self.err("this clause is not supported in AWS IoT SQL", fallback);
        }
    }

    /// Reports the SELECT-level clauses AWS IoT SQL does not have (DISTINCT, TOP, INTO,
    /// GROUP BY, HAVING and the dialect extensions sqlparser accepts).
    fn refuse_select_clauses(&mut self, s: &ast::Select, sel_span: Span) {
        if s.distinct.is_some() {
            self.err("DISTINCT is not supported in AWS IoT SQL", sel_span);
        }
        if s.top.is_some() || s.into.is_some() {
            self.err("TOP and INTO are not supported in AWS IoT SQL", sel_span);
        }
        match &s.group_by {
            GroupByExpr::Expressions(v, _) if v.is_empty() => {}
            GroupByExpr::Expressions(v, _) => {
                let sp = v.first().map(|e| e.span()).unwrap_or(sel_span);
                self.err("GROUP BY is not supported in AWS IoT SQL", sp);
            }
            GroupByExpr::All(_) => self.err("GROUP BY is not supported in AWS IoT SQL", sel_span),
        }
        if let Some(h) = &s.having {
            self.err("HAVING is not supported in AWS IoT SQL", h.span());
        }
        if !s.lateral_views.is_empty()
            || !s.cluster_by.is_empty()
            || !s.distribute_by.is_empty()
            || !s.sort_by.is_empty()
            || !s.named_window.is_empty()
            || s.qualify.is_some()
            || s.prewhere.is_some()
            || !s.connect_by.is_empty()
        {
            self.err("this clause is not supported in AWS IoT SQL", sel_span);
        }
    }

    /// The FROM source: one topic filter at the top, one array path in a nested query; no
    /// JOIN and no second source.
    fn source(&mut self, s: &ast::Select, top: bool, sel_span: Span) -> Option<Path> {
        match s.from.as_slice() {
            [] => {
                self.err(
                    if top {
                        "missing FROM 'topic/filter'"
                    } else {
                        "a nested SELECT needs FROM <array field>"
                    },
                    sel_span,
                );
                None
            }
            [t] => {
                if let Some(j) = t.joins.first() {
                    self.err("JOIN is not supported in AWS IoT SQL", j.relation.span());
                }
                self.from(&t.relation, top)
            }
            [_, second, ..] => {
                self.err(
                    "only one FROM source is allowed in AWS IoT SQL",
                    second.relation.span(),
                );
                None
            }
        }
    }

    fn from(&mut self, rel: &TableFactor, top: bool) -> Option<Path> {
        let TableFactor::Table {
            name, alias, args, ..
        } = rel
        else {
            self.err(
                if top {
                    "FROM must name one topic filter in single quotes"
                } else {
                    "a nested SELECT must range over an array field"
                },
                rel.span(),
            );
            return None;
        };
        if let Some(a) = alias {
            self.err(
                "aliases in FROM are not supported in AWS IoT SQL",
                a.name.span,
            );
        }
        if args.is_some() {
            self.err(
                "table functions are not supported in AWS IoT SQL",
                rel.span(),
            );
        }
        let at = name.span().start;
        let from_topic = self
            .prepared
            .from_topics
            .iter()
            .find(|t| t.at == at)
            .cloned();
        if top {
            match from_topic {
                Some(t) => {
                    if let Err(e) = validate_filter(&t.filter) {
                        self.err(
                            format!("invalid topic filter '{}': {e}", t.filter),
                            name.span(),
                        );
                    }
                    self.topic = Some(t.filter);
                }
                None => self.err(
                    "FROM must name one topic filter in single quotes, e.g. FROM 'a/b/#'",
                    name.span(),
                ),
            }
            None
        } else {
            if from_topic.is_some() {
                self.err(
                    "a nested SELECT ranges over an array field, not a topic",
                    name.span(),
                );
                return None;
            }
            let mut segs = Vec::new();
            for part in &name.0 {
                match part {
                    ObjectNamePart::Identifier(i) => segs.push(Seg::Key(i.value.as_str().into())),
                    other => self.err("unsupported name in FROM", other.span()),
                }
            }
            Some(Path { segs })
        }
    }

    fn projection(
        &mut self,
        items: &[SelectItem],
        is_value: bool,
        top: bool,
        sel_span: Span,
    ) -> Projection {
        if is_value {
            return match items {
                [SelectItem::UnnamedExpr(e)] => Projection::Value(self.expr(e)),
                [SelectItem::Wildcard(_)] => {
                    if top {
                        Projection::PassThrough
                    } else {
                        Projection::Value(Expr::Path(Path::default()))
                    }
                }
                _ => {
                    self.err(
                        "SELECT VALUE takes exactly one expression and no alias",
                        sel_span,
                    );
                    Projection::Items(Vec::new())
                }
            };
        }
        if top && matches!(items, [SelectItem::Wildcard(_)]) {
            return Projection::PassThrough;
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                SelectItem::Wildcard(_) => out.push(Item::Wildcard),
                SelectItem::QualifiedWildcard(kind, _) => match kind {
                    SelectItemQualifiedWildcardKind::ObjectName(n) => {
                        let segs =
                            n.0.iter()
                                .filter_map(|p| p.as_ident())
                                .map(|i| Seg::Key(i.value.as_str().into()))
                                .collect();
                        out.push(Item::Expand(Path { segs }));
                    }
                    SelectItemQualifiedWildcardKind::Expr(e) => {
                        self.err("only a field path may precede .*", e.span());
                    }
                },
                SelectItem::UnnamedExpr(e) => {
                    let name = default_name(e, i);
                    let c = self.expr(e);
                    out.push(Item::Named(name.into(), c));
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let c = match expr {
                        // `* AS alias`: the row itself (the payload at the top
                        // level, the element in a nested SELECT).
                        ast::Expr::Identifier(id)
                            if self.prepared.aliased_stars.contains(&id.span.start) =>
                        {
                            Expr::Payload
                        }
                        _ => self.expr(expr),
                    };
                    out.push(Item::Named(alias.value.as_str().into(), c));
                }
                SelectItem::ExprWithAliases { expr, .. } => {
                    self.err("only one alias per expression is allowed", expr.span());
                }
            }
        }
        Projection::Items(out)
    }

    fn expr(&mut self, e: &ast::Expr) -> Expr {
        self.depth += 1;
        let out = if self.depth > MAX_DEPTH {
            self.err("expression is nested too deeply", e.span());
            placeholder()
        } else {
            self.expr_inner(e)
        };
        self.depth -= 1;
        out
    }

    fn boxed(&mut self, e: &ast::Expr) -> Box<Expr> {
        Box::new(self.expr(e))
    }

    /// One SQL expression. The cases with more to them than a constructor are the methods
    /// below; what AWS IoT SQL does not have is refused with the alternative to use.
    fn expr_inner(&mut self, e: &ast::Expr) -> Expr {
        use ast::Expr as E;
        match e {
            E::Identifier(i) => Expr::Path(Path {
                segs: vec![Seg::Key(i.value.as_str().into())],
            }),
            E::CompoundIdentifier(parts) => Expr::Path(Path {
                segs: parts
                    .iter()
                    .map(|i| Seg::Key(i.value.as_str().into()))
                    .collect(),
            }),
            E::CompoundFieldAccess { root, access_chain } => self.field_access(root, access_chain),
            E::Value(v) => self.literal(&v.value, v.span),
            E::Nested(inner) => self.expr(inner),
            E::UnaryOp { op, expr } => self.unary(e, op, expr),
            E::BinaryOp { left, op, right } => self.binary(left, op, right),
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref()),
            E::Function(f) => self.function(f),
            E::Cast {
                expr, data_type, ..
            } => self.cast(e, expr, data_type),
            E::Ceil { expr, field } | E::Floor { expr, field } => self.ceil_floor(e, expr, field),
            E::Substring {
                expr,
                substring_from,
                substring_for,
                special,
                ..
            } => self.substring(
                e,
                expr,
                substring_from.as_deref(),
                substring_for.as_deref(),
                *special,
            ),
            E::Trim {
                expr,
                trim_where,
                trim_what,
                trim_characters,
            } => {
                if trim_where.is_some() || trim_what.is_some() || trim_characters.is_some() {
                    self.err("trim takes exactly one argument in AWS IoT SQL", e.span());
                }
                Expr::Call(Func::Trim, vec![self.expr(expr)])
            }
            E::Array(a) => Expr::Array(a.elem.iter().map(|x| self.expr(x)).collect()),
            E::Dictionary(fields) => Expr::Object(
                fields
                    .iter()
                    .map(|f| (f.key.value.as_str().into(), self.expr(&f.value)))
                    .collect(),
            ),
            E::Subquery(q) => Expr::Subquery(Box::new(self.query(q, false))),
            E::In {
                expr,
                target: ast::InTarget::List(items),
                negated,
                ..
            } if items.len() == 1 => self.in_array(expr, items, *negated),
            other => self.refused(other),
        }
    }

    fn literal(&mut self, v: &ast::Value, span: Span) -> Expr {
        use ast::Value as V;
        match v {
            V::Number(s, _) => {
                if let Ok(i) = s.parse::<i64>() {
                    return Expr::Lit(Value::from(i));
                }
                // Exactly as written: an `f64` when it keeps every digit,
                // otherwise a 34-digit decimal (AWS's precision).
                match super::value::number_text(s) {
                    Some(n @ (Num::Int(_) | Num::Dec(_))) => match n.into_val().into_json() {
                        Some(j) => Expr::Lit(j),
                        None => placeholder(),
                    },
                    Some(Num::Big(d)) => Expr::Dec(d),
                    None => {
                        self.err(format!("number {s} is out of range"), span);
                        placeholder()
                    }
                }
            }
            V::SingleQuotedString(s) | V::DoubleQuotedString(s) => {
                Expr::Lit(Value::String(s.clone()))
            }
            V::Boolean(b) => Expr::Lit(Value::Bool(*b)),
            V::Null => Expr::Lit(Value::Null),
            other => {
                self.err(format!("unsupported literal {other}"), span);
                placeholder()
            }
        }
    }
}

/// Key for an unaliased SELECT expression: the last field name of a path
/// (`a.b` gives `b`), otherwise `_N` with N the 1-based position of the
/// item in the SELECT list.
fn default_name(e: &ast::Expr, index: usize) -> String {
    use ast::Expr as E;
    match e {
        E::Identifier(i) => i.value.clone(),
        E::CompoundIdentifier(parts) => match parts.last() {
            Some(i) => i.value.clone(),
            None => format!("_{}", index + 1),
        },
        E::CompoundFieldAccess { access_chain, .. } => match access_chain.last() {
            Some(AccessExpr::Dot(E::Identifier(i))) => i.value.clone(),
            _ => format!("_{}", index + 1),
        },
        E::Nested(inner) => default_name(inner, index),
        _ => format!("_{}", index + 1),
    }
}
