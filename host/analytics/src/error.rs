//! The engine's errors: compile errors point at the SQL; evaluation errors become
//! `error_stream` rows and never stop an application.

use serde::{Deserialize, Serialize};

/// Application code that cannot run, with where in the code (1-based line and column; 0
/// when the error concerns the whole application).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{message} (line {line}, column {column})")]
pub struct CompileError {
    pub message: String,
    pub line: u64,
    pub column: u64,
}

impl CompileError {
    pub fn new(message: impl Into<String>, line: u64, column: u64) -> Self {
        CompileError {
            message: message.into(),
            line,
            column,
        }
    }
}

/// A row that could not be computed: division by zero, a failed CAST, an overflow, a value
/// too long for its column. The row goes to `error_stream` with `ERROR_NAME` and the message;
/// the pump goes on with the next row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{name}: {message}")]
pub struct SqlError {
    /// `ERROR_NAME` of the `error_stream` row (at most 32 characters).
    pub name: String,
    /// `MESSAGE` of the `error_stream` row.
    pub message: String,
}

impl SqlError {
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        SqlError {
            name: name.into(),
            message: message.into(),
        }
    }

    pub fn division_by_zero() -> Self {
        SqlError::new("DivisionByZero", "division by zero")
    }

    pub fn overflow(what: impl Into<String>) -> Self {
        SqlError::new("NumericOverflow", what)
    }

    pub fn cast(message: impl Into<String>) -> Self {
        SqlError::new("CastError", message)
    }

    pub fn type_mismatch(message: impl Into<String>) -> Self {
        SqlError::new("TypeMismatch", message)
    }
}
