//! Tumbling windows: `GROUP BY` with a monotonic expression over ROWTIME (`STEP(ROWTIME BY
//! INTERVAL '1' MINUTE)`, `FLOOR(ROWTIME TO MINUTE)`), run on the window module's
//! [`TumblingGroups`]. A group's row is emitted when stream time reaches the end of its
//! window, with ROWTIME set to that end
//! (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/tumbling-window-concepts.html);
//! rows late by another time column (an event time among the keys) give partial results
//! (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/stagger-window-concepts.html).
//!
//! Any monotonic expression of ROWTIME makes a window: its end is found by evaluating the
//! expression (doubling, then bisecting), once per window.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::aggregate::key::total_cmp;
use crate::aggregate::AggSpec as WindowAgg;
use crate::error::SqlError;
use crate::exec::eval::{eval, is_true, EvalInput};
use crate::exec::query::project;
use crate::exec::{Errors, PumpError};
use crate::plan::expr::PExpr;
use crate::plan::query::{AggSpec, QueryKind};
use crate::row::StreamRow;
use crate::value::Value;
use crate::window::tumbling::TumblingGroups;
use crate::window::GroupRow;

/// The groups, made at the first row (their period is the first window's length), and the
/// last window's bounds, so the bisection runs once per window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TumblingState {
    groups: Option<TumblingGroups>,
    /// (window value, window start, window end) of the latest window seen.
    last: Option<(Value, i64, i64)>,
}

/// The aggregates' arguments for one row (`COUNT(*)` takes NULL).
pub fn agg_args(aggs: &[AggSpec], input: &EvalInput) -> Result<Vec<Value>, SqlError> {
    aggs.iter()
        .map(|a| match a.args.first() {
            Some(e) => eval(e, input),
            None => Ok(Value::Null),
        })
        .collect()
}

/// A row's group key (`keys` evaluated) and its aggregates' arguments: what a grouped window
/// (tumbling or stagger) adds the row under.
pub fn key_and_args(
    keys: &[PExpr],
    aggs: &[AggSpec],
    input: &EvalInput,
) -> Result<(Vec<Value>, Vec<Value>), SqlError> {
    let key = keys
        .iter()
        .map(|k| eval(k, input))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((key, agg_args(aggs, input)?))
}

/// The window module's description of a (non-LAG) aggregate.
pub fn window_agg(spec: &AggSpec) -> Option<WindowAgg> {
    spec.kind.map(|kind| WindowAgg {
        kind,
        distinct: spec.distinct,
        ignore_nulls: spec.ignore_nulls,
    })
}

/// A grouped window's output row (None when HAVING drops it): the select list over the
/// group's keys (`keys`, in GROUP BY / PARTITION BY order) and aggregate results.
pub fn output_row(
    rowtime: i64,
    keys: &[Value],
    slots: &[Value],
    having: Option<&PExpr>,
    items: &[PExpr],
) -> Result<Option<StreamRow>, SqlError> {
    let input = EvalInput {
        values: &[],
        rowtime,
        keys,
        slots,
        out_rowtime: rowtime,
    };
    if let Some(h) = having {
        if !is_true(&eval(h, &input)?) {
            return Ok(None);
        }
    }
    Ok(Some(StreamRow::new(rowtime, project(items, &input)?)))
}

/// Turns the window module's group rows into output rows (errors to `errors`). `window` is
/// where the window's value goes among the keys (tumbling), None for stagger.
pub fn emit_groups(
    groups: Vec<GroupRow>,
    window: Option<usize>,
    having: Option<&PExpr>,
    items: &[PExpr],
    errors: &mut Errors,
    out: &mut Vec<StreamRow>,
) {
    for g in groups {
        let mut keys = g.key;
        if let (Some(at), Some(w)) = (window, g.window) {
            keys.insert(at.min(keys.len()), w);
        }
        let made = g
            .results
            .and_then(|slots| output_row(g.rowtime, &keys, &slots, having, items));
        match made {
            Ok(Some(r)) => out.push(r),
            Ok(None) => {}
            Err(error) => errors.push(PumpError {
                error,
                row: StreamRow::new(g.rowtime, keys),
            }),
        }
    }
}

/// ORDER BY: rows of one ROWTIME sorted by the extra items at the end of each row (one
/// per key, `descending` per key), which are then dropped. NULLs sort first.
fn order_rows(mut rows: Vec<StreamRow>, descending: &[bool]) -> Vec<StreamRow> {
    if descending.is_empty() {
        return rows;
    }
    let n = descending.len();
    rows.sort_by(|a, b| {
        let (ka, kb) = (
            &a.values[a.values.len() - n..],
            &b.values[b.values.len() - n..],
        );
        let mut o = a.rowtime.cmp(&b.rowtime);
        for ((x, y), desc) in ka.iter().zip(kb).zip(descending) {
            if o != Ordering::Equal {
                break;
            }
            let c = total_cmp(x, y);
            o = if *desc { c.reverse() } else { c };
        }
        o
    });
    for r in &mut rows {
        let keep = r.values.len() - n;
        r.values.truncate(keep);
    }
    rows
}

impl TumblingState {
    pub fn push(
        &mut self,
        kind: &QueryKind,
        row: StreamRow,
        errors: &mut Errors,
        out: &mut Vec<StreamRow>,
    ) {
        let QueryKind::Tumbling {
            keys, window, aggs, ..
        } = kind
        else {
            return;
        };
        self.flush(kind, row.rowtime, errors, out);
        let input = EvalInput::row(&row.values, row.rowtime);
        let (mut key, args) = match key_and_args(keys, aggs, &input) {
            Ok(x) => x,
            Err(error) => {
                errors.push(PumpError { error, row });
                return;
            }
        };
        let value = key.remove(*window);
        let (start, end) = self.bounds(&keys[*window], &value, row.rowtime);
        let groups = self.groups.get_or_insert_with(|| {
            TumblingGroups::new(
                aggs.iter().filter_map(window_agg).collect(),
                (end - start).max(1),
            )
        });
        if let Err(error) = groups.push(row.rowtime, value, end, key, &args) {
            errors.push(PumpError { error, row });
        }
    }

    /// Stream time is `time`: every window ending at or before it comes out.
    pub fn flush(
        &mut self,
        kind: &QueryKind,
        time: i64,
        errors: &mut Errors,
        out: &mut Vec<StreamRow>,
    ) {
        let QueryKind::Tumbling {
            window,
            having,
            items,
            order,
            ..
        } = kind
        else {
            return;
        };
        if let Some(groups) = self.groups.as_mut() {
            let done = groups.advance(time);
            let mut rows = Vec::new();
            emit_groups(
                done,
                Some(*window),
                having.as_ref(),
                items,
                errors,
                &mut rows,
            );
            out.extend(order_rows(rows, order));
        }
    }

    /// The window `value` (seen at ROWTIME `seen`) spans [start, end).
    fn bounds(&mut self, expr: &PExpr, value: &Value, seen: i64) -> (i64, i64) {
        if let Some((v, start, end)) = &self.last {
            if v.sql_cmp(value) == Some(Ordering::Equal) {
                return (*start, *end);
            }
        }
        let (start, end) = (
            window_edge(expr, value, seen, -1),
            window_edge(expr, value, seen, 1),
        );
        self.last = Some((value.clone(), start, end));
        (start, end)
    }
}

/// Where the window expression's value `value` (which it has at ROWTIME `seen`) ends
/// (`dir` 1: the first ROWTIME past the window) or starts (`dir` -1: the first ROWTIME in
/// it). Found by doubling then bisecting, so any monotonic expression works.
pub fn window_edge(expr: &PExpr, value: &Value, seen: i64, dir: i64) -> i64 {
    let same = |t: i64| {
        eval(expr, &EvalInput::row(&[], t))
            .map(|v| v.sql_cmp(value) == Some(Ordering::Equal))
            .unwrap_or(false)
    };
    let mut inside = seen;
    let mut step: i64 = 1;
    let mut outside = seen.saturating_add(dir * step);
    while same(outside) {
        inside = outside;
        step = step.saturating_mul(2);
        if step > 1 << 45 {
            return outside;
        }
        outside = seen.saturating_add(dir * step);
    }
    while (outside - inside).abs() > 1 {
        let mid = inside + (outside - inside) / 2;
        if same(mid) {
            inside = mid;
        } else {
            outside = mid;
        }
    }
    if dir > 0 {
        outside
    } else {
        inside
    }
}
