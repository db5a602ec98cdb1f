//! Where replaced plugin versions and their instances are torn down: one background thread.
//!
//! Dropping a version unmaps its native code, and dropping an instance unmaps its linear
//! memory; for a Python component that is tens of megabytes, several milliseconds of `munmap`.
//! Done where the last reference happens to go, that would be inside the swap (the reload
//! waits for it) or on a pipeline thread checking in the last instance of the old version (a
//! message batch waits for it). Both hand what they let go of to this thread instead.
//!
//! The thread starts with the first retirement and runs at a lower priority. If it cannot be
//! started, or has gone, the value is dropped where it is, as before: retiring is an
//! optimisation, never a reason to keep memory.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

use weir_support::lock;

enum Job {
    Drop(Box<dyn Send>),
    /// Answered once everything queued before it is dropped.
    Flush(Sender<()>),
}

/// The retiring thread's queue; `None` when it could not be started.
fn queue() -> Option<&'static Mutex<Sender<Job>>> {
    static QUEUE: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = channel::<Job>();
            let spawned = std::thread::Builder::new()
                .name("weir-plugin-retire".into())
                .spawn(move || {
                    crate::registry::lower_this_threads_priority();
                    for job in rx {
                        match job {
                            Job::Drop(value) => drop(value),
                            Job::Flush(done) => {
                                let _ = done.send(());
                            }
                        }
                    }
                });
            match spawned {
                Ok(_) => Some(Mutex::new(tx)),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the plugin retiring thread; replaced versions are freed where they are let go");
                    None
                }
            }
        })
        .as_ref()
}

/// Drops `value` on the retiring thread (or here, if there is none).
pub(crate) fn retire<T: Send + 'static>(value: T) {
    let Some(queue) = queue() else {
        return drop(value);
    };
    if let Err(refused) = lock(queue).send(Job::Drop(Box::new(value))) {
        drop(refused);
    }
}

/// Waits until everything retired before this call has been dropped.
pub fn flush() {
    let Some(queue) = queue() else {
        return;
    };
    let (tx, rx) = channel();
    if lock(queue).send(Job::Flush(tx)).is_ok() {
        let _ = rx.recv();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_retired_value_is_dropped_off_this_thread_and_flush_waits_for_it() {
        struct Marker(Arc<Mutex<Option<String>>>);
        impl Drop for Marker {
            fn drop(&mut self) {
                let name = std::thread::current().name().map(str::to_owned);
                *lock(&self.0) = name;
            }
        }
        let seen = Arc::new(Mutex::new(None));
        retire(Marker(seen.clone()));
        flush();
        assert_eq!(lock(&seen).as_deref(), Some("weir-plugin-retire"));
    }
}
