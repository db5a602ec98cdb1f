//! Joins: a stream to a reference table (each stream row against the table's rows), and a
//! stream to a stream, where each side keeps its rows for its window (`"S" OVER (RANGE
//! INTERVAL '1' MINUTE PRECEDING)`) and a row arriving on one side meets the other side's
//! kept rows (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/app-add-reference-data.html,
//! https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-join-clause.html).
//! A joined row's ROWTIME is the arriving row's.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::exec::eval::{eval, is_true, Input};
use crate::exec::query::{source_push, SourceState};
use crate::exec::{Errors, RowError};
use crate::plan::query::{JoinKind, JoinPlan, RightPlan};
use crate::row::Row;
use crate::value::Value;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JoinState {
    pub left: SourceState,
    pub right: SourceState,
    /// Rows each side keeps for its window.
    pub left_rows: VecDeque<Row>,
    pub right_rows: VecDeque<Row>,
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
        row: &Row,
        errors: &mut Errors,
    ) -> Vec<Row> {
        let mut out = Vec::new();
        for l in source_push(&plan.left, &mut self.left, stream, row, errors) {
            self.left_arrives(plan, l, errors, &mut out);
        }
        if let RightPlan::Stream { source, .. } = &plan.right {
            for r in source_push(source, &mut self.right, stream, row, errors) {
                self.right_arrives(plan, r, errors, &mut out);
            }
        }
        out
    }

    pub fn advance(&mut self, plan: &JoinPlan, time: i64, errors: &mut Errors) -> Vec<Row> {
        let _ = errors;
        expire(&mut self.left_rows, plan.left_window, time);
        if let RightPlan::Stream { window, .. } = &plan.right {
            expire(&mut self.right_rows, *window, time);
        }
        Vec::new()
    }

    fn left_arrives(
        &mut self,
        plan: &JoinPlan,
        left: Row,
        errors: &mut Errors,
        out: &mut Vec<Row>,
    ) {
        let mut matched = false;
        match &plan.right {
            RightPlan::Table(rows) => {
                for r in rows.iter() {
                    let values = combine(&left.values, r, None);
                    matched |= emit(plan, values, left.rowtime, &left, errors, out);
                }
            }
            RightPlan::Stream { window, .. } => {
                expire(&mut self.right_rows, *window, left.rowtime);
                for r in &self.right_rows {
                    let values = combine(&left.values, &r.values, Some(r.rowtime));
                    matched |= emit(plan, values, left.rowtime, &left, errors, out);
                }
                if plan.left_window.is_some() {
                    self.left_rows.push_back(left.clone());
                }
            }
        }
        if !matched && plan.kind == JoinKind::Left {
            let mut values = left.values.clone();
            values.resize(plan.left_width + plan.right_width, Value::Null);
            if matches!(plan.right, RightPlan::Stream { .. }) {
                values.push(Value::Null);
            }
            out.push(Row::new(left.rowtime, values));
        }
    }

    fn right_arrives(
        &mut self,
        plan: &JoinPlan,
        right: Row,
        errors: &mut Errors,
        out: &mut Vec<Row>,
    ) {
        let RightPlan::Stream { window, .. } = &plan.right else {
            return;
        };
        expire(&mut self.left_rows, plan.left_window, right.rowtime);
        for l in &self.left_rows {
            let values = combine(&l.values, &right.values, Some(right.rowtime));
            emit(plan, values, right.rowtime, &right, errors, out);
        }
        if window.is_some() {
            self.right_rows.push_back(right);
        }
    }
}

/// Drops the rows a window no longer covers at `now`.
fn expire(rows: &mut VecDeque<Row>, window: Option<i64>, now: i64) {
    let keep_from = now - window.unwrap_or(0);
    while rows.front().is_some_and(|r| r.rowtime < keep_from) {
        rows.pop_front();
    }
}

fn combine(left: &[Value], right: &[Value], right_rowtime: Option<i64>) -> Vec<Value> {
    let mut v = Vec::with_capacity(left.len() + right.len() + 1);
    v.extend_from_slice(left);
    v.extend_from_slice(right);
    if let Some(t) = right_rowtime {
        v.push(Value::Timestamp(t));
    }
    v
}

/// Emits the joined row when ON holds; whether it did.
fn emit(
    plan: &JoinPlan,
    values: Vec<Value>,
    rowtime: i64,
    arriving: &Row,
    errors: &mut Errors,
    out: &mut Vec<Row>,
) -> bool {
    let ok = match &plan.on {
        None => Ok(true),
        Some(on) => eval(on, &Input::row(&values, rowtime)).map(|v| is_true(&v)),
    };
    match ok {
        Ok(true) => {
            out.push(Row::new(rowtime, values));
            true
        }
        Ok(false) => false,
        Err(error) => {
            errors.push(RowError {
                error,
                row: arriving.clone(),
            });
            false
        }
    }
}
