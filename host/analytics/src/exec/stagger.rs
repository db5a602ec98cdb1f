//! Stagger windows (`WINDOWED BY STAGGER (PARTITION BY ... RANGE INTERVAL ...)`), run on the
//! window module's [`StaggerWindow`]: a window opens for a partition key when its first row
//! arrives and closes RANGE later, emitting one row for the key with ROWTIME the close
//! (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/stagger-window-concepts.html).

use serde::{Deserialize, Serialize};

use crate::exec::eval::{eval, Input};
use crate::exec::tumbling::{agg_args, emit_groups, window_agg};
use crate::exec::{Errors, RowError};
use crate::plan::query::Kind;
use crate::row::Row;
use crate::window::stagger::StaggerWindow;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StaggerState {
    windows: Option<StaggerWindow>,
}

impl StaggerState {
    pub fn push(&mut self, kind: &Kind, row: Row, errors: &mut Errors, out: &mut Vec<Row>) {
        let Kind::Stagger {
            keys,
            aggs,
            range_ms,
            ..
        } = kind
        else {
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
        let windows = self.windows.get_or_insert_with(|| {
            StaggerWindow::new(aggs.iter().filter_map(window_agg).collect(), *range_ms)
        });
        if let Err(error) = windows.push(row.rowtime, key, &args) {
            errors.push(RowError { error, row });
        }
    }

    /// Emits every window closed by `time`.
    pub fn flush(&mut self, kind: &Kind, time: i64, errors: &mut Errors, out: &mut Vec<Row>) {
        let Kind::Stagger { items, .. } = kind else {
            return;
        };
        if let Some(windows) = self.windows.as_mut() {
            emit_groups(windows.advance(time), None, None, items, errors, out);
        }
    }
}
