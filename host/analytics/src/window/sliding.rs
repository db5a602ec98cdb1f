//! Sliding windows: aggregates `OVER` a window that ends at the current row
//! (<https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sliding-window-concepts.html>),
//! time-based (`RANGE INTERVAL '1' MINUTE PRECEDING`) or row-based (`ROWS 10 PRECEDING`),
//! optionally `PARTITION BY` columns, and LAG over the same window
//! (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-lag.html>).
//!
//! Every input row gives one output row: each aggregate over the rows of the row's partition
//! that are in the window ending at (and including) that row.
//!
//! The time boundary: a RANGE window of length `i` ending at ROWTIME `t` holds the rows with
//! ROWTIME in `[t - i, t]`, both ends included: the SQL Reference's WINDOW clause
//! (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-window-clause.html>,
//! usage notes) has RANGE windows follow SQL:2008 and include their endpoints, and its "Window
//! examples" define `RANGE CURRENT ROW` as the zero-width window of the rows with the current
//! ROWTIME, which only an inclusive lower bound gives.
//! The Developer Guide's sliding-window walk-through ("5-second window", the row at t1 no
//! longer counted at t6) reads as exclusive; its ticks are schematic, and its counts
//! (1, 2, 2, 2, 5) are also what an inclusive window one tick shorter gives, so the
//! Reference's reading is kept (`docs_sliding_count_walkthrough` shows both).
//!
//! Memory is bounded by the window: a RANGE window drops rows by time across all partitions
//! (a partition that stops receiving rows is freed once its rows age out), a ROWS window
//! keeps at most `n + 1` rows per partition, a window without frame only the rows its LAG,
//! NTH_VALUE and EXP_AVG can still read.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::keyed::KeyedSlab;
use crate::aggregate::{Accumulator, AggSpec};
use crate::error::SqlError;
use crate::value::Value;

/// The window frame of an `OVER` clause (KDA allows only frames that end at the current row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// `RANGE INTERVAL ... PRECEDING` (interval in milliseconds); `RANGE CURRENT ROW` is 0.
    Range { interval_ms: i64 },
    /// `ROWS n PRECEDING`: the current row and the `n` before it; `ROWS CURRENT ROW` is 0.
    Rows { preceding: u64 },
    /// No frame (`OVER (PARTITION BY x)`, as LAG is often written): every row of the
    /// partition so far. Aggregates never forget; only the rows LAG, NTH_VALUE FROM LAST and
    /// EXP_AVG (64 half-lives: older weights vanish below a double's precision) can still
    /// read are kept, and NTH_VALUE FROM FIRST keeps its first n values.
    Unbounded,
}

/// One windowed function of the SELECT list that uses this window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowFn {
    /// An aggregate over the window's rows.
    Agg(AggSpec),
    /// `LAG(expr, offset) [IGNORE NULLS]`: `expr` of the row `offset` rows before the current
    /// one in the window (offset 0 is the current row). With IGNORE NULLS, rows where `expr`
    /// is NULL are not counted.
    Lag { offset: usize, ignore_nulls: bool },
    /// `NTH_VALUE(expr, n) [FROM FIRST | FROM LAST] [IGNORE NULLS]`: `expr` of the n-th row
    /// (1-based) of the window from its oldest (or newest) row; NULL when the window has
    /// fewer rows (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-nth-value.html>).
    NthValue {
        n: usize,
        from_last: bool,
        ignore_nulls: bool,
    },
    /// `EXP_AVG(expr, INTERVAL half-life)`: the average of the window's values weighted by
    /// half for each whole half-life of age, so with a 10-second half-life "the prices in the
    /// most recent 10-second subwindow carry double the weight of the prices in the middle
    /// 10-second subwindow" (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/sql-reference-exp-avg.html>).
    /// A DOUBLE; NULL when the window holds no non-NULL value.
    ExpAvg { half_life_ms: i64 },
}

/// One partition's rows in the window (arrival order) and its running aggregates.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Partition {
    /// `(ROWTIME, one argument per function)`.
    rows: VecDeque<(i64, Vec<Value>)>,
    /// One per function; `None` for LAG, which reads `rows`.
    accs: Vec<Option<Accumulator>>,
    /// Unbounded frames: per function, its non-NULL values among `rows` (LAG and
    /// NTH_VALUE with IGNORE NULLS may need rows far back) and NTH_VALUE FROM FIRST's first
    /// values.
    #[serde(default)]
    non_null: Vec<usize>,
    #[serde(default)]
    heads: Vec<Vec<Value>>,
}

impl Partition {
    fn new(fns: &[WindowFn], frame: Frame) -> Partition {
        let unbounded = frame == Frame::Unbounded;
        Partition {
            rows: VecDeque::new(),
            non_null: if unbounded {
                vec![0; fns.len()]
            } else {
                Vec::new()
            },
            heads: if unbounded {
                vec![Vec::new(); fns.len()]
            } else {
                Vec::new()
            },
            accs: fns
                .iter()
                .map(|f| match f {
                    WindowFn::Agg(spec) if unbounded => Some(spec.accumulator()),
                    WindowFn::Agg(spec) => Some(spec.removable()),
                    WindowFn::Lag { .. } | WindowFn::NthValue { .. } | WindowFn::ExpAvg { .. } => {
                        None
                    }
                })
                .collect(),
        }
    }

    /// Unbounded frames: records the newest row for NTH_VALUE FROM FIRST and the NULL
    /// counts, then drops the oldest rows no function can read any more. Returns how many
    /// rows were dropped.
    fn keep_history(&mut self, fns: &[WindowFn], now: i64) -> usize {
        // A checkpoint is restored into the same query, so these match; never index past
        // them if it did not.
        self.non_null.resize(fns.len(), 0);
        self.heads.resize(fns.len(), Vec::new());
        if let Some((_, args)) = self.rows.back() {
            for (i, (f, v)) in fns.iter().zip(args).enumerate() {
                if !v.is_null() {
                    self.non_null[i] += 1;
                }
                if let WindowFn::NthValue {
                    n,
                    from_last: false,
                    ignore_nulls,
                } = f
                {
                    if self.heads[i].len() < *n && !(*ignore_nulls && v.is_null()) {
                        self.heads[i].push(v.clone());
                    }
                }
            }
        }
        let mut dropped = 0;
        'drop: while let Some((t, front)) = self.rows.front() {
            for (i, f) in fns.iter().enumerate() {
                // How many rows (or non-NULL values) the function needs, current row included.
                let (need, ignore_nulls) = match *f {
                    WindowFn::Agg(_) => continue,
                    WindowFn::Lag {
                        offset,
                        ignore_nulls,
                    } => (offset.saturating_add(1), ignore_nulls),
                    WindowFn::NthValue {
                        n,
                        from_last: true,
                        ignore_nulls,
                    } => (n, ignore_nulls),
                    WindowFn::NthValue { .. } => continue,
                    WindowFn::ExpAvg { half_life_ms } => {
                        if *t >= now.saturating_sub(half_life_ms.saturating_mul(64)) {
                            break 'drop;
                        }
                        continue;
                    }
                };
                let left = if ignore_nulls {
                    self.non_null[i]
                        .saturating_sub(usize::from(front.get(i).is_some_and(|v| !v.is_null())))
                } else {
                    self.rows.len() - 1
                };
                if left < need {
                    break 'drop;
                }
            }
            if let Some((_, args)) = self.rows.pop_front() {
                for (i, v) in args.iter().enumerate() {
                    if !v.is_null() {
                        if let Some(n) = self.non_null.get_mut(i) {
                            *n = n.saturating_sub(1);
                        }
                    }
                }
                dropped += 1;
            }
        }
        dropped
    }

    /// Takes the oldest row out of the window.
    fn pop_oldest(&mut self) {
        if let Some((_, args)) = self.rows.pop_front() {
            for (acc, v) in self.accs.iter_mut().zip(&args) {
                if let Some(acc) = acc {
                    // The value was added when the row came in, so it can be taken out.
                    let _ = acc.remove(v);
                }
            }
        }
    }
}

/// The state of one window specification (named `WINDOW w AS (...)` or inline `OVER (...)`)
/// of one query, with every function that uses it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlidingWindow {
    frame: Frame,
    fns: Vec<WindowFn>,
    partitions: KeyedSlab<Partition>,
    /// RANGE windows: every held row as `(ROWTIME, partition slot)` in arrival order, so
    /// rows leave by time whatever their partition.
    expiry: VecDeque<(i64, u32)>,
    held: usize,
}

impl SlidingWindow {
    pub fn new(frame: Frame, fns: Vec<WindowFn>) -> SlidingWindow {
        SlidingWindow {
            frame,
            fns,
            partitions: KeyedSlab::default(),
            expiry: VecDeque::new(),
            held: 0,
        }
    }

    /// Takes in one row: `rowtime` its ROWTIME (non-decreasing from call to call), `key` its
    /// PARTITION BY values (empty without PARTITION BY), `args` one value per function
    /// (`COUNT(*)` takes any value; LAG takes its `expr`). Returns one entry per function:
    /// the aggregate's value over the window ending at this row, or for LAG the earlier
    /// row's value, `None` when that row is outside the window (the caller then evaluates
    /// LAG's default expression on the current row, as the Reference says).
    ///
    /// An error adding the row (SUM of a string) leaves the window as it was; an error in a
    /// result (a SUM past its type) keeps the row in the window. Either is the row's
    /// `error_stream` entry.
    pub fn push(
        &mut self,
        rowtime: i64,
        key: Vec<Value>,
        args: Vec<Value>,
    ) -> Result<Vec<Option<Value>>, SqlError> {
        if args.len() != self.fns.len() {
            return Err(SqlError::new(
                "InternalError",
                format!(
                    "{} window arguments for {} functions",
                    args.len(),
                    self.fns.len()
                ),
            ));
        }
        if let Frame::Range { .. } = self.frame {
            self.expire(rowtime);
        }
        let (slot, created) = match self.partitions.find(&key, &[]) {
            Some(slot) => (slot, false),
            None => (
                self.partitions
                    .insert(key, Partition::new(&self.fns, self.frame)),
                true,
            ),
        };
        let part = match self.partitions.get_mut(slot) {
            Some(entry) => &mut entry.1,
            None => return Err(SqlError::new("InternalError", "window partition lost")),
        };
        // Check every aggregate before adding to any, so a rejected row changes nothing.
        let checked = part
            .accs
            .iter()
            .zip(&args)
            .try_for_each(|(acc, v)| acc.as_ref().map_or(Ok(()), |a| a.check(v)));
        if let Err(e) = checked {
            if created {
                self.partitions.remove(slot);
            }
            return Err(e);
        }
        for (acc, v) in part.accs.iter_mut().zip(&args) {
            if let Some(acc) = acc {
                acc.add(v)?;
            }
        }
        part.rows.push_back((rowtime, args));
        self.held += 1;
        match self.frame {
            Frame::Range { .. } => self.expiry.push_back((rowtime, slot)),
            Frame::Rows { preceding } => {
                let keep = usize::try_from(preceding)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1);
                while part.rows.len() > keep {
                    part.pop_oldest();
                    self.held = self.held.saturating_sub(1);
                }
            }
            Frame::Unbounded => {
                let dropped = part.keep_history(&self.fns, rowtime);
                self.held = self.held.saturating_sub(dropped);
            }
        }
        let mut out = Vec::with_capacity(self.fns.len());
        for (i, f) in self.fns.iter().enumerate() {
            out.push(match f {
                WindowFn::Agg(_) => match part.accs.get(i).and_then(Option::as_ref) {
                    Some(acc) => Some(acc.result()?),
                    None => None,
                },
                WindowFn::Lag {
                    offset,
                    ignore_nulls,
                } => lag(&part.rows, i, *offset, *ignore_nulls),
                WindowFn::NthValue {
                    n,
                    from_last,
                    ignore_nulls,
                } if self.frame == Frame::Unbounded && !*from_last => Some(
                    n.checked_sub(1)
                        .and_then(|at| part.heads.get(i)?.get(at).cloned())
                        .unwrap_or(Value::Null),
                ),
                WindowFn::NthValue {
                    n,
                    from_last,
                    ignore_nulls,
                } => Some(nth_value(&part.rows, i, *n, *from_last, *ignore_nulls)),
                WindowFn::ExpAvg { half_life_ms } => {
                    Some(exp_avg(&part.rows, i, rowtime, *half_life_ms)?)
                }
            });
        }
        Ok(out)
    }

    /// Drops the rows a RANGE window no longer holds at time `now` (rows with ROWTIME before
    /// `now - interval`), freeing partitions left empty. `push` does it for each row; call
    /// it when the stream's time moves without rows to free memory early.
    pub fn expire(&mut self, now: i64) {
        let Frame::Range { interval_ms } = self.frame else {
            return;
        };
        let cutoff = now.saturating_sub(interval_ms);
        while let Some(&(t, slot)) = self.expiry.front() {
            if t >= cutoff {
                break;
            }
            self.expiry.pop_front();
            self.held = self.held.saturating_sub(1);
            let empty = match self.partitions.get_mut(slot) {
                Some((_, part)) => {
                    part.pop_oldest();
                    part.rows.is_empty()
                }
                None => false,
            };
            if empty {
                self.partitions.remove(slot);
            }
        }
    }

    /// Rows held across all partitions (the window's memory).
    pub fn held_rows(&self) -> usize {
        self.held
    }

    /// Partitions held.
    pub fn partitions(&self) -> usize {
        self.partitions.len()
    }
}

fn nth_value(
    rows: &VecDeque<(i64, Vec<Value>)>,
    fn_index: usize,
    n: usize,
    from_last: bool,
    ignore_nulls: bool,
) -> Value {
    let value = |r: &(i64, Vec<Value>)| r.1.get(fn_index).cloned().unwrap_or(Value::Null);
    let keep = |v: &Value| !(ignore_nulls && v.is_null());
    let Some(skip) = n.checked_sub(1) else {
        return Value::Null;
    };
    let found = if from_last {
        rows.iter().rev().map(value).filter(keep).nth(skip)
    } else {
        rows.iter().map(value).filter(keep).nth(skip)
    };
    found.unwrap_or(Value::Null)
}

fn exp_avg(
    rows: &VecDeque<(i64, Vec<Value>)>,
    fn_index: usize,
    now: i64,
    half_life_ms: i64,
) -> Result<Value, SqlError> {
    let half_life = half_life_ms.max(1);
    let (mut weighted, mut weights) = (0.0f64, 0.0f64);
    for (t, args) in rows {
        let Some(v) = args.get(fn_index).filter(|v| !v.is_null()) else {
            continue;
        };
        let x = v.as_f64().ok_or_else(|| {
            SqlError::type_mismatch(format!("EXP_AVG takes a number, not {}", v.kind()))
        })?;
        let halvings = (now.saturating_sub(*t).max(0) / half_life).min(1_000);
        let w = 0.5f64.powi(halvings as i32);
        weighted += w * x;
        weights += w;
    }
    Ok(if weights == 0.0 {
        Value::Null
    } else {
        Value::Double(weighted / weights)
    })
}

fn lag(
    rows: &VecDeque<(i64, Vec<Value>)>,
    fn_index: usize,
    offset: usize,
    ignore_nulls: bool,
) -> Option<Value> {
    let value = |r: &(i64, Vec<Value>)| r.1.get(fn_index).cloned().unwrap_or(Value::Null);
    if offset == 0 {
        return rows.back().map(value);
    }
    if !ignore_nulls {
        let idx = rows.len().checked_sub(1 + offset)?;
        return rows.get(idx).map(value);
    }
    rows.iter()
        .rev()
        .skip(1)
        .map(value)
        .filter(|v| !v.is_null())
        .nth(offset - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggKind;

    fn agg(kind: AggKind) -> WindowFn {
        WindowFn::Agg(AggSpec::new(kind))
    }

    fn vals(out: Vec<Option<Value>>) -> Vec<Value> {
        out.into_iter()
            .map(|v| v.unwrap_or(Value::Varchar("<none>".into())))
            .collect()
    }

    /// The walk-through of
    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sliding-window-concepts.html>:
    /// a count over a sliding window, rows at t1, t2, t6, t7 and three at t8. The page's
    /// counts (1, 2, 2, 2, 5) hold for a window that holds the rows of the last 4 seconds
    /// before the row, inclusive (the page calls it "5-second", counting ticks t_(n-4)..t_n);
    /// the same rows under RANGE INTERVAL '4' SECOND PRECEDING.
    #[test]
    fn docs_sliding_count_walkthrough() {
        let counts = |interval_ms: i64| {
            let mut w =
                SlidingWindow::new(Frame::Range { interval_ms }, vec![agg(AggKind::CountStar)]);
            let mut counts = Vec::new();
            for t in [1, 2, 6, 7, 8, 8, 8] {
                let out = w.push(t * 1_000, vec![], vec![Value::Null]).expect("push");
                counts.push(out[0].clone());
            }
            counts
        };
        let c = |n: i64| Some(Value::BigInt(n));
        assert_eq!(
            counts(4_000),
            vec![c(1), c(2), c(2), c(2), c(3), c(4), c(5)]
        );
        // Read as a 5-second window with both ends in, t1 would still count at t6: the
        // page's "5-second" is the span of ticks t2..t6, not RANGE INTERVAL '5' SECOND.
        assert_eq!(
            counts(5_000),
            vec![c(1), c(2), c(3), c(3), c(3), c(4), c(5)]
        );
    }

    #[test]
    fn range_bound_is_inclusive_and_current_row_is_zero_width() {
        let mut w = SlidingWindow::new(
            Frame::Range {
                interval_ms: 60_000,
            },
            vec![agg(AggKind::Sum)],
        );
        w.push(0, vec![], vec![Value::Integer(1)]).expect("push");
        let at_bound = w
            .push(60_000, vec![], vec![Value::Integer(2)])
            .expect("push");
        assert_eq!(at_bound, vec![Some(Value::Integer(3))], "[t - 1 min, t]");
        let past = w
            .push(60_001, vec![], vec![Value::Integer(4)])
            .expect("push");
        assert_eq!(past, vec![Some(Value::Integer(6))]);

        let mut zero = SlidingWindow::new(
            Frame::Range { interval_ms: 0 },
            vec![agg(AggKind::CountStar)],
        );
        let mut counts = Vec::new();
        for t in [5, 5, 6] {
            counts.push(zero.push(t, vec![], vec![Value::Null]).expect("push")[0].clone());
        }
        assert_eq!(
            counts,
            vec![
                Some(Value::BigInt(1)),
                Some(Value::BigInt(2)),
                Some(Value::BigInt(1))
            ]
        );
    }

    /// Example 1 of the sliding-window page: MIN, MAX, AVG of price per ticker over
    /// RANGE INTERVAL '1' MINUTE PRECEDING, PARTITION BY ticker_symbol.
    #[test]
    fn partitioned_min_max_avg_over_a_minute() {
        let fns = vec![agg(AggKind::Min), agg(AggKind::Max), agg(AggKind::Avg)];
        let mut w = SlidingWindow::new(
            Frame::Range {
                interval_ms: 60_000,
            },
            fns,
        );
        let mut push = |t: i64, ticker: &str, price: f64| {
            let p = Value::Double(price);
            vals(
                w.push(
                    t * 1_000,
                    vec![Value::Varchar(ticker.into())],
                    vec![p.clone(), p.clone(), p],
                )
                .expect("push"),
            )
        };
        assert_eq!(
            push(0, "A", 10.0),
            [
                Value::Double(10.0),
                Value::Double(10.0),
                Value::Double(10.0)
            ]
        );
        assert_eq!(
            push(10, "B", 100.0),
            [
                Value::Double(100.0),
                Value::Double(100.0),
                Value::Double(100.0)
            ]
        );
        assert_eq!(
            push(30, "A", 20.0),
            [
                Value::Double(10.0),
                Value::Double(20.0),
                Value::Double(15.0)
            ]
        );
        // At 61 s the 0 s row of A has left; B is untouched.
        assert_eq!(
            push(61, "A", 30.0),
            [
                Value::Double(20.0),
                Value::Double(30.0),
                Value::Double(25.0)
            ]
        );
        assert_eq!(
            push(65, "B", 50.0),
            [
                Value::Double(50.0),
                Value::Double(100.0),
                Value::Double(75.0)
            ]
        );
        assert_eq!(
            push(71, "B", 60.0),
            [
                Value::Double(50.0),
                Value::Double(60.0),
                Value::Double(55.0)
            ]
        );
    }

    /// Example 3 of the sliding-window page: ROWS 2 PRECEDING per ticker holds three rows.
    #[test]
    fn rows_preceding_holds_n_plus_one_rows_per_partition() {
        let mut w = SlidingWindow::new(Frame::Rows { preceding: 2 }, vec![agg(AggKind::Avg)]);
        let mut out = Vec::new();
        for (ticker, price) in [
            ("A", 1.0),
            ("B", 100.0),
            ("A", 2.0),
            ("A", 3.0),
            ("A", 10.0),
        ] {
            let r = w
                .push(
                    0,
                    vec![Value::Varchar(ticker.into())],
                    vec![Value::Double(price)],
                )
                .expect("push");
            out.push(r[0].clone().unwrap_or(Value::Null));
        }
        assert_eq!(
            out,
            vec![
                Value::Double(1.0),
                Value::Double(100.0),
                Value::Double(1.5),
                Value::Double(2.0),
                Value::Double(5.0)
            ]
        );
        assert_eq!(w.held_rows(), 4);
    }

    #[test]
    fn lag_reads_the_partition_history_within_the_window() {
        let fns = vec![
            WindowFn::Lag {
                offset: 1,
                ignore_nulls: false,
            },
            WindowFn::Lag {
                offset: 2,
                ignore_nulls: false,
            },
            WindowFn::Lag {
                offset: 1,
                ignore_nulls: true,
            },
        ];
        let mut w = SlidingWindow::new(Frame::Rows { preceding: 2 }, fns);
        let k = |s: &str| vec![Value::Varchar(s.into())];
        let p = |v: Option<i32>| v.map(Value::Integer).unwrap_or(Value::Null);
        let mut push =
            |key: &str, v: Option<i32>| w.push(0, k(key), vec![p(v), p(v), p(v)]).expect("push");
        assert_eq!(push("A", Some(1)), vec![None, None, None]);
        assert_eq!(push("B", Some(9)), vec![None, None, None]);
        assert_eq!(
            push("A", None),
            vec![Some(Value::Integer(1)), None, Some(Value::Integer(1))]
        );
        assert_eq!(
            push("A", Some(3)),
            vec![
                Some(Value::Null),
                Some(Value::Integer(1)),
                Some(Value::Integer(1))
            ],
            "a NULL earlier value is NULL, not the default; IGNORE NULLS skips it"
        );
        // Window is 3 rows: the 1 has left, so LAG 2 is the NULL and IGNORE NULLS finds 3.
        assert_eq!(
            push("A", Some(4)),
            vec![
                Some(Value::Integer(3)),
                Some(Value::Null),
                Some(Value::Integer(3))
            ]
        );
    }

    /// The EXP_AVG example: 30-second window, 10-second half-life; a price in the newest
    /// 10 seconds weighs twice one in the middle 10 and four times one in the oldest.
    #[test]
    fn exp_avg_halves_the_weight_per_half_life() {
        let mut w = SlidingWindow::new(
            Frame::Range {
                interval_ms: 30_000,
            },
            vec![WindowFn::ExpAvg {
                half_life_ms: 10_000,
            }],
        );
        let mut last = None;
        for (t, price) in [(0, 40.0), (12_000, 20.0), (25_000, 10.0)] {
            last = w
                .push(t, vec![], vec![Value::Double(price)])
                .expect("push")
                .remove(0);
        }
        // Ages 25 s, 13 s, 0 s: weights 1/4, 1/2, 1.
        let expected = (40.0 * 0.25 + 20.0 * 0.5 + 10.0) / 1.75;
        assert_eq!(last, Some(Value::Double(expected)));
        let e = w.push(26_000, vec![], vec![Value::Varchar("x".into())]);
        assert!(e.is_err());
    }

    #[test]
    fn nth_value_counts_from_either_end() {
        let fns = vec![
            WindowFn::NthValue {
                n: 2,
                from_last: false,
                ignore_nulls: false,
            },
            WindowFn::NthValue {
                n: 1,
                from_last: true,
                ignore_nulls: true,
            },
        ];
        let mut w = SlidingWindow::new(Frame::Rows { preceding: 3 }, fns);
        let one = w
            .push(0, vec![], vec![Value::Integer(1), Value::Integer(1)])
            .expect("push");
        assert_eq!(one, vec![Some(Value::Null), Some(Value::Integer(1))]);
        let two = w
            .push(1, vec![], vec![Value::Integer(2), Value::Null])
            .expect("push");
        assert_eq!(two, vec![Some(Value::Integer(2)), Some(Value::Integer(1))]);
    }

    #[test]
    fn unbounded_keeps_aggregates_and_only_the_history_lag_needs() {
        let fns = vec![
            agg(AggKind::Max),
            WindowFn::Lag {
                offset: 2,
                ignore_nulls: false,
            },
            WindowFn::Lag {
                offset: 1,
                ignore_nulls: true,
            },
            WindowFn::NthValue {
                n: 2,
                from_last: false,
                ignore_nulls: false,
            },
        ];
        let mut w = SlidingWindow::new(Frame::Unbounded, fns);
        let p = |v: Option<i32>| v.map(Value::Integer).unwrap_or(Value::Null);
        let mut last = Vec::new();
        let input = [Some(9), Some(1), Some(2), None, None, None, None, Some(3)];
        for (t, v) in input.into_iter().enumerate() {
            last = w
                .push(t as i64, vec![], vec![p(v), p(v), p(v), p(v)])
                .expect("push");
        }
        assert_eq!(
            last,
            vec![
                Some(Value::Integer(9)),
                Some(Value::Null),
                Some(Value::Integer(2)),
                Some(Value::Integer(1))
            ],
            "MAX never forgets 9; LAG 2 is the NULL two rows back; IGNORE NULLS finds 2"
        );
        assert!(w.held_rows() <= 6, "held {}", w.held_rows());
        for t in 8..1_000 {
            w.push(t, vec![], vec![p(Some(0)); 4]).expect("push");
        }
        assert!(w.held_rows() <= 3, "held {}", w.held_rows());
        let json = serde_json::to_string(&w).expect("serialise");
        let mut back: SlidingWindow = serde_json::from_str(&json).expect("restore");
        let out = back.push(1_000, vec![], vec![p(Some(5)); 4]).expect("push");
        assert_eq!(out[0], Some(Value::Integer(9)));
        assert_eq!(out[3], Some(Value::Integer(1)));
    }

    #[test]
    fn idle_partitions_are_freed_when_their_rows_age_out() {
        let mut w =
            SlidingWindow::new(Frame::Range { interval_ms: 1_000 }, vec![agg(AggKind::Sum)]);
        for i in 0..1_000 {
            w.push(i, vec![Value::Integer(i as i32)], vec![Value::Integer(1)])
                .expect("push");
        }
        assert_eq!(w.partitions(), 1_000);
        w.push(5_000, vec![Value::Integer(-1)], vec![Value::Integer(1)])
            .expect("push");
        assert_eq!(w.partitions(), 1);
        assert_eq!(w.held_rows(), 1);
        w.expire(10_000);
        assert_eq!(w.partitions(), 0);
    }

    #[test]
    fn a_failing_row_leaves_the_window_as_it_was() {
        let fns = vec![agg(AggKind::Count), agg(AggKind::Sum)];
        let mut w = SlidingWindow::new(Frame::Rows { preceding: 5 }, fns);
        w.push(0, vec![], vec![Value::Integer(1), Value::Integer(1)])
            .expect("push");
        let e = w
            .push(
                1,
                vec![],
                vec![Value::Integer(1), Value::Varchar("x".into())],
            )
            .expect_err("SUM of a string");
        assert_eq!(e.name, "TypeMismatch");
        let out = w
            .push(2, vec![], vec![Value::Integer(1), Value::Integer(2)])
            .expect("push");
        assert_eq!(out, vec![Some(Value::BigInt(2)), Some(Value::Integer(3))]);
        assert!(w.push(3, vec![], vec![]).is_err(), "wrong argument count");
    }

    #[test]
    fn state_survives_a_checkpoint() {
        let mut w = SlidingWindow::new(
            Frame::Range { interval_ms: 10 },
            vec![agg(AggKind::Max), agg(AggKind::Sum)],
        );
        for (t, v) in [(0, 5), (5, 3)] {
            w.push(
                t,
                vec![Value::Varchar("k".into())],
                vec![Value::Integer(v), Value::Integer(v)],
            )
            .expect("push");
        }
        let json = serde_json::to_string(&w).expect("serialise");
        let mut back: SlidingWindow = serde_json::from_str(&json).expect("restore");
        let out = back
            .push(
                11,
                vec![Value::Varchar("k".into())],
                vec![Value::Integer(1), Value::Integer(1)],
            )
            .expect("push");
        assert_eq!(
            out,
            vec![Some(Value::Integer(3)), Some(Value::Integer(4))],
            "the 0 ms row left"
        );
    }

    mod matches_recomputing {
        use proptest::prelude::*;

        use super::*;

        /// Every function over the window, computed from scratch from the rows in it.
        fn brute(
            history: &[(i64, i32, Option<i32>)],
            frame: Frame,
            kinds: &[(AggKind, bool)],
        ) -> Vec<Value> {
            let &(now, key, _) = history.last().expect("a row");
            let mut rows: Vec<&(i64, i32, Option<i32>)> =
                history.iter().filter(|r| r.1 == key).collect();
            match frame {
                Frame::Range { interval_ms } => rows.retain(|r| r.0 >= now - interval_ms),
                Frame::Unbounded => {}
                Frame::Rows { preceding } => {
                    let keep = preceding as usize + 1;
                    if rows.len() > keep {
                        rows.drain(..rows.len() - keep);
                    }
                }
            }
            let vals: Vec<Value> = rows
                .iter()
                .map(|r| r.2.map(Value::Integer).unwrap_or(Value::Null))
                .collect();
            let mut out: Vec<Value> = kinds
                .iter()
                .map(|&(kind, distinct)| {
                    let mut acc = Accumulator::new(kind, distinct);
                    for v in &vals {
                        acc.add(v).expect("add");
                    }
                    acc.result().expect("result")
                })
                .collect();
            let none = Value::Varchar("<none>".into());
            let earlier = &vals[..vals.len() - 1];
            // LAG 1, LAG 2 IGNORE NULLS, NTH_VALUE 2 FROM FIRST, NTH_VALUE 1 FROM LAST IGNORE NULLS.
            out.push(earlier.last().cloned().unwrap_or(none.clone()));
            out.push(
                earlier
                    .iter()
                    .rev()
                    .filter(|v| !v.is_null())
                    .nth(1)
                    .cloned()
                    .unwrap_or(none),
            );
            out.push(vals.get(1).cloned().unwrap_or(Value::Null));
            out.push(
                vals.iter()
                    .rev()
                    .find(|v| !v.is_null())
                    .cloned()
                    .unwrap_or(Value::Null),
            );
            out
        }

        proptest! {
            #[test]
            fn sliding_results_equal_recomputing_the_window(
                steps in proptest::collection::vec((0i64..4, 0i32..3, proptest::option::of(-5i32..6)), 1..60),
                mode in 0u8..3,
                width in 0i64..8,
            ) {
                let kinds = [
                    (AggKind::Min, false),
                    (AggKind::Max, false),
                    (AggKind::Sum, false),
                    (AggKind::Count, true),
                    (AggKind::FirstValue, false),
                    (AggKind::LastValue, false),
                    (AggKind::Avg, true),
                    (AggKind::CountStar, false),
                ];
                let frame = match mode {
                    0 => Frame::Range { interval_ms: width },
                    1 => Frame::Rows { preceding: width as u64 },
                    _ => Frame::Unbounded,
                };
                let mut fns: Vec<WindowFn> = kinds
                    .iter()
                    .map(|&(kind, distinct)| WindowFn::Agg(AggSpec { kind, distinct, ignore_nulls: false }))
                    .collect();
                fns.extend([
                    WindowFn::Lag { offset: 1, ignore_nulls: false },
                    WindowFn::Lag { offset: 2, ignore_nulls: true },
                    WindowFn::NthValue { n: 2, from_last: false, ignore_nulls: false },
                    WindowFn::NthValue { n: 1, from_last: true, ignore_nulls: true },
                ]);
                let n_fns = fns.len();
                let mut w = SlidingWindow::new(frame, fns);
                let mut history = Vec::new();
                let mut t = 0;
                for (dt, key, v) in steps {
                    t += dt;
                    history.push((t, key, v));
                    let arg = v.map(Value::Integer).unwrap_or(Value::Null);
                    let got = w
                        .push(t, vec![Value::Integer(key)], vec![arg; n_fns])
                        .expect("push");
                    let got: Vec<Value> = got
                        .into_iter()
                        .map(|v| v.unwrap_or(Value::Varchar("<none>".into())))
                        .collect();
                    prop_assert_eq!(got, brute(&history, frame, &kinds));
                }
            }
        }
    }
}
