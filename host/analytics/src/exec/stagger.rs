//! Stagger windows (`WINDOWED BY STAGGER (PARTITION BY ... RANGE INTERVAL ...)`), run on the
//! window module's [`StaggerWindow`]: a window opens for a partition key when its first row
//! arrives and closes RANGE later, emitting one row for the key with ROWTIME the close
//! (https://docs.aws.amazon.com/kinesisanalytics/latest/dev/stagger-window-concepts.html).

use serde::{Deserialize, Serialize};

use crate::exec::eval::EvalInput;
use crate::exec::tumbling::{emit_groups, key_and_args, window_agg};
use crate::exec::{Errors, PumpError};
use crate::plan::query::QueryKind;
use crate::row::StreamRow;
use crate::window::stagger::StaggerWindow;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StaggerState {
    windows: Option<StaggerWindow>,
}

impl StaggerState {
    pub fn push(
        &mut self,
        kind: &QueryKind,
        row: StreamRow,
        errors: &mut Errors,
        out: &mut Vec<StreamRow>,
    ) {
        let QueryKind::Stagger {
            keys,
            aggs,
            range_ms,
            ..
        } = kind
        else {
            return;
        };
        self.flush(kind, row.rowtime, errors, out);
        let input = EvalInput::row(&row.values, row.rowtime);
        let (key, args) = match key_and_args(keys, aggs, &input) {
            Ok(x) => x,
            Err(error) => {
                errors.push(PumpError { error, row });
                return;
            }
        };
        let windows = self.windows.get_or_insert_with(|| {
            StaggerWindow::new(aggs.iter().filter_map(window_agg).collect(), *range_ms)
        });
        if let Err(error) = windows.push(row.rowtime, key, &args) {
            errors.push(PumpError { error, row });
        }
    }

    /// Emits every window closed by `time`.
    pub fn flush(
        &mut self,
        kind: &QueryKind,
        time: i64,
        errors: &mut Errors,
        out: &mut Vec<StreamRow>,
    ) {
        let QueryKind::Stagger { items, .. } = kind else {
            return;
        };
        if let Some(windows) = self.windows.as_mut() {
            emit_groups(windows.advance(time), None, None, items, errors, out);
        }
    }
}
