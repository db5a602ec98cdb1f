//! Joins: a stream to a reference table (each stream row against the table's rows), and a
//! stream to a stream, where each side keeps its rows for its window (`"S" OVER (RANGE
//! INTERVAL '1' MINUTE PRECEDING)`; a side without one keeps only rows of the current
//! ROWTIME) and a row arriving on one side meets the other side's kept rows
//! (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-join-clause.html,
//! https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-add-reference-data.html).
//!
//! ROWTIME, as the join clause page states: a matched row has the later ROWTIME of its two
//! rows (the arriving one's); an outer row that found no match waits for the end of its
//! side's window and has that end as ROWTIME (a reference-table LEFT JOIN emits at once).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::exec::eval::{eval, is_true, EvalInput};
use crate::exec::query::{source_push, SourceState};
use crate::exec::table_index::Candidates;
use crate::exec::{Errors, PumpError};
use crate::plan::query::{JoinKind, JoinPlan, RightPlan};
use crate::row::StreamRow;
use crate::value::Value;

/// A row a side keeps, and whether it has met a row of the other side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Held {
    pub row: StreamRow,
    pub matched: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JoinState {
    pub left: SourceState,
    pub right: SourceState,
    pub left_rows: VecDeque<Held>,
    pub right_rows: VecDeque<Held>,
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Left,
    Right,
}

impl JoinState {
    pub fn new(plan: &JoinPlan) -> JoinState {
        JoinState {
            left: SourceState::new(&plan.left),
            right: match &plan.right {
                RightPlan::Stream { source, .. } => SourceState::new(source),
                RightPlan::Table(_) => SourceState::Stream,
            },
            left_rows: VecDeque::new(),
            right_rows: VecDeque::new(),
        }
    }

    pub fn push(
        &mut self,
        plan: &JoinPlan,
        stream: &str,
        row: &StreamRow,
        errors: &mut Errors,
    ) -> Vec<StreamRow> {
        let mut out = Vec::new();
        for l in source_push(&plan.left, &mut self.left, stream, row, errors) {
            self.expire(plan, l.rowtime, &mut out);
            self.arrive(plan, Side::Left, l, errors, &mut out);
        }
        if let RightPlan::Stream { source, .. } = &plan.right {
            for r in source_push(source, &mut self.right, stream, row, errors) {
                self.expire(plan, r.rowtime, &mut out);
                self.arrive(plan, Side::Right, r, errors, &mut out);
            }
        }
        out
    }

    /// Stream time is `time`: rows leave the windows; outer rows that met nothing come out.
    pub fn advance(&mut self, plan: &JoinPlan, time: i64, errors: &mut Errors) -> Vec<StreamRow> {
        let _ = errors;
        let mut out = Vec::new();
        self.expire(plan, time, &mut out);
        out
    }

    fn arrive(
        &mut self,
        plan: &JoinPlan,
        side: Side,
        row: StreamRow,
        errors: &mut Errors,
        out: &mut Vec<StreamRow>,
    ) {
        let mut matched = false;
        match (&plan.right, side) {
            (RightPlan::Table(rows), _) => {
                let candidates = match &plan.table_index {
                    Some(index) => index.candidates(&combine(plan, Some(&row), None), row.rowtime),
                    None => Candidates::Scan,
                };
                let mut meet = |r: &Vec<Value>| {
                    let values = combine(plan, Some(&row), Some((r, None)));
                    matched |= emit(plan, values, row.rowtime, &row, errors, out);
                };
                match candidates {
                    Candidates::Rows(at) => {
                        at.iter().filter_map(|&i| rows.get(i)).for_each(&mut meet)
                    }
                    Candidates::None => {}
                    Candidates::Scan => rows.iter().for_each(&mut meet),
                }
                if !matched && plan.kind == JoinKind::Left {
                    out.push(StreamRow::new(row.rowtime, combine(plan, Some(&row), None)));
                }
            }
            (RightPlan::Stream { .. }, Side::Left) => {
                for held in self.right_rows.iter_mut() {
                    let values = combine(
                        plan,
                        Some(&row),
                        Some((&held.row.values, Some(held.row.rowtime))),
                    );
                    if emit(plan, values, row.rowtime, &row, errors, out) {
                        held.matched = true;
                        matched = true;
                    }
                }
                self.left_rows.push_back(Held { row, matched });
            }
            (RightPlan::Stream { .. }, Side::Right) => {
                for held in self.left_rows.iter_mut() {
                    let values = combine(
                        plan,
                        Some(&held.row),
                        Some((&row.values, Some(row.rowtime))),
                    );
                    if emit(plan, values, row.rowtime, &row, errors, out) {
                        held.matched = true;
                        matched = true;
                    }
                }
                self.right_rows.push_back(Held { row, matched });
            }
        }
    }

    /// Drops the rows the windows no longer cover at `now` (a row stays through its
    /// window's end); an outer side's unmatched rows come out, at that end.
    fn expire(&mut self, plan: &JoinPlan, now: i64, out: &mut Vec<StreamRow>) {
        let RightPlan::Stream { window, .. } = &plan.right else {
            return;
        };
        let mut gone = Vec::new();
        let left_w = plan.left_window.unwrap_or(0);
        while let Some(h) = self.left_rows.front() {
            if h.row.rowtime.saturating_add(left_w) >= now {
                break;
            }
            if let Some(h) = self.left_rows.pop_front() {
                if matches!(plan.kind, JoinKind::Left | JoinKind::Full) && !h.matched {
                    let end = h.row.rowtime.saturating_add(left_w);
                    gone.push(StreamRow::new(end, combine(plan, Some(&h.row), None)));
                }
            }
        }
        let right_w = window.unwrap_or(0);
        while let Some(h) = self.right_rows.front() {
            if h.row.rowtime.saturating_add(right_w) >= now {
                break;
            }
            if let Some(h) = self.right_rows.pop_front() {
                if matches!(plan.kind, JoinKind::Right | JoinKind::Full) && !h.matched {
                    let end = h.row.rowtime.saturating_add(right_w);
                    gone.push(StreamRow::new(
                        end,
                        combine(plan, None, Some((&h.row.values, Some(h.row.rowtime)))),
                    ));
                }
            }
        }
        gone.sort_by_key(|r| r.rowtime);
        out.extend(gone);
    }
}

/// A joined row: the left's values and ROWTIME, the right's values (and ROWTIME for a
/// stream); a missing side is NULLs.
fn combine(
    plan: &JoinPlan,
    left: Option<&StreamRow>,
    right: Option<(&[Value], Option<i64>)>,
) -> Vec<Value> {
    let stream = matches!(plan.right, RightPlan::Stream { .. });
    let mut v = Vec::with_capacity(plan.left_width + plan.right_width + 2);
    match left {
        Some(l) => {
            v.extend_from_slice(&l.values);
            v.resize(plan.left_width, Value::Null);
            v.push(Value::Timestamp(l.rowtime));
        }
        None => v.resize(plan.left_width + 1, Value::Null),
    }
    match right {
        Some((values, rowtime)) => {
            v.extend_from_slice(values);
            v.resize(plan.left_width + 1 + plan.right_width, Value::Null);
            if stream {
                v.push(rowtime.map_or(Value::Null, Value::Timestamp));
            }
        }
        None => v.resize(
            plan.left_width + 1 + plan.right_width + usize::from(stream),
            Value::Null,
        ),
    }
    v
}

/// Emits the joined row when ON holds; whether it did.
fn emit(
    plan: &JoinPlan,
    values: Vec<Value>,
    rowtime: i64,
    arriving: &StreamRow,
    errors: &mut Errors,
    out: &mut Vec<StreamRow>,
) -> bool {
    let ok = match &plan.on {
        None => Ok(true),
        Some(on) => eval(on, &EvalInput::row(&values, rowtime)).map(|v| is_true(&v)),
    };
    match ok {
        Ok(true) => {
            out.push(StreamRow::new(rowtime, values));
            true
        }
        Ok(false) => false,
        Err(error) => {
            errors.push(PumpError {
                error,
                row: arriving.clone(),
            });
            false
        }
    }
}
