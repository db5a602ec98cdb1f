//! A lease over a [`DocStore`]: at most one holder at a time for a named piece of work (one
//! delivery stream's delivery, issue 31), handed over when its holder stops or dies.
//!
//! The lease is the document `leases/<name>`, holding the holder's id and the wall-clock time
//! (ms since the epoch) it expires at. Every change is a compare-and-set on the document's
//! revision, so of two hosts that try at once one wins:
//! - acquire: when there is no document ([`DocExpect::Absent`]), or it has expired, or it is
//!   ours ([`DocExpect::Revision`] of what was read);
//! - renew: on the revision of our own last write; any other revision means someone took it,
//!   and the holder learns it has lost it;
//! - release: a delete on our own revision, so a clean stop hands over at once.
//!
//! Expiry is judged by the reader's wall clock against the writer's, so the hosts' clocks
//! must agree to well within the time to live. The holder itself counts its time on its own
//! monotonic clock: [`Lease::is_held`] turns false once a time to live has passed since the
//! start of its last successful write, even while the store cannot be reached. Work that must
//! not be done twice still needs a fence of its own (a compare-and-set on its own document):
//! a holder paused for longer than the time to live may act once before it notices.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::docstore::{DocError, DocExpect, DocRevision, DocStore};

/// One lease as a holder sees it; see the module documentation.
#[derive(Debug)]
pub struct Lease {
    docs: Arc<dyn DocStore>,
    key: String,
    holder: String,
    ttl: Duration,
    /// Our last write and when that write started (the lease is ours until `ttl` after it).
    held: Option<(DocRevision, Instant)>,
}

/// The lease document: `holder\nexpiry_ms\n`.
fn encode(holder: &str, expires_ms: i64) -> Vec<u8> {
    format!("{holder}\n{expires_ms}\n").into_bytes()
}

/// The holder and expiry of a lease document; `None` for one that cannot be read (treated as
/// expired, so a damaged document cannot hold the work for ever).
fn decode(bytes: &[u8]) -> Option<(String, i64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    let holder = lines.next()?.to_owned();
    let expires = lines.next()?.trim().parse().ok()?;
    Some((holder, expires))
}

impl Lease {
    /// The lease `name` (a document key under `leases/`) as `holder` (unique per process
    /// start: a restarted host must not take its old self's lease for its own) sees it.
    pub fn new(docs: Arc<dyn DocStore>, name: &str, holder: &str, ttl: Duration) -> Lease {
        Lease {
            docs,
            key: format!("leases/{name}"),
            holder: holder.to_owned(),
            ttl,
            held: None,
        }
    }

    /// The lease's document key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The time to live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether this holder has it now: acquired or renewed less than a time to live ago.
    pub fn is_held(&self) -> bool {
        self.held.is_some_and(|(_, at)| at.elapsed() < self.ttl)
    }

    /// Whether a renewal is due: a third of the time to live has passed since the last one.
    pub fn renewal_due(&self) -> bool {
        self.held
            .is_some_and(|(_, at)| at.elapsed() >= self.ttl / 3)
    }

    /// Takes the lease if it is free, expired or ours (then it is renewed). True when this
    /// holder has it afterwards; false when someone else holds it.
    pub fn try_acquire(&mut self) -> Result<bool, DocError> {
        let started = Instant::now();
        let now = crate::now_ms();
        let expect = match self.docs.get(&self.key)? {
            None => DocExpect::Absent,
            Some((bytes, rev)) => match decode(&bytes) {
                Some((holder, expires)) if holder != self.holder && expires > now => {
                    self.held = None;
                    return Ok(false);
                }
                _ => DocExpect::Revision(rev),
            },
        };
        self.write(expect, started, now)
    }

    /// Extends the lease this holder has. False (and no longer held) when someone else has
    /// written it meanwhile, or when it is not held.
    pub fn renew(&mut self) -> Result<bool, DocError> {
        let Some((rev, _)) = self.held else {
            return Ok(false);
        };
        self.write(DocExpect::Revision(rev), Instant::now(), crate::now_ms())
    }

    fn write(&mut self, expect: DocExpect, started: Instant, now: i64) -> Result<bool, DocError> {
        let ttl_ms = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let body = encode(&self.holder, now.saturating_add(ttl_ms));
        match self.docs.put(&self.key, &body, expect) {
            Ok(rev) => {
                self.held = Some((rev, started));
                Ok(true)
            }
            Err(DocError::Conflict { .. }) => {
                self.held = None;
                Ok(false)
            }
            Err(e) => {
                // Unknown whether it was written: keep what we had (it runs out on its own).
                Err(e)
            }
        }
    }

    /// Gives the lease up (if this holder has it), so another can take it at once.
    pub fn release(&mut self) -> Result<(), DocError> {
        let Some((rev, _)) = self.held.take() else {
            return Ok(());
        };
        match self.docs.delete(&self.key, DocExpect::Revision(rev)) {
            Ok(()) | Err(DocError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Forgets the lease without releasing it (what a crash does): it stays taken until it
    /// expires.
    pub fn abandon(&mut self) {
        self.held = None;
    }
}

/// The leases in the folder `leases/<folder>` that expired more than `grace` before
/// `now_ms` (or cannot be read): each one's name (the key's last segment) and the revision
/// seen, for a sweeper that removes what no holder will ever renew, and exactly what it saw
/// ([`DocExpect::Revision`]): a lease taken again meanwhile has a new revision and stays.
pub fn lapsed(
    docs: &dyn DocStore,
    folder: &str,
    grace: Duration,
    now_ms: i64,
) -> Result<Vec<(String, DocRevision)>, DocError> {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    for key in docs.keys(&format!("leases/{folder}"))? {
        let Some((bytes, rev)) = docs.get(&key)? else {
            continue;
        };
        let gone =
            decode(&bytes).is_none_or(|(_, expires)| expires.saturating_add(grace_ms) < now_ms);
        if gone {
            let name = key.rsplit('/').next().unwrap_or(&key).to_owned();
            out.push((name, rev));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docstore::FolderDocStore;

    fn store() -> (tempfile::TempDir, Arc<dyn DocStore>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s: Arc<dyn DocStore> = Arc::new(FolderDocStore::new(dir.path().join("state")));
        (dir, s)
    }

    const TTL: Duration = Duration::from_secs(10);

    #[test]
    fn of_two_holders_one_has_it_until_it_releases() {
        let (_d, s) = store();
        let mut a = Lease::new(s.clone(), "delivery/u1", "host-a", TTL);
        let mut b = Lease::new(s.clone(), "delivery/u1", "host-b", TTL);
        assert!(a.try_acquire().expect("a"));
        assert!(a.is_held());
        assert!(!b.try_acquire().expect("b"));
        assert!(!b.is_held());
        // Acquiring again is a renewal for the holder.
        assert!(a.try_acquire().expect("a again"));
        assert!(a.renew().expect("renew"));
        assert!(!b.try_acquire().expect("b again"));
        // Another name is another lease.
        let mut other = Lease::new(s.clone(), "delivery/u2", "host-b", TTL);
        assert!(other.try_acquire().expect("other"));
        a.release().expect("release");
        assert!(!a.is_held());
        assert!(s.get("leases/delivery/u1").expect("get").is_none());
        assert!(b.try_acquire().expect("b after release"));
        assert!(!a.try_acquire().expect("a after b took it"));
    }

    #[test]
    fn an_expired_lease_moves_and_its_old_holder_cannot_renew_or_release_it() {
        let (_d, s) = store();
        let short = Duration::from_millis(50);
        let mut a = Lease::new(s.clone(), "delivery/u", "host-a", short);
        let mut b = Lease::new(s.clone(), "delivery/u", "host-b", short);
        assert!(a.try_acquire().expect("a"));
        assert!(!b.try_acquire().expect("b while a holds it"));
        std::thread::sleep(short + Duration::from_millis(20));
        // Past its time to live the holder knows it no longer has it, renewed or not.
        assert!(!a.is_held());
        assert!(b.try_acquire().expect("b after expiry"));
        assert!(!a.renew().expect("a's stale renewal"));
        assert!(!a.is_held());
        a.release().expect("releasing nothing");
        let doc = s.get("leases/delivery/u").expect("get").expect("b's lease");
        assert!(String::from_utf8_lossy(&doc.0).starts_with("host-b\n"));
        assert!(b.renew().expect("b renews"));
    }

    #[test]
    fn an_abandoned_lease_stays_taken_until_it_expires_and_a_damaged_one_is_free() {
        let (_d, s) = store();
        let short = Duration::from_millis(60);
        let mut a = Lease::new(s.clone(), "x", "host-a", short);
        let mut b = Lease::new(s.clone(), "x", "host-b", short);
        assert!(a.try_acquire().expect("a"));
        a.abandon();
        assert!(!a.is_held());
        assert!(!b.try_acquire().expect("still a's"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !b.try_acquire().expect("b") {
            assert!(Instant::now() < deadline, "the lease never expired");
            std::thread::sleep(Duration::from_millis(10));
        }
        s.put("leases/y", b"garbage", DocExpect::Any).expect("put");
        let mut c = Lease::new(s.clone(), "y", "host-c", TTL);
        assert!(c.try_acquire().expect("a damaged lease is free"));
        assert!(!c.renewal_due());
    }

    #[test]
    fn only_leases_lapsed_longer_than_the_grace_are_listed() {
        let (_d, s) = store();
        let mut live = Lease::new(s.clone(), "hosts/live", "a", TTL);
        assert!(live.try_acquire().expect("acquire"));
        let mut gone = Lease::new(s.clone(), "hosts/gone", "b", TTL);
        assert!(gone.try_acquire().expect("acquire"));
        s.put("leases/hosts/junk", b"not a lease", DocExpect::Any)
            .expect("put");
        let now = crate::now_ms();
        let grace = Duration::from_secs(60);
        let names = |now_ms| -> Vec<String> {
            lapsed(s.as_ref(), "hosts", grace, now_ms)
                .expect("lapsed")
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        };
        // Within the time to live and the grace: only what cannot be read.
        assert_eq!(names(now), ["junk"]);
        assert_eq!(names(now + 65_000), ["junk"]);
        // Past both: every one. A sweeper deletes what it saw; a lease written since (a new
        // revision) would stay.
        assert_eq!(names(now + 75_000), ["gone", "junk", "live"]);
        let seen = |name: &str| {
            lapsed(s.as_ref(), "hosts", grace, now + 75_000)
                .expect("lapsed")
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, rev)| rev)
                .expect("listed")
        };
        let gone_seen = seen("gone");
        s.delete("leases/hosts/gone", DocExpect::Revision(gone_seen))
            .expect("delete what was seen");
        let live_seen = seen("live");
        assert!(live.renew().expect("renew"));
        assert!(s
            .delete("leases/hosts/live", DocExpect::Revision(live_seen))
            .is_err());
        assert_eq!(names(now + 75_000), ["junk", "live"]);
        assert!(lapsed(s.as_ref(), "nothing", grace, now)
            .expect("an empty folder")
            .is_empty());
    }

    #[test]
    fn of_many_racing_holders_one_wins() {
        let (_d, s) = store();
        let barrier = Arc::new(std::sync::Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let (s, barrier) = (s.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut l = Lease::new(s, "race", &format!("host-{i}"), TTL);
                    barrier.wait();
                    l.try_acquire().expect("acquire")
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .filter(|w| *w)
            .count();
        assert_eq!(wins, 1);
    }
}
