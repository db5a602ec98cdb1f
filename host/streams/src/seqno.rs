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

    /// The wire form: a 56-digit decimal string. Written digit by digit into a fixed
    /// buffer: a put encodes one per record, and `format!`'s zero padding cost more than
    /// the rest of the append.
    pub fn encode(&self) -> String {
        let mut buf = [b'0'; 1 + COUNTER_DIGITS + SHARD_DIGITS];
        buf[0] = b'4';
        let (counter, shard) = buf[1..].split_at_mut(COUNTER_DIGITS);
        write_digits(counter, self.counter);
        write_digits(shard, self.shard_index % MAX_SHARD);
        // Only ASCII digits: the conversion cannot fail.
        std::str::from_utf8(&buf)
            .map(str::to_owned)
            .unwrap_or_default()
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

/// Writes `v` right-aligned into `field`, whose bytes are `b'0'` already. `field` is wide
/// enough for any value given (a `u64` has at most 20 digits; the shard index is reduced
/// below `10^13`).
fn write_digits(field: &mut [u8], mut v: u64) {
    for b in field.iter_mut().rev() {
        if v == 0 {
            break;
        }
        *b = b'0' + (v % 10) as u8;
        v /= 10;
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
        assert_eq!(
            SeqNo::new(0, 0).encode(),
            format!("4{}", "0".repeat(55)),
            "zeros throughout"
        );
        assert!(is_valid_pattern("0") && !is_valid_pattern("01"));
    }

    /// The digit-by-digit encoding is the padded decimal form, at every width.
    #[test]
    fn encode_is_the_padded_decimal_form() {
        let mut counters = vec![0, 1, 9, 10, 99, 100, u64::MAX, u64::MAX - 1];
        counters.extend((0..20).map(|p| 10u64.pow(p)));
        counters.extend((1..20).map(|p| 10u64.pow(p) - 1));
        let shards = [
            0,
            1,
            7,
            12,
            999_999_999_999,
            MAX_SHARD - 1,
            MAX_SHARD,
            u64::MAX,
        ];
        for &c in &counters {
            for &sh in &shards {
                let want = format!("4{c:042}{:013}", sh % MAX_SHARD);
                assert_eq!(SeqNo::new(c, sh).encode(), want, "{c} {sh}");
            }
        }
    }
}
