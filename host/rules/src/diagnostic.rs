//! Diagnostics reported by the rule compiler and the template parser.
//!
//! A diagnostic always carries a 1-based line and column so the CLI contract
//! `error: ... (line L, column C)` can be printed without extra context, and
//! the compiler returns every diagnostic it found (rust-analyzer style) rather
//! than stopping at the first one.

use std::fmt;

/// One problem found in rule SQL or in a substitution template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostic {
    /// What is wrong, without a trailing period and without the position.
    pub message: String,
    /// 1-based line of the offending text.
    pub line: u32,
    /// 1-based column (in characters) of the offending text.
    pub column: u32,
}

impl Diagnostic {
    /// Builds a diagnostic; positions of 0 (unknown) are clamped to 1 so the
    /// printed position is always a valid one.
    pub fn new(message: impl Into<String>, line: u64, column: u64) -> Self {
        Diagnostic {
            message: message.into(),
            line: u32::try_from(line.max(1)).unwrap_or(u32::MAX),
            column: u32::try_from(column.max(1)).unwrap_or(u32::MAX),
        }
    }

    /// Builds a diagnostic at the start of a sqlparser span.
    pub(crate) fn at(message: impl Into<String>, span: sqlparser::tokenizer::Span) -> Self {
        Diagnostic::new(message, span.start.line, span.start.column)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (line {}, column {})",
            self.message, self.line, self.column
        )
    }
}
