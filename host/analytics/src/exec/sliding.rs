//! Sliding windows: aggregates `OVER (PARTITION BY ... RANGE INTERVAL ... PRECEDING | ROWS n
//! PRECEDING)`, one output row per input row, over the rows of its partition still in the
//! window (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sliding-window-concepts.html),
//! and LAG over the same partition's earlier rows.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::aggregate::key::GroupKey;
use crate::aggregate::Accumulator;
use crate::error::EvalError;
use crate::exec::eval::{eval, Input};
use crate::exec::query::project;
use crate::exec::tumbling::accumulator;
use crate::exec::{Errors, RowError};
use crate::plan::expr::Frame;
use crate::plan::query::{AggSpec, Kind};
use crate::row::Row;
use crate::value::Value;

/// The rows of one partition of one window, and its aggregates over them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Partition {
    /// (ROWTIME, each aggregate's argument values) of the rows in the window.
    pub rows: VecDeque<(i64, Vec<Vec<Value>>)>,
    pub accs: Vec<Accumulator>,
}

/// Each window's partitions, by partition key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SlidingState {
    pub windows: Vec<Vec<(Vec<Value>, Partition)>>,
    #[serde(skip)]
    index: Vec<HashMap<GroupKey, usize>>,
}

impl SlidingState {
    fn reindex(&mut self, n: usize) {
        self.windows.resize_with(n, Vec::new);
        if self.index.len() != n
            || self
                .index
                .iter()
                .zip(&self.windows)
                .any(|(i, w)| i.len() != w.len())
        {
            self.index = self
                .windows
                .iter()
                .map(|w| {
                    w.iter()
                        .enumerate()
                        .map(|(i, (k, _))| (GroupKey(k.clone()), i))
                        .collect()
                })
                .collect();
        }
    }

    pub fn push(&mut self, kind: &Kind, row: Row, errors: &mut Errors, out: &mut Vec<Row>) {
        let Kind::Sliding {
            windows,
            aggs,
            items,
        } = kind
        else {
            return;
        };
        self.reindex(windows.len());
        match self.slots(windows, aggs, &row) {
            Ok(slots) => {
                let input = Input {
                    values: &row.values,
                    rowtime: row.rowtime,
                    keys: &[],
                    slots: &slots,
                    out_rowtime: row.rowtime,
                };
                match project(items, &input) {
                    Ok(values) => out.push(Row::new(row.rowtime, values)),
                    Err(error) => errors.push(RowError { error, row }),
                }
            }
            Err(error) => errors.push(RowError { error, row }),
        }
    }

    /// Adds the row to each window's partition and gives every aggregate's result.
    fn slots(
        &mut self,
        windows: &[crate::plan::expr::WindowDef],
        aggs: &[(AggSpec, usize)],
        row: &Row,
    ) -> Result<Vec<Value>, EvalError> {
        let input = Input::row(&row.values, row.rowtime);
        let mut slots = vec![Value::Null; aggs.len()];
        for (w, def) in windows.iter().enumerate() {
            let key = def
                .partition_by
                .iter()
                .map(|e| eval(e, &input))
                .collect::<Result<Vec<_>, _>>()?;
            let mine: Vec<usize> = (0..aggs.len()).filter(|i| aggs[*i].1 == w).collect();
            let args = mine
                .iter()
                .map(|i| {
                    aggs[*i]
                        .0
                        .args
                        .iter()
                        .map(|e| eval(e, &input))
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let at = match self.index[w].get(&GroupKey(key.clone())) {
                Some(i) => *i,
                None => {
                    let accs = mine
                        .iter()
                        .filter_map(|i| accumulator(&aggs[*i].0, true))
                        .collect();
                    self.windows[w].push((
                        key.clone(),
                        Partition {
                            rows: VecDeque::new(),
                            accs,
                        },
                    ));
                    self.index[w].insert(GroupKey(key), self.windows[w].len() - 1);
                    self.windows[w].len() - 1
                }
            };
            let part = &mut self.windows[w][at].1;
            let lag_depth = mine
                .iter()
                .filter(|i| aggs[**i].0.kind.is_none())
                .map(|i| lag_offset(&aggs[*i].0, &input))
                .max()
                .unwrap_or(0);
            let results = part.push(
                &mine,
                aggs,
                row.rowtime,
                args,
                &def.frame,
                lag_depth,
                &input,
            )?;
            for (i, v) in mine.iter().zip(results) {
                slots[*i] = v;
            }
        }
        Ok(slots)
    }
}

fn lag_offset(spec: &AggSpec, input: &Input) -> usize {
    spec.args
        .get(1)
        .and_then(|e| eval(e, input).ok())
        .and_then(|v| v.as_i64())
        .unwrap_or(1)
        .max(0) as usize
}

impl Partition {
    /// Takes the row in: rows the frame no longer covers leave first, LAG reads the rows
    /// left (LAG reaches only as far back as the window), then the row joins.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        mine: &[usize],
        aggs: &[(AggSpec, usize)],
        rowtime: i64,
        args: Vec<Vec<Value>>,
        frame: &Frame,
        lag_depth: usize,
        input: &Input,
    ) -> Result<Vec<Value>, EvalError> {
        self.evict(mine, aggs, rowtime, frame, lag_depth)?;
        let mut lags = Vec::new();
        for (j, i) in mine.iter().enumerate() {
            let spec = &aggs[*i].0;
            if spec.kind.is_none() {
                lags.push((j, self.lag(j, spec, &args[j], input)?));
            }
        }
        let mut acc = self.accs.iter_mut();
        for (j, i) in mine.iter().enumerate() {
            if aggs[*i].0.kind.is_some() {
                if let Some(a) = acc.next() {
                    a.add(args[j].first().unwrap_or(&Value::Null))?;
                }
            }
        }
        self.rows.push_back((rowtime, args));
        let mut results = Vec::new();
        let mut acc = self.accs.iter();
        for (j, i) in mine.iter().enumerate() {
            if aggs[*i].0.kind.is_some() {
                results.push(match acc.next() {
                    Some(a) => a.result()?,
                    None => Value::Null,
                });
            } else {
                results.push(
                    lags.iter()
                        .find(|(k, _)| *k == j)
                        .map(|(_, v)| v.clone())
                        .unwrap_or(Value::Null),
                );
            }
        }
        Ok(results)
    }

    /// `LAG(expr [, n [, default]]) [IGNORE NULLS]`: the n-th earlier row's value in the
    /// window (NULLs skipped when ignoring them), else the default.
    fn lag(
        &self,
        j: usize,
        spec: &AggSpec,
        current: &[Value],
        input: &Input,
    ) -> Result<Value, EvalError> {
        let n = lag_offset(spec, input);
        if n == 0 {
            return Ok(current.first().cloned().unwrap_or(Value::Null));
        }
        let earlier = self
            .rows
            .iter()
            .rev()
            .map(|(_, a)| a[j].first().cloned().unwrap_or(Value::Null))
            .filter(|v| !(spec.ignore_nulls && v.is_null()));
        match earlier.into_iter().nth(n - 1) {
            Some(v) => Ok(v),
            None => match spec.args.get(2) {
                Some(e) => eval(e, input),
                None => Ok(Value::Null),
            },
        }
    }

    /// Takes out of the aggregates the rows the frame will not cover once a row at `now`
    /// joins.
    fn evict(
        &mut self,
        mine: &[usize],
        aggs: &[(AggSpec, usize)],
        now: i64,
        frame: &Frame,
        lag_depth: usize,
    ) -> Result<(), EvalError> {
        let leaves = |rows: &VecDeque<(i64, Vec<Vec<Value>>)>| -> bool {
            match frame {
                Frame::Range(ms) => rows.front().is_some_and(|r| r.0 < now - ms),
                Frame::Rows(n) => rows.len() > *n as usize,
                // Everything stays in the aggregates; only LAG's history is bounded.
                Frame::Unbounded => false,
            }
        };
        while leaves(&self.rows) {
            let Some((_, args)) = self.rows.pop_front() else {
                break;
            };
            let mut acc = self.accs.iter_mut();
            for (j, i) in mine.iter().enumerate() {
                if aggs[*i].0.kind.is_some() {
                    if let Some(a) = acc.next() {
                        a.remove(args[j].first().unwrap_or(&Value::Null))?;
                    }
                }
            }
        }
        if matches!(frame, Frame::Unbounded) {
            while self.rows.len() > lag_depth {
                self.rows.pop_front();
            }
        }
        Ok(())
    }
}
