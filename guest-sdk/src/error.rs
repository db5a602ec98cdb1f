//! Errors a plugin reports for one record, and for itself.

use std::fmt;

/// Why one record could not be processed.
///
/// The host routes the record to the rule's error action with this code and message, adding the
/// plugin's name and version. Codes are short kebab-case words so that error actions and metrics
/// can group by them; messages name the offending field and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Machine-readable code, e.g. `missing-field`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl RecordError {
    /// An error with an explicit code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        RecordError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The payload lacks a field the plugin needs.
    pub fn missing_field(field: &str) -> Self {
        RecordError::new("missing-field", format!("field `{field}` is missing"))
    }

    /// A field is present but its value is unusable.
    pub fn bad_value(field: &str, why: impl fmt::Display) -> Self {
        RecordError::new("bad-value", format!("field `{field}`: {why}"))
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for RecordError {}

/// A plugin could not start, typically because its configuration is wrong.
///
/// Every record of the batch that triggered the start fails with code `plugin-init` and this
/// message; the host reports it and the next batch tries again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitError(pub String);

impl InitError {
    /// A configuration value is unusable.
    pub fn config(key: &str, why: impl fmt::Display) -> Self {
        InitError(format!("config `{key}`: {why}"))
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InitError {}

impl From<InitError> for RecordError {
    fn from(e: InitError) -> Self {
        RecordError::new("plugin-init", e.0)
    }
}
