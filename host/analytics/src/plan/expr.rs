//! Expressions compiled against a query's input: column references become positions,
//! literals become values, the dialect's special forms become calls, and types are inferred
//! where they can be, so a type error or a wrong arity is a compile error with its place.

use std::collections::HashMap;

use sqlparser::ast::{
    self, BinaryOperator, CeilFloorKind, DateTimeField, Expr as Ast, FunctionArg, FunctionArgExpr,
    FunctionArguments, InTarget, Spanned, TrimWhereField, UnaryOperator, WindowFrameBound,
    WindowFrameUnits, WindowType,
};

use crate::error::CompileError;
use crate::parse::Pos;
use crate::types::{SqlType, MAX_CHAR_LENGTH};
use crate::value::{parse_timestamp, Value};

// The operators and TRIM's sides are the functions module's own enums: one definition that
// the planner writes and the evaluator hands over as is.
pub use crate::functions::{BinOp, TrimSpec, UnOp};

/// The special syntaxes of the SQL Reference, each a plain function of its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Special {
    /// `SUBSTRING(s FROM a [FOR b])`: args s, a [, b].
    Substring,
    /// `POSITION(needle IN haystack)`: args needle, haystack.
    Position,
    /// `TRIM(side [chars] FROM s)`: args s [, chars].
    Trim(TrimSpec),
    /// `EXTRACT(unit FROM x)`.
    Extract(String),
    /// `FLOOR(x TO unit)`.
    FloorTo(String),
    /// `CEIL(x TO unit)`.
    CeilTo(String),
    /// `STEP(x BY interval)`: args x, interval.
    Step,
    /// `SUBSTRING(s SIMILAR pattern ESCAPE e)`: args s, pattern, e.
    SubstringSimilar,
}

/// A window frame: the rows an OVER aggregate sees, ending at the current row.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `RANGE INTERVAL ... PRECEDING`: rows whose ROWTIME is within that many ms.
    Range(i64),
    /// `ROWS n PRECEDING`: the current row and the n before it.
    Rows(u64),
    /// `RANGE UNBOUNDED PRECEDING` / no frame: every row of the partition so far.
    Unbounded,
}

/// An OVER clause, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowDef {
    pub partition_by: Vec<PExpr>,
    pub frame: Frame,
}

/// An aggregate call before it is given a slot.
#[derive(Debug, Clone, PartialEq)]
pub struct AggCall {
    /// Upper-case name (COUNT, SUM, ...; LAG).
    pub name: String,
    pub distinct: bool,
    /// `COUNT(*)`.
    pub star: bool,
    /// `IGNORE NULLS` (LAG, FIRST_VALUE, LAST_VALUE).
    pub ignore_nulls: bool,
    pub args: Vec<PExpr>,
    pub over: Option<WindowDef>,
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub enum PExpr {
    Literal(Value),
    /// A column of the input row, by position.
    Column(usize),
    /// The input row's ROWTIME.
    Rowtime,
    Binary(BinOp, Box<PExpr>, Box<PExpr>),
    Unary(UnOp, Box<PExpr>),
    IsNull(Box<PExpr>, bool),
    /// `x IS [NOT] TRUE|FALSE`: (expr, value, negated).
    IsBool(Box<PExpr>, bool, bool),
    Between {
        expr: Box<PExpr>,
        low: Box<PExpr>,
        high: Box<PExpr>,
        negated: bool,
    },
    InList {
        expr: Box<PExpr>,
        list: Vec<PExpr>,
        negated: bool,
    },
    /// `(a, b) IN (SELECT x, y FROM table)`: the table query's rows, computed at compile
    /// time (reference tables do not change while the application runs).
    InRows {
        exprs: Vec<PExpr>,
        rows: Vec<Vec<Value>>,
        negated: bool,
    },
    Like {
        expr: Box<PExpr>,
        pattern: Box<PExpr>,
        escape: Option<Box<PExpr>>,
        negated: bool,
        similar: bool,
    },
    Case {
        operand: Option<Box<PExpr>>,
        whens: Vec<(PExpr, PExpr)>,
        otherwise: Option<Box<PExpr>>,
    },
    Cast(Box<PExpr>, SqlType),
    /// A scalar function by upper-case name.
    Call(String, Vec<PExpr>),
    Special(Special, Vec<PExpr>),
    /// `(row).FIELD` on a row value (the log parsers' results).
    Field(Box<PExpr>, String),
    /// An aggregate, before the query gives it a slot.
    Aggregate(Box<AggCall>),
    /// An aggregate's result, by slot.
    AggSlot(usize),
    /// A GROUP BY key's value, by position.
    GroupKey(usize),
    /// The output row's ROWTIME (a window's end in an aggregate query).
    OutRowtime,
}

impl PExpr {
    /// Rebuilds the expression bottom-up through `f`, which sees each node after its
    /// children were rebuilt, or replaces a node whole when `pre` returns Some.
    pub fn rewrite(
        self,
        pre: &mut dyn FnMut(&PExpr) -> Result<Option<PExpr>, CompileError>,
    ) -> Result<PExpr, CompileError> {
        if let Some(done) = pre(&self)? {
            return Ok(done);
        }
        Ok(match self {
            PExpr::Binary(op, a, b) => PExpr::Binary(op, rb(a, pre)?, rb(b, pre)?),
            PExpr::Unary(op, a) => PExpr::Unary(op, rb(a, pre)?),
            PExpr::IsNull(a, n) => PExpr::IsNull(rb(a, pre)?, n),
            PExpr::IsBool(a, v, n) => PExpr::IsBool(rb(a, pre)?, v, n),
            PExpr::Between {
                expr,
                low,
                high,
                negated,
            } => PExpr::Between {
                expr: rb(expr, pre)?,
                low: rb(low, pre)?,
                high: rb(high, pre)?,
                negated,
            },
            PExpr::InList {
                expr,
                list,
                negated,
            } => PExpr::InList {
                expr: rb(expr, pre)?,
                list: rewrite_all(list, pre)?,
                negated,
            },
            PExpr::Like {
                expr,
                pattern,
                escape,
                negated,
                similar,
            } => PExpr::Like {
                expr: rb(expr, pre)?,
                pattern: rb(pattern, pre)?,
                escape: escape.map(|x| rb(x, pre)).transpose()?,
                negated,
                similar,
            },
            PExpr::Case {
                operand,
                whens,
                otherwise,
            } => PExpr::Case {
                operand: operand.map(|x| rb(x, pre)).transpose()?,
                whens: whens
                    .into_iter()
                    .map(|(w, t)| Ok((w.rewrite(pre)?, t.rewrite(pre)?)))
                    .collect::<Result<_, CompileError>>()?,
                otherwise: otherwise.map(|x| rb(x, pre)).transpose()?,
            },
            PExpr::Cast(a, t) => PExpr::Cast(rb(a, pre)?, t),
            PExpr::Call(n, args) => PExpr::Call(n, rewrite_all(args, pre)?),
            PExpr::InRows {
                exprs,
                rows,
                negated,
            } => PExpr::InRows {
                exprs: rewrite_all(exprs, pre)?,
                rows,
                negated,
            },
            PExpr::Special(s, args) => PExpr::Special(s, rewrite_all(args, pre)?),
            PExpr::Field(a, f) => PExpr::Field(rb(a, pre)?, f),
            leaf => leaf,
        })
    }

    /// Whether anything in the expression satisfies `f`.
    pub fn any(&self, f: &dyn Fn(&PExpr) -> bool) -> bool {
        if f(self) {
            return true;
        }
        let kids: Vec<&PExpr> = match self {
            PExpr::Binary(_, a, b) => vec![a, b],
            PExpr::Unary(_, a)
            | PExpr::IsNull(a, _)
            | PExpr::IsBool(a, _, _)
            | PExpr::Cast(a, _)
            | PExpr::Field(a, _) => vec![a],
            PExpr::Between {
                expr, low, high, ..
            } => vec![expr, low, high],
            PExpr::InList { expr, list, .. } => {
                let mut v: Vec<&PExpr> = vec![expr];
                v.extend(list.iter());
                v
            }
            PExpr::Like {
                expr,
                pattern,
                escape,
                ..
            } => {
                let mut v: Vec<&PExpr> = vec![expr, pattern];
                v.extend(escape.as_deref());
                v
            }
            PExpr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let mut v: Vec<&PExpr> = operand.as_deref().into_iter().collect();
                for (w, t) in whens {
                    v.push(w);
                    v.push(t);
                }
                v.extend(otherwise.as_deref());
                v
            }
            PExpr::Call(_, args) | PExpr::Special(_, args) => args.iter().collect(),
            PExpr::InRows { exprs, .. } => exprs.iter().collect(),
            PExpr::Aggregate(call) => call.args.iter().collect(),
            _ => vec![],
        };
        kids.into_iter().any(|k| k.any(f))
    }

    pub fn uses_rowtime(&self) -> bool {
        self.any(&|e| matches!(e, PExpr::Rowtime))
    }

    pub fn has_aggregate(&self) -> bool {
        self.any(&|e| matches!(e, PExpr::Aggregate(_)))
    }
}

#[allow(clippy::boxed_local)] // the tree's children are boxed; this rebuilds one in place
fn rb(
    e: Box<PExpr>,
    pre: &mut dyn FnMut(&PExpr) -> Result<Option<PExpr>, CompileError>,
) -> Result<Box<PExpr>, CompileError> {
    Ok(Box::new(e.rewrite(pre)?))
}

fn rewrite_all(
    list: Vec<PExpr>,
    pre: &mut dyn FnMut(&PExpr) -> Result<Option<PExpr>, CompileError>,
) -> Result<Vec<PExpr>, CompileError> {
    list.into_iter().map(|e| e.rewrite(pre)).collect()
}

/// A compiled expression and its type, when it can be told at compile time.
#[derive(Debug, Clone)]
pub struct Typed {
    pub expr: PExpr,
    pub ty: Option<SqlType>,
}

impl Typed {
    fn new(expr: PExpr, ty: Option<SqlType>) -> Typed {
        Typed { expr, ty }
    }
}

/// One column a query can name: its stored name, the names that qualify it (stream name and
/// alias), its type, and where its value is in the input row.
#[derive(Debug, Clone)]
pub struct ScopeColumn {
    pub qualifiers: Vec<String>,
    pub name: String,
    pub ty: Option<SqlType>,
    pub index: usize,
    /// Hidden columns are not part of `SELECT *`: a joined stream's ROWTIME (named only when
    /// qualified) and an input's APPROXIMATE_ARRIVAL_TIME.
    pub hidden: bool,
    /// A subquery's column computed from its ROWTIME alone (`SELECT STREAM ROWTIME AS t`,
    /// `FLOOR(ROWTIME TO MINUTE) AS m`): it reads as that expression of the row's ROWTIME,
    /// so windows over it are windows over ROWTIME.
    pub rowtime: Option<PExpr>,
}

/// The names a query's expressions can use.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
    /// Qualifiers whose `q.ROWTIME` is the row's own ROWTIME.
    pub rowtime_qualifiers: Vec<String>,
}

impl Scope {
    fn resolve(
        &self,
        qualifier: Option<&str>,
        name: &str,
        pos: Pos,
    ) -> Result<Typed, CompileError> {
        let found: Vec<&ScopeColumn> = self
            .columns
            .iter()
            .filter(|c| c.name == name)
            .filter(|c| match qualifier {
                Some(q) => c.qualifiers.iter().any(|x| x == q),
                None => !c.hidden || c.name != "ROWTIME",
            })
            .collect();
        match found.as_slice() {
            [one] if one.rowtime.is_some() => Ok(Typed::new(
                one.rowtime.clone().unwrap_or(PExpr::Rowtime),
                one.ty.clone(),
            )),
            [one] => Ok(Typed::new(PExpr::Column(one.index), one.ty.clone())),
            [] if name == "ROWTIME"
                && qualifier.is_none_or(|q| self.rowtime_qualifiers.iter().any(|x| x == q)) =>
            {
                Ok(Typed::new(PExpr::Rowtime, Some(SqlType::Timestamp)))
            }
            [] => Err(pos.error(match qualifier {
                Some(q) => format!("column {q}.{name} not found"),
                None => format!("column {name} not found"),
            })),
            _ => Err(pos.error(format!("column {name} is ambiguous"))),
        }
    }
}

/// What expression compilation needs besides the scope.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    /// `WINDOW w AS (...)` definitions of the current SELECT.
    pub named_windows: HashMap<String, ast::WindowSpec>,
    /// The reference tables, for `IN (SELECT ... FROM table)` and `EXISTS (...)`.
    pub tables: crate::plan::Tables,
}

/// The aggregate functions (by the SQL Reference's aggregate functions page).
pub fn is_aggregate(name: &str) -> bool {
    matches!(
        name,
        "COUNT"
            | "SUM"
            | "AVG"
            | "MIN"
            | "MAX"
            | "FIRST_VALUE"
            | "LAST_VALUE"
            | "STDDEV"
            | "STDDEV_POP"
            | "STDDEV_SAMP"
            | "VAR_POP"
            | "VAR_SAMP"
            | "VARIANCE"
            | "APPROXIMATE_COUNT_DISTINCT"
    ) || is_analytic(name)
}

/// The analytic functions: they read a window's rows rather than fold them, so they need
/// OVER (LAG, NTH_VALUE, EXP_AVG).
pub fn is_analytic(name: &str) -> bool {
    matches!(
        name,
        "LAG" | "NTH_VALUE" | "NTH_VALUE_FROM_LAST" | "EXP_AVG"
    )
}

pub fn pos_of(e: &Ast) -> Pos {
    Pos::of(e.span().start)
}

/// The stored name of an identifier.
pub fn name_of(ident: &ast::Ident) -> String {
    crate::row::stored_name(&ident.value, ident.quote_style.is_some())
}

/// Compiles one expression.
pub fn compile(e: &Ast, scope: &Scope, ctx: &Ctx) -> Result<Typed, CompileError> {
    let pos = pos_of(e);
    let go = |x: &Ast| compile(x, scope, ctx);
    let boxed = |x: &Ast| -> Result<Box<PExpr>, CompileError> { Ok(Box::new(go(x)?.expr)) };
    let boolean = |expr: PExpr| Ok(Typed::new(expr, Some(SqlType::Boolean)));
    match e {
        Ast::Identifier(ident) => scope.resolve(None, &name_of(ident), Pos::of_ident(ident)),
        Ast::CompoundIdentifier(parts) => compound(parts, scope),
        Ast::CompoundFieldAccess { root, access_chain } => {
            let mut t = go(root)?;
            for a in access_chain {
                match a {
                    ast::AccessExpr::Dot(Ast::Identifier(f)) => {
                        t = Typed::new(PExpr::Field(Box::new(t.expr), name_of(f)), None)
                    }
                    _ => return Err(pos.error(format!("unsupported field access {e}"))),
                }
            }
            Ok(t)
        }
        Ast::Nested(inner) => go(inner),
        Ast::Value(v) => literal(&v.value, pos),
        Ast::TypedString(ts) => typed_string(ts, pos),
        Ast::Interval(iv) => interval(iv, pos),
        Ast::UnaryOp { op, expr } => {
            let inner = go(expr)?;
            match op {
                UnaryOperator::Minus => {
                    if let PExpr::Literal(v) = &inner.expr {
                        if let Some(n) = negate_literal(v) {
                            return Ok(Typed::new(PExpr::Literal(n), inner.ty));
                        }
                    }
                    check_numeric(&inner, pos)?;
                    Ok(Typed::new(
                        PExpr::Unary(UnOp::Neg, Box::new(inner.expr)),
                        inner.ty,
                    ))
                }
                UnaryOperator::Plus => Ok(inner),
                UnaryOperator::Not => boolean(PExpr::Unary(UnOp::Not, Box::new(inner.expr))),
                other => Err(pos.error(format!("unsupported operator {other}"))),
            }
        }
        Ast::BinaryOp { left, op, right } => binary(go(left)?, op, go(right)?, pos),
        Ast::IsNull(x) => boolean(PExpr::IsNull(boxed(x)?, false)),
        Ast::IsNotNull(x) => boolean(PExpr::IsNull(boxed(x)?, true)),
        Ast::IsTrue(x) => boolean(PExpr::IsBool(boxed(x)?, true, false)),
        Ast::IsNotTrue(x) => boolean(PExpr::IsBool(boxed(x)?, true, true)),
        Ast::IsFalse(x) => boolean(PExpr::IsBool(boxed(x)?, false, false)),
        Ast::IsNotFalse(x) => boolean(PExpr::IsBool(boxed(x)?, false, true)),
        Ast::Between {
            expr,
            negated,
            low,
            high,
        } => boolean(PExpr::Between {
            expr: boxed(expr)?,
            low: boxed(low)?,
            high: boxed(high)?,
            negated: *negated,
        }),
        Ast::In {
            expr,
            target: InTarget::List(list),
            negated,
            ..
        } => boolean(PExpr::InList {
            expr: boxed(expr)?,
            list: list
                .iter()
                .map(|x| go(x).map(|t| t.expr))
                .collect::<Result<_, _>>()?,
            negated: *negated,
        }),
        Ast::In {
            expr,
            target: InTarget::Subquery(q),
            negated,
            ..
        } => {
            let rows = table_query(q, ctx, pos)?;
            let tested = match expr.as_ref() {
                Ast::Tuple(items) => items
                    .iter()
                    .map(|x| go(x).map(|t| t.expr))
                    .collect::<Result<Vec<_>, _>>()?,
                one => vec![go(one)?.expr],
            };
            if rows.first().is_some_and(|r| r.len() != tested.len()) {
                return Err(pos.error(format!(
                    "IN compares {} values with rows of {}",
                    tested.len(),
                    rows.first().map_or(0, |r| r.len())
                )));
            }
            boolean(PExpr::InRows {
                exprs: tested,
                rows,
                negated: *negated,
            })
        }
        Ast::Exists { subquery, negated } => {
            let found = !table_query(subquery, ctx, pos)?.is_empty();
            boolean(PExpr::Literal(Value::Boolean(found != *negated)))
        }
        Ast::Like {
            negated,
            expr,
            pattern,
            escape_char,
            ..
        } => like(
            go(expr)?,
            go(pattern)?,
            escape_char,
            *negated,
            false,
            scope,
            ctx,
            pos,
        ),
        Ast::SimilarTo {
            negated,
            expr,
            pattern,
            escape_char,
        } => like(
            go(expr)?,
            go(pattern)?,
            escape_char,
            *negated,
            true,
            scope,
            ctx,
            pos,
        ),
        Ast::Case {
            operand,
            conditions,
            else_result,
            ..
        } => case(operand, conditions, else_result, scope, ctx),
        Ast::Cast {
            expr, data_type, ..
        } => {
            let ty = SqlType::parse(&data_type.to_string()).map_err(|err| pos.error(err.0))?;
            Ok(Typed::new(PExpr::Cast(boxed(expr)?, ty.clone()), Some(ty)))
        }
        Ast::Extract { field, expr, .. } => {
            let unit = field_name(field);
            Ok(Typed::new(
                PExpr::Special(Special::Extract(unit), vec![go(expr)?.expr]),
                Some(SqlType::BigInt),
            ))
        }
        Ast::Floor { expr, field } | Ast::Ceil { expr, field } => {
            let ceil = matches!(e, Ast::Ceil { .. });
            let arg = go(expr)?;
            match field {
                CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) => Ok(Typed::new(
                    PExpr::Call(if ceil { "CEIL" } else { "FLOOR" }.into(), vec![arg.expr]),
                    arg.ty,
                )),
                CeilFloorKind::DateTimeField(f) => {
                    let unit = field_name(f);
                    let special = if ceil {
                        Special::CeilTo(unit)
                    } else {
                        Special::FloorTo(unit)
                    };
                    Ok(Typed::new(PExpr::Special(special, vec![arg.expr]), arg.ty))
                }
                CeilFloorKind::Scale(_) => Err(pos.error("FLOOR/CEIL take a unit, not a scale")),
            }
        }
        Ast::Position { expr, r#in } => Ok(Typed::new(
            PExpr::Special(Special::Position, vec![go(expr)?.expr, go(r#in)?.expr]),
            Some(SqlType::Integer),
        )),
        Ast::Substring {
            expr,
            substring_from,
            substring_for,
            special,
            ..
        } => {
            let s = go(expr)?;
            let mut args = vec![s.expr];
            match substring_from {
                Some(f) => args.push(go(f)?.expr),
                None => args.push(PExpr::Literal(Value::Integer(1))),
            }
            if let Some(f) = substring_for {
                args.push(go(f)?.expr);
            }
            // The comma form `SUBSTRING(s, start, len)` is the functions module's
            // `SUBSTRING` function; the standard `FROM ... FOR` form its `substring` special
            // form (the Reference gives them different results past the string's end).
            let form = if *special {
                PExpr::Call("SUBSTRING".into(), args)
            } else {
                PExpr::Special(Special::Substring, args)
            };
            Ok(Typed::new(form, s.ty))
        }
        Ast::Trim {
            trim_where,
            trim_what,
            expr,
            trim_characters,
        } => {
            let side = match trim_where {
                Some(TrimWhereField::Leading) => TrimSpec::Leading,
                Some(TrimWhereField::Trailing) => TrimSpec::Trailing,
                _ => TrimSpec::Both,
            };
            let mut args = vec![go(expr)?.expr];
            if let Some(what) = trim_what {
                args.push(go(what)?.expr);
            } else if let Some([c]) = trim_characters.as_deref() {
                args.push(go(c)?.expr);
            }
            Ok(Typed::new(
                PExpr::Special(Special::Trim(side), args),
                Some(SqlType::Varchar(MAX_CHAR_LENGTH)),
            ))
        }
        Ast::Overlay {
            expr,
            overlay_what,
            overlay_from,
            overlay_for,
        } => {
            let mut args = vec![
                go(expr)?.expr,
                go(overlay_what)?.expr,
                go(overlay_from)?.expr,
            ];
            if let Some(f) = overlay_for {
                args.push(go(f)?.expr);
            }
            Ok(Typed::new(
                PExpr::Call("OVERLAY".into(), args),
                Some(SqlType::Varchar(MAX_CHAR_LENGTH)),
            ))
        }
        Ast::Function(f) => function(f, scope, ctx, pos),
        other => Err(pos.error(format!("unsupported expression {other}"))),
    }
}

/// `q.col`, `q.col.FIELD...` (a row value's field, as the log parsers return), or
/// `col.FIELD...`.
fn compound(parts: &[ast::Ident], scope: &Scope) -> Result<Typed, CompileError> {
    let fields = |t: Typed, rest: &[ast::Ident]| {
        rest.iter().fold(t, |t, f| {
            Typed::new(PExpr::Field(Box::new(t.expr), name_of(f)), None)
        })
    };
    let [first, second, ..] = parts else {
        return match parts.first() {
            Some(one) => scope.resolve(None, &name_of(one), Pos::of_ident(one)),
            None => Err(Pos::default().error("empty name")),
        };
    };
    match scope.resolve(
        Some(&name_of(first)),
        &name_of(second),
        Pos::of_ident(second),
    ) {
        Ok(t) => Ok(fields(t, &parts[2..])),
        Err(qualified) => match scope.resolve(None, &name_of(first), Pos::of_ident(first)) {
            Ok(t) => Ok(fields(t, &parts[1..])),
            Err(_) => Err(qualified),
        },
    }
}

/// A query over a reference table (`SELECT cols FROM table [WHERE ...]`), run now: the
/// table's rows are fixed for the application's life.
fn table_query(q: &ast::Query, ctx: &Ctx, pos: Pos) -> Result<Vec<Vec<Value>>, CompileError> {
    let ast::SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(pos.error("a subquery here is a SELECT from a reference table"));
    };
    let table = match sel.from.as_slice() {
        [ast::TableWithJoins {
            relation: ast::TableFactor::Table { name, .. },
            joins,
        }] if joins.is_empty() => name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(name_of)
            .unwrap_or_default(),
        _ => return Err(pos.error("a subquery here reads one reference table")),
    };
    let (schema, rows) = ctx
        .tables
        .get(&table)
        .ok_or_else(|| pos.error(format!("{table} is not a reference table")))?;
    let scope = Scope {
        columns: schema
            .iter()
            .enumerate()
            .map(|(i, c)| ScopeColumn {
                qualifiers: vec![table.clone()],
                name: c.name.clone(),
                ty: Some(c.ty.clone()),
                index: i,
                hidden: false,
                rowtime: None,
            })
            .collect(),
        rowtime_qualifiers: Vec::new(),
    };
    let inner = Ctx {
        named_windows: HashMap::new(),
        tables: ctx.tables.clone(),
    };
    let filter = match &sel.selection {
        Some(w) => Some(compile(w, &scope, &inner)?.expr),
        None => None,
    };
    let mut items = Vec::new();
    for item in &sel.projection {
        match item {
            ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                items.push(compile(e, &scope, &inner)?.expr)
            }
            ast::SelectItem::Wildcard(_) => {
                items.extend((0..schema.len()).map(PExpr::Column));
            }
            _ => return Err(pos.error("unsupported select item in a table subquery")),
        }
    }
    let mut out = Vec::new();
    for row in rows.iter() {
        let input = crate::exec::eval::EvalInput::row(row, 0);
        let keep = match &filter {
            Some(f) => crate::exec::eval::eval(f, &input)
                .map(|v| crate::exec::eval::is_true(&v))
                .map_err(|e| pos.error(e.to_string()))?,
            None => true,
        };
        if keep {
            out.push(
                items
                    .iter()
                    .map(|e| crate::exec::eval::eval(e, &input))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| pos.error(e.to_string()))?,
            );
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn like(
    expr: Typed,
    pattern: Typed,
    escape: &Option<Box<Ast>>,
    negated: bool,
    similar: bool,
    scope: &Scope,
    ctx: &Ctx,
    pos: Pos,
) -> Result<Typed, CompileError> {
    for t in [&expr, &pattern] {
        if t.ty.as_ref().is_some_and(|ty| !ty.is_character()) {
            return Err(pos.error(format!(
                "{} applies to character strings",
                if similar { "SIMILAR TO" } else { "LIKE" }
            )));
        }
    }
    let escape = match escape {
        Some(x) => Some(Box::new(compile(x, scope, ctx)?.expr)),
        None => None,
    };
    Ok(Typed::new(
        PExpr::Like {
            expr: Box::new(expr.expr),
            pattern: Box::new(pattern.expr),
            escape,
            negated,
            similar,
        },
        Some(SqlType::Boolean),
    ))
}

fn case(
    operand: &Option<Box<Ast>>,
    conditions: &[ast::CaseWhen],
    else_result: &Option<Box<Ast>>,
    scope: &Scope,
    ctx: &Ctx,
) -> Result<Typed, CompileError> {
    let operand = match operand {
        Some(o) => Some(Box::new(compile(o, scope, ctx)?.expr)),
        None => None,
    };
    let mut ty = None;
    let mut whens = Vec::new();
    for w in conditions {
        let cond = compile(&w.condition, scope, ctx)?;
        let result = compile(&w.result, scope, ctx)?;
        ty = ty.or(result.ty);
        whens.push((cond.expr, result.expr));
    }
    let otherwise = match else_result {
        Some(x) => {
            let t = compile(x, scope, ctx)?;
            ty = ty.or(t.ty);
            Some(Box::new(t.expr))
        }
        None => None,
    };
    Ok(Typed::new(
        PExpr::Case {
            operand,
            whens,
            otherwise,
        },
        ty,
    ))
}

fn field_name(f: &DateTimeField) -> String {
    f.to_string().to_ascii_uppercase()
}

fn check_numeric(t: &Typed, pos: Pos) -> Result<(), CompileError> {
    match &t.ty {
        Some(ty) if ty.is_character() || *ty == SqlType::Boolean => {
            Err(pos.error(format!("arithmetic needs numbers, not {ty}")))
        }
        _ => Ok(()),
    }
}

fn binary(left: Typed, op: &BinaryOperator, right: Typed, pos: Pos) -> Result<Typed, CompileError> {
    let op = match op {
        BinaryOperator::Plus => BinOp::Plus,
        BinaryOperator::Minus => BinOp::Minus,
        BinaryOperator::Multiply => BinOp::Multiply,
        BinaryOperator::Divide => BinOp::Divide,
        BinaryOperator::Modulo => BinOp::Modulo,
        BinaryOperator::StringConcat => BinOp::Concat,
        BinaryOperator::Eq => BinOp::Eq,
        BinaryOperator::NotEq => BinOp::NotEq,
        BinaryOperator::Lt => BinOp::Lt,
        BinaryOperator::LtEq => BinOp::LtEq,
        BinaryOperator::Gt => BinOp::Gt,
        BinaryOperator::GtEq => BinOp::GtEq,
        BinaryOperator::And => BinOp::And,
        BinaryOperator::Or => BinOp::Or,
        other => return Err(pos.error(format!("unsupported operator {other}"))),
    };
    let ty = match op {
        BinOp::Plus | BinOp::Minus | BinOp::Multiply | BinOp::Divide | BinOp::Modulo => {
            check_numeric(&left, pos)?;
            check_numeric(&right, pos)?;
            arithmetic_type(op, left.ty.as_ref(), right.ty.as_ref())
        }
        BinOp::Concat => {
            for t in [&left, &right] {
                if t.ty.as_ref().is_some_and(|ty| ty.is_numeric()) {
                    return Err(pos.error("|| concatenates character strings, not numbers"));
                }
            }
            Some(SqlType::Varchar(MAX_CHAR_LENGTH))
        }
        _ => {
            if let (Some(a), Some(b)) = (&left.ty, &right.ty) {
                if op != BinOp::And && op != BinOp::Or && !comparable(a, b) {
                    return Err(pos.error(format!("cannot compare {a} with {b}")));
                }
            }
            Some(SqlType::Boolean)
        }
    };
    Ok(Typed::new(
        PExpr::Binary(op, Box::new(left.expr), Box::new(right.expr)),
        ty,
    ))
}

fn comparable(a: &SqlType, b: &SqlType) -> bool {
    (a.is_numeric() && b.is_numeric())
        || (a.is_character() && b.is_character())
        || std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// The result type of arithmetic, as SQL widens: the wider exact type, or the float when
/// either side is one; a timestamp plus an interval is a timestamp.
fn arithmetic_type(op: BinOp, a: Option<&SqlType>, b: Option<&SqlType>) -> Option<SqlType> {
    use SqlType::*;
    let (a, b) = (a?, b?);
    let rank = |t: &SqlType| match t {
        TinyInt => 1,
        SmallInt => 2,
        Integer => 3,
        BigInt => 4,
        Decimal { .. } => 5,
        Real => 6,
        Double => 7,
        _ => 0,
    };
    match (a, b) {
        (Timestamp, IntervalDayTime | IntervalYearMonth)
        | (IntervalDayTime | IntervalYearMonth, Timestamp) => Some(Timestamp),
        (Timestamp, Timestamp) if op == BinOp::Minus => Some(IntervalDayTime),
        (IntervalDayTime, _) | (_, IntervalDayTime) => Some(IntervalDayTime),
        _ if rank(a) > 0 && rank(b) > 0 => Some(if rank(a) >= rank(b) {
            a.clone()
        } else {
            b.clone()
        }),
        _ => None,
    }
}

fn negate_literal(v: &Value) -> Option<Value> {
    Some(match v {
        Value::Integer(i) => Value::Integer(i.checked_neg()?),
        Value::BigInt(i) => Value::BigInt(i.checked_neg()?),
        Value::Decimal(d) => Value::Decimal(-*d),
        Value::Double(d) => Value::Double(-*d),
        Value::IntervalDayTime(i) => Value::IntervalDayTime(-*i),
        Value::IntervalYearMonth(i) => Value::IntervalYearMonth(-*i),
        _ => return None,
    })
}

fn literal(v: &ast::Value, pos: Pos) -> Result<Typed, CompileError> {
    let (value, ty) = match v {
        ast::Value::Number(text, _) => number(text, pos)?,
        ast::Value::SingleQuotedString(s) | ast::Value::UnicodeStringLiteral(s) => (
            Value::Varchar(s.clone()),
            SqlType::Varchar((s.chars().count() as u32).clamp(1, MAX_CHAR_LENGTH)),
        ),
        ast::Value::Boolean(b) => (Value::Boolean(*b), SqlType::Boolean),
        ast::Value::Null => return Ok(Typed::new(PExpr::Literal(Value::Null), None)),
        other => return Err(pos.error(format!("unsupported literal {other}"))),
    };
    Ok(Typed::new(PExpr::Literal(value), Some(ty)))
}

/// A numeric literal: integers are INTEGER (BIGINT when larger), `1.5` is DECIMAL, `1e3`
/// DOUBLE, as SQL types exact and approximate literals.
fn number(text: &str, pos: Pos) -> Result<(Value, SqlType), CompileError> {
    if text.contains(['e', 'E']) {
        let f: f64 = text
            .parse()
            .map_err(|_| pos.error(format!("bad number {text}")))?;
        return Ok((Value::Double(f), SqlType::Double));
    }
    if !text.contains('.') {
        if let Ok(i) = text.parse::<i32>() {
            return Ok((Value::Integer(i), SqlType::Integer));
        }
        if let Ok(i) = text.parse::<i64>() {
            return Ok((Value::BigInt(i), SqlType::BigInt));
        }
    }
    let d: rust_decimal::Decimal = text
        .parse()
        .map_err(|_| pos.error(format!("number {text} out of range")))?;
    let scale = d.scale() as u8;
    let precision = (d.mantissa().unsigned_abs().to_string().len() as u8)
        .max(scale)
        .max(1);
    Ok((Value::Decimal(d), SqlType::Decimal { precision, scale }))
}

fn typed_string(ts: &ast::TypedString, pos: Pos) -> Result<Typed, CompileError> {
    let text = match &ts.value.value {
        ast::Value::SingleQuotedString(s) => s.clone(),
        other => return Err(pos.error(format!("expected a quoted literal, found {other}"))),
    };
    let ty = SqlType::parse(&ts.data_type.to_string()).map_err(|e| pos.error(e.0))?;
    let value = match ty {
        SqlType::Timestamp => parse_timestamp(&text).map(Value::Timestamp),
        SqlType::Date => chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .ok()
            .map(|d| {
                Value::Date(
                    (d - chrono::NaiveDate::default()).num_days() as i32 - days_from_ce_to_epoch(),
                )
            }),
        SqlType::Time => chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M:%S%.f")
            .ok()
            .map(|t| Value::Time((t - chrono::NaiveTime::MIN).num_milliseconds() as u32)),
        _ => None,
    }
    .ok_or_else(|| pos.error(format!("bad {} literal '{text}'", ty)))?;
    Ok(Typed::new(PExpr::Literal(value), Some(ty)))
}

/// chrono's default NaiveDate is 1970-01-01, so this offset is 0; kept as a function so the
/// DATE arithmetic above reads as days since the epoch.
fn days_from_ce_to_epoch() -> i32 {
    0
}

/// `INTERVAL '1' MINUTE`, `INTERVAL '1 02:03:04.5' DAY TO SECOND`, `INTERVAL '1-6' YEAR TO
/// MONTH`: day-time intervals in milliseconds, year-month intervals in months.
fn interval(iv: &ast::Interval, pos: Pos) -> Result<Typed, CompileError> {
    let text = match iv.value.as_ref() {
        Ast::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            ast::Value::Number(n, _) => n.clone(),
            other => return Err(pos.error(format!("bad interval {other}"))),
        },
        other => return Err(pos.error(format!("bad interval {other}"))),
    };
    let lead = iv
        .leading_field
        .as_ref()
        .map(field_name)
        .ok_or_else(|| pos.error("INTERVAL needs a unit"))?;
    let last = iv
        .last_field
        .as_ref()
        .map(field_name)
        .unwrap_or(lead.clone());
    let bad = || pos.error(format!("bad interval literal '{text}' {lead} TO {last}"));
    let (negative, body) = match text.trim().strip_prefix('-') {
        Some(rest) => (true, rest.trim().to_string()),
        None => (false, text.trim().to_string()),
    };
    let units = ["YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"];
    let from = units.iter().position(|u| *u == lead).ok_or_else(bad)?;
    let to = units.iter().position(|u| *u == last).ok_or_else(bad)?;
    if to < from {
        return Err(bad());
    }
    let parts: Vec<&str> = body
        .split([' ', ':', '-'])
        .filter(|s| !s.is_empty())
        .collect();
    if parts.len() != to - from + 1 {
        return Err(bad());
    }
    if from <= 1 {
        if to > 1 {
            return Err(bad());
        }
        let mut months: i64 = 0;
        for (unit, part) in units[from..=to].iter().zip(&parts) {
            let n: i64 = part.parse().map_err(|_| bad())?;
            months += if *unit == "YEAR" { n * 12 } else { n };
        }
        let months = if negative { -months } else { months };
        return Ok(Typed::new(
            PExpr::Literal(Value::IntervalYearMonth(months as i32)),
            Some(SqlType::IntervalYearMonth),
        ));
    }
    let mut ms: f64 = 0.0;
    for (unit, part) in units[from..=to].iter().zip(&parts) {
        let n: f64 = part.parse().map_err(|_| bad())?;
        ms += n * match *unit {
            "DAY" => 86_400_000.0,
            "HOUR" => 3_600_000.0,
            "MINUTE" => 60_000.0,
            _ => 1000.0,
        };
    }
    let ms = ms.round() as i64;
    Ok(Typed::new(
        PExpr::Literal(Value::IntervalDayTime(if negative { -ms } else { ms })),
        Some(SqlType::IntervalDayTime),
    ))
}

fn function(f: &ast::Function, scope: &Scope, ctx: &Ctx, pos: Pos) -> Result<Typed, CompileError> {
    let name = f
        .name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_ascii_uppercase())
        .unwrap_or_default();
    let (args, distinct, star) = match &f.args {
        FunctionArguments::None => (vec![], false, false),
        FunctionArguments::List(list) => {
            let distinct = matches!(
                list.duplicate_treatment,
                Some(ast::DuplicateTreatment::Distinct)
            );
            let mut star = false;
            let mut args = Vec::new();
            for a in &list.args {
                match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => args.push(x.clone()),
                    FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
                    other => return Err(pos.error(format!("unsupported argument {other}"))),
                }
            }
            (args, distinct, star)
        }
        FunctionArguments::Subquery(_) => {
            return Err(pos.error("subquery arguments are not supported"))
        }
    };
    let compiled = args
        .iter()
        .map(|a| compile(a, scope, ctx))
        .collect::<Result<Vec<_>, _>>()?;
    if is_aggregate(&name) {
        let ignore_nulls = matches!(f.null_treatment, Some(ast::NullTreatment::IgnoreNulls))
            || matches!(&f.args, FunctionArguments::List(l) if l.clauses.iter().any(|c| matches!(
                c,
                ast::FunctionArgumentClause::IgnoreOrRespectNulls(ast::NullTreatment::IgnoreNulls)
            )));
        let mut t = aggregate(
            name,
            distinct,
            star,
            compiled,
            f.over.as_ref(),
            scope,
            ctx,
            pos,
        )?;
        if let PExpr::Aggregate(call) = &mut t.expr {
            call.ignore_nulls = ignore_nulls;
        }
        return Ok(t);
    }
    if f.over.is_some() {
        return Err(pos.error(format!("{name} is not an aggregate: it takes no OVER")));
    }
    match name.as_str() {
        "CURRENT_ROW_TIMESTAMP" | "CURRENT_TIMESTAMP" | "LOCALTIMESTAMP" if compiled.is_empty() => {
            // The engine has no clock: the current row's time is its ROWTIME.
            return Ok(Typed::new(PExpr::Rowtime, Some(SqlType::Timestamp)));
        }
        "SUBSTRING_SIMILAR" if compiled.len() == 3 => {
            return Ok(Typed::new(
                PExpr::Special(
                    Special::SubstringSimilar,
                    compiled.into_iter().map(|t| t.expr).collect(),
                ),
                Some(SqlType::Varchar(MAX_CHAR_LENGTH)),
            ));
        }
        "STEP" if compiled.len() == 2 => {
            let ty = compiled[0].ty.clone();
            return Ok(Typed::new(
                PExpr::Special(
                    Special::Step,
                    compiled.into_iter().map(|t| t.expr).collect(),
                ),
                ty,
            ));
        }
        _ => {}
    }
    let (min, max) = crate::exec::calls::arity(&name)
        .ok_or_else(|| pos.error(format!("no function named {name}")))?;
    if compiled.len() < min || compiled.len() > max {
        return Err(pos.error(if min == max {
            format!("{name} takes {min} argument(s), given {}", compiled.len())
        } else {
            format!(
                "{name} takes {min} to {max} arguments, given {}",
                compiled.len()
            )
        }));
    }
    let ty = scalar_type(&name, &compiled);
    Ok(Typed::new(
        PExpr::Call(name, compiled.into_iter().map(|t| t.expr).collect()),
        ty,
    ))
}

fn scalar_type(name: &str, args: &[Typed]) -> Option<SqlType> {
    match name {
        "ABS" | "CEIL" | "CEILING" | "FLOOR" | "MOD" | "COALESCE" | "NULLIF" => {
            args.first().and_then(|t| t.ty.clone())
        }
        "EXP" | "LN" | "LOG10" | "POWER" | "SQRT" => Some(SqlType::Double),
        "CHAR_LENGTH" | "CHARACTER_LENGTH" | "POSITION" => Some(SqlType::Integer),
        "LOWER" | "UPPER" | "INITCAP" | "REGEX_REPLACE" | "OVERLAY" | "SUBSTRING"
        | "TIMESTAMP_TO_CHAR" | "DATE_TO_CHAR" | "TIME_TO_CHAR" => {
            Some(SqlType::Varchar(MAX_CHAR_LENGTH))
        }
        "UNIX_TIMESTAMP" | "TSDIFF" => Some(SqlType::BigInt),
        "TO_TIMESTAMP" | "CHAR_TO_TIMESTAMP" => Some(SqlType::Timestamp),
        "CHAR_TO_DATE" => Some(SqlType::Date),
        "CHAR_TO_TIME" => Some(SqlType::Time),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn aggregate(
    name: String,
    distinct: bool,
    star: bool,
    args: Vec<Typed>,
    over: Option<&WindowType>,
    scope: &Scope,
    ctx: &Ctx,
    pos: Pos,
) -> Result<Typed, CompileError> {
    let arity_ok = match name.as_str() {
        "COUNT" => star && args.is_empty() || !star && args.len() == 1,
        "LAG" => !args.is_empty() && args.len() <= 3 && !star,
        "NTH_VALUE" | "NTH_VALUE_FROM_LAST" | "EXP_AVG" => args.len() == 2 && !star,
        _ => args.len() == 1 && !star,
    };
    if !arity_ok {
        return Err(pos.error(format!("wrong arguments to {name}")));
    }
    if name == "LAG"
        && args
            .get(1)
            .is_some_and(|t| !matches!(t.expr, PExpr::Literal(Value::Integer(n)) if n >= 0))
    {
        return Err(pos.error("LAG's offset is a non-negative integer constant"));
    }
    if name.starts_with("NTH_VALUE")
        && !matches!(args[1].expr, PExpr::Literal(Value::Integer(n)) if n >= 1)
    {
        return Err(pos.error("NTH_VALUE's n is a positive integer constant"));
    }
    if name == "EXP_AVG"
        && !matches!(args[1].expr, PExpr::Literal(Value::IntervalDayTime(ms)) if ms > 0)
    {
        return Err(pos.error("EXP_AVG's half-life is a positive day-time INTERVAL"));
    }
    if matches!(
        name.as_str(),
        "SUM"
            | "EXP_AVG"
            | "AVG"
            | "STDDEV"
            | "STDDEV_POP"
            | "STDDEV_SAMP"
            | "VAR_POP"
            | "VAR_SAMP"
            | "VARIANCE"
    ) {
        if let Some(ty) = &args[0].ty {
            if !ty.is_numeric() {
                return Err(pos.error(format!("{name} needs a number, not {ty}")));
            }
        }
    }
    let ty = match name.as_str() {
        "COUNT" | "APPROXIMATE_COUNT_DISTINCT" => Some(SqlType::BigInt),
        "STDDEV" | "STDDEV_POP" | "STDDEV_SAMP" | "VAR_POP" | "VAR_SAMP" | "VARIANCE"
        | "EXP_AVG" => Some(SqlType::Double),
        "SUM" => match args[0].ty {
            Some(SqlType::TinyInt | SqlType::SmallInt | SqlType::Integer) => Some(SqlType::BigInt),
            ref other => other.clone(),
        },
        _ => args.first().and_then(|t| t.ty.clone()),
    };
    let over = match over {
        None if is_analytic(&name) => return Err(pos.error(format!("{name} needs an OVER clause"))),
        None => None,
        Some(w) => Some(window(w, scope, ctx, pos)?),
    };
    Ok(Typed::new(
        PExpr::Aggregate(Box::new(AggCall {
            name,
            distinct,
            star,
            ignore_nulls: false,
            args: args.into_iter().map(|t| t.expr).collect(),
            over,
        })),
        ty,
    ))
}

/// Compiles an OVER clause (inline or a named window of the SELECT).
pub fn window(
    w: &WindowType,
    scope: &Scope,
    ctx: &Ctx,
    pos: Pos,
) -> Result<WindowDef, CompileError> {
    let spec = match w {
        WindowType::WindowSpec(s) => s.clone(),
        WindowType::NamedWindow(name) => ctx
            .named_windows
            .get(&name_of(name))
            .cloned()
            .ok_or_else(|| {
                Pos::of_ident(name).error(format!("no window named {}", name_of(name)))
            })?,
    };
    window_spec(&spec, scope, ctx, pos)
}

pub fn window_spec(
    spec: &ast::WindowSpec,
    scope: &Scope,
    ctx: &Ctx,
    pos: Pos,
) -> Result<WindowDef, CompileError> {
    let base = match &spec.window_name {
        Some(name) => Some(window(
            &WindowType::NamedWindow(name.clone()),
            scope,
            ctx,
            pos,
        )?),
        None => None,
    };
    let mut partition_by = spec
        .partition_by
        .iter()
        .map(|x| compile(x, scope, ctx).map(|t| t.expr))
        .collect::<Result<Vec<_>, _>>()?;
    if partition_by.is_empty() {
        if let Some(b) = &base {
            partition_by = b.partition_by.clone();
        }
    }
    let frame = match &spec.window_frame {
        None => base.map(|b| b.frame).unwrap_or(Frame::Unbounded),
        Some(frame) => {
            let bound = match &frame.end_bound {
                Some(WindowFrameBound::CurrentRow) | None => &frame.start_bound,
                Some(_) => return Err(pos.error("a window must end at the current row")),
            };
            match (&frame.units, bound) {
                (_, WindowFrameBound::Preceding(None)) => Frame::Unbounded,
                (WindowFrameUnits::Range, WindowFrameBound::Preceding(Some(x))) => {
                    match compile(x, scope, ctx)?.expr {
                        PExpr::Literal(Value::IntervalDayTime(ms)) if ms >= 0 => Frame::Range(ms),
                        _ => return Err(pos_of(x).error("RANGE takes a day-time INTERVAL")),
                    }
                }
                (WindowFrameUnits::Rows, WindowFrameBound::Preceding(Some(x))) => {
                    match compile(x, scope, ctx)?.expr {
                        PExpr::Literal(Value::Integer(n)) if n >= 0 => Frame::Rows(n as u64),
                        _ => return Err(pos_of(x).error("ROWS takes a row count")),
                    }
                }
                (_, WindowFrameBound::CurrentRow) => Frame::Rows(0),
                _ => return Err(pos.error("unsupported window frame")),
            }
        }
    };
    Ok(WindowDef {
        partition_by,
        frame,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_program;
    use crate::parse::Statement;

    /// Compiles the single select item of `SELECT STREAM <item> FROM s` over columns
    /// (A INTEGER, S VARCHAR(8)).
    fn item(text: &str) -> Result<Typed, CompileError> {
        let code =
            format!("CREATE PUMP \"P\" AS INSERT INTO \"D\" SELECT STREAM {text} FROM \"S\"");
        let program = parse_program(&code)?;
        let Some(Statement::CreatePump(p)) = program.statements.first() else {
            return Err(Pos::default().error("no pump"));
        };
        let ast::SetExpr::Select(sel) = p.query.body.as_ref() else {
            return Err(Pos::default().error("no select"));
        };
        let e = match &sel.projection[0] {
            ast::SelectItem::UnnamedExpr(e) => e.clone(),
            _ => return Err(Pos::default().error("not an expression")),
        };
        let scope = Scope {
            columns: vec![
                ScopeColumn {
                    qualifiers: vec!["S".into()],
                    name: "A".into(),
                    ty: Some(SqlType::Integer),
                    index: 0,
                    hidden: false,
                    rowtime: None,
                },
                ScopeColumn {
                    qualifiers: vec!["S".into()],
                    name: "S".into(),
                    ty: Some(SqlType::Varchar(8)),
                    index: 1,
                    hidden: false,
                    rowtime: None,
                },
            ],
            rowtime_qualifiers: vec!["S".into()],
        };
        compile(&e, &scope, &Ctx::default())
    }

    fn literal(text: &str) -> Value {
        match item(text).map(|t| t.expr) {
            Ok(PExpr::Literal(v)) => v,
            other => panic!("{text}: {other:?}"),
        }
    }

    /// Interval literals of the SQL Reference's "Interval" and data types pages: day-time in
    /// milliseconds, year-month in months.
    #[test]
    fn interval_literals() {
        assert_eq!(
            literal("INTERVAL '1' MINUTE"),
            Value::IntervalDayTime(60_000)
        );
        assert_eq!(
            literal("INTERVAL '10' SECOND"),
            Value::IntervalDayTime(10_000)
        );
        assert_eq!(
            literal("INTERVAL '1 2:03:04.5' DAY TO SECOND"),
            Value::IntervalDayTime(93_784_500)
        );
        assert_eq!(
            literal("INTERVAL '-3 4:20' DAY TO MINUTE"),
            Value::IntervalDayTime(-274_800_000)
        );
        assert_eq!(
            literal("INTERVAL '1-6' YEAR TO MONTH"),
            Value::IntervalYearMonth(18)
        );
        assert_eq!(literal("INTERVAL '2' YEAR"), Value::IntervalYearMonth(24));
        assert!(item("INTERVAL '1:2' DAY").is_err());
    }

    /// Numeric literals: INTEGER, BIGINT past 32 bits, DECIMAL with a point, DOUBLE with an
    /// exponent; typed literals.
    #[test]
    fn numeric_and_typed_literals() {
        assert_eq!(literal("7"), Value::Integer(7));
        assert_eq!(literal("3000000000"), Value::BigInt(3_000_000_000));
        assert_eq!(
            literal("1.50"),
            Value::Decimal(rust_decimal::Decimal::new(150, 2))
        );
        assert_eq!(literal("1e3"), Value::Double(1000.0));
        assert_eq!(literal("-2"), Value::Integer(-2));
        assert_eq!(
            literal("TIMESTAMP '2019-01-01 10:00:00'"),
            Value::Timestamp(1_546_336_800_000)
        );
        assert_eq!(literal("DATE '1970-01-03'"), Value::Date(2));
    }

    /// Columns resolve by name and qualifier; types flow into operators and are checked.
    #[test]
    fn columns_and_types() {
        assert_eq!(item("A").map(|t| t.expr).ok(), Some(PExpr::Column(0)));
        assert_eq!(item("S.S").map(|t| t.expr).ok(), Some(PExpr::Column(1)));
        assert_eq!(item("s.rowtime").map(|t| t.expr).ok(), Some(PExpr::Rowtime));
        assert_eq!(
            item("A + 1").ok().and_then(|t| t.ty),
            Some(SqlType::Integer)
        );
        assert_eq!(
            item("A * 1.5")
                .ok()
                .and_then(|t| t.ty)
                .map(|t| t.is_numeric()),
            Some(true)
        );
        let e = item("S + 1").expect_err("string arithmetic");
        assert_eq!((e.line, e.column), (1, 50), "{e}");
        assert!(item("S LIKE 'a%'").is_ok());
        assert!(item("A LIKE 'a%'").is_err());
        assert!(item("S = 1").is_err());
        assert!(item("NOPE").is_err());
        assert!(item("UPPER(S, S)").is_err());
    }
}
