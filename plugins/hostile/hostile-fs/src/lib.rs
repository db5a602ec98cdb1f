//! A filter that tries to read `/etc/passwd`. Its component imports `wasi:filesystem`, which
//! the host refuses to link unless granted; even when granted, no directory is pre-opened.

use weir_sdk::{Filter, Host, InitError, Record, RecordError};

/// Stateless.
#[derive(Debug)]
pub struct Snoop;

impl Filter for Snoop {
    fn new(_: &impl Host) -> Result<Self, InitError> {
        Ok(Snoop)
    }

    fn keep(&mut self, _record: &Record, _: &impl Host) -> Result<bool, RecordError> {
        match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => Err(RecordError::new(
                "escaped",
                format!("read {} bytes of /etc/passwd", text.len()),
            )),
            Err(e) => Err(RecordError::new("sandboxed", e.to_string())),
        }
    }
}

weir_sdk::export_filter!(Snoop);
