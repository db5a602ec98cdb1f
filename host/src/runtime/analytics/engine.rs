//! What the runtime needs of a compiled SQL application: rows in (ROWTIME stamped), time
//! moving on, rows out per in-application stream, and its state as JSON for checkpoints.
//! `weir_analytics`'s `Application` is the engine `weir run` uses ([`sql`]); the runtime's
//! tests also drive the loop with a small engine of their own.

use std::sync::Arc;

use weir_analytics::{CompileError, StreamRow, StreamSchema, Value};

/// A row an in-application stream emitted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Emitted {
    pub stream: String,
    pub row: StreamRow,
    pub columns: StreamSchema,
}

/// A running application's SQL.
pub(crate) trait Engine: Send {
    /// A row entering in-application stream `input` (`SOURCE_SQL_STREAM_001`): the
    /// stream's columns followed by the record's APPROXIMATE_ARRIVAL_TIME.
    fn push(&mut self, input: &str, row: StreamRow) -> Vec<Emitted>;
    /// A record the input mapping refused, as its `error_stream` row.
    fn push_error(&mut self, row: StreamRow) -> Vec<Emitted>;
    /// Stream time is now `time_ms`: windows it passed are emitted.
    fn advance(&mut self, time_ms: i64) -> Vec<Emitted>;
    /// Windows, joins and ROWTIME, to be given back to [`Engine::restore`].
    fn checkpoint(&self) -> serde_json::Value;
    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String>;
}

/// A reference table: its name, columns and rows.
pub(crate) type Table = (String, StreamSchema, Vec<Vec<Value>>);

/// Compiles an application's code against its input streams and reference tables.
pub(crate) type Compiler = Arc<
    dyn Fn(&str, &[(String, StreamSchema)], &[Table]) -> Result<Box<dyn Engine>, CompileError>
        + Send
        + Sync,
>;

impl Engine for weir_analytics::app::Application {
    fn push(&mut self, input: &str, row: StreamRow) -> Vec<Emitted> {
        emitted(weir_analytics::app::Application::push(self, input, row))
    }
    fn push_error(&mut self, row: StreamRow) -> Vec<Emitted> {
        emitted(weir_analytics::app::Application::push_error(self, row))
    }
    fn advance(&mut self, time_ms: i64) -> Vec<Emitted> {
        emitted(weir_analytics::app::Application::advance(self, time_ms))
    }
    fn checkpoint(&self) -> serde_json::Value {
        weir_analytics::app::Application::checkpoint(self)
    }
    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        weir_analytics::app::Application::restore(self, state)
    }
}

fn emitted(rows: Vec<weir_analytics::app::Emitted>) -> Vec<Emitted> {
    rows.into_iter()
        .map(|e| Emitted {
            stream: e.stream,
            row: e.row,
            columns: e.columns,
        })
        .collect()
}

/// The KDA SQL engine (`weir_analytics::app::Application`).
pub(crate) fn sql() -> Compiler {
    Arc::new(|code, inputs, references| {
        weir_analytics::app::Application::compile(code, inputs, references)
            .map(|a| Box::new(a) as Box<dyn Engine>)
    })
}
