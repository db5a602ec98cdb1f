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

/// The diagnostic for a literal pattern [`functions::compile_pattern`]
/// refused. An over-long pattern is not quoted back: the message would be
/// as long as the pattern.
fn pattern_diag(name: &str, p: &str, e: &PatternError) -> String {
    match e {
        PatternError::TooLong(len) => format!(
            "{name}: regular expression is {len} bytes long, more than the limit of {MAX_PATTERN_BYTES} bytes"
        ),
        PatternError::TooBig => format!(
            "{name}: regular expression '{p}' compiles to more than the limit of {REGEX_SIZE_LIMIT} bytes \
             (large counts of Unicode classes such as \\w{{1,32}} are big; ASCII classes such as \
             [A-Za-z0-9_] are not)"
        ),
        PatternError::Invalid(msg) => {
            let first = msg.lines().last().unwrap_or("invalid pattern");
            format!("{name}: invalid regular expression '{p}': {first}")
        }
    }
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

    fn query(&mut self, q: &ast::Query, top: bool) -> Query {
        let fallback = q.span();
        let empty = Query {
            projection: Projection::Items(Vec::new()),
            source: None,
            filter: None,
        };
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
        let SetExpr::Select(s) = q.body.as_ref() else {
            self.err(
                "only a single SELECT is supported (no UNION, VALUES or parentheses)",
                q.body.span(),
            );
            return empty;
        };
        let sel_span = s.select_token.0.span;
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

        // FROM: one topic filter at the top, one array path in a nested query.
        let mut source = None;
        match s.from.as_slice() {
            [] => self.err(
                if top {
                    "missing FROM 'topic/filter'"
                } else {
                    "a nested SELECT needs FROM <array field>"
                },
                sel_span,
            ),
            [t] => {
                if let Some(j) = t.joins.first() {
                    self.err("JOIN is not supported in AWS IoT SQL", j.relation.span());
                }
                source = self.from(&t.relation, top);
            }
            [_, second, ..] => self.err(
                "only one FROM source is allowed in AWS IoT SQL",
                second.relation.span(),
            ),
        }

        let is_value = self.prepared.value_selects.contains(&sel_span.start);
        let projection = self.projection(&s.projection, is_value, top, sel_span);
        let filter = s.selection.as_ref().map(|w| self.expr(w));
        Query {
            projection,
            source,
            filter,
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
                    let c = self.expr(expr);
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
            } => {
                let operand = operand.as_ref().map(|o| self.boxed(o));
                let whens = conditions
                    .iter()
                    .map(|w| (self.expr(&w.condition), self.expr(&w.result)))
                    .collect();
                let otherwise = else_result.as_ref().map(|x| self.boxed(x));
                Expr::Case {
                    operand,
                    whens,
                    otherwise,
                }
            }
            E::Function(f) => self.function(f),
            E::Cast {
                expr, data_type, ..
            } => self.cast(e, expr, data_type),
            E::Ceil { expr, field } | E::Floor { expr, field } => {
                if !matches!(
                    field,
                    CeilFloorKind::DateTimeField(DateTimeField::NoDateTime)
                ) {
                    self.err("ceil and floor take one argument", e.span());
                }
                let f = if matches!(e, E::Ceil { .. }) {
                    Func::Ceil
                } else {
                    Func::Floor
                };
                Expr::Call(f, vec![self.expr(expr)])
            }
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
            } if items.len() == 1 => {
                let needle = self.boxed(expr);
                let haystack = match items.first() {
                    Some(h) => self.boxed(h),
                    None => Box::new(placeholder()),
                };
                Expr::In {
                    needle,
                    haystack,
                    negated: *negated,
                }
            }
            other => self.refused(other),
        }
    }

    /// `a.b[i].c`: a path when the root is one, else an access into the root's value.
    fn field_access(&mut self, root: &ast::Expr, access_chain: &[AccessExpr]) -> Expr {
        use ast::Expr as E;
        let (base, mut segs) = match self.expr(root) {
            Expr::Path(p) => (None, p.segs),
            other => (Some(other), Vec::new()),
        };
        for a in access_chain {
            match a {
                AccessExpr::Dot(E::Identifier(i)) => segs.push(Seg::Key(i.value.as_str().into())),
                AccessExpr::Subscript(Subscript::Index { index }) => {
                    let ix = self.expr(index);
                    segs.push(Seg::Index(Box::new(ix)));
                }
                other => self.err("unsupported field access", other.span()),
            }
        }
        match base {
            None => Expr::Path(Path { segs }),
            Some(b) => Expr::Access(Box::new(b), Path { segs }),
        }
    }

    /// `-x`, `+x`, `NOT x`. A negated number literal is folded, so `-9223372036854775808`
    /// and `-1.5` are literals as AWS reads them, not a negation at run time.
    fn unary(&mut self, e: &ast::Expr, op: &UnaryOperator, expr: &ast::Expr) -> Expr {
        match op {
            UnaryOperator::Minus => match self.expr(expr) {
                Expr::Lit(Value::Number(n)) => {
                    if let Some(i) = n.as_i64().and_then(i64::checked_neg) {
                        Expr::Lit(Value::from(i))
                    } else {
                        let f = n.as_f64().unwrap_or(0.0);
                        Expr::Lit(
                            serde_json::Number::from_f64(-f)
                                .map(Value::Number)
                                .unwrap_or(Value::Null),
                        )
                    }
                }
                Expr::Dec(d) => Expr::Dec(super::decimal::neg(d)),
                other => Expr::Neg(Box::new(other)),
            },
            UnaryOperator::Plus => self.expr(expr),
            UnaryOperator::Not => Expr::Not(self.boxed(expr)),
            other => {
                self.err(format!("unsupported operator {other}"), e.span());
                placeholder()
            }
        }
    }

    /// Arithmetic, comparison and logic; other sqlparser operators are not AWS IoT SQL.
    fn binary(&mut self, left: &ast::Expr, op: &BinaryOperator, right: &ast::Expr) -> Expr {
        let l = self.boxed(left);
        let r = self.boxed(right);
        match op {
            BinaryOperator::Plus => Expr::Arith(ArithOp::Add, l, r),
            BinaryOperator::Minus => Expr::Arith(ArithOp::Sub, l, r),
            BinaryOperator::Multiply => Expr::Arith(ArithOp::Mul, l, r),
            BinaryOperator::Divide => Expr::Arith(ArithOp::Div, l, r),
            BinaryOperator::Modulo => Expr::Arith(ArithOp::Rem, l, r),
            BinaryOperator::Eq => Expr::Cmp(CmpOp::Eq, l, r),
            BinaryOperator::NotEq => Expr::Cmp(CmpOp::Ne, l, r),
            BinaryOperator::Gt => Expr::Cmp(CmpOp::Gt, l, r),
            BinaryOperator::GtEq => Expr::Cmp(CmpOp::Ge, l, r),
            BinaryOperator::Lt => Expr::Cmp(CmpOp::Lt, l, r),
            BinaryOperator::LtEq => Expr::Cmp(CmpOp::Le, l, r),
            BinaryOperator::And => Expr::And(l, r),
            BinaryOperator::Or => Expr::Or(l, r),
            other => {
                let at = operator_span(left, right);
                self.err(
                    format!("operator {other} is not supported in AWS IoT SQL"),
                    at,
                );
                placeholder()
            }
        }
    }

    /// `CAST(x AS type)` to one of the types AWS IoT SQL names.
    fn cast(&mut self, e: &ast::Expr, expr: &ast::Expr, data_type: &DataType) -> Expr {
        let inner = self.boxed(expr);
        match cast_target(data_type) {
            Some(t) => Expr::Cast(inner, t),
            None => {
                self.err(
                    format!(
                        "cannot cast to {data_type}; use Int, Integer, Decimal, Double, Bool, Boolean, String or Varchar"
                    ),
                    e.span(),
                );
                placeholder()
            }
        }
    }

    /// `substring(string, start[, end])`; sqlparser parses it specially, and also accepts the
    /// `FROM`/`FOR` form AWS does not.
    fn substring(
        &mut self,
        e: &ast::Expr,
        expr: &ast::Expr,
        from: Option<&ast::Expr>,
        until: Option<&ast::Expr>,
        special: bool,
    ) -> Expr {
        if !special {
            self.err(
                "use substring(string, start[, end]); FROM/FOR syntax is not AWS IoT SQL",
                e.span(),
            );
        }
        let mut args = vec![self.expr(expr)];
        match from {
            Some(f) => args.push(self.expr(f)),
            None => self.err("substring needs 2 or 3 arguments", e.span()),
        }
        if let Some(f) = until {
            args.push(self.expr(f));
        }
        Expr::Call(Func::Substring, args)
    }

    /// What sqlparser reads but AWS IoT SQL does not have: an error naming what to use
    /// instead, and a placeholder so compiling goes on and finds the other mistakes.
    fn refused(&mut self, e: &ast::Expr) -> Expr {
        use ast::Expr as E;
        let msg = match e {
            E::IsNull(_) | E::IsNotNull(_) => {
                "IS [NOT] NULL is not AWS IoT SQL; use isNull(x) or isUndefined(x)".to_owned()
            }
            E::In { .. } => {
                "IN takes one array expression on the right, e.g. x IN ['a', 'b'] or x IN arr"
                    .to_owned()
            }
            E::Like { .. } | E::ILike { .. } | E::SimilarTo { .. } => {
                "LIKE is not AWS IoT SQL; use regexp_matches()".to_owned()
            }
            E::Between { .. } => "BETWEEN is not AWS IoT SQL; use x >= a AND x <= b".to_owned(),
            other => format!("unsupported expression in AWS IoT SQL: {other}"),
        };
        self.err(msg, e.span());
        placeholder()
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

    /// A function call: its arguments, then what the name resolves to (a function Weir
    /// has, one that calls an AWS service, one not supported, or a typo with a suggestion).
    fn function(&mut self, f: &ast::Function) -> Expr {
        let span = f.name.span();
        let name = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(i)] => i.value.clone(),
            _ => {
                self.err(format!("unknown function {}", f.name), span);
                return placeholder();
            }
        };
        let args = self.function_args(f, &name, span);
        let resolved = functions::resolve(&name);
        if let Resolved::Known {
            func: Func::Decode, ..
        } = resolved
        {
            if let Some(Expr::Lit(Value::String(scheme))) = args.get(1) {
                if scheme.eq_ignore_ascii_case("proto") {
                    self.err(
                        "decode(..., 'proto', ...) reads Protobuf descriptors from Amazon S3 and is not available in Weir",
                        span,
                    );
                    return placeholder();
                }
            }
        }
        match resolved {
            Resolved::Known { func, min, max } => {
                self.known_function(func, (min, max), &name, args, span)
            }
            Resolved::Service => {
                self.err(
                    format!("function {name} calls an AWS service and is not available in Weir"),
                    span,
                );
                placeholder()
            }
            Resolved::Unsupported(why) => {
                self.err(format!("function {name} is not supported: {why}"), span);
                placeholder()
            }
            Resolved::Unknown => {
                let hint = functions::suggest(&name)
                    .map(|s| format!("; did you mean {s}?"))
                    .unwrap_or_default();
                self.err(format!("unknown function {name}{hint}"), span);
                placeholder()
            }
        }
    }

    /// The arguments of a call, each compiled (`*` is the payload); the clauses sqlparser
    /// reads but AWS IoT SQL does not have (FILTER, OVER, DISTINCT, ...) are refused.
    fn function_args(&mut self, f: &ast::Function, name: &str, span: Span) -> Vec<Expr> {
        let mut args = Vec::new();
        if f.filter.is_some()
            || f.over.is_some()
            || !f.within_group.is_empty()
            || f.null_treatment.is_some()
        {
            self.err(
                format!("{name}: FILTER, OVER and WITHIN GROUP are not supported"),
                span,
            );
        }
        match &f.args {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(q) => {
                self.err(
                    format!("{name}: a subquery argument needs its own parentheses"),
                    q.span(),
                );
            }
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    self.err(format!("{name}: unsupported argument syntax"), span);
                }
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => args.push(self.expr(x)),
                        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => args.push(Expr::Payload),
                        other => {
                            self.err(format!("{name}: unsupported argument {other}"), span);
                        }
                    }
                }
            }
        }
        if !matches!(f.parameters, FunctionArguments::None) {
            self.err(format!("{name}: unsupported argument syntax"), span);
        }
        args
    }

    /// A call of a function Weir has: the arity, the literal arguments known at compile
    /// time, and a literal regex pattern compiled once here rather than per message.
    fn known_function(
        &mut self,
        func: Func,
        (min, max): (usize, usize),
        name: &str,
        args: Vec<Expr>,
        span: Span,
    ) -> Expr {
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            let plural = if want == "1" { "" } else { "s" };
            self.err(
                format!(
                    "function {name} takes {want} argument{plural}, got {}",
                    args.len()
                ),
                span,
            );
            return placeholder();
        }
        self.check_literals(func, name, &args, span);
        if matches!(
            func,
            Func::RegexpMatches | Func::RegexpReplace | Func::RegexpSubstr
        ) {
            if let Some(Expr::Lit(Value::String(p))) = args.get(1) {
                match functions::compile_pattern(p) {
                    Ok(re) => return Expr::CallRe(func, Box::new(re), args),
                    Err(e) => {
                        self.err(pattern_diag(name, p, &e), span);
                        return placeholder();
                    }
                }
            }
        }
        Expr::Call(func, args)
    }

    /// Checks literal arguments whose validity is known at compile time.
    fn check_literals(&mut self, func: Func, name: &str, args: &[Expr], span: Span) {
        let lit = |i: usize| match args.get(i) {
            Some(Expr::Lit(Value::String(s))) => Some(s.as_str()),
            _ => None,
        };
        match func {
            Func::Encode | Func::Decode => {
                if let Some(s) = lit(1) {
                    if !s.eq_ignore_ascii_case("base64") {
                        self.err(
                            format!("{name}: unsupported encoding scheme '{s}' (Weir supports 'base64')"),
                            span,
                        );
                    }
                }
            }
            Func::ParseTime => {
                if let Some(p) = lit(0) {
                    if !time::pattern_is_valid(p) {
                        self.err(format!("{name}: invalid date-time pattern '{p}'"), span);
                    }
                }
            }
            Func::TimeToEpoch => {
                if let Some(p) = lit(1) {
                    if !time::pattern_is_valid(p) {
                        self.err(format!("{name}: invalid date-time pattern '{p}'"), span);
                    }
                }
            }
            _ => {}
        }
    }
}

fn operator_span(left: &ast::Expr, right: &ast::Expr) -> Span {
    let l = left.span();
    if l.start.line != 0 {
        Span::new(l.end, l.end)
    } else {
        right.span()
    }
}

fn cast_target(t: &DataType) -> Option<CastTo> {
    let name = t.to_string().to_ascii_lowercase();
    let base = name.split('(').next().unwrap_or("").trim();
    Some(match base {
        "int" | "integer" => CastTo::Int,
        "decimal" | "double" => CastTo::Decimal,
        "bool" | "boolean" => CastTo::Bool,
        "string" | "varchar" | "nvarchar" | "text" | "ntext" => CastTo::String,
        _ => return None,
    })
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
