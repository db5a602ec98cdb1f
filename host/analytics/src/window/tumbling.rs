//! Tumbling windows: an aggregate query with GROUP BY over a monotonic expression of ROWTIME
//! (`STEP(s.ROWTIME BY INTERVAL '60' SECOND)`, `FLOOR(s.ROWTIME TO MINUTE)`), plus any other
//! GROUP BY expressions (<https://docs.aws.amazon.com/kinesisanalytics/latest/dev/tumbling-window-concepts.html>).
//!
//! Each group is keyed by (the window value, the other group keys). A group is emitted once
//! the stream's time reaches its window's end, with that end as the output ROWTIME (the
//! "Partial Results with Tumbling Windows" table of
//! <https://docs.aws.amazon.com/kinesisanalytics/latest/dev/stagger-window-concepts.html>:
//! window 11:00-11:01 comes out at ROWTIME 11:01:00). Groups come out in window order, then
//! in the order their first rows arrived.
//!
//! Late rows: a row whose window was already emitted (possible when the monotonic expression
//! is not ROWTIME's, or when a restart replays input) is not dropped. It starts a partial
//! group with its own window value and keys that comes out with the window the stream's time
//! is in now, as the docs' partial-results table shows a late record "aggregated
//! separately" with the next window's ROWTIME.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::keyed::KeyedSlab;
use super::{add_all, results, GroupRow};
use crate::aggregate::{Accumulator, AggSpec};
use crate::error::SqlError;
use crate::value::Value;

/// The open groups of one tumbling-window query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TumblingGroups {
    aggs: Vec<AggSpec>,
    /// The window length in milliseconds (STEP's interval, FLOOR's unit): where a late row's
    /// partial group is emitted.
    period_ms: i64,
    /// The latest time passed to [`advance`](Self::advance): every window ending at or
    /// before it was emitted.
    emitted_through: i64,
    /// The latest ROWTIME pushed.
    latest: i64,
    /// Open groups by the ROWTIME they will be emitted at. A bucket holds one window's
    /// groups, or more when late rows joined it.
    buckets: BTreeMap<i64, Vec<WindowGroups>>,
    groups: usize,
}

/// The groups of one window value in one bucket. Memory per group is what the benchmark's
/// million keys multiply: the window value is held once here rather than in every key, and
/// the accumulators of all groups sit in one vector (`aggs.len()` per group, by slot).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WindowGroups {
    window: Value,
    /// Group keys; each entry's value is its first-arrival number within the bucket.
    keys: KeyedSlab<u32>,
    accs: Vec<Accumulator>,
}

impl TumblingGroups {
    /// Groups for the aggregates of one query, whose windows are `period_ms` long.
    pub fn new(aggs: Vec<AggSpec>, period_ms: i64) -> TumblingGroups {
        TumblingGroups {
            aggs,
            period_ms: period_ms.max(1),
            emitted_through: i64::MIN,
            latest: i64::MIN,
            buckets: BTreeMap::new(),
            groups: 0,
        }
    }

    /// Adds a row to its group: `rowtime` is the row's ROWTIME, `window` the value of the
    /// monotonic GROUP BY expression and `window_end` the ROWTIME at which that window
    /// closes (for `STEP(ROWTIME BY i)` the step's value plus `i`), `key` the other GROUP BY
    /// values, `args` one argument per aggregate. An error (SUM of a string) is the row's
    /// `error_stream` entry and leaves no trace of the row in any group.
    pub fn push(
        &mut self,
        rowtime: i64,
        window: Value,
        window_end: i64,
        key: Vec<Value>,
        args: &[Value],
    ) -> Result<(), SqlError> {
        self.latest = self.latest.max(rowtime);
        let emit_at = if window_end > self.emitted_through {
            window_end
        } else {
            // Late: out with the window the stream's time is in now.
            let now = self.latest.max(self.emitted_through);
            now.div_euclid(self.period_ms)
                .saturating_mul(self.period_ms)
                .saturating_add(self.period_ms)
        };
        let n = self.aggs.len();
        let bucket = self.buckets.entry(emit_at).or_default();
        let arrival = bucket.iter().map(|w| w.keys.len()).sum::<usize>() as u32;
        let at = match bucket
            .iter()
            .position(|w| crate::aggregate::key::key_eq(&w.window, &window))
        {
            Some(at) => at,
            None => {
                bucket.push(WindowGroups {
                    window,
                    keys: KeyedSlab::default(),
                    accs: Vec::new(),
                });
                bucket.len() - 1
            }
        };
        let groups = &mut bucket[at];
        let added = match groups.keys.find(&key, &[]) {
            Some(slot) => {
                let start = slot as usize * n;
                match groups.accs.get_mut(start..start + n) {
                    Some(accs) => add_all(accs, args),
                    None => Err(SqlError::new("InternalError", "tumbling group lost")),
                }
            }
            None => {
                let mut accs: Vec<Accumulator> =
                    self.aggs.iter().map(|a| a.accumulator()).collect();
                let added = add_all(&mut accs, args);
                if added.is_ok() {
                    // Slots follow insertion (nothing is removed from a bucket before it is
                    // emitted whole), so slot `s` owns `accs[s * n..]`.
                    groups.keys.insert(key, arrival);
                    groups.accs.extend(accs);
                    self.groups += 1;
                }
                added
            }
        };
        if groups.keys.is_empty() {
            bucket.remove(at);
        }
        if bucket.is_empty() {
            self.buckets.remove(&emit_at);
        }
        added
    }

    /// Emits every group whose window ends at or before `now`, in window order and then
    /// first-arrival order. Call it with each row's ROWTIME (before or after pushing the
    /// row: a row never belongs to a window that ends at its own ROWTIME) and with the
    /// stream's time when it moves without rows.
    pub fn advance(&mut self, now: i64) -> Vec<GroupRow> {
        self.emitted_through = self.emitted_through.max(now);
        // Called for every row: most calls have nothing due.
        if self
            .buckets
            .first_key_value()
            .is_none_or(|(end, _)| *end > now)
        {
            return Vec::new();
        }
        let later = match now.checked_add(1) {
            Some(next) => self.buckets.split_off(&next),
            None => BTreeMap::new(),
        };
        let due = std::mem::replace(&mut self.buckets, later);
        let n = self.aggs.len();
        let mut out = Vec::new();
        for (rowtime, bucket) in due {
            let mut rows: Vec<(u32, GroupRow)> = Vec::new();
            for groups in bucket {
                let mut accs = groups.accs.into_iter();
                for (key, arrival) in groups.keys.into_entries() {
                    let mine: Vec<Accumulator> = accs.by_ref().take(n).collect();
                    rows.push((
                        arrival,
                        GroupRow {
                            rowtime,
                            window: Some(groups.window.clone()),
                            key: key.into_vec(),
                            results: results(&mine),
                        },
                    ));
                }
            }
            // First-arrival order across the bucket's windows.
            rows.sort_by_key(|(arrival, _)| *arrival);
            self.groups = self.groups.saturating_sub(rows.len());
            out.extend(rows.into_iter().map(|(_, row)| row));
        }
        out
    }

    /// How many groups are open (for metrics and memory bounds).
    pub fn open_groups(&self) -> usize {
        self.groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggKind;
    use crate::value::parse_timestamp;

    fn t(hms: &str) -> i64 {
        parse_timestamp(&format!("2019-01-01 {hms}")).expect("time")
    }

    const MINUTE: i64 = 60_000;

    fn floor_minute(ms: i64) -> i64 {
        ms.div_euclid(MINUTE) * MINUTE
    }

    fn amzn() -> Value {
        Value::Varchar("AMZN".into())
    }

    /// The tumbling query and table of "Partial Results with Tumbling Windows",
    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/dev/stagger-window-concepts.html>:
    /// GROUP BY ticker_symbol, FLOOR(EVENT_TIME TO MINUTE), STEP(ROWTIME BY INTERVAL '1'
    /// MINUTE), COUNT(TICKER_SYMBOL).
    #[test]
    fn docs_partial_results_table() {
        let rows = [
            ("11:00:20", "11:00:10"),
            ("11:00:30", "11:00:20"),
            ("11:01:05", "11:00:55"),
            ("11:01:15", "11:01:05"),
        ];
        let mut g = TumblingGroups::new(vec![AggSpec::new(AggKind::Count)], MINUTE);
        let mut out = Vec::new();
        for (rowtime, event) in rows {
            let rt = t(rowtime);
            out.extend(g.advance(rt));
            let step = floor_minute(rt);
            g.push(
                rt,
                Value::Timestamp(step),
                step + MINUTE,
                vec![amzn(), Value::Timestamp(floor_minute(t(event)))],
                &[amzn()],
            )
            .expect("push");
        }
        out.extend(g.advance(t("11:02:00")));
        let got: Vec<(i64, Value, i64)> = out
            .iter()
            .map(|r| {
                (
                    r.rowtime,
                    r.key[1].clone(),
                    match r.results.as_ref().expect("results")[0] {
                        Value::BigInt(n) => n,
                        ref v => panic!("{v:?}"),
                    },
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (t("11:01:00"), Value::Timestamp(t("11:00:00")), 2),
                (t("11:02:00"), Value::Timestamp(t("11:00:00")), 1),
                (t("11:02:00"), Value::Timestamp(t("11:01:00")), 1),
            ]
        );
        assert_eq!(out[0].window, Some(Value::Timestamp(t("11:00:00"))));
        assert_eq!(out[0].key[0], amzn());
        assert_eq!(g.open_groups(), 0);
    }

    /// The min/max per ticker per minute query of
    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/dev/tumbling-window-concepts.html>:
    /// one row per ticker per minute, emitted when the minute has passed, tickers in the
    /// order they first appeared.
    #[test]
    fn min_max_per_ticker_per_minute() {
        let aggs = vec![AggSpec::new(AggKind::Min), AggSpec::new(AggKind::Max)];
        let mut g = TumblingGroups::new(aggs, MINUTE);
        let rows = [
            ("10:00:01", "QXZ", 10.5f32),
            ("10:00:02", "AMZN", 800.0),
            ("10:00:30", "QXZ", 9.25),
            ("10:00:59", "QXZ", 11.0),
            ("10:01:00", "QXZ", 1.0),
        ];
        let mut out = Vec::new();
        for (rowtime, ticker, price) in rows {
            let rt = t(rowtime);
            out.extend(g.advance(rt));
            let step = floor_minute(rt);
            let p = Value::Real(price);
            g.push(
                rt,
                Value::Timestamp(step),
                step + MINUTE,
                vec![Value::Varchar(ticker.into())],
                &[p.clone(), p],
            )
            .expect("push");
        }
        assert_eq!(out.len(), 2, "the 10:00 window closed at the 10:01:00 row");
        assert_eq!(out[0].key, vec![Value::Varchar("QXZ".into())]);
        assert_eq!(
            out[0].results,
            Ok(vec![Value::Real(9.25), Value::Real(11.0)])
        );
        assert_eq!(out[1].key, vec![Value::Varchar("AMZN".into())]);
        assert!(out.iter().all(|r| r.rowtime == t("10:01:00")));
        assert!(g.advance(t("10:01:59")).is_empty(), "10:01 is still open");
        let last = g.advance(t("10:02:00"));
        assert_eq!(last.len(), 1);
        assert_eq!(
            last[0].results,
            Ok(vec![Value::Real(1.0), Value::Real(1.0)])
        );
    }

    #[test]
    fn a_late_row_gives_a_partial_row_with_the_current_window() {
        let mut g = TumblingGroups::new(vec![AggSpec::new(AggKind::CountStar)], MINUTE);
        let w = |hms: &str| Value::Timestamp(t(hms));
        g.push(
            t("10:00:10"),
            w("10:00:00"),
            t("10:01:00"),
            vec![],
            &[Value::Null],
        )
        .expect("push");
        let first = g.advance(t("10:01:30"));
        assert_eq!(first.len(), 1);
        // A row for the 10:00 window after it was emitted (STEP over an event time).
        g.push(
            t("10:01:40"),
            w("10:00:00"),
            t("10:01:00"),
            vec![],
            &[Value::Null],
        )
        .expect("late push");
        g.push(
            t("10:01:50"),
            w("10:01:00"),
            t("10:02:00"),
            vec![],
            &[Value::Null],
        )
        .expect("push");
        assert!(g.advance(t("10:01:59")).is_empty());
        let out = g.advance(t("10:02:00"));
        assert_eq!(out.len(), 2, "the partial row and the 10:01 window");
        assert_eq!(out[0].window, Some(w("10:00:00")));
        assert_eq!(out[0].rowtime, t("10:02:00"));
        assert_eq!(out[0].results, Ok(vec![Value::BigInt(1)]));
        assert_eq!(out[1].window, Some(w("10:01:00")));
    }

    #[test]
    fn a_bucket_with_late_groups_emits_in_first_arrival_order() {
        let mut g = TumblingGroups::new(vec![AggSpec::new(AggKind::CountStar)], MINUTE);
        let w = |hms: &str| Value::Timestamp(t(hms));
        let k = |s: &str| vec![Value::Varchar(s.into())];
        assert!(g.advance(t("10:01:00")).is_empty());
        for (at, window, end, key) in [
            ("10:01:01", "10:01:00", "10:02:00", "a"),
            ("10:01:02", "10:00:00", "10:01:00", "b"),
            ("10:01:03", "10:01:00", "10:02:00", "c"),
            ("10:01:04", "10:00:00", "10:01:00", "b"),
        ] {
            g.push(t(at), w(window), t(end), k(key), &[Value::Null])
                .expect("push");
        }
        let out = g.advance(t("10:02:00"));
        let keys: Vec<Value> = out.iter().map(|r| r.key[0].clone()).collect();
        assert_eq!(
            keys,
            vec![k("a")[0].clone(), k("b")[0].clone(), k("c")[0].clone()]
        );
        assert_eq!(out[1].window, Some(w("10:00:00")));
        assert_eq!(out[1].results, Ok(vec![Value::BigInt(2)]));
        assert!(out.iter().all(|r| r.rowtime == t("10:02:00")));
    }

    #[test]
    fn groups_key_by_sql_equality_and_errors_leave_no_group() {
        let mut g = TumblingGroups::new(vec![AggSpec::new(AggKind::Sum)], MINUTE);
        let w = Value::Timestamp(0);
        g.push(
            1,
            w.clone(),
            MINUTE,
            vec![Value::Char("A  ".into())],
            &[Value::Integer(2)],
        )
        .expect("push");
        g.push(
            2,
            w.clone(),
            MINUTE,
            vec![Value::Varchar("A".into())],
            &[Value::Integer(3)],
        )
        .expect("push");
        let e = g
            .push(
                3,
                w.clone(),
                MINUTE,
                vec![Value::Varchar("B".into())],
                &[Value::Varchar("x".into())],
            )
            .expect_err("SUM of a string");
        assert_eq!(e.name, "TypeMismatch");
        assert_eq!(g.open_groups(), 1);
        let out = g.advance(MINUTE);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].key,
            vec![Value::Char("A  ".into())],
            "the first row's value"
        );
        assert_eq!(out[0].results, Ok(vec![Value::Integer(5)]));
    }

    #[test]
    fn a_row_one_aggregate_rejects_is_in_none() {
        let aggs = vec![AggSpec::new(AggKind::CountStar), AggSpec::new(AggKind::Sum)];
        let mut g = TumblingGroups::new(aggs, MINUTE);
        let w = Value::Timestamp(0);
        g.push(
            1,
            w.clone(),
            MINUTE,
            vec![],
            &[Value::Null, Value::Integer(1)],
        )
        .expect("push");
        g.push(
            2,
            w.clone(),
            MINUTE,
            vec![],
            &[Value::Null, Value::Varchar("x".into())],
        )
        .expect_err("SUM of a string");
        let out = g.advance(MINUTE);
        assert_eq!(
            out[0].results,
            Ok(vec![Value::BigInt(1), Value::Integer(1)])
        );
    }

    #[test]
    fn an_overflowing_sum_is_an_error_row_not_a_wrong_number() {
        let mut g = TumblingGroups::new(vec![AggSpec::new(AggKind::Sum)], MINUTE);
        for _ in 0..2 {
            g.push(
                1,
                Value::Timestamp(0),
                MINUTE,
                vec![],
                &[Value::Integer(i32::MAX)],
            )
            .expect("push");
        }
        let out = g.advance(MINUTE);
        assert_eq!(
            out[0].results.as_ref().map_err(|e| e.name.as_str()),
            Err("NumericOverflow")
        );
    }

    #[test]
    fn state_survives_a_checkpoint() {
        let mut g = TumblingGroups::new(vec![AggSpec::new(AggKind::Avg)], MINUTE);
        g.push(
            1,
            Value::Timestamp(0),
            MINUTE,
            vec![Value::Integer(1)],
            &[Value::Double(1.0)],
        )
        .expect("push");
        let json = serde_json::to_value(&g).expect("serialise");
        let mut back: TumblingGroups = serde_json::from_value(json).expect("restore");
        back.push(
            2,
            Value::Timestamp(0),
            MINUTE,
            vec![Value::BigInt(1)],
            &[Value::Double(2.0)],
        )
        .expect("push");
        let out = back.advance(MINUTE);
        assert_eq!(out.len(), 1, "the restored group was found again");
        assert_eq!(out[0].results, Ok(vec![Value::Double(1.5)]));
    }

    mod matches_grouping {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::*;

        /// A group's key, row count, sum and max, as the batch computes them.
        type Expected = (i32, i64, Option<i64>, Option<i32>);

        proptest! {
                    /// Pushing rows (with `advance` at each ROWTIME) gives exactly the groups a
                    /// batch GROUP BY (window, key) gives, each at its window's end, in window
                    /// order then first-arrival order.
                    #[test]
                    fn emitted_groups_equal_batch_grouping(
                        steps in proptest::collection::vec((0i64..25, 0i32..4, proptest::option::of(-9i32..10)), 1..80),
                    ) {
                        const P: i64 = 60;
                        let aggs = vec![AggSpec::new(AggKind::CountStar), AggSpec::new(AggKind::Sum), AggSpec::new(AggKind::Max)];
                        let mut g = TumblingGroups::new(aggs, P);
                        let mut out = Vec::new();
                        // (window end, first arrival) -> (key, count, sum, max)
        let mut expected: BTreeMap<(i64, usize), Expected> = BTreeMap::new();
                        let mut t = 0;
                        for (i, (dt, key, v)) in steps.into_iter().enumerate() {
                            t += dt;
                            out.extend(g.advance(t));
                            let start = t.div_euclid(P) * P;
                            let arg = v.map(Value::Integer).unwrap_or(Value::Null);
                            g.push(t, Value::Timestamp(start), start + P, vec![Value::Integer(key)], &[Value::Null, arg.clone(), arg])
                                .expect("push");
                            let slot = expected
                                .iter_mut()
                                .find(|((end, _), e)| *end == start + P && e.0 == key)
                                .map(|(_, e)| e);
                            let e = match slot {
                                Some(e) => e,
                                None => expected.entry((start + P, i)).or_insert((key, 0, None, None)),
                            };
                            e.1 += 1;
                            if let Some(v) = v {
                                e.2 = Some(e.2.unwrap_or(0) + i64::from(v));
                                e.3 = Some(e.3.map_or(v, |m| m.max(v)));
                            }
                        }
                        out.extend(g.advance(i64::MAX));
                        prop_assert_eq!(g.open_groups(), 0);
                        let want: Vec<GroupRow> = expected
                            .into_iter()
                            .map(|((end, _), (key, n, sum, max))| GroupRow {
                                rowtime: end,
                                window: Some(Value::Timestamp(end - P)),
                                key: vec![Value::Integer(key)],
                                results: Ok(vec![
                                    Value::BigInt(n),
                                    sum.map(|s| Value::Integer(s as i32)).unwrap_or(Value::Null),
                                    max.map(Value::Integer).unwrap_or(Value::Null),
                                ]),
                            })
                            .collect();
                        prop_assert_eq!(out, want);
                    }
                }
    }
}
