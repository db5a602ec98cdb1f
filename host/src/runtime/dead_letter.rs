//! Where a failure goes when its rule has no error action: a durable dead-letter store, so a
//! failure is never silently an acknowledgement.
//!
//! Each failed message becomes one JSON line, AWS's error-action payload (rule, topic, client
//! id, the original payload in base64, the failed action, its resource and the reason), in
//! `STORAGE/dead-letters/YYYY-MM-DD.jsonl` (UTC day of the failure). The line is synced
//! before the message may be acknowledged; if it cannot be written or synced, the message is
//! not acknowledged, so the broker (or the publisher) redelivers it. Counted in `/metrics` as
//! `weir_dead_letters_total` and `weir_dead_letter_write_errors_total`.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use weir_support::lock;

use super::metrics::Metrics;

/// The dead-letter files of one host.
pub struct DeadLetters {
    dir: PathBuf,
    metrics: Arc<Metrics>,
    /// The day's open file.
    file: Mutex<Option<(String, File)>>,
}

impl DeadLetters {
    /// A store under `dir` (created on the first failure).
    pub fn new(dir: PathBuf, metrics: Arc<Metrics>) -> Self {
        DeadLetters {
            dir,
            metrics,
            file: Mutex::new(None),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one failure line and syncs it; `Err` when it is not durable.
    pub fn record(&self, line: &[u8], now_ms: i64) -> std::io::Result<()> {
        let result = self.append(line, now_ms);
        let counter = match result {
            Ok(()) => &self.metrics.dead_letters,
            Err(_) => &self.metrics.dead_letter_write_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    fn append(&self, line: &[u8], now_ms: i64) -> std::io::Result<()> {
        let day = chrono::DateTime::from_timestamp_millis(now_ms)
            .unwrap_or_default()
            .format("%Y-%m-%d")
            .to_string();
        let mut slot = lock(&self.file);
        if slot.as_ref().is_none_or(|(d, _)| *d != day) {
            std::fs::create_dir_all(&self.dir)?;
            let path = self.dir.join(format!("{day}.jsonl"));
            let created = !path.exists();
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(&path)?;
            if created {
                weir_support::sync_dir(&self.dir)?;
            }
            *slot = Some((day, f));
        }
        let Some((_, f)) = slot.as_mut() else {
            return Err(std::io::Error::other("the dead-letter file is not open"));
        };
        let before = f.metadata()?.len();
        let mut bytes = Vec::with_capacity(line.len() + 2);
        // A write that failed halfway and could not be cut off (below) left a partial line:
        // start on a line of our own, so this one is never glued to it.
        if before > 0 && !ends_with_newline(f, before) {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        let written = f.write_all(&bytes).and_then(|()| f.sync_data());
        if written.is_err() {
            // A full disk can take part of the line: cut it off, so the next line starts
            // clean. Reopen next time: the handle may be in an unknown state.
            let _ = f.set_len(before);
            *slot = None;
        }
        written
    }
}

/// Whether the file's byte at `len - 1` is a newline.
fn ends_with_newline(f: &File, len: u64) -> bool {
    use std::os::unix::fs::FileExt as _;
    let mut last = [0u8];
    f.read_exact_at(&mut last, len - 1).is_ok() && last[0] == b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_appended_one_line_each_per_day_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::default());
        let dl = DeadLetters::new(dir.path().join("dead-letters"), metrics.clone());
        // 2026-12-01T23:59:59Z, then the next day.
        dl.record(br#"{"ruleName":"r","n":1}"#, 1_796_169_599_000)
            .expect("first");
        dl.record(br#"{"ruleName":"r","n":2}"#, 1_796_169_599_500)
            .expect("second");
        dl.record(br#"{"ruleName":"r","n":3}"#, 1_796_169_600_000)
            .expect("next day");
        let day1 = std::fs::read_to_string(dir.path().join("dead-letters/2026-12-01.jsonl"))
            .expect("day 1");
        assert_eq!(
            day1,
            "{\"ruleName\":\"r\",\"n\":1}\n{\"ruleName\":\"r\",\"n\":2}\n"
        );
        let day2 = std::fs::read_to_string(dir.path().join("dead-letters/2026-12-02.jsonl"))
            .expect("day 2");
        assert_eq!(day2.lines().count(), 1);
        assert_eq!(metrics.dead_letters.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_line_never_joins_a_partial_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(Metrics::default());
        let dl = DeadLetters::new(dir.path().to_path_buf(), metrics);
        // What a write cut short by a full disk leaves when it cannot be rolled back.
        std::fs::write(
            dir.path().join("2026-12-01.jsonl"),
            b"{\"ruleName\":\"r\",\"n\"",
        )
        .expect("torn");
        dl.record(br#"{"n":2}"#, 1_796_169_599_000).expect("record");
        let text = std::fs::read_to_string(dir.path().join("2026-12-01.jsonl")).expect("read");
        assert_eq!(text.lines().last(), Some(r#"{"n":2}"#));
    }

    #[test]
    fn a_store_that_cannot_be_written_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("dead-letters");
        std::fs::write(&blocker, b"a file where the folder should be").expect("block");
        let metrics = Arc::new(Metrics::default());
        let dl = DeadLetters::new(blocker, metrics.clone());
        assert!(dl.record(b"{}", 0).is_err());
        assert_eq!(metrics.dead_letter_write_errors.load(Ordering::Relaxed), 1);
        assert_eq!(metrics.dead_letters.load(Ordering::Relaxed), 0);
    }
}
