//! Sequence numbers.
//!
//! AWS sequence numbers are 56-digit decimal strings; the format is undocumented. Weir's are
//! `4 * 10^55 + counter * 10^13 + shard_index`, written as the digit `4`, the counter padded
//! to 42 digits and the shard index padded to 13 (56 digits, beyond `u128`, so it is built
//! as text),
//! never with a leading zero, strictly increasing within a shard because the per-shard
//! `counter` only grows, and self-describing enough to reject a sequence number that belongs
//! to another shard (AWS answers InvalidArgumentException there). Counters of child shards
//! start above their parents', so numbers also rise across a reshard.

const COUNTER_DIGITS: usize = 42;
const SHARD_DIGITS: usize = 13;
const MAX_SHARD: u64 = 10u64.pow(SHARD_DIGITS as u32);

/// Decoded form of a Weir sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeqNo {
    pub counter: u64,
    pub shard_index: u64,
}

impl SeqNo {
    pub fn new(counter: u64, shard_index: u64) -> Self {
        SeqNo {
            counter,
            shard_index,
        }
    }

    /// The wire form: a 56-digit decimal string.
    pub fn encode(&self) -> String {
        format!(
            "4{:0cw$}{:0sw$}",
            self.counter,
            self.shard_index % MAX_SHARD,
            cw = COUNTER_DIGITS,
            sw = SHARD_DIGITS
        )
    }

    /// Parses a wire sequence number. `None` for anything Weir did not issue (AWS answers
    /// InvalidArgumentException for such values).
    pub fn decode(s: &str) -> Option<SeqNo> {
        if s.len() != 1 + COUNTER_DIGITS + SHARD_DIGITS
            || !s.starts_with('4')
            || !s.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let counter: u128 = s[1..1 + COUNTER_DIGITS].parse().ok()?;
        let shard_index: u64 = s[1 + COUNTER_DIGITS..].parse().ok()?;
        Some(SeqNo {
            counter: u64::try_from(counter).ok()?,
            shard_index,
        })
    }
}

/// True when `s` has the shape AWS allows for a sequence number (`0|([1-9]\d{0,128})`).
pub fn is_valid_pattern(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    let b = s.as_bytes();
    !b.is_empty() && b.len() <= 129 && b[0] != b'0' && b.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() {
        let a = SeqNo::new(1, 3).encode();
        let b = SeqNo::new(2, 3).encode();
        assert_eq!(a.len(), 56);
        assert!(a.starts_with('4'));
        assert!(a < b);
        assert_eq!(SeqNo::decode(&b), Some(SeqNo::new(2, 3)));
        let big = SeqNo::new(u64::MAX, MAX_SHARD - 1).encode();
        assert_eq!(big.len(), 56);
        assert_eq!(
            SeqNo::decode(&big),
            Some(SeqNo::new(u64::MAX, MAX_SHARD - 1))
        );
        assert_eq!(SeqNo::decode("123"), None);
        assert!(is_valid_pattern("0") && !is_valid_pattern("01"));
    }
}
