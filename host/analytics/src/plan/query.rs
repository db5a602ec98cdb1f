//! A SELECT compiled into what the executor runs: where its rows come from (a stream, a
//! subquery, a join), its filter, and what it does with each row: project it, fold it into a
//! tumbling group, a sliding window or a stagger window.

use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast::{
    self, GroupByExpr, JoinConstraint, JoinOperator, NamedWindowExpr, Select, SelectItem, SetExpr,
    Spanned, TableFactor,
};

use crate::aggregate::AggKind;
use crate::error::CompileError;
use crate::parse::{Pos, Program};
use crate::plan::expr::{
    self, compile, name_of, pos_of, AggCall, Ctx, Frame, PExpr, Scope, ScopeColumn, Typed,
    WindowDef,
};
use crate::row::{StreamColumn, StreamSchema};
use crate::types::{SqlType, MAX_CHAR_LENGTH};
use crate::value::Value;
use crate::window::items::ItemsFn;

/// The streams and reference tables a query can read.
pub struct Catalog<'a> {
    pub streams: &'a HashMap<String, StreamSchema>,
    pub tables: &'a crate::plan::Tables,
    pub program: &'a Program,
    /// The input streams: they also have `APPROXIMATE_ARRIVAL_TIME`.
    pub inputs: &'a [String],
}

/// The source streams' column holding each record's arrival time: not part of `SELECT *`,
/// carried after the mapped columns.
pub const ARRIVAL_TIME: &str = "APPROXIMATE_ARRIVAL_TIME";

/// A compiled SELECT.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    pub source: SourcePlan,
    pub filter: Option<PExpr>,
    pub kind: QueryKind,
    /// The output columns (ROWTIME is not one: it rides beside the values).
    pub columns: Vec<StreamColumn>,
    /// Which output columns are the row's ROWTIME itself.
    pub rowtime_columns: Vec<bool>,
    /// Per output column, the expression of the row's ROWTIME alone it is, if it is one.
    pub time_exprs: Vec<Option<PExpr>>,
    /// Each output column's type when compilation could tell it (`columns` holds a
    /// stand-in otherwise).
    pub known_types: Vec<Option<SqlType>>,
    /// Where each output column's select item was written (for errors about it).
    pub column_pos: Vec<Pos>,
}

#[derive(Debug, Clone)]
pub enum SourcePlan {
    Stream(String),
    Sub(Box<QueryPlan>),
    Join(Box<JoinPlan>),
    /// `UNION ALL`: every branch's rows.
    Union(Vec<QueryPlan>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

#[derive(Debug, Clone)]
pub struct JoinPlan {
    pub left: SourcePlan,
    /// `OVER (RANGE ...)` on the left stream: how long its rows wait for right rows.
    pub left_window: Option<i64>,
    /// The left's values in a joined row (its ROWTIME follows them).
    pub left_width: usize,
    pub right: RightPlan,
    pub right_width: usize,
    pub kind: JoinKind,
    pub on: Option<PExpr>,
    /// A reference table's rows by the key columns ON equates, when it can tell.
    pub table_index: Option<std::sync::Arc<crate::exec::table_index::TableIndex>>,
}

#[derive(Debug, Clone)]
pub enum RightPlan {
    Table(Arc<Vec<Vec<Value>>>),
    Stream {
        source: SourcePlan,
        window: Option<i64>,
    },
}

/// A function over a window's rows that is not an aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Analytic {
    Lag,
    NthValue { from_last: bool },
    ExpAvg,
}

/// One aggregate the query computes, and what feeds it.
#[derive(Debug, Clone, PartialEq)]
pub struct AggSpec {
    /// None for the analytic functions.
    pub kind: Option<AggKind>,
    pub analytic: Option<Analytic>,
    pub distinct: bool,
    /// `IGNORE NULLS`.
    pub ignore_nulls: bool,
    pub args: Vec<PExpr>,
}

#[derive(Debug, Clone)]
pub enum QueryKind {
    /// One output row per input row.
    Project { items: Vec<PExpr> },
    /// `SELECT STREAM DISTINCT`: a row unless an equal one came with the same values of
    /// the monotonic items (`monotonic`, positions in `items`).
    Distinct {
        items: Vec<PExpr>,
        monotonic: Vec<usize>,
    },
    /// GROUP BY with a ROWTIME window: `keys[window]` is the window's value.
    Tumbling {
        keys: Vec<PExpr>,
        window: usize,
        aggs: Vec<AggSpec>,
        having: Option<PExpr>,
        /// The select list, then one item per ORDER BY key.
        items: Vec<PExpr>,
        /// Per ORDER BY key: descending.
        order: Vec<bool>,
    },
    /// Aggregates OVER windows: one output row per input row.
    Sliding {
        windows: Vec<WindowDef>,
        /// Each aggregate and the window it runs over.
        aggs: Vec<(AggSpec, usize)>,
        items: Vec<PExpr>,
    },
    /// `TABLE(TOP_K_ITEMS_TUMBLING(CURSOR(...), 'column', k, seconds))` (per tumbling
    /// window, the k most frequent values of the column with their counts) and
    /// `TABLE(COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(...), 'column', seconds))`.
    Items {
        column: usize,
        func: ItemsFn,
        window_ms: i64,
    },
    /// `WINDOWED BY STAGGER`: one row per partition when its window closes.
    Stagger {
        keys: Vec<PExpr>,
        range_ms: i64,
        aggs: Vec<AggSpec>,
        items: Vec<PExpr>,
    },
}

impl SourcePlan {
    /// Every stream the source reads (a pump runs when a row reaches one of them).
    pub fn streams(&self, out: &mut Vec<String>) {
        match self {
            SourcePlan::Stream(s) => out.push(s.clone()),
            SourcePlan::Sub(q) => q.source.streams(out),
            SourcePlan::Union(branches) => {
                for q in branches {
                    q.source.streams(out);
                }
            }
            SourcePlan::Join(j) => {
                j.left.streams(out);
                if let RightPlan::Stream { source, .. } = &j.right {
                    source.streams(out);
                }
            }
        }
    }
}

/// Compiles a query (a SELECT, no set operations).
pub fn plan_query(q: &ast::Query, cat: &Catalog) -> Result<QueryPlan, CompileError> {
    let pos = Pos::of(q.span().start);
    if q.with.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return Err(pos.error("WITH, LIMIT and FETCH are not streaming SQL"));
    }
    let order: &[ast::OrderByExpr] = match &q.order_by {
        None => &[],
        Some(ast::OrderBy {
            kind: ast::OrderByKind::Expressions(e),
            ..
        }) => e,
        Some(_) => return Err(pos.error("ORDER BY ALL is not streaming SQL")),
    };
    match q.body.as_ref() {
        SetExpr::Select(s) => plan_select(s, cat, order),
        _ if !order.is_empty() => Err(pos_of(&order[0].expr)
            .error("ORDER BY applies to a SELECT with GROUP BY, not to a set operation")),
        body => plan_set_expr(body, cat, pos),
    }
}

fn plan_set_expr(body: &SetExpr, cat: &Catalog, pos: Pos) -> Result<QueryPlan, CompileError> {
    match body {
        SetExpr::Select(s) => plan_select(s, cat, &[]),
        SetExpr::Query(inner) => plan_query(inner, cat),
        SetExpr::SetOperation {
            left,
            op: ast::SetOperator::Union,
            set_quantifier: ast::SetQuantifier::All,
            right,
        } => union_all(
            plan_set_expr(left, cat, pos)?,
            plan_set_expr(right, cat, pos)?,
            pos,
        ),
        SetExpr::SetOperation { .. } => {
            Err(pos.error("UNION ALL is the only set operator on streams"))
        }
        _ => Err(pos.error("only SELECT STREAM queries are supported")),
    }
}

/// `q1 UNION ALL q2`: both queries' rows, each with its own ROWTIME, under the first
/// query's column names (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-query.html).
fn union_all(left: QueryPlan, right: QueryPlan, pos: Pos) -> Result<QueryPlan, CompileError> {
    if left.columns.len() != right.columns.len() {
        return Err(pos.error(format!(
            "UNION ALL of {} and {} columns",
            left.columns.len(),
            right.columns.len()
        )));
    }
    let columns = left.columns.clone();
    let known_types = left
        .known_types
        .iter()
        .zip(&right.known_types)
        .map(|(a, b)| if a == b { a.clone() } else { None })
        .collect();
    let column_pos = left.column_pos.clone();
    let time_exprs = left
        .time_exprs
        .iter()
        .zip(&right.time_exprs)
        .map(|(a, b)| if a == b { a.clone() } else { None })
        .collect();
    let rowtime_columns = left
        .rowtime_columns
        .iter()
        .zip(&right.rowtime_columns)
        .map(|(a, b)| *a && *b)
        .collect();
    Ok(QueryPlan {
        source: SourcePlan::Union(vec![left, right]),
        filter: None,
        kind: QueryKind::Project {
            items: (0..columns.len()).map(PExpr::Column).collect(),
        },
        columns,
        rowtime_columns,
        time_exprs,
        known_types,
        column_pos,
    })
}

/// Whether the SELECT was written `SELECT STREAM`.
pub fn is_stream_select(q: &ast::Query, program: &Program) -> bool {
    match q.body.as_ref() {
        SetExpr::Select(s) => program
            .stream_selects
            .contains(&Pos::of(s.select_token.0.span.start)),
        SetExpr::Query(inner) => is_stream_select(inner, program),
        _ => false,
    }
}

fn plan_select(
    sel: &Select,
    cat: &Catalog,
    order: &[ast::OrderByExpr],
) -> Result<QueryPlan, CompileError> {
    let select_pos = Pos::of(sel.select_token.0.span.start);
    let (source, scope) = match sel.from.as_slice() {
        [one] => plan_from(one, cat)?,
        [] => return Err(select_pos.error("a streaming SELECT needs a FROM")),
        [_, second, ..] => {
            return Err(Pos::of(second.relation.span().start)
                .error("comma joins are not supported: use JOIN ... ON"))
        }
    };
    let mut ctx = Ctx {
        tables: cat.tables.clone(),
        ..Ctx::default()
    };
    for ast::NamedWindowDefinition(name, def) in &sel.named_window {
        let spec = match def {
            NamedWindowExpr::WindowSpec(s) => s.clone(),
            NamedWindowExpr::NamedWindow(other) => ctx
                .named_windows
                .get(&name_of(other))
                .cloned()
                .ok_or_else(|| {
                    Pos::of_ident(other).error(format!("no window named {}", name_of(other)))
                })?,
        };
        ctx.named_windows.insert(name_of(name), spec);
    }
    let filter = match &sel.selection {
        Some(w) => {
            let t = compile(w, &scope, &ctx)?;
            expect_boolean(&t, pos_of(w), "WHERE")?;
            if t.expr.has_aggregate() {
                return Err(pos_of(w).error("aggregates are not allowed in WHERE"));
            }
            Some(t.expr)
        }
        None => None,
    };
    let items = projection(sel, &scope, &ctx)?;
    let group_by = match &sel.group_by {
        GroupByExpr::Expressions(exprs, _) => exprs.clone(),
        GroupByExpr::All(_) => return Err(select_pos.error("GROUP BY ALL is not supported")),
    };
    let known_types: Vec<Option<SqlType>> = items
        .iter()
        .filter(|i| !i.rowtime)
        .map(|i| i.typed.ty.clone())
        .collect();
    let column_pos: Vec<Pos> = items.iter().filter(|i| !i.rowtime).map(|i| i.pos).collect();
    let stagger = cat.program.staggers.get(&select_pos);
    let (kind, columns) = if let Some(stagger) = stagger {
        plan_stagger(stagger, items, &scope, &ctx)?
    } else if !group_by.is_empty() {
        plan_tumbling(sel, &group_by, items, order, &scope, &ctx)?
    } else if items.iter().any(|i| i.typed.expr.has_aggregate()) {
        plan_sliding(items, select_pos)?
    } else {
        let columns = items.iter().filter_map(Item::column).collect();
        let items: Vec<PExpr> = items
            .into_iter()
            .filter(|i| !i.rowtime)
            .map(|i| i.typed.expr)
            .collect();
        if matches!(sel.distinct, Some(ast::Distinct::Distinct)) {
            // A stream's DISTINCT needs a monotonic item (over ROWTIME): duplicates are
            // only looked for among rows where it has the same value.
            let monotonic: Vec<usize> = (0..items.len())
                .filter(|i| items[*i].uses_rowtime())
                .collect();
            if monotonic.is_empty() {
                return Err(
                    select_pos.error("SELECT STREAM DISTINCT needs a select item over ROWTIME")
                );
            }
            (QueryKind::Distinct { items, monotonic }, columns)
        } else {
            (QueryKind::Project { items }, columns)
        }
    };
    if !matches!(kind, QueryKind::Tumbling { .. }) {
        // Rows already come out in ROWTIME order: an ORDER BY over ROWTIME alone is that
        // order; sorting within a time needs a GROUP BY window (whose rows come out together).
        for o in order {
            let t = compile(&o.expr, &scope, &ctx)?;
            if !t.expr.uses_rowtime() || matches!(o.options.sort, Some(ast::OrderBySort::Desc)) {
                return Err(pos_of(&o.expr).error(
                    "a streaming ORDER BY without GROUP BY can only follow ROWTIME (ascending)",
                ));
            }
        }
    }
    if sel.having.is_some() && !matches!(kind, QueryKind::Tumbling { .. }) {
        return Err(select_pos.error("HAVING needs a GROUP BY"));
    }
    let time_exprs = time_exprs(&kind);
    let rowtime_columns = match &kind {
        QueryKind::Project { items }
        | QueryKind::Distinct { items, .. }
        | QueryKind::Tumbling { items, .. }
        | QueryKind::Sliding { items, .. }
        | QueryKind::Stagger { items, .. } => items
            .iter()
            .map(|e| matches!(e, PExpr::Rowtime | PExpr::OutRowtime))
            .collect(),
        QueryKind::Items { .. } => Vec::new(),
    };
    Ok(QueryPlan {
        source,
        filter,
        kind,
        columns,
        rowtime_columns,
        time_exprs,
        known_types,
        column_pos,
    })
}

/// Per output column, the expression of the row's ROWTIME alone it computes (in an
/// aggregate query, of the output row's ROWTIME: a window's key is not one, since the
/// window's value is not its end's), or None.
fn time_exprs(kind: &QueryKind) -> Vec<Option<PExpr>> {
    let items: &[PExpr] = match kind {
        QueryKind::Project { items }
        | QueryKind::Distinct { items, .. }
        | QueryKind::Sliding { items, .. }
        | QueryKind::Tumbling { items, .. }
        | QueryKind::Stagger { items, .. } => items,
        QueryKind::Items { .. } => return Vec::new(),
    };
    items
        .iter()
        .map(|e| {
            let t = e
                .clone()
                .rewrite(&mut |node| match node {
                    PExpr::OutRowtime => Ok(Some(PExpr::Rowtime)),
                    _ => Ok(None),
                })
                .ok()?;
            let only_time = !t.any(&|n| {
                matches!(
                    n,
                    PExpr::Column(_)
                        | PExpr::GroupKey(_)
                        | PExpr::AggSlot(_)
                        | PExpr::Aggregate(_)
                        | PExpr::OutRowtime
                )
            });
            (only_time && t.uses_rowtime()).then_some(t)
        })
        .collect()
}

fn expect_boolean(t: &Typed, pos: Pos, clause: &str) -> Result<(), CompileError> {
    match &t.ty {
        Some(ty) if *ty != SqlType::Boolean => {
            Err(pos.error(format!("{clause} needs a BOOLEAN condition, not {ty}")))
        }
        _ => Ok(()),
    }
}

/// One item of the select list.
#[derive(Debug, Clone)]
struct Item {
    typed: Typed,
    name: String,
    pos: Pos,
    /// An item aliased `AS ROWTIME`: the output row's ROWTIME, not a column.
    rowtime: bool,
}

impl Item {
    fn column(&self) -> Option<StreamColumn> {
        (!self.rowtime).then(|| {
            StreamColumn::new(
                self.name.clone(),
                self.typed
                    .ty
                    .clone()
                    .unwrap_or(SqlType::Varchar(MAX_CHAR_LENGTH)),
            )
        })
    }
}

fn projection(sel: &Select, scope: &Scope, ctx: &Ctx) -> Result<Vec<Item>, CompileError> {
    let mut items = Vec::new();
    for (i, item) in sel.projection.iter().enumerate() {
        match item {
            SelectItem::Wildcard(_) => {
                for c in scope.columns.iter().filter(|c| !c.hidden) {
                    items.push(star_item(c, Pos::of(item.span().start)));
                }
            }
            SelectItem::QualifiedWildcard(kind, _) => {
                let q = match kind {
                    ast::SelectItemQualifiedWildcardKind::ObjectName(n) => {
                        n.0.last()
                            .and_then(|p| p.as_ident())
                            .map(name_of)
                            .unwrap_or_default()
                    }
                    ast::SelectItemQualifiedWildcardKind::Expr(e) => {
                        return Err(pos_of(e).error("unsupported wildcard"))
                    }
                };
                for c in scope
                    .columns
                    .iter()
                    .filter(|c| !c.hidden && c.qualifiers.contains(&q))
                {
                    items.push(star_item(c, Pos::of(item.span().start)));
                }
            }
            SelectItem::UnnamedExpr(e) => {
                let typed = compile(e, scope, ctx)?;
                // A bare ROWTIME is a column holding the row's ROWTIME: the join clause's
                // examples insert `SELECT STREAM "orderid", "ROWTIME"` into a stream of two
                // columns.
                let rowtime = false;
                let name = match e {
                    ast::Expr::Identifier(id) => name_of(id),
                    ast::Expr::CompoundIdentifier(parts) => {
                        parts.last().map(name_of).unwrap_or_default()
                    }
                    _ => format!("EXPR${i}"),
                };
                items.push(Item {
                    typed,
                    name,
                    pos: pos_of(e),
                    rowtime,
                });
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let typed = compile(expr, scope, ctx)?;
                let name = name_of(alias);
                let rowtime = name == "ROWTIME";
                items.push(Item {
                    typed,
                    name,
                    pos: pos_of(expr),
                    rowtime,
                });
            }
            other => {
                return Err(Pos::of(other.span().start).error("unsupported select item"));
            }
        }
    }
    Ok(items)
}

fn star_item(c: &ScopeColumn, pos: Pos) -> Item {
    Item {
        typed: Typed {
            expr: PExpr::Column(c.index),
            ty: c.ty.clone(),
        },
        name: c.name.clone(),
        pos,
        rowtime: false,
    }
}

/// Gives each aggregate call a slot (equal calls share one), checking it against the
/// aggregate module's kinds.
fn agg_spec(call: &AggCall, pos: Pos) -> Result<AggSpec, CompileError> {
    let analytic = match call.name.as_str() {
        "LAG" => Some(Analytic::Lag),
        "NTH_VALUE" => Some(Analytic::NthValue { from_last: false }),
        "NTH_VALUE_FROM_LAST" => Some(Analytic::NthValue { from_last: true }),
        "EXP_AVG" => Some(Analytic::ExpAvg),
        _ => None,
    };
    if analytic.is_some() {
        return Ok(AggSpec {
            kind: None,
            analytic,
            distinct: false,
            ignore_nulls: call.ignore_nulls,
            args: call.args.clone(),
        });
    }
    let name = match call.name.as_str() {
        "STDDEV" => "STDDEV_SAMP",
        "VARIANCE" => "VAR_SAMP",
        n => n,
    };
    let kind = match AggKind::from_name(name) {
        Some(AggKind::Count) if call.star => AggKind::CountStar,
        Some(k) => k,
        None => return Err(pos.error(format!("aggregate {} is not supported", call.name))),
    };
    Ok(AggSpec {
        kind: Some(kind),
        analytic: None,
        distinct: call.distinct,
        ignore_nulls: call.ignore_nulls,
        args: call.args.clone(),
    })
}

fn plan_tumbling(
    sel: &Select,
    group_by: &[ast::Expr],
    items: Vec<Item>,
    order: &[ast::OrderByExpr],
    scope: &Scope,
    ctx: &Ctx,
) -> Result<(QueryKind, Vec<StreamColumn>), CompileError> {
    let mut keys = Vec::new();
    let mut window = None;
    for g in group_by {
        let t = compile(g, scope, ctx)?;
        if t.expr.has_aggregate() {
            return Err(pos_of(g).error("aggregates are not allowed in GROUP BY"));
        }
        if t.expr.uses_rowtime() && window.is_none() {
            window = Some(keys.len());
        }
        keys.push(t.expr);
    }
    let window = window.ok_or_else(|| {
        pos_of(&group_by[0]).error(
            "a streaming GROUP BY needs a window over ROWTIME, such as STEP(ROWTIME BY INTERVAL '1' MINUTE) or FLOOR(ROWTIME TO MINUTE)",
        )
    })?;
    let mut aggs: Vec<AggSpec> = Vec::new();
    let mut lift = |e: PExpr, pos: Pos| -> Result<PExpr, CompileError> {
        e.rewrite(&mut |node| {
            if let Some(i) = keys.iter().position(|k| k == node) {
                return Ok(Some(PExpr::GroupKey(i)));
            }
            match node {
                PExpr::Aggregate(call) => {
                    if call.over.is_some() || crate::plan::expr::is_analytic(&call.name) {
                        return Err(pos.error("OVER aggregates cannot be mixed with GROUP BY"));
                    }
                    let spec = agg_spec(call, pos)?;
                    let slot = match aggs.iter().position(|a| *a == spec) {
                        Some(s) => s,
                        None => {
                            aggs.push(spec);
                            aggs.len() - 1
                        }
                    };
                    Ok(Some(PExpr::AggSlot(slot)))
                }
                PExpr::Rowtime => Ok(Some(PExpr::OutRowtime)),
                PExpr::Column(_) => Err(pos.error(
                    "a column in the select list of a GROUP BY query must be grouped or aggregated",
                )),
                _ => Ok(None),
            }
        })
    };
    let mut out_items = Vec::new();
    let mut columns = Vec::new();
    for item in &items {
        if item.rowtime {
            continue;
        }
        out_items.push(lift(item.typed.expr.clone(), item.pos)?);
        columns.extend(item.column());
    }
    let having = match &sel.having {
        Some(h) => {
            let t = compile(h, scope, ctx)?;
            expect_boolean(&t, pos_of(h), "HAVING")?;
            Some(lift(t.expr, pos_of(h))?)
        }
        None => None,
    };
    // ORDER BY sorts the rows a window emits together: its keys ride as extra items
    // (a select item's alias or position, or an expression over the groups).
    let mut descending = Vec::new();
    for o in order {
        let pos = pos_of(&o.expr);
        let by_item = match &o.expr {
            ast::Expr::Identifier(id) => {
                let name = name_of(id);
                columns.iter().position(|c: &StreamColumn| c.name == name)
            }
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => match n.parse::<usize>() {
                    Ok(k) if k >= 1 && k <= columns.len() => Some(k - 1),
                    _ => return Err(pos.error(format!("ORDER BY {n}: no such select item"))),
                },
                _ => None,
            },
            _ => None,
        };
        let key = match by_item {
            Some(i) => out_items[i].clone(),
            None => lift(compile(&o.expr, scope, ctx)?.expr, pos)?,
        };
        out_items.push(key);
        descending.push(matches!(o.options.sort, Some(ast::OrderBySort::Desc)));
    }
    Ok((
        QueryKind::Tumbling {
            keys,
            window,
            aggs,
            having,
            items: out_items,
            order: descending,
        },
        columns,
    ))
}

fn plan_sliding(
    items: Vec<Item>,
    pos: Pos,
) -> Result<(QueryKind, Vec<StreamColumn>), CompileError> {
    let mut windows: Vec<WindowDef> = Vec::new();
    let mut aggs: Vec<(AggSpec, usize)> = Vec::new();
    let mut out_items = Vec::new();
    let mut columns = Vec::new();
    for item in &items {
        if item.rowtime {
            continue;
        }
        let lifted = item.typed.expr.clone().rewrite(&mut |node| match node {
            PExpr::Aggregate(call) => {
                let over = call.over.clone().ok_or_else(|| {
                    item.pos
                        .error("an aggregate in a streaming query needs GROUP BY or OVER")
                })?;
                let w = match windows.iter().position(|w| *w == over) {
                    Some(w) => w,
                    None => {
                        windows.push(over);
                        windows.len() - 1
                    }
                };
                let spec = (agg_spec(call, item.pos)?, w);
                let slot = match aggs.iter().position(|a| *a == spec) {
                    Some(s) => s,
                    None => {
                        aggs.push(spec);
                        aggs.len() - 1
                    }
                };
                Ok(Some(PExpr::AggSlot(slot)))
            }
            _ => Ok(None),
        })?;
        out_items.push(lifted);
        columns.extend(item.column());
    }
    if windows.is_empty() {
        return Err(pos.error("no window"));
    }
    Ok((
        QueryKind::Sliding {
            windows,
            aggs,
            items: out_items,
        },
        columns,
    ))
}

fn plan_stagger(
    stagger: &crate::parse::Stagger,
    items: Vec<Item>,
    scope: &Scope,
    ctx: &Ctx,
) -> Result<(QueryKind, Vec<StreamColumn>), CompileError> {
    let keys = stagger
        .partition_by
        .iter()
        .map(|e| compile(e, scope, ctx).map(|t| t.expr))
        .collect::<Result<Vec<_>, _>>()?;
    let range_ms = match compile(&stagger.range, scope, ctx)?.expr {
        PExpr::Literal(Value::IntervalDayTime(ms)) if ms > 0 => ms,
        _ => {
            return Err(stagger
                .pos
                .error("STAGGER's RANGE takes a positive day-time INTERVAL"))
        }
    };
    let mut aggs: Vec<AggSpec> = Vec::new();
    let mut out_items = Vec::new();
    let mut columns = Vec::new();
    for item in &items {
        if item.rowtime {
            continue;
        }
        let lifted = item.typed.expr.clone().rewrite(&mut |node| {
            if let Some(i) = keys.iter().position(|k| k == node) {
                return Ok(Some(PExpr::GroupKey(i)));
            }
            match node {
                PExpr::Aggregate(call) => {
                    if call.over.is_some() || crate::plan::expr::is_analytic(&call.name) {
                        return Err(item
                            .pos
                            .error("OVER functions cannot be mixed with a stagger window"));
                    }
                    let spec = agg_spec(call, item.pos)?;
                    let slot = match aggs.iter().position(|a| *a == spec) {
                        Some(s) => s,
                        None => {
                            aggs.push(spec);
                            aggs.len() - 1
                        }
                    };
                    Ok(Some(PExpr::AggSlot(slot)))
                }
                PExpr::Rowtime => Ok(Some(PExpr::OutRowtime)),
                PExpr::Column(_) => Err(item.pos.error(
                    "a column in a stagger query must be in its PARTITION BY or aggregated",
                )),
                _ => Ok(None),
            }
        })?;
        out_items.push(lifted);
        columns.extend(item.column());
    }
    Ok((
        QueryKind::Stagger {
            keys,
            range_ms,
            aggs,
            items: out_items,
        },
        columns,
    ))
}

/// The FROM clause: a stream, a subquery, or joins of them with reference tables.
fn plan_from(
    twj: &ast::TableWithJoins,
    cat: &Catalog,
) -> Result<(SourcePlan, Scope), CompileError> {
    let (mut source, mut scope, mut window) = plan_factor(&twj.relation, cat)?;
    for join in &twj.joins {
        let (kind, constraint) = match &join.join_operator {
            JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, c),
            JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
            JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (JoinKind::Right, c),
            JoinOperator::FullOuter(c) => (JoinKind::Full, c),
            _ => {
                return Err(Pos::of(join.relation.span().start)
                    .error("only JOIN, LEFT, RIGHT and FULL OUTER JOIN are supported"))
            }
        };
        let (right_source, right_scope, right_window) = plan_factor(&join.relation, cat)?;
        let right_is_table = matches!(right_source, FactorSource::Table(_));
        if right_is_table && matches!(kind, JoinKind::Right | JoinKind::Full) {
            return Err(Pos::of(join.relation.span().start)
                .error("a reference table cannot be the outer side of a join"));
        }
        // The joined row: the left's values, the left's ROWTIME, the right's values, and
        // for a stream the right's ROWTIME; `alias.ROWTIME` reads either side's.
        let left_width = scope.columns.len();
        let right_width = right_scope.columns.len();
        // A joined row's ROWTIME is the later of its two rows': a side's columns computed
        // from its own ROWTIME are plain columns here.
        let mut joined = Scope {
            columns: scope
                .columns
                .iter()
                .map(|c| ScopeColumn {
                    rowtime: None,
                    ..c.clone()
                })
                .collect(),
            rowtime_qualifiers: Vec::new(),
        };
        joined.columns.push(ScopeColumn {
            qualifiers: scope.rowtime_qualifiers.clone(),
            name: "ROWTIME".into(),
            ty: Some(SqlType::Timestamp),
            index: left_width,
            hidden: true,
            rowtime: None,
        });
        for c in right_scope.columns {
            joined.columns.push(ScopeColumn {
                index: c.index + left_width + 1,
                rowtime: None,
                ..c
            });
        }
        if !right_is_table {
            joined.columns.push(ScopeColumn {
                qualifiers: right_scope.rowtime_qualifiers.clone(),
                name: "ROWTIME".into(),
                ty: Some(SqlType::Timestamp),
                index: left_width + 1 + right_width,
                hidden: true,
                rowtime: None,
            });
        }
        let on = match constraint {
            JoinConstraint::On(e) => {
                let t = compile(e, &joined, &Ctx::default())?;
                expect_boolean(&t, pos_of(e), "ON")?;
                Some(t.expr)
            }
            JoinConstraint::None => None,
            _ => {
                return Err(
                    Pos::of(join.relation.span().start).error("only JOIN ... ON is supported")
                )
            }
        };
        let right = match right_source {
            FactorSource::Table(rows) => RightPlan::Table(rows),
            FactorSource::Stream(s) => RightPlan::Stream {
                source: s,
                window: right_window,
            },
        };
        let left = match source {
            FactorSource::Stream(s) => s,
            FactorSource::Table(_) => {
                return Err(Pos::of(twj.relation.span().start)
                    .error("a reference table can only be joined to a stream, on the right"))
            }
        };
        let table_index = match (&right, &on) {
            (RightPlan::Table(rows), Some(on)) => {
                crate::exec::table_index::TableIndex::build(on, left_width, left_width + 1, rows)
                    .map(std::sync::Arc::new)
            }
            _ => None,
        };
        source = FactorSource::Stream(SourcePlan::Join(Box::new(JoinPlan {
            left,
            left_window: window,
            left_width,
            right,
            right_width,
            kind,
            on,
            table_index,
        })));
        scope = joined;
        window = None;
    }
    match source {
        FactorSource::Stream(s) => Ok((s, scope)),
        FactorSource::Table(_) => Err(Pos::of(twj.relation.span().start)
            .error("a reference table is not a stream: join it to one")),
    }
}

enum FactorSource {
    Stream(SourcePlan),
    Table(Arc<Vec<Vec<Value>>>),
}

fn plan_factor(
    f: &TableFactor,
    cat: &Catalog,
) -> Result<(FactorSource, Scope, Option<i64>), CompileError> {
    match f {
        TableFactor::Table { name, alias, .. } => {
            let last = name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .ok_or_else(|| Pos::of(f.span().start).error("bad stream name"))?;
            let stream = name_of(last);
            let pos = Pos::of_ident(last);
            let mut qualifiers = vec![stream.clone()];
            if let Some(a) = alias {
                qualifiers.push(name_of(&a.name));
            }
            let window = match cat.program.table_windows.get(&pos) {
                Some(spec) => {
                    match expr::window_spec(spec, &Scope::default(), &Ctx::default(), pos)?.frame {
                        Frame::Range(ms) => Some(ms),
                        _ => {
                            return Err(pos
                                .error("a joined stream's window is RANGE INTERVAL ... PRECEDING"))
                        }
                    }
                }
                None => None,
            };
            if let Some(schema) = cat.streams.get(&stream) {
                let mut scope = scope_of(schema, &qualifiers);
                if cat.inputs.contains(&stream) && !schema.iter().any(|c| c.name == ARRIVAL_TIME) {
                    scope.columns.push(ScopeColumn {
                        qualifiers: qualifiers.clone(),
                        name: ARRIVAL_TIME.into(),
                        ty: Some(SqlType::Timestamp),
                        index: schema.len(),
                        hidden: true,
                        rowtime: None,
                    });
                }
                return Ok((
                    FactorSource::Stream(SourcePlan::Stream(stream)),
                    Scope {
                        rowtime_qualifiers: qualifiers,
                        ..scope
                    },
                    window,
                ));
            }
            if let Some((schema, rows)) = cat.tables.get(&stream) {
                return Ok((
                    FactorSource::Table(rows.clone()),
                    scope_of(schema, &qualifiers),
                    None,
                ));
            }
            Err(pos.error(format!("no stream or reference table named {stream}")))
        }
        TableFactor::Derived {
            subquery, alias, ..
        } => {
            let mut plan = plan_query(subquery, cat)?;
            let qualifiers: Vec<String> = alias.iter().map(|a| name_of(&a.name)).collect();
            // `AS t(a, b)` renames the subquery's columns.
            if let Some(a) = alias.as_ref().filter(|a| !a.columns.is_empty()) {
                if a.columns.len() != plan.columns.len() {
                    return Err(Pos::of_ident(&a.name).error(format!(
                        "{} column names for a subquery of {} columns",
                        a.columns.len(),
                        plan.columns.len()
                    )));
                }
                for (c, name) in plan.columns.iter_mut().zip(&a.columns) {
                    c.name = name_of(&name.name);
                }
            }
            let schema: StreamSchema = plan.columns.clone().into();
            let mut scope = scope_of(&schema, &qualifiers);
            for (c, t) in scope.columns.iter_mut().zip(&plan.time_exprs) {
                c.rowtime = t.clone();
            }
            Ok((
                FactorSource::Stream(SourcePlan::Sub(Box::new(plan))),
                Scope {
                    rowtime_qualifiers: qualifiers,
                    ..scope
                },
                None,
            ))
        }
        TableFactor::TableFunction { expr, alias } => {
            let plan = table_function(expr, cat)?;
            let qualifiers: Vec<String> = alias.iter().map(|a| name_of(&a.name)).collect();
            let schema: StreamSchema = plan.columns.clone().into();
            let scope = scope_of(&schema, &qualifiers);
            Ok((
                FactorSource::Stream(SourcePlan::Sub(Box::new(plan))),
                Scope {
                    rowtime_qualifiers: qualifiers,
                    ..scope
                },
                None,
            ))
        }
        other => Err(Pos::of(other.span().start).error("unsupported FROM item")),
    }
}

/// `TOP_K_ITEMS_TUMBLING(CURSOR(SELECT STREAM ...), 'column', k, window_seconds)`
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/top-k.html) and
/// `COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(...), 'column', window_seconds)`
/// (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/count-distinct-items.html).
fn table_function(expr: &ast::Expr, cat: &Catalog) -> Result<QueryPlan, CompileError> {
    let pos = pos_of(expr);
    let ast::Expr::Function(f) = expr else {
        return Err(pos.error("TABLE(...) takes a table function call"));
    };
    let name = f
        .name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_ascii_uppercase())
        .unwrap_or_default();
    let args: Vec<&ast::Expr> = match &f.args {
        ast::FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => vec![],
    };
    let (cursor, column, k, seconds) = match (name.as_str(), args.as_slice()) {
        ("TOP_K_ITEMS_TUMBLING", [c, col, k, s]) => (*c, *col, Some(*k), *s),
        ("COUNT_DISTINCT_ITEMS_TUMBLING", [c, col, s]) => (*c, *col, None, *s),
        ("TOP_K_ITEMS_TUMBLING", _) => {
            return Err(
                pos.error("TOP_K_ITEMS_TUMBLING takes (CURSOR(query), 'column', k, seconds)")
            )
        }
        ("COUNT_DISTINCT_ITEMS_TUMBLING", _) => {
            return Err(
                pos.error("COUNT_DISTINCT_ITEMS_TUMBLING takes (CURSOR(query), 'column', seconds)")
            )
        }
        _ => return Err(pos.error(format!("unknown table function {name}"))),
    };
    let inner = match cursor {
        ast::Expr::Function(c) => match &c.args {
            ast::FunctionArguments::Subquery(q) => plan_query(q, cat)?,
            _ => return Err(pos_of(cursor).error("expected CURSOR(SELECT STREAM ...)")),
        },
        _ => return Err(pos_of(cursor).error("expected CURSOR(SELECT STREAM ...)")),
    };
    let constant = |e: &ast::Expr| compile(e, &Scope::default(), &Ctx::default()).map(|t| t.expr);
    let column_name = match constant(column)? {
        PExpr::Literal(Value::Varchar(s)) => s,
        _ => return Err(pos_of(column).error("the column name is a quoted string")),
    };
    let at = inner
        .columns
        .iter()
        .position(|c| c.name == column_name)
        .ok_or_else(|| pos_of(column).error(format!("column {column_name} not found")))?;
    let positive = |e: &ast::Expr, what: &str| match constant(e)? {
        PExpr::Literal(v) => v
            .as_i64()
            .filter(|n| *n > 0)
            .ok_or_else(|| pos_of(e).error(format!("{what} is a positive integer"))),
        _ => Err(pos_of(e).error(format!("{what} is a positive integer"))),
    };
    let window_ms = positive(seconds, "the window size")?.saturating_mul(1000);
    let (func, columns) = match k {
        Some(k) => (
            ItemsFn::TopK(positive(k, "k")? as usize),
            vec![
                inner.columns[at].clone(),
                StreamColumn::new("MOST_FREQUENT_VALUES", SqlType::BigInt),
            ],
        ),
        None => (
            ItemsFn::CountDistinct,
            vec![StreamColumn::new(
                "NUMBER_OF_DISTINCT_ITEMS",
                SqlType::BigInt,
            )],
        ),
    };
    Ok(QueryPlan {
        source: SourcePlan::Sub(Box::new(inner)),
        filter: None,
        kind: QueryKind::Items {
            column: at,
            func,
            window_ms,
        },
        known_types: columns.iter().map(|c| Some(c.ty.clone())).collect(),
        columns,
        rowtime_columns: Vec::new(),
        time_exprs: Vec::new(),
        column_pos: vec![pos; 2],
    })
}

fn scope_of(schema: &StreamSchema, qualifiers: &[String]) -> Scope {
    Scope {
        columns: schema
            .iter()
            .enumerate()
            .map(|(i, c)| ScopeColumn {
                qualifiers: qualifiers.to_vec(),
                name: c.name.clone(),
                ty: Some(c.ty.clone()),
                index: i,
                hidden: false,
                rowtime: None,
            })
            .collect(),
        rowtime_qualifiers: qualifiers.to_vec(),
    }
}
