//! The tumbling-window table functions of the Reference's aggregate list:
//! `TOP_K_ITEMS_TUMBLING(CURSOR(...), 'column', K, windowSeconds)`
//! (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/top-k.html>) and
//! `COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(...), 'column', windowSeconds)`
//! (<https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/count-distinct-items.html>).
//!
//! AWS approximates both ("may return three of the five most traded stocks"); an exact count
//! is within what the pages promise, and the Developer Guide says TOP_K "produces the same
//! result as aggregating with GROUP BY and ORDER BY". Windows are `windowSeconds` long,
//! aligned like `STEP(ROWTIME BY INTERVAL 'n' SECOND)`, and come out when the stream's time
//! passes their end with that end as ROWTIME: TOP_K as up to K rows (the value, its count as
//! BIGINT) from most to least frequent (ties in first-arrival order), COUNT_DISTINCT as one
//! row (the number of distinct values as BIGINT). NULL values are not items.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::key::KeyValue;
use crate::value::Value;

/// Which of the two functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemsFn {
    /// `TOP_K_ITEMS_TUMBLING` with its K.
    TopK(usize),
    /// `COUNT_DISTINCT_ITEMS_TUMBLING`.
    CountDistinct,
}

/// One output row: `item` is the value (TOP_K) or `None` (COUNT_DISTINCT), `count` the
/// value's count or the number of distinct values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemsRow {
    pub rowtime: i64,
    pub item: Option<Value>,
    pub count: i64,
}

/// The open window of one call of either function.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemsTumbling {
    func: ItemsFn,
    window_ms: i64,
    /// End of the open window, when one is open.
    end: Option<i64>,
    /// Each value seen in the open window: `(count, first-arrival sequence)`.
    #[serde(with = "crate::aggregate::pairs")]
    counts: HashMap<KeyValue, (i64, u64)>,
    seq: u64,
}

impl ItemsTumbling {
    /// `window_ms` is the function's window size (seconds, times 1000).
    pub fn new(func: ItemsFn, window_ms: i64) -> ItemsTumbling {
        ItemsTumbling {
            func,
            window_ms: window_ms.max(1),
            end: None,
            counts: HashMap::new(),
            seq: 0,
        }
    }

    /// Counts one row's value of the function's column. Returns the rows of a window the
    /// row's ROWTIME closed (the same as calling [`advance`](Self::advance) first).
    pub fn push(&mut self, rowtime: i64, item: &Value) -> Vec<ItemsRow> {
        let out = self.advance(rowtime);
        if self.end.is_none() {
            let start = rowtime
                .div_euclid(self.window_ms)
                .saturating_mul(self.window_ms);
            self.end = Some(start.saturating_add(self.window_ms));
        }
        if !item.is_null() {
            let seq = self.seq;
            let e = self
                .counts
                .entry(KeyValue(item.clone()))
                .or_insert((0, seq));
            if e.0 == 0 {
                self.seq += 1;
            }
            e.0 += 1;
        }
        out
    }

    /// Emits the open window's rows if `now` is at or past its end.
    pub fn advance(&mut self, now: i64) -> Vec<ItemsRow> {
        let Some(end) = self.end.filter(|end| *end <= now) else {
            return Vec::new();
        };
        self.end = None;
        let counts = std::mem::take(&mut self.counts);
        self.seq = 0;
        match self.func {
            ItemsFn::CountDistinct => vec![ItemsRow {
                rowtime: end,
                item: None,
                count: counts.len() as i64,
            }],
            ItemsFn::TopK(k) => {
                let mut all: Vec<(KeyValue, (i64, u64))> = counts.into_iter().collect();
                all.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
                all.into_iter()
                    .take(k)
                    .map(|(item, (count, _))| ItemsRow {
                        rowtime: end,
                        item: Some(item.0),
                        count,
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Value {
        Value::Varchar(s.into())
    }

    #[test]
    fn top_k_counts_per_window_most_frequent_first() {
        let mut f = ItemsTumbling::new(ItemsFn::TopK(2), 60_000);
        let mut out = Vec::new();
        for (t, item) in [
            (1_000, "TBV"),
            (2_000, "INTC"),
            (3_000, "AMZN"),
            (4_000, "INTC"),
            (5_000, "AMZN"),
            (6_000, "INTC"),
        ] {
            out.extend(f.push(t, &v(item)));
        }
        f.push(7_000, &Value::Null);
        assert!(out.is_empty());
        out.extend(f.push(60_000, &v("MSFT")));
        assert_eq!(
            out,
            vec![
                ItemsRow {
                    rowtime: 60_000,
                    item: Some(v("INTC")),
                    count: 3
                },
                ItemsRow {
                    rowtime: 60_000,
                    item: Some(v("AMZN")),
                    count: 2
                },
            ]
        );
        let json = serde_json::to_value(&f).expect("serialise");
        let mut back: ItemsTumbling = serde_json::from_value(json).expect("restore");
        let last = back.advance(120_000);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].item, Some(v("MSFT")));
        assert_eq!(last[0].rowtime, 120_000);
    }

    #[test]
    fn count_distinct_gives_one_row_per_window() {
        let mut f = ItemsTumbling::new(ItemsFn::CountDistinct, 10_000);
        for (t, item) in [(1, "A"), (2, "B"), (3, "A "), (4, "C")] {
            assert!(f.push(t, &v(item)).is_empty());
        }
        let out = f.advance(10_000);
        assert_eq!(
            out,
            vec![ItemsRow {
                rowtime: 10_000,
                item: None,
                count: 3
            }]
        );
        assert!(f.advance(20_000).is_empty(), "no rows, no window");
    }
}
