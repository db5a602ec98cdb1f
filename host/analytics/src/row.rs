//! Columns and rows of in-application streams.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::types::SqlType;
use crate::value::Value;

/// A stream's column: its stored name (upper-cased unless it was quoted) and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamColumn {
    pub name: String,
    pub ty: SqlType,
}

impl StreamColumn {
    pub fn new(name: impl Into<String>, ty: SqlType) -> Self {
        StreamColumn {
            name: name.into(),
            ty,
        }
    }
}

/// The columns of a stream, shared by every row on it. ROWTIME is not among them: it is
/// carried beside the values of each [`StreamRow`].
pub type StreamSchema = Arc<[StreamColumn]>;

/// One row of a stream: its ROWTIME (milliseconds since the epoch) and one value per column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRow {
    pub rowtime: i64,
    pub values: Vec<Value>,
}

impl StreamRow {
    pub fn new(rowtime: i64, values: Vec<Value>) -> Self {
        StreamRow { rowtime, values }
    }
}

/// The SQL form of an identifier as stored: unquoted names are upper-cased, quoted names kept.
pub fn stored_name(ident: &str, quoted: bool) -> String {
    if quoted {
        ident.to_string()
    } else {
        ident.to_ascii_uppercase()
    }
}
