//! The thread that writes shard segments' space ahead of their appends (see `disk_file.rs`).
//!
//! One per process, started with the first request: writing ahead is a few page-cache copies
//! and one fdatasync per file and round, off every request's path.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock, Weak};

use weir_support::lock;

use super::disk_file::DiskFile;

fn queue() -> Option<&'static Mutex<Sender<Weak<DiskFile>>>> {
    static QUEUE: OnceLock<Option<Mutex<Sender<Weak<DiskFile>>>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = channel::<Weak<DiskFile>>();
            let spawned = std::thread::Builder::new()
                .name("weir-write-ahead".into())
                .spawn(move || {
                    for file in rx {
                        // A file closed meanwhile (its segment sealed or its stream deleted)
                        // needs nothing.
                        if let Some(file) = file.upgrade() {
                            file.write_ahead();
                        }
                    }
                });
            match spawned {
                Ok(_) => Some(Mutex::new(tx)),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the write-ahead thread; shard segments grow with each append");
                    None
                }
            }
        })
        .as_ref()
}

/// Queues `file` for writing ahead; false when there is no thread to do it.
pub(crate) fn request(file: Weak<DiskFile>) -> bool {
    queue().is_some_and(|q| lock(q).send(file).is_ok())
}
