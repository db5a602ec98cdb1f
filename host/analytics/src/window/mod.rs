//! The three window kinds of the KDA SQL Developer Guide ("Windowed Queries"): tumbling
//! windows (GROUP BY a monotonic expression), sliding windows (`OVER`: `RANGE INTERVAL ...
//! PRECEDING`, `ROWS n PRECEDING` or no frame, with LAG, NTH_VALUE and EXP_AVG) and stagger
//! windows (`WINDOWED BY STAGGER`), plus the tumbling table functions TOP_K_ITEMS_TUMBLING
//! and COUNT_DISTINCT_ITEMS_TUMBLING (`items`).
//!
//! The planner evaluates expressions; these structures only hold keys, argument values and
//! accumulators, so they stay small, fast and serialisable (window state is checkpointed:
//! a restart resumes without losing a window's rows). Time is what the caller says: a row's
//! ROWTIME on `push`, the stream's time on `advance`.

pub mod items;
mod keyed;
pub mod sliding;
pub mod stagger;
pub mod tumbling;

use serde::{Deserialize, Serialize};

use crate::error::SqlError;
use crate::value::Value;

/// One output row of a grouped window (tumbling group or stagger window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRow {
    /// The row's ROWTIME: the tumbling window's end, or the stagger window's close.
    pub rowtime: i64,
    /// Tumbling windows: the value of the monotonic GROUP BY expression (`STEP(ROWTIME BY
    /// ...)`, `FLOOR(ROWTIME TO MINUTE)`) the group had; `None` for stagger windows.
    pub window: Option<Value>,
    /// The other GROUP BY values (tumbling) or the PARTITION BY values (stagger), in the
    /// order the planner gave them, as the group's first row had them.
    pub key: Vec<Value>,
    /// One result per aggregate, in the planner's order; an error (a SUM past its type) makes
    /// the group an `error_stream` row.
    pub results: Result<Vec<Value>, SqlError>,
}

/// The results of a group's accumulators, or the first error.
fn results(accs: &[crate::aggregate::Accumulator]) -> Result<Vec<Value>, SqlError> {
    accs.iter().map(|a| a.result()).collect()
}

/// Adds one row's arguments to a group's accumulators (`args[i]` for aggregate `i`;
/// `COUNT(*)` takes any value), all or none. The arguments must be one per aggregate.
fn add_all(accs: &mut [crate::aggregate::Accumulator], args: &[Value]) -> Result<(), SqlError> {
    if accs.len() != args.len() {
        return Err(SqlError::new(
            "InternalError",
            format!(
                "{} aggregate arguments for {} aggregates",
                args.len(),
                accs.len()
            ),
        ));
    }
    // Check first, so that a row one aggregate rejects is in none of them.
    for (a, v) in accs.iter().zip(args) {
        a.check(v)?;
    }
    for (a, v) in accs.iter_mut().zip(args) {
        a.add(v)?;
    }
    Ok(())
}
