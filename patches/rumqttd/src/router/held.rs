//! weir patch 4: acknowledgements held until a local link confirms the message.
//!
//! In hold mode one local link (the *holder*) consumes a filter, and a QoS 1 PUBACK or QoS 2
//! PUBREC for a publish that the holder's filter received is not sent when the router has the
//! message in memory: it is held until the holder confirms the message's offset in its
//! filter's log. Acks leave a connection in the order its publishes came in (MQTT 3.1.1
//! section 4.6), so a confirmed ack waits behind an unconfirmed earlier one.
//!
//! A rejected message, or one whose log segment was dropped before the holder read it, is
//! never acknowledged: its publisher is disconnected so that it sends the message again.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;

use super::Ack;
use crate::{ConnectionId, Filter, Offset};

/// Confirmations the holder has sent and the router has not read yet.
#[derive(Debug, Default)]
pub struct ConfirmBatch {
    pub(crate) confirmed: Vec<Offset>,
    pub(crate) rejected: Vec<Offset>,
    /// Whether an `Event::Confirm` for this batch is on its way to the router.
    pub(crate) signalled: bool,
}

pub(crate) type SharedBatch = Arc<Mutex<ConfirmBatch>>;

/// weir patch 5: when the holder is this many messages behind the end of its log, QoS 0
/// publishes are shed (not appended, counted) until it catches up, so a QoS 0 flood cannot
/// put a QoS 1 publish behind an ever longer queue. QoS 1 and 2 are never shed: their
/// publishers' inflight windows are their backpressure.
pub(crate) const SHED_QOS0_LAG: u64 = 20_000;

/// Beyond this many acks held for one connection the client is ignoring its inflight window
/// (no MQTT client can have more than 65,535 packet ids in flight).
const MAX_HELD_PER_CONNECTION: usize = u16::MAX as usize;

struct Entry {
    ack: Ack,
    confirmed: bool,
    ticket: Option<Offset>,
}

#[derive(Default)]
struct Queue {
    /// Sequence number of the front entry.
    first: u64,
    entries: VecDeque<Entry>,
}

pub(crate) struct HeldAcks {
    pub(crate) holder: ConnectionId,
    pub(crate) filter: Filter,
    /// weir patch 5: the absolute offset the holder has been sent up to, and the count of
    /// QoS 0 publishes shed (shared with the holder's `Confirmer`).
    pub(crate) read_up_to: u64,
    pub(crate) shed: Arc<std::sync::atomic::AtomicU64>,
    queues: HashMap<ConnectionId, Queue>,
    /// Holder-log offset -> (publisher, sequence number in its queue).
    tickets: BTreeMap<Offset, (ConnectionId, u64)>,
}

/// What an ack for a publish turned into.
pub(crate) enum Held {
    /// Nothing is waiting in front of it: send it now.
    Release(Ack),
    /// Queued.
    Queued,
    /// The connection has more unacknowledged publishes than any client may have.
    Overflow,
}

impl HeldAcks {
    pub(crate) fn new(
        holder: ConnectionId,
        filter: Filter,
        shed: Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        HeldAcks {
            holder,
            filter,
            read_up_to: 0,
            shed,
            queues: HashMap::new(),
            tickets: BTreeMap::new(),
        }
    }

    /// Queues `ack` for a publish of `origin`. `ticket` is the publish's offset in the holder's
    /// log, `None` if the holder does not receive it (then it only waits for the acks in front).
    pub(crate) fn hold(&mut self, origin: ConnectionId, ack: Ack, ticket: Option<Offset>) -> Held {
        let queue = self.queues.entry(origin).or_default();
        if ticket.is_none() && queue.entries.is_empty() {
            return Held::Release(ack);
        }
        if queue.entries.len() >= MAX_HELD_PER_CONNECTION {
            return Held::Overflow;
        }
        let seq = queue.first + queue.entries.len() as u64;
        queue.entries.push_back(Entry {
            ack,
            confirmed: ticket.is_none(),
            ticket,
        });
        if let Some(t) = ticket {
            self.tickets.insert(t, (origin, seq));
        }
        Held::Queued
    }

    /// Applies the holder's confirmations. Returns the acks now free to send, per connection
    /// in order, and the connections whose messages were rejected.
    pub(crate) fn settle(
        &mut self,
        batch: ConfirmBatch,
    ) -> (Vec<(ConnectionId, Vec<Ack>)>, Vec<ConnectionId>) {
        let mut touched = Vec::new();
        for t in batch.confirmed {
            let Some((origin, seq)) = self.tickets.remove(&t) else {
                continue; // a QoS 0 publish, or its publisher is gone
            };
            if let Some(q) = self.queues.get_mut(&origin) {
                if let Some(e) = seq
                    .checked_sub(q.first)
                    .and_then(|i| q.entries.get_mut(i as usize))
                {
                    e.confirmed = true;
                    if !touched.contains(&origin) {
                        touched.push(origin);
                    }
                }
            }
        }
        let mut rejected = Vec::new();
        for t in batch.rejected {
            if let Some((origin, _)) = self.tickets.remove(&t) {
                if !rejected.contains(&origin) {
                    rejected.push(origin);
                }
            }
        }
        let mut released = Vec::new();
        for origin in touched {
            let Some(q) = self.queues.get_mut(&origin) else {
                continue;
            };
            let mut acks = Vec::new();
            while q.entries.front().is_some_and(|e| e.confirmed) {
                if let Some(e) = q.entries.pop_front() {
                    q.first += 1;
                    acks.push(e.ack);
                }
            }
            if !acks.is_empty() {
                released.push((origin, acks));
            }
        }
        (released, rejected)
    }

    /// Connections with a held message below `head`: their log segment was dropped before the
    /// holder read it, so the holder can never confirm it.
    pub(crate) fn lost_below(&self, head: Offset) -> Vec<ConnectionId> {
        let mut lost: Vec<ConnectionId> = self.tickets.range(..head).map(|(_, (c, _))| *c).collect();
        lost.sort_unstable();
        lost.dedup();
        lost
    }

    /// Drops everything held for a connection that is gone: its client sends those publishes
    /// again, and its connection id may be reused.
    pub(crate) fn forget(&mut self, origin: ConnectionId) {
        if let Some(q) = self.queues.remove(&origin) {
            for t in q.entries.iter().filter_map(|e| e.ticket) {
                self.tickets.remove(&t);
            }
        }
    }

    /// Acks held in total, for tests and status.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queues.values().map(|q| q.entries.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{PubAck, PubAckReason};

    fn ack(pkid: u16) -> Ack {
        Ack::PubAck(PubAck {
            pkid,
            reason: PubAckReason::Success,
        })
    }

    fn pkids(acks: &[Ack]) -> Vec<u16> {
        acks.iter()
            .map(|a| match a {
                Ack::PubAck(p) => p.pkid,
                _ => 0,
            })
            .collect()
    }

    fn confirm(held: &mut HeldAcks, offsets: &[Offset]) -> Vec<(ConnectionId, Vec<Ack>)> {
        let batch = ConfirmBatch {
            confirmed: offsets.to_vec(),
            ..Default::default()
        };
        held.settle(batch).0
    }

    #[test]
    fn acks_leave_in_publish_order() {
        let mut h = HeldAcks::new(0, "#".into(), Default::default());
        for (pkid, off) in [(1, (0, 1)), (2, (0, 2)), (3, (0, 3))] {
            assert!(matches!(h.hold(5, ack(pkid), Some(off)), Held::Queued));
        }
        // The later ones are confirmed first: nothing leaves.
        assert!(confirm(&mut h, &[(0, 3), (0, 2)]).is_empty());
        let out = confirm(&mut h, &[(0, 1)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 5);
        assert_eq!(pkids(&out[0].1), vec![1, 2, 3]);
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn an_ack_without_a_ticket_waits_only_behind_held_ones() {
        let mut h = HeldAcks::new(0, "#".into(), Default::default());
        assert!(matches!(h.hold(5, ack(1), None), Held::Release(_)));
        assert!(matches!(h.hold(5, ack(2), Some((0, 7))), Held::Queued));
        assert!(matches!(h.hold(5, ack(3), None), Held::Queued));
        let out = confirm(&mut h, &[(0, 7)]);
        assert_eq!(pkids(&out[0].1), vec![2, 3]);
    }

    #[test]
    fn connections_are_independent() {
        let mut h = HeldAcks::new(0, "#".into(), Default::default());
        h.hold(5, ack(1), Some((0, 1)));
        h.hold(6, ack(1), Some((0, 2)));
        let out = confirm(&mut h, &[(0, 2)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 6);
    }

    #[test]
    fn a_rejection_names_the_publisher_and_releases_nothing() {
        let mut h = HeldAcks::new(0, "#".into(), Default::default());
        h.hold(5, ack(1), Some((0, 1)));
        let (released, rejected) = h.settle(ConfirmBatch {
            rejected: vec![(0, 1)],
            ..Default::default()
        });
        assert!(released.is_empty());
        assert_eq!(rejected, vec![5]);
    }

    #[test]
    fn a_forgotten_connection_leaves_no_tickets() {
        let mut h = HeldAcks::new(0, "#".into(), Default::default());
        h.hold(5, ack(1), Some((0, 1)));
        h.forget(5);
        // The id is reused by a new connection; the old confirmation must not touch it.
        h.hold(5, ack(9), Some((0, 2)));
        assert!(confirm(&mut h, &[(0, 1)]).is_empty());
        assert_eq!(pkids(&confirm(&mut h, &[(0, 2)])[0].1), vec![9]);
    }

    #[test]
    fn messages_in_a_dropped_segment_are_lost_to_their_publishers() {
        let mut h = HeldAcks::new(0, "#".into(), Default::default());
        h.hold(5, ack(1), Some((0, 1)));
        h.hold(6, ack(1), Some((1, 900)));
        assert_eq!(h.lost_below((1, 0)), vec![5]);
    }
}
