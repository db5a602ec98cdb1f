//! Running compiled queries on rows: each query keeps the state its windows and joins need
//! (serialisable, for checkpoints), takes rows as they reach the streams it reads, and
//! gives the rows it emits. A row that fails to evaluate becomes a [`PumpError`] and the
//! query goes on with the next row.

pub mod calls;
pub mod eval;
pub mod items;
pub mod join;
pub mod query;
pub mod sliding;
pub mod stagger;
pub mod table_index;
pub mod tumbling;

use crate::error::SqlError;
use crate::row::StreamRow;

/// A row a query could not compute: the error and the row it was computing on.
#[derive(Debug, Clone, PartialEq)]
pub struct PumpError {
    pub error: SqlError,
    pub row: StreamRow,
}

/// Where a query's failed rows go while it runs.
pub type Errors = Vec<PumpError>;
