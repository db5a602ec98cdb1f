//! Entries keyed by a tuple of values with SQL grouping equality, for groups and partitions.
//!
//! A `HashMap<GroupKey, T>` would hold each key twice once the entry also needs its key
//! (to emit it, or to find it from an expiry queue), and cannot serialise to JSON. This slab
//! keeps each key once, beside its entry, and indexes entries by the key's hash only; the
//! index is not serialised and is rebuilt on first use after a restore. Slots are stable
//! (other structures refer to an entry by slot) and entries iterate in slot order, which is
//! first-arrival order for a slab nothing was removed from.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

use serde::{Deserialize, Serialize};

use crate::aggregate::key::{hash_value, key_eq};
use crate::value::Value;

/// Slots that share one hash (almost always one).
#[derive(Debug, Clone)]
enum Slots {
    One(u32),
    Many(Vec<u32>),
}

#[derive(Debug, Clone, Default)]
struct Index {
    built: bool,
    map: HashMap<u64, Slots>,
    state: RandomState,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyedSlab<T> {
    slots: Vec<Option<(Vec<Value>, T)>>,
    free: Vec<u32>,
    len: usize,
    #[serde(skip)]
    index: Index,
}

impl<T> Default for KeyedSlab<T> {
    fn default() -> Self {
        KeyedSlab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            index: Index {
                built: true,
                ..Index::default()
            },
        }
    }
}

/// The hash of the concatenation `head ++ tail` (so a window value and group keys need not
/// be copied into one vector to be looked up).
fn hash_parts(state: &RandomState, head: &[Value], tail: &[Value]) -> u64 {
    let mut h = state.build_hasher();
    h.write_usize(head.len() + tail.len());
    for v in head.iter().chain(tail) {
        hash_value(v, &mut h);
    }
    h.finish()
}

fn parts_eq(key: &[Value], head: &[Value], tail: &[Value]) -> bool {
    key.len() == head.len() + tail.len()
        && key
            .iter()
            .zip(head.iter().chain(tail))
            .all(|(a, b)| key_eq(a, b))
}

impl<T> KeyedSlab<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn ensure_index(&mut self) {
        if self.index.built {
            return;
        }
        let mut map: HashMap<u64, Slots> = HashMap::with_capacity(self.len);
        for (i, entry) in self.slots.iter().enumerate() {
            if let Some((key, _)) = entry {
                let h = hash_parts(&self.index.state, key, &[]);
                index_add(&mut map, h, i as u32);
            }
        }
        self.index.map = map;
        self.index.built = true;
    }

    /// The slot holding key `head ++ tail`.
    pub fn find(&mut self, head: &[Value], tail: &[Value]) -> Option<u32> {
        self.ensure_index();
        let h = hash_parts(&self.index.state, head, tail);
        let matches = |slot: &u32| {
            self.slots
                .get(*slot as usize)
                .and_then(Option::as_ref)
                .is_some_and(|(k, _)| parts_eq(k, head, tail))
        };
        match self.index.map.get(&h)? {
            Slots::One(s) => matches(s).then_some(*s),
            Slots::Many(v) => v.iter().copied().find(|s| matches(s)),
        }
    }

    /// Stores a new entry (the caller checked with [`find`](Self::find) that the key is new).
    pub fn insert(&mut self, key: Vec<Value>, value: T) -> u32 {
        self.ensure_index();
        let h = hash_parts(&self.index.state, &key, &[]);
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some((key, value));
                s
            }
            None => {
                self.slots.push(Some((key, value)));
                (self.slots.len() - 1) as u32
            }
        };
        index_add(&mut self.index.map, h, slot);
        self.len += 1;
        slot
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<&mut (Vec<Value>, T)> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    pub fn remove(&mut self, slot: u32) -> Option<(Vec<Value>, T)> {
        self.ensure_index();
        let entry = self.slots.get_mut(slot as usize)?.take()?;
        let h = hash_parts(&self.index.state, &entry.0, &[]);
        if let Some(slots) = self.index.map.get_mut(&h) {
            match slots {
                Slots::One(_) => {
                    self.index.map.remove(&h);
                }
                Slots::Many(v) => {
                    v.retain(|s| *s != slot);
                    if let [only] = v.as_slice() {
                        *slots = Slots::One(*only);
                    }
                }
            }
        }
        self.free.push(slot);
        self.len -= 1;
        if self.len == 0 {
            self.slots.clear();
            self.free.clear();
        }
        Some(entry)
    }

    /// Every entry in slot order, consuming the slab.
    pub fn into_entries(self) -> impl Iterator<Item = (Vec<Value>, T)> {
        self.slots.into_iter().flatten()
    }
}

fn index_add(map: &mut HashMap<u64, Slots>, h: u64, slot: u32) {
    match map.get_mut(&h) {
        None => {
            map.insert(h, Slots::One(slot));
        }
        Some(Slots::One(s)) => {
            let first = *s;
            map.insert(h, Slots::Many(vec![first, slot]));
        }
        Some(Slots::Many(v)) => v.push(slot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_sql_key_and_survives_a_round_trip() {
        let mut slab: KeyedSlab<u32> = KeyedSlab::default();
        let a = slab.insert(vec![Value::Varchar("A".into()), Value::Integer(1)], 10);
        let b = slab.insert(vec![Value::Varchar("B".into()), Value::Integer(1)], 20);
        assert_eq!(
            slab.find(&[Value::Char("A  ".into())], &[Value::BigInt(1)]),
            Some(a)
        );
        assert_eq!(
            slab.find(&[Value::Varchar("B".into()), Value::Integer(1)], &[]),
            Some(b)
        );
        assert_eq!(slab.find(&[Value::Varchar("C".into())], &[]), None);
        let json = serde_json::to_string(&slab).expect("serialise");
        let mut back: KeyedSlab<u32> = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(
            back.find(&[Value::Varchar("B".into())], &[Value::Integer(1)]),
            Some(b)
        );
        assert_eq!(back.remove(a).map(|e| e.1), Some(10));
        assert_eq!(
            back.find(&[Value::Varchar("A".into())], &[Value::Integer(1)]),
            None
        );
        assert_eq!(back.len(), 1);
        let c = back.insert(vec![Value::Varchar("C".into())], 30);
        assert_eq!(c, a, "a freed slot is reused");
        assert_eq!(back.find(&[Value::Varchar("C".into())], &[]), Some(c));
    }
}
