//! Stagger windows (`WINDOWED BY STAGGER (PARTITION BY ... RANGE INTERVAL ...)`): a window
//! opens for a partition key when its first row arrives and closes RANGE later, emitting one
//! row for the key (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/stagger-window-concepts.html).
//! The row's ROWTIME is the time the window closed.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::key::GroupKey;
use crate::exec::eval::{eval, Input};
use crate::exec::tumbling::{add_all, agg_args, group_row, new_accs, Group};
use crate::exec::{Errors, RowError};
use crate::plan::query::Kind;
use crate::row::Row;

/// Open windows in the order they opened; `last_rowtime` of each group is when it opened.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StaggerState {
    pub open: Vec<Group>,
    #[serde(skip)]
    index: HashMap<GroupKey, usize>,
}

impl StaggerState {
    pub fn push(&mut self, kind: &Kind, row: Row, errors: &mut Errors, out: &mut Vec<Row>) {
        let Kind::Stagger { keys, aggs, .. } = kind else {
            return;
        };
        self.flush(kind, row.rowtime, errors, out);
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
        if self.index.len() != self.open.len() {
            self.index = self
                .open
                .iter()
                .enumerate()
                .map(|(i, g)| (GroupKey(g.keys.clone()), i))
                .collect();
        }
        let at = match self.index.get(&GroupKey(key.clone())) {
            Some(i) => *i,
            None => {
                self.open.push(Group {
                    keys: key.clone(),
                    accs: new_accs(aggs),
                    last_rowtime: row.rowtime,
                });
                self.index.insert(GroupKey(key), self.open.len() - 1);
                self.open.len() - 1
            }
        };
        if let Err(error) = add_all(&mut self.open[at].accs, &args) {
            errors.push(RowError { error, row });
        }
    }

    /// Closes every window open for RANGE or longer at `time`.
    pub fn flush(&mut self, kind: &Kind, time: i64, errors: &mut Errors, out: &mut Vec<Row>) {
        let Kind::Stagger {
            range_ms, items, ..
        } = kind
        else {
            return;
        };
        let closed = |g: &Group| g.last_rowtime + range_ms <= time;
        if !self.open.iter().any(closed) {
            return;
        }
        let (done, open): (Vec<Group>, Vec<Group>) =
            std::mem::take(&mut self.open).into_iter().partition(closed);
        self.open = open;
        self.index.clear();
        for g in done {
            let end = g.last_rowtime + range_ms;
            match group_row(&g, end, None, items) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => {}
                Err(error) => errors.push(RowError {
                    error,
                    row: Row::new(end, g.keys.clone()),
                }),
            }
        }
    }
}
