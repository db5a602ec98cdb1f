//! A filter that misbehaves on purpose when it sees a record whose payload is `boom`.
//! Config `mode`: `panic` | `loop` | `memory` | `stack` | `log-flood` | `stderr-flood`.

use weir_sdk::{ConfigExt, Filter, Host, InitError, Level, Record, RecordError};

/// The configured misbehaviour.
#[derive(Debug)]
pub struct Hostile {
    mode: String,
}

impl Filter for Hostile {
    fn new(host: &impl Host) -> Result<Self, InitError> {
        Ok(Hostile {
            mode: host.config_or("mode", "panic"),
        })
    }

    fn keep(&mut self, record: &Record, host: &impl Host) -> Result<bool, RecordError> {
        if record.payload != b"boom" {
            return Ok(true);
        }
        match self.mode.as_str() {
            "panic" => panic!("hostile plugin asked to panic"),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "stack" => Ok(recurse(std::hint::black_box(1)) > 0),
            "log-flood" => {
                let line = "x".repeat(1 << 20);
                for _ in 0..64 {
                    host.log(Level::Error, &line);
                }
                Ok(true)
            }
            "stderr-flood" => {
                let line = "y".repeat(1 << 16);
                for _ in 0..256 {
                    eprintln!("{line}");
                }
                Ok(true)
            }
            other => Err(RecordError::new(
                "bad-mode",
                format!("unknown mode {other:?}"),
            )),
        }
    }
}

/// Recursion with small frames, so it exhausts the engine's native wasm stack (a
/// `StackOverflow` trap) before the guest's in-memory shadow stack.
fn recurse(n: u64) -> u64 {
    if n == u64::MAX {
        return 0;
    }
    recurse(std::hint::black_box(n + 1)).wrapping_add(std::hint::black_box(n))
}

weir_sdk::export_filter!(Hostile);
