//! `TOP_K_ITEMS_TUMBLING`: per tumbling window of the given seconds, the k most frequent
//! values of a column with their counts, most frequent first (ties in first-seen order),
//! stamped with the window's end (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/top-k.html).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::key::KeyValue;
use crate::plan::query::Kind;
use crate::row::Row;
use crate::value::Value;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TopKState {
    /// The open window's start.
    window: Option<i64>,
    /// Each value seen in the window and its count, in first-seen order.
    counts: Vec<(Value, i64)>,
    #[serde(skip)]
    index: HashMap<KeyValue, usize>,
}

impl TopKState {
    pub fn push(&mut self, kind: &Kind, row: Row, out: &mut Vec<Row>) {
        let Kind::TopK {
            column, window_ms, ..
        } = kind
        else {
            return;
        };
        self.flush(kind, row.rowtime, out);
        self.window = Some(row.rowtime.div_euclid(*window_ms) * window_ms);
        let value = row.values.get(*column).cloned().unwrap_or(Value::Null);
        if self.index.len() != self.counts.len() {
            self.index = self
                .counts
                .iter()
                .enumerate()
                .map(|(i, (v, _))| (KeyValue(v.clone()), i))
                .collect();
        }
        match self.index.get(&KeyValue(value.clone())) {
            Some(i) => self.counts[*i].1 += 1,
            None => {
                self.index
                    .insert(KeyValue(value.clone()), self.counts.len());
                self.counts.push((value, 1));
            }
        }
    }

    /// Emits the open window once `time` reaches its end.
    pub fn flush(&mut self, kind: &Kind, time: i64, out: &mut Vec<Row>) {
        let Kind::TopK { k, window_ms, .. } = kind else {
            return;
        };
        let Some(start) = self.window else {
            return;
        };
        let end = start + window_ms;
        if time < end {
            return;
        }
        let mut counts = std::mem::take(&mut self.counts);
        self.index.clear();
        self.window = None;
        counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        for (v, n) in counts.into_iter().take(*k) {
            out.push(Row::new(end, vec![v, Value::BigInt(n)]));
        }
    }
}
