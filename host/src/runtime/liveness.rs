//! Which of the host's long-lived threads died, so `/health` and `weir run`'s watchdog tell the
//! truth.
//!
//! The ingress reader, the dispatcher and every action pipeline hold a [`Worker`] while they
//! run. A thread that returns through [`Worker::finish`] stopped because it was told to (a
//! shutdown, a plan retired by a reload); one that drops its `Worker` any other way (a panic,
//! a broker link that closed under it) is recorded here, and from then on
//! [`Liveness::check`] fails: `/health` answers 503 and `weir run` drains and exits 1, so a
//! supervisor restarts it instead of a host that answers "ok" while nothing runs its rules.

use std::sync::{Arc, Mutex};

use weir_support::lock;

/// The deaths recorded so far (see the module docs).
#[derive(Debug, Default)]
pub struct Liveness {
    dead: Mutex<Vec<String>>,
}

impl Liveness {
    /// A guard for the thread `name` that is starting now.
    pub fn worker(self: &Arc<Self>, name: impl Into<String>) -> Worker {
        Worker {
            name: name.into(),
            liveness: self.clone(),
            finished: false,
        }
    }

    /// `Err` naming every thread that died since the start.
    pub fn check(&self) -> Result<(), String> {
        let dead = lock(&self.dead);
        if dead.is_empty() {
            Ok(())
        } else {
            Err(dead.join("; "))
        }
    }

    /// How many threads died.
    pub fn dead_count(&self) -> usize {
        lock(&self.dead).len()
    }

    fn record(&self, what: String) {
        tracing::error!(worker = %what, "a worker thread died; the host reports itself unhealthy");
        let mut dead = lock(&self.dead);
        // Bounded: a thread that is restarted and dies again must not grow this for ever.
        if dead.len() < 64 {
            dead.push(what);
        }
    }
}

/// Held by a running thread; see the module docs.
#[derive(Debug)]
pub struct Worker {
    name: String,
    liveness: Arc<Liveness>,
    finished: bool,
}

impl Worker {
    /// The thread stops because it was told to: not a death.
    pub fn finish(mut self) {
        self.finished = true;
    }

    /// The thread stops because something under it failed: a death, with the reason.
    pub fn died(mut self, reason: &str) {
        self.finished = true;
        self.liveness
            .record(format!("{} stopped: {reason}", self.name));
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.liveness.record(format!("{} panicked", self.name));
        } else if !self.finished {
            self.liveness.record(format!("{} stopped", self.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finishing_is_not_dying() {
        let l = Arc::new(Liveness::default());
        l.worker("a").finish();
        assert!(l.check().is_ok());
    }

    #[test]
    fn a_panic_and_a_silent_stop_are_deaths() {
        let l = Arc::new(Liveness::default());
        let l2 = l.clone();
        let joined = std::thread::spawn(move || {
            let _w = l2.worker("weir-action-x");
            panic!("on purpose");
        })
        .join();
        assert!(joined.is_err());
        drop(l.worker("weir-ingress"));
        let err = l.check().unwrap_err();
        assert!(err.contains("weir-action-x panicked"), "{err}");
        assert!(err.contains("weir-ingress stopped"), "{err}");
        assert_eq!(l.dead_count(), 2);
    }

    #[test]
    fn died_names_the_reason() {
        let l = Arc::new(Liveness::default());
        l.worker("weir-ingress").died("embedded broker link closed");
        assert_eq!(
            l.check().unwrap_err(),
            "weir-ingress stopped: embedded broker link closed"
        );
    }
}
