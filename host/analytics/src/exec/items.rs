//! The tumbling-window table functions `TOP_K_ITEMS_TUMBLING` and
//! `COUNT_DISTINCT_ITEMS_TUMBLING`, run on the window module's [`ItemsTumbling`]
//! (https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/top-k.html,
//! https://docs.aws.amazon.com/kinesisanalytics/latest/sqlref/count-distinct-items.html).

use serde::{Deserialize, Serialize};

use crate::plan::query::QueryKind;
use crate::row::StreamRow;
use crate::value::Value;
use crate::window::items::{ItemsRow, ItemsTumbling};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ItemsState {
    items: Option<ItemsTumbling>,
}

fn rows(found: Vec<ItemsRow>, out: &mut Vec<StreamRow>) {
    for r in found {
        let mut values: Vec<Value> = r.item.into_iter().collect();
        values.push(Value::BigInt(r.count));
        out.push(StreamRow::new(r.rowtime, values));
    }
}

impl ItemsState {
    pub fn push(&mut self, kind: &QueryKind, row: StreamRow, out: &mut Vec<StreamRow>) {
        let QueryKind::Items {
            column,
            func,
            window_ms,
        } = kind
        else {
            return;
        };
        let items = self
            .items
            .get_or_insert_with(|| ItemsTumbling::new(*func, *window_ms));
        let value = row.values.get(*column).unwrap_or(&Value::Null);
        rows(items.push(row.rowtime, value), out);
    }

    /// Emits the open window once `time` reaches its end.
    pub fn flush(&mut self, time: i64, out: &mut Vec<StreamRow>) {
        if let Some(items) = self.items.as_mut() {
            rows(items.advance(time), out);
        }
    }
}
