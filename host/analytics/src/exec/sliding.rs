//! Sliding windows: aggregates `OVER (PARTITION BY ... RANGE INTERVAL ... PRECEDING | ROWS n
//! PRECEDING)` and LAG, one output row per input row, run on the window module's
//! [`SlidingWindow`] (one per distinct window of the SELECT)
//! (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sliding-window-concepts.html,
//! https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-lag.html).

use serde::{Deserialize, Serialize};

use crate::error::SqlError;
use crate::exec::eval::{eval, EvalInput};
use crate::exec::query::project;
use crate::exec::tumbling::window_agg;
use crate::exec::{Errors, PumpError};
use crate::plan::expr::{Frame, WindowDef};
use crate::plan::query::{AggSpec, Analytic, QueryKind};
use crate::row::StreamRow;
use crate::value::Value;
use crate::window::sliding::{Frame as WindowFrame, SlidingWindow, WindowFn};

/// One window state per distinct OVER clause, made at the first row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SlidingState {
    windows: Vec<SlidingWindow>,
}

/// A constant argument (LAG's offset, NTH_VALUE's n, EXP_AVG's half-life), checked at
/// compile time.
fn constant(spec: &AggSpec, at: usize) -> Option<Value> {
    spec.args
        .get(at)
        .and_then(|e| eval(e, &EvalInput::row(&[], 0)).ok())
}

fn window_fn(spec: &AggSpec) -> WindowFn {
    let count = |v: Option<Value>, default: i64| {
        v.and_then(|v| v.as_i64()).unwrap_or(default).max(0) as usize
    };
    match (window_agg(spec), spec.analytic) {
        (Some(agg), _) => WindowFn::Agg(agg),
        (None, Some(Analytic::NthValue { from_last })) => WindowFn::NthValue {
            n: count(constant(spec, 1), 1),
            from_last,
            ignore_nulls: spec.ignore_nulls,
        },
        (None, Some(Analytic::ExpAvg)) => WindowFn::ExpAvg {
            half_life_ms: match constant(spec, 1) {
                Some(Value::IntervalDayTime(ms)) => ms,
                _ => 1,
            },
        },
        (None, _) => WindowFn::Lag {
            offset: count(constant(spec, 1), 1),
            ignore_nulls: spec.ignore_nulls,
        },
    }
}

fn frame(def: &WindowDef) -> WindowFrame {
    match def.frame {
        Frame::Range(ms) => WindowFrame::Range { interval_ms: ms },
        Frame::Rows(n) => WindowFrame::Rows { preceding: n },
        Frame::Unbounded => WindowFrame::Unbounded,
    }
}

impl SlidingState {
    pub fn push(
        &mut self,
        kind: &QueryKind,
        row: StreamRow,
        errors: &mut Errors,
        out: &mut Vec<StreamRow>,
    ) {
        let QueryKind::Sliding {
            windows,
            aggs,
            items,
        } = kind
        else {
            return;
        };
        if self.windows.len() != windows.len() {
            self.windows = windows
                .iter()
                .enumerate()
                .map(|(w, def)| {
                    let fns = aggs
                        .iter()
                        .filter(|(_, at)| *at == w)
                        .map(|(spec, _)| window_fn(spec))
                        .collect();
                    SlidingWindow::new(frame(def), fns)
                })
                .collect();
        }
        let made = self.slots(windows, aggs, &row).and_then(|slots| {
            let input = EvalInput {
                values: &row.values,
                rowtime: row.rowtime,
                keys: &[],
                slots: &slots,
                out_rowtime: row.rowtime,
            };
            project(items, &input)
        });
        match made {
            Ok(values) => out.push(StreamRow::new(row.rowtime, values)),
            Err(error) => errors.push(PumpError { error, row }),
        }
    }

    /// Adds the row to each window and gives every aggregate's (and LAG's) value.
    fn slots(
        &mut self,
        windows: &[WindowDef],
        aggs: &[(AggSpec, usize)],
        row: &StreamRow,
    ) -> Result<Vec<Value>, SqlError> {
        let input = EvalInput::row(&row.values, row.rowtime);
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
                .map(|i| match aggs[*i].0.args.first() {
                    Some(e) => eval(e, &input),
                    None => Ok(Value::Null),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let Some(window) = self.windows.get_mut(w) else {
                continue;
            };
            let results = window.push(row.rowtime, key, args)?;
            for (i, result) in mine.iter().zip(results) {
                slots[*i] = match result {
                    Some(v) => v,
                    // LAG past the window's rows: its default, on the current row.
                    None => match aggs[*i].0.args.get(2) {
                        Some(e) => eval(e, &input)?,
                        None => Value::Null,
                    },
                };
            }
        }
        Ok(slots)
    }
}
