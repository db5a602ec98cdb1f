//! Tumbling windows: `GROUP BY` with a monotonic expression over ROWTIME (`STEP(ROWTIME BY
//! INTERVAL '1' MINUTE)`, `FLOOR(ROWTIME TO MINUTE)`). A group's row is emitted when stream
//! time passes the end of its window, with ROWTIME set to that end
//! (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/tumbling-window-concepts.html).
//! Rows that arrive late by another time column (an event time among the keys) land in a
//! later ROWTIME window and give a partial result of their own, as
//! https://docs.aws.amazon.com/kinesisanalytics/latest/dev/tumbling-window-concepts.html
//! describes for event-time groups.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::key::GroupKey;
use crate::aggregate::Accumulator;
use crate::error::EvalError;
use crate::exec::eval::{eval, is_true, Input};
use crate::exec::query::project;
use crate::exec::{Errors, RowError};
use crate::plan::expr::PExpr;
use crate::plan::query::{AggSpec, Kind};
use crate::row::Row;
use crate::value::Value;

/// One group: its key values (the window's among them), its aggregates, the latest ROWTIME
/// it saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub keys: Vec<Value>,
    pub accs: Vec<Accumulator>,
    pub last_rowtime: i64,
}

/// Groups in the order they opened (which is window order: ROWTIME never decreases).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TumblingState {
    pub groups: Vec<Group>,
    #[serde(skip)]
    index: HashMap<GroupKey, usize>,
}

/// The aggregates' arguments for one row.
pub fn agg_args(aggs: &[AggSpec], input: &Input) -> Result<Vec<Value>, EvalError> {
    aggs.iter()
        .map(|a| match a.args.first() {
            Some(e) => eval(e, input),
            None => Ok(Value::Null),
        })
        .collect()
}

pub fn new_accs(aggs: &[AggSpec]) -> Vec<Accumulator> {
    aggs.iter().filter_map(|a| accumulator(a, false)).collect()
}

/// The accumulator of an aggregate (None for LAG, which reads rows instead); `removable`
/// for sliding windows, whose rows leave.
pub fn accumulator(spec: &AggSpec, removable: bool) -> Option<Accumulator> {
    let kind = spec.kind?;
    let acc = if removable {
        Accumulator::new_removable(kind, spec.distinct)
    } else {
        Accumulator::new(kind, spec.distinct)
    };
    Some(if spec.ignore_nulls {
        acc.ignoring_nulls()
    } else {
        acc
    })
}

pub fn add_all(accs: &mut [Accumulator], args: &[Value]) -> Result<(), EvalError> {
    for (acc, v) in accs.iter_mut().zip(args) {
        acc.add(v)?;
    }
    Ok(())
}

/// The group's output row (None when HAVING drops it).
pub fn group_row(
    group: &Group,
    out_rowtime: i64,
    having: Option<&PExpr>,
    items: &[PExpr],
) -> Result<Option<Row>, EvalError> {
    let slots = group
        .accs
        .iter()
        .map(|a| a.result())
        .collect::<Result<Vec<_>, _>>()?;
    let input = Input {
        values: &[],
        rowtime: out_rowtime,
        keys: &group.keys,
        slots: &slots,
        out_rowtime,
    };
    if let Some(h) = having {
        if !is_true(&eval(h, &input)?) {
            return Ok(None);
        }
    }
    Ok(Some(Row::new(out_rowtime, project(items, &input)?)))
}

impl TumblingState {
    fn reindex(&mut self) {
        if self.index.len() != self.groups.len() {
            self.index = self
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| (GroupKey(g.keys.clone()), i))
                .collect();
        }
    }

    pub fn push(&mut self, kind: &Kind, row: Row, errors: &mut Errors, out: &mut Vec<Row>) {
        let Kind::Tumbling {
            keys, window, aggs, ..
        } = kind
        else {
            return;
        };
        let input = Input::row(&row.values, row.rowtime);
        let computed = keys
            .iter()
            .map(|k| eval(k, &input))
            .collect::<Result<Vec<_>, _>>()
            .and_then(|k| Ok((k, agg_args(aggs, &input)?)));
        let (key, args) = match computed {
            Ok(x) => x,
            Err(error) => {
                errors.push(RowError { error, row });
                return;
            }
        };
        self.flush_before(kind, &key[*window], errors, out);
        self.reindex();
        let at = match self.index.get(&GroupKey(key.clone())) {
            Some(i) => *i,
            None => {
                self.groups.push(Group {
                    keys: key.clone(),
                    accs: new_accs(aggs),
                    last_rowtime: row.rowtime,
                });
                self.index.insert(GroupKey(key), self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[at];
        group.last_rowtime = group.last_rowtime.max(row.rowtime);
        if let Err(error) = add_all(&mut group.accs, &args) {
            errors.push(RowError { error, row });
        }
    }

    /// Stream time is `time`: flush every window before the one `time` falls in.
    pub fn flush(&mut self, kind: &Kind, time: i64, errors: &mut Errors, out: &mut Vec<Row>) {
        let Kind::Tumbling { keys, window, .. } = kind else {
            return;
        };
        let Ok(now) = eval(&keys[*window], &Input::row(&[], time)) else {
            return;
        };
        self.flush_before(kind, &now, errors, out);
    }

    fn flush_before(&mut self, kind: &Kind, now: &Value, errors: &mut Errors, out: &mut Vec<Row>) {
        let Kind::Tumbling {
            keys,
            window,
            having,
            items,
            ..
        } = kind
        else {
            return;
        };
        let passed = |g: &Group| g.keys[*window].sql_cmp(now) == Some(Ordering::Less);
        if !self.groups.iter().any(passed) {
            return;
        }
        let (done, open): (Vec<Group>, Vec<Group>) = std::mem::take(&mut self.groups)
            .into_iter()
            .partition(passed);
        self.groups = open;
        self.index.clear();
        let mut ends: Vec<(Value, i64)> = Vec::new();
        let mut rows = Vec::new();
        for g in done {
            let end = match ends.iter().find(|(w, _)| *w == g.keys[*window]) {
                Some((_, e)) => *e,
                None => {
                    let e = window_end(&keys[*window], &g.keys[*window], g.last_rowtime);
                    ends.push((g.keys[*window].clone(), e));
                    e
                }
            };
            match group_row(&g, end, having.as_ref(), items) {
                Ok(Some(r)) => rows.push(r),
                Ok(None) => {}
                Err(error) => errors.push(RowError {
                    error,
                    row: Row::new(end, g.keys.clone()),
                }),
            }
        }
        // Window order first: a stable sort keeps the groups' opening order within one.
        rows.sort_by_key(|r| r.rowtime);
        out.extend(rows);
    }
}

/// The first ROWTIME after `seen` (a ROWTIME in the window) at which the window expression
/// leaves `value`: the window's end. Found by doubling then bisecting, so any monotonic
/// expression over ROWTIME works (STEP, FLOOR, CEIL, arithmetic on them).
pub fn window_end(expr: &PExpr, value: &Value, seen: i64) -> i64 {
    let same = |t: i64| {
        eval(expr, &Input::row(&[], t))
            .map(|v| v.sql_cmp(value) == Some(Ordering::Equal))
            .unwrap_or(false)
    };
    let mut lo = seen;
    let mut step: i64 = 1;
    let mut hi = seen.saturating_add(step);
    while same(hi) {
        lo = hi;
        step = step.saturating_mul(2);
        if step > 1 << 45 {
            return hi;
        }
        hi = seen.saturating_add(step);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if same(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}
