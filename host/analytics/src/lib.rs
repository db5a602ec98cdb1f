//! Kinesis Data Analytics SQL applications (the SQLstream dialect of the KDA SQL Reference),
//! as a pure engine: code in, rows in with their ROWTIME, rows out per in-application stream.
//!
//! The engine owns no thread, file or clock. The host feeds it input rows (from streams or
//! delivery streams, mapped by an `InputSchema`), tells it how far time has gone, takes the
//! rows its output streams emit, and checkpoints its state. The test command
//! (`weir analytics test`) drives the same engine on recorded rows.

pub mod aggregate;
pub mod app;
pub mod discover;
pub mod error;
pub mod exec;
pub mod functions;
pub mod harness;
pub mod input;
pub mod output;
pub mod parse;
pub mod plan;
pub mod reference;
pub mod row;
pub mod types;
pub mod value;
pub mod window;

pub use error::{CompileError, SqlError};
pub use row::{StreamColumn, StreamRow, StreamSchema};
pub use types::SqlType;
pub use value::Value;
