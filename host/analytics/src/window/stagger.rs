//! Stagger windows: `WINDOWED BY STAGGER (PARTITION BY keys RANGE INTERVAL 'n' MINUTE)`
//! (<https://docs.aws.amazon.com/kinesisanalytics/latest/dev/stagger-window-concepts.html>).
//!
//! A window opens when the first row with a partition key arrives, holds the rows of that key
//! whose ROWTIME is less than the opening row's ROWTIME plus the interval, and closes then:
//! it comes out with ROWTIME = opening ROWTIME + interval (the page's table: the AMZN window
//! opened by the 11:00:20 row comes out at 11:01:20), the partition values, and each
//! aggregate over its rows. A row of the key arriving at or after the close opens the next
//! window. Windows come out in closing order, then opening order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::keyed::KeyedSlab;
use super::{add_all, results, GroupRow};
use crate::aggregate::{Accumulator, AggSpec};
use crate::error::SqlError;
use crate::value::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OpenWindow {
    opened: i64,
    seq: u64,
    accs: Vec<Accumulator>,
}

/// The open windows of one `WINDOWED BY STAGGER` query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaggerWindow {
    aggs: Vec<AggSpec>,
    range_ms: i64,
    open: KeyedSlab<OpenWindow>,
    /// `(close ROWTIME, opening sequence) -> slot`: which windows close next.
    #[serde(with = "crate::aggregate::pairs")]
    closing: BTreeMap<(i64, u64), u32>,
    next_seq: u64,
    /// Windows a row closed before `advance` was called for their close time.
    pending: Vec<(u64, GroupRow)>,
}

impl StaggerWindow {
    /// Windows of `range_ms` milliseconds for the aggregates of one query.
    pub fn new(aggs: Vec<AggSpec>, range_ms: i64) -> StaggerWindow {
        StaggerWindow {
            aggs,
            range_ms: range_ms.max(1),
            open: KeyedSlab::default(),
            closing: BTreeMap::new(),
            next_seq: 0,
            pending: Vec::new(),
        }
    }

    /// Adds a row: `rowtime` its ROWTIME, `key` its PARTITION BY values, `args` one argument
    /// per aggregate. An error is the row's `error_stream` entry (a window the row would
    /// have opened is not opened).
    pub fn push(&mut self, rowtime: i64, key: Vec<Value>, args: &[Value]) -> Result<(), SqlError> {
        let mut found = self.open.find(&key, &[]);
        if let Some(slot) = found {
            let closes = self
                .open
                .get_mut(slot)
                .map(|(_, w)| w.opened.saturating_add(self.range_ms));
            if closes.is_some_and(|c| rowtime >= c) {
                self.close(slot);
                found = None;
            }
        }
        match found {
            Some(slot) => match self.open.get_mut(slot) {
                Some((_, w)) => add_all(&mut w.accs, args),
                None => Err(SqlError::new("InternalError", "stagger window lost")),
            },
            None => {
                let mut accs: Vec<Accumulator> =
                    self.aggs.iter().map(|a| a.accumulator()).collect();
                add_all(&mut accs, args)?;
                let seq = self.next_seq;
                self.next_seq += 1;
                let slot = self.open.insert(
                    key,
                    OpenWindow {
                        opened: rowtime,
                        seq,
                        accs,
                    },
                );
                self.closing
                    .insert((rowtime.saturating_add(self.range_ms), seq), slot);
                Ok(())
            }
        }
    }

    fn close(&mut self, slot: u32) {
        if let Some((key, w)) = self.open.remove(slot) {
            let close = w.opened.saturating_add(self.range_ms);
            self.closing.remove(&(close, w.seq));
            self.pending.push((
                w.seq,
                GroupRow {
                    rowtime: close,
                    window: None,
                    key: key.into_vec(),
                    results: results(&w.accs),
                },
            ));
        }
    }

    /// Emits every window that has closed by `now` (its close ROWTIME at or before `now`).
    pub fn advance(&mut self, now: i64) -> Vec<GroupRow> {
        while let Some((&(close, _), &slot)) = self.closing.iter().next() {
            if close > now {
                break;
            }
            self.close(slot);
        }
        if self.pending.is_empty() {
            return Vec::new();
        }
        let mut out = std::mem::take(&mut self.pending);
        out.sort_by_key(|(seq, row)| (row.rowtime, *seq));
        out.into_iter().map(|(_, row)| row).collect()
    }

    /// How many windows are open.
    pub fn open_windows(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggKind;
    use crate::value::parse_timestamp;

    const MINUTE: i64 = 60_000;

    /// A window's output as the tests compare it: ROWTIME, key, results.
    type Emitted = (i64, Vec<Value>, Result<Vec<Value>, SqlError>);

    fn t(text: &str) -> i64 {
        parse_timestamp(text).expect("time")
    }

    /// "Complete Results with Stagger Windows",
    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/dev/stagger-window-concepts.html>:
    /// PARTITION BY FLOOR(EVENT_TIME TO MINUTE), TICKER_SYMBOL RANGE INTERVAL '1' MINUTE,
    /// COUNT(TICKER_SYMBOL); the page's result is (11:01:20, 11:00:00, AMZN, 3) and
    /// (11:02:15, 11:01:00, AMZN, 1).
    #[test]
    fn docs_stagger_concepts_table() {
        let rows = [
            ("11:00:20", "11:00:10"),
            ("11:00:30", "11:00:20"),
            ("11:01:05", "11:00:55"),
            ("11:01:15", "11:01:05"),
        ];
        let mut w = StaggerWindow::new(vec![AggSpec::new(AggKind::Count)], MINUTE);
        let mut out = Vec::new();
        let day = "2018-08-01 ";
        for (rowtime, event) in rows {
            let rt = t(&format!("{day}{rowtime}"));
            out.extend(w.advance(rt));
            let floor = t(&format!("{day}{event}")).div_euclid(MINUTE) * MINUTE;
            let ticker = Value::Varchar("AMZN".into());
            w.push(rt, vec![Value::Timestamp(floor), ticker.clone()], &[ticker])
                .expect("push");
        }
        out.extend(w.advance(t(&format!("{day}11:03:00"))));
        let got: Vec<Emitted> = out
            .into_iter()
            .map(|r| (r.rowtime, r.key, r.results))
            .collect();
        let amzn = Value::Varchar("AMZN".into());
        assert_eq!(
            got,
            vec![
                (
                    t(&format!("{day}11:01:20")),
                    vec![Value::Timestamp(t(&format!("{day}11:00:00"))), amzn.clone()],
                    Ok(vec![Value::BigInt(3)])
                ),
                (
                    t(&format!("{day}11:02:15")),
                    vec![Value::Timestamp(t(&format!("{day}11:01:00"))), amzn],
                    Ok(vec![Value::BigInt(1)])
                ),
            ]
        );
        assert_eq!(w.open_windows(), 0);
    }

    /// "Example: Stagger Window",
    /// <https://docs.aws.amazon.com/kinesisanalytics/latest/dev/examples-window-stagger.html>:
    /// six records per (TICKER, EVENT_TIME) ten seconds apart, PARTITION BY TICKER,
    /// EVENT_TIME RANGE INTERVAL '1' MINUTE, COUNT(TICKER): each group is one window of 6,
    /// out one minute after its first record (the page shows the result only as a
    /// screenshot; this is what its stated semantics give).
    #[test]
    fn docs_stagger_example_six_per_window() {
        let input = [
            ("AMZN", "2018-08-01T20:17:20.797", "20:17:30"),
            ("AMZN", "2018-08-01T20:17:20.797", "20:17:40"),
            ("AMZN", "2018-08-01T20:17:20.797", "20:17:50"),
            ("AMZN", "2018-08-01T20:17:20.797", "20:18:00"),
            ("AMZN", "2018-08-01T20:17:20.797", "20:18:10"),
            ("AMZN", "2018-08-01T20:17:20.797", "20:18:21"),
            ("INTC", "2018-08-01T20:18:21.043", "20:18:31"),
            ("INTC", "2018-08-01T20:18:21.043", "20:18:41"),
            ("INTC", "2018-08-01T20:18:21.043", "20:18:51"),
            ("INTC", "2018-08-01T20:18:21.043", "20:19:01"),
            ("INTC", "2018-08-01T20:18:21.043", "20:19:11"),
            ("INTC", "2018-08-01T20:18:21.043", "20:19:21"),
        ];
        let mut w = StaggerWindow::new(vec![AggSpec::new(AggKind::Count)], MINUTE);
        let mut out = Vec::new();
        for (ticker, event, rowtime) in input {
            let rt = t(&format!("2018-08-01 {rowtime}"));
            out.extend(w.advance(rt));
            let ticker = Value::Varchar(ticker.into());
            w.push(
                rt,
                vec![ticker.clone(), Value::Timestamp(t(event))],
                &[ticker],
            )
            .expect("push");
        }
        out.extend(w.advance(t("2018-08-01 20:21:00")));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].rowtime, t("2018-08-01 20:18:30"));
        assert_eq!(out[0].key[0], Value::Varchar("AMZN".into()));
        assert_eq!(
            out[0].key[1],
            Value::Timestamp(t("2018-08-01T20:17:20.797"))
        );
        assert_eq!(out[0].results, Ok(vec![Value::BigInt(6)]));
        assert_eq!(out[1].rowtime, t("2018-08-01 20:19:31"));
        assert_eq!(out[1].results, Ok(vec![Value::BigInt(6)]));
    }

    #[test]
    fn a_row_at_the_close_opens_the_next_window_even_without_advance() {
        let mut w = StaggerWindow::new(vec![AggSpec::new(AggKind::CountStar)], 10);
        let k = vec![Value::Integer(1)];
        w.push(0, k.clone(), &[Value::Null]).expect("push");
        w.push(9, k.clone(), &[Value::Null]).expect("push");
        w.push(10, k.clone(), &[Value::Null]).expect("push");
        w.push(12, vec![Value::Integer(2)], &[Value::Null])
            .expect("push");
        let out = w.advance(10);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].rowtime, out[0].results.clone()),
            (10, Ok(vec![Value::BigInt(2)]))
        );
        let json = serde_json::to_value(&w).expect("serialise");
        let mut back: StaggerWindow = serde_json::from_value(json).expect("restore");
        back.push(15, k, &[Value::Null]).expect("push");
        let out = back.advance(30);
        let got: Vec<Emitted> = out
            .into_iter()
            .map(|r| (r.rowtime, r.key, r.results))
            .collect();
        assert_eq!(
            got,
            vec![
                (20, vec![Value::Integer(1)], Ok(vec![Value::BigInt(2)])),
                (22, vec![Value::Integer(2)], Ok(vec![Value::BigInt(1)])),
            ]
        );
    }

    mod matches_replaying {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// The windows pushing rows gives are the windows a replay of the page's rule
            /// gives: per key, a window from its first row to that ROWTIME + range holding
            /// the key's rows before then, out at its close, in close then opening order.
            #[test]
            fn windows_equal_the_rule_replayed(
                steps in proptest::collection::vec((0i64..6, 0i32..4), 1..80),
                range in 1i64..15,
                advance_each_row in proptest::bool::ANY,
            ) {
                let mut w = StaggerWindow::new(vec![AggSpec::new(AggKind::CountStar)], range);
                let mut out = Vec::new();
                // (opened, key, rows) in opening order.
                let mut windows: Vec<(i64, i32, i64)> = Vec::new();
                let mut t = 0;
                for (dt, key) in steps {
                    t += dt;
                    if advance_each_row {
                        out.extend(w.advance(t));
                    }
                    w.push(t, vec![Value::Integer(key)], &[Value::Null]).expect("push");
                    match windows
                        .iter_mut()
                        .rev()
                        .find(|(opened, k, _)| *k == key && t < opened + range)
                    {
                        Some(open) => open.2 += 1,
                        None => windows.push((t, key, 1)),
                    }
                }
                out.extend(w.advance(i64::MAX));
                prop_assert_eq!(w.open_windows(), 0);
                let mut want: Vec<(usize, GroupRow)> = windows
                    .into_iter()
                    .enumerate()
                    .map(|(i, (opened, key, n))| {
                        (i, GroupRow {
                            rowtime: opened + range,
                            window: None,
                            key: vec![Value::Integer(key)],
                            results: Ok(vec![Value::BigInt(n)]),
                        })
                    })
                    .collect();
                want.sort_by_key(|(i, r)| (r.rowtime, *i));
                let want: Vec<GroupRow> = want.into_iter().map(|(_, r)| r).collect();
                prop_assert_eq!(out, want);
            }
        }
    }
}
