//! When a message counts as handled: the acknowledgement token every copy of it carries.
//!
//! One inbound message fans out to several rules and actions, each of which may split it into
//! several records (transformers) or hand it to an error action. Every one of those holds a
//! clone of the message's [`AckToken`]. When the last clone is dropped, the message is settled:
//! if nothing marked it failed, the acknowledgement callback runs (for an external broker, the
//! QoS 1 PUBACK). A failure that could not be handed to an error action marks it failed, and then
//! the broker is not told, so it redelivers after a reconnect instead of Weir losing it.
//!
//! A share let go while its thread unwinds from a panic fails the message: the panic may have
//! struck between taking the record and writing it, so nothing it held counts as handled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Called once with whether the message was handled.
type Callback = Box<dyn FnOnce(bool) + Send + Sync>;

struct Inner {
    failed: AtomicBool,
    on_settled: Option<Callback>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(settle) = self.on_settled.take() {
            settle(!self.failed.load(Ordering::Acquire));
        }
    }
}

/// A share of one inbound message's acknowledgement; see the module docs.
#[derive(Clone)]
pub struct AckToken(Arc<Inner>);

impl AckToken {
    /// A token that runs `ack` once every clone is gone, unless one of them failed.
    pub fn new(ack: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self::settled_by(move |handled| {
            if handled {
                ack()
            }
        })
    }

    /// A token that calls `settle` once every clone is gone, with `true` unless one of them
    /// failed: for a source that must hear about a failure too (the embedded broker
    /// disconnects the publisher of a message that was not handled, so it sends it again).
    pub fn settled_by(settle: impl FnOnce(bool) + Send + Sync + 'static) -> Self {
        AckToken(Arc::new(Inner {
            failed: AtomicBool::new(false),
            on_settled: Some(Box::new(settle)),
        }))
    }

    /// A token with nothing to acknowledge (QoS 0, or a replay with nobody to tell).
    pub fn none() -> Self {
        AckToken(Arc::new(Inner {
            failed: AtomicBool::new(false),
            on_settled: None,
        }))
    }

    /// Marks the message as not handled: it will not be acknowledged.
    pub fn fail(&self) {
        self.0.failed.store(true, Ordering::Release);
    }

    /// Whether [`AckToken::fail`] was called on any clone.
    pub fn is_failed(&self) -> bool {
        self.0.failed.load(Ordering::Acquire)
    }
}

impl Drop for AckToken {
    fn drop(&mut self) {
        // Every share, not only the last: a panicking thread's share must not let another
        // thread's later drop acknowledge what this one never wrote.
        if std::thread::panicking() {
            self.fail();
        }
    }
}

impl std::fmt::Debug for AckToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckToken")
            .field("failed", &self.is_failed())
            .field("holders", &Arc::strong_count(&self.0))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn acks_once_when_the_last_clone_goes() {
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        let t = AckToken::new(move || {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        let a = t.clone();
        let b = a.clone();
        drop(t);
        drop(a);
        assert_eq!(n.load(Ordering::SeqCst), 0);
        drop(b);
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_message_is_not_acknowledged() {
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        let t = AckToken::new(move || {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        let a = t.clone();
        a.fail();
        drop(a);
        drop(t);
        assert_eq!(n.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_share_dropped_while_unwinding_fails_the_message() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        let t = AckToken::settled_by(move |ok| s.lock().unwrap().push(ok));
        let held_by_worker = t.clone();
        let joined = std::thread::spawn(move || {
            let _record = held_by_worker;
            panic!("a sink panicked while holding a record");
        })
        .join();
        assert!(joined.is_err());
        assert!(t.is_failed());
        // The dispatcher's share goes last, on a healthy thread: still not an ack.
        drop(t);
        assert_eq!(*seen.lock().unwrap(), vec![false]);
    }

    #[test]
    fn a_settle_callback_hears_the_outcome_once() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        for fail in [false, true] {
            let s = seen.clone();
            let t = AckToken::settled_by(move |ok| s.lock().unwrap().push(ok));
            let a = t.clone();
            if fail {
                a.fail();
            }
            drop(t);
            drop(a);
        }
        assert_eq!(*seen.lock().unwrap(), vec![true, false]);
    }
}
