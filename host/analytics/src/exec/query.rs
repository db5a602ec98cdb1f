//! A query's state and its two moves: a row reaches a stream it reads (`push`), or stream
//! time moves on (`advance`, which flushes windows whose end has passed).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::aggregate::key::{keys_eq, GroupKey};

use crate::exec::eval::{eval, is_true, EvalInput};
use crate::exec::items::ItemsState;
use crate::exec::join::JoinState;
use crate::exec::sliding::SlidingState;
use crate::exec::stagger::StaggerState;
use crate::exec::tumbling::TumblingState;
use crate::exec::{Errors, PumpError};
use crate::plan::expr::PExpr;
use crate::plan::query::{QueryKind, QueryPlan, SourcePlan};
use crate::row::StreamRow;
use crate::value::Value;

/// A query's state, shaped like its plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueryState {
    pub source: SourceState,
    pub kind: KindState,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub enum SourceState {
    #[default]
    Stream,
    Sub(Box<QueryState>),
    Join(Box<JoinState>),
    Union(Vec<QueryState>),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub enum KindState {
    #[default]
    Project,
    Distinct(DistinctState),
    Tumbling(TumblingState),
    Sliding(SlidingState),
    Stagger(StaggerState),
    Items(ItemsState),
}

impl QueryState {
    pub fn new(plan: &QueryPlan) -> QueryState {
        QueryState {
            source: SourceState::new(&plan.source),
            kind: match &plan.kind {
                QueryKind::Project { .. } => KindState::Project,
                QueryKind::Distinct { .. } => KindState::Distinct(DistinctState::default()),
                QueryKind::Tumbling { .. } => KindState::Tumbling(TumblingState::default()),
                QueryKind::Sliding { .. } => KindState::Sliding(SlidingState::default()),
                QueryKind::Stagger { .. } => KindState::Stagger(StaggerState::default()),
                QueryKind::Items { .. } => KindState::Items(ItemsState::default()),
            },
        }
    }
}

impl QueryState {
    /// Whether this state has the shape of `plan` (a checkpoint restored into changed code
    /// may not): a pump whose state does not fit starts afresh rather than dropping rows.
    pub fn fits(&self, plan: &QueryPlan) -> bool {
        let kind = matches!(
            (&plan.kind, &self.kind),
            (QueryKind::Project { .. }, KindState::Project)
                | (QueryKind::Distinct { .. }, KindState::Distinct(_))
                | (QueryKind::Tumbling { .. }, KindState::Tumbling(_))
                | (QueryKind::Sliding { .. }, KindState::Sliding(_))
                | (QueryKind::Stagger { .. }, KindState::Stagger(_))
                | (QueryKind::Items { .. }, KindState::Items(_))
        );
        kind && self.source.fits(&plan.source)
    }
}

impl SourceState {
    fn fits(&self, plan: &SourcePlan) -> bool {
        match (plan, self) {
            (SourcePlan::Stream(_), SourceState::Stream) => true,
            (SourcePlan::Sub(q), SourceState::Sub(s)) => s.fits(q),
            (SourcePlan::Join(j), SourceState::Join(s)) => {
                s.left.fits(&j.left)
                    && match &j.right {
                        crate::plan::query::RightPlan::Stream { source, .. } => {
                            s.right.fits(source)
                        }
                        crate::plan::query::RightPlan::Table(_) => {
                            matches!(s.right, SourceState::Stream)
                        }
                    }
            }
            (SourcePlan::Union(branches), SourceState::Union(states)) => {
                branches.len() == states.len()
                    && branches.iter().zip(states).all(|(q, s)| s.fits(q))
            }
            _ => false,
        }
    }

    pub fn new(plan: &SourcePlan) -> SourceState {
        match plan {
            SourcePlan::Stream(_) => SourceState::Stream,
            SourcePlan::Sub(q) => SourceState::Sub(Box::new(QueryState::new(q))),
            SourcePlan::Join(j) => SourceState::Join(Box::new(JoinState::new(j))),
            SourcePlan::Union(branches) => {
                SourceState::Union(branches.iter().map(QueryState::new).collect())
            }
        }
    }
}

/// The rows a source gives when `row` reaches `stream`.
pub fn source_push(
    plan: &SourcePlan,
    state: &mut SourceState,
    stream: &str,
    row: &StreamRow,
    errors: &mut Errors,
) -> Vec<StreamRow> {
    match (plan, state) {
        (SourcePlan::Stream(name), _) => {
            if name == stream {
                vec![row.clone()]
            } else {
                vec![]
            }
        }
        (SourcePlan::Sub(q), SourceState::Sub(s)) => push(q, s, stream, row, errors),
        (SourcePlan::Join(j), SourceState::Join(s)) => s.push(j, stream, row, errors),
        (SourcePlan::Union(branches), SourceState::Union(states)) => branches
            .iter()
            .zip(states.iter_mut())
            .flat_map(|(q, s)| push(q, s, stream, row, errors))
            .collect(),
        _ => vec![],
    }
}

fn source_advance(
    plan: &SourcePlan,
    state: &mut SourceState,
    time: i64,
    errors: &mut Errors,
) -> Vec<StreamRow> {
    match (plan, state) {
        (SourcePlan::Sub(q), SourceState::Sub(s)) => advance(q, s, time, errors),
        (SourcePlan::Join(j), SourceState::Join(s)) => s.advance(j, time, errors),
        (SourcePlan::Union(branches), SourceState::Union(states)) => {
            let mut rows: Vec<StreamRow> = branches
                .iter()
                .zip(states.iter_mut())
                .flat_map(|(q, s)| advance(q, s, time, errors))
                .collect();
            rows.sort_by_key(|r| r.rowtime);
            rows
        }
        _ => vec![],
    }
}

/// A row reaches `stream`: the rows the query emits.
pub fn push(
    plan: &QueryPlan,
    state: &mut QueryState,
    stream: &str,
    row: &StreamRow,
    errors: &mut Errors,
) -> Vec<StreamRow> {
    let rows = source_push(&plan.source, &mut state.source, stream, row, errors);
    let mut out = Vec::new();
    for r in rows {
        process(plan, &mut state.kind, r, errors, &mut out);
    }
    out
}

/// Stream time reaches `time`: windows whose end has passed emit their rows.
pub fn advance(
    plan: &QueryPlan,
    state: &mut QueryState,
    time: i64,
    errors: &mut Errors,
) -> Vec<StreamRow> {
    let rows = source_advance(&plan.source, &mut state.source, time, errors);
    let mut out = Vec::new();
    for r in rows {
        process(plan, &mut state.kind, r, errors, &mut out);
    }
    match (&plan.kind, &mut state.kind) {
        (QueryKind::Tumbling { .. }, KindState::Tumbling(t)) => {
            t.flush(&plan.kind, time, errors, &mut out)
        }
        (QueryKind::Stagger { .. }, KindState::Stagger(s)) => {
            s.flush(&plan.kind, time, errors, &mut out)
        }
        (QueryKind::Items { .. }, KindState::Items(s)) => s.flush(time, &mut out),
        _ => {}
    }
    out
}

/// One source row through the filter and the query's kind.
fn process(
    plan: &QueryPlan,
    kind: &mut KindState,
    row: StreamRow,
    errors: &mut Errors,
    out: &mut Vec<StreamRow>,
) {
    if let Some(filter) = &plan.filter {
        match eval(filter, &EvalInput::row(&row.values, row.rowtime)) {
            Ok(v) if is_true(&v) => {}
            Ok(_) => return,
            Err(error) => {
                errors.push(PumpError { error, row });
                return;
            }
        }
    }
    match (&plan.kind, kind) {
        (QueryKind::Project { items }, _) => {
            match project(items, &EvalInput::row(&row.values, row.rowtime)) {
                Ok(values) => out.push(StreamRow::new(row.rowtime, values)),
                Err(error) => errors.push(PumpError { error, row }),
            }
        }
        (QueryKind::Distinct { items, monotonic }, KindState::Distinct(d)) => {
            match project(items, &EvalInput::row(&row.values, row.rowtime)) {
                Ok(values) => {
                    if d.first(monotonic, &values) {
                        out.push(StreamRow::new(row.rowtime, values));
                    }
                }
                Err(error) => errors.push(PumpError { error, row }),
            }
        }
        (k @ QueryKind::Tumbling { .. }, KindState::Tumbling(t)) => t.push(k, row, errors, out),
        (k @ QueryKind::Sliding { .. }, KindState::Sliding(s)) => s.push(k, row, errors, out),
        (k @ QueryKind::Stagger { .. }, KindState::Stagger(s)) => s.push(k, row, errors, out),
        (k @ QueryKind::Items { .. }, KindState::Items(s)) => s.push(k, row, out),
        _ => {}
    }
}

/// The rows `SELECT STREAM DISTINCT` has let through since its monotonic items last
/// changed value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DistinctState {
    current: Vec<Value>,
    seen: HashSet<GroupKey>,
}

impl DistinctState {
    /// Whether `values` is the first such row for the current monotonic values.
    fn first(&mut self, monotonic: &[usize], values: &[Value]) -> bool {
        let now: Vec<Value> = monotonic.iter().map(|i| values[*i].clone()).collect();
        if !keys_eq(&now, &self.current) {
            self.current = now;
            self.seen.clear();
        }
        self.seen.insert(GroupKey(values.to_vec()))
    }
}

/// Evaluates the select list.
pub fn project(items: &[PExpr], input: &EvalInput) -> Result<Vec<Value>, crate::error::SqlError> {
    items.iter().map(|e| eval(e, input)).collect()
}
