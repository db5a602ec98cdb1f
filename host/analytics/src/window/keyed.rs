//! Entries keyed by a tuple of values with SQL grouping equality, for groups and partitions.
//!
//! A `HashMap<GroupKey, T>` would hold each key twice once the entry also needs its key
//! (to emit it, or to find it from an expiry queue), and cannot serialise to JSON. This slab
//! keeps each key once, beside its entry, and indexes entries by the key's hash only; the
//! index is not serialised and is rebuilt on first use after a restore. Slots are stable
//! (other structures refer to an entry by slot) and entries iterate in slot order, which is
//! first-arrival order for a slab nothing was removed from.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use serde::{Deserialize, Serialize};

use crate::aggregate::key::{hash_value, key_eq};
use crate::value::Value;

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

/// Slot by key hash: one slot per hash in `first` (16 bytes an entry), the rare further
/// slots sharing a hash in `more`.
#[derive(Debug, Clone, Default)]
struct Index {
    built: bool,
    first: HashIndex<u32>,
    more: HashIndex<Vec<u32>>,
    state: RandomState,
}

impl Index {
    fn add(&mut self, h: u64, slot: u32) {
        match self.first.entry(h) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.more.entry(h).or_default().push(slot)
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(slot);
            }
        }
    }

    fn remove(&mut self, h: u64, slot: u32) {
        if self.first.get(&h) == Some(&slot) {
            match self.more.get_mut(&h).and_then(Vec::pop) {
                Some(next) => {
                    self.first.insert(h, next);
                }
                None => {
                    self.first.remove(&h);
                }
            }
        } else if let Some(v) = self.more.get_mut(&h) {
            v.retain(|s| *s != slot);
        }
        if self.more.get(&h).is_some_and(Vec::is_empty) {
            self.more.remove(&h);
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyedSlab<T> {
    slots: Vec<Option<(Box<[Value]>, T)>>,
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
        let mut index = Index {
            built: true,
            state: std::mem::take(&mut self.index.state),
            ..Index::default()
        };
        for (i, entry) in self.slots.iter().enumerate() {
            if let Some((key, _)) = entry {
                let h = hash_parts(&index.state, key, &[]);
                index.add(h, i as u32);
            }
        }
        self.index = index;
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
        if let Some(s) = self.index.first.get(&h).filter(|s| matches(s)) {
            return Some(*s);
        }
        self.index
            .more
            .get(&h)?
            .iter()
            .copied()
            .find(|s| matches(s))
    }

    /// Stores a new entry (the caller checked with [`find`](Self::find) that the key is new).
    pub fn insert(&mut self, key: Vec<Value>, value: T) -> u32 {
        self.ensure_index();
        let h = hash_parts(&self.index.state, &key, &[]);
        let key = key.into_boxed_slice();
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
        self.index.add(h, slot);
        self.len += 1;
        slot
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<&mut (Box<[Value]>, T)> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    pub fn remove(&mut self, slot: u32) -> Option<(Box<[Value]>, T)> {
        self.ensure_index();
        let entry = self.slots.get_mut(slot as usize)?.take()?;
        let h = hash_parts(&self.index.state, &entry.0, &[]);
        self.index.remove(h, slot);
        self.free.push(slot);
        self.len -= 1;
        if self.len == 0 {
            self.slots.clear();
            self.free.clear();
        }
        Some(entry)
    }

    /// Every entry in slot order, consuming the slab.
    pub fn into_entries(self) -> impl Iterator<Item = (Box<[Value]>, T)> {
        self.slots.into_iter().flatten()
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

    #[test]
    fn slots_sharing_a_hash_are_all_found_and_removed() {
        let mut index = Index::default();
        index.add(5, 1);
        index.add(5, 2);
        index.add(5, 3);
        index.add(6, 4);
        index.remove(5, 1);
        assert!(index.first.get(&5).is_some_and(|s| *s == 3 || *s == 2));
        index.remove(5, 2);
        index.remove(5, 3);
        assert!(!index.first.contains_key(&5));
        assert!(index.more.is_empty());
        assert_eq!(index.first.get(&6), Some(&4));
    }
}
