//! The 128-bit hash-key space and partition-key routing.
//!
//! Kinesis routes a record by MD5 of its partition key read as an unsigned big-endian
//! 128-bit integer; `u128` holds every value of that space exactly.

use md5::{Digest, Md5};

/// The largest hash key, `2^128 - 1`.
pub const MAX_HASH_KEY: u128 = u128::MAX;

/// An inclusive range of hash keys owned by one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HashRange {
    #[serde(with = "u128_string")]
    pub start: u128,
    #[serde(with = "u128_string")]
    pub end: u128,
}

impl HashRange {
    pub fn contains(&self, key: u128) -> bool {
        self.start <= key && key <= self.end
    }
}

/// MD5 of the UTF-8 partition key as a big-endian integer.
pub fn hash_partition_key(key: &str) -> u128 {
    let digest = Md5::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest);
    u128::from_be_bytes(bytes)
}

/// Parses an `ExplicitHashKey`: a decimal string in `0..=2^128-1` without sign or leading
/// zeros beyond a lone `0`. `None` means "not a valid hash key" (AWS answers with
/// InvalidArgumentException).
pub fn parse_hash_key(s: &str) -> Option<u128> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u128>().ok()
}

/// The even split AWS uses for `CreateStream` and `UpdateShardCount`: shard `i` starts at
/// `i * floor(2^128 / n)` and the last shard ends at `2^128 - 1`.
pub fn even_ranges(n: u32) -> Vec<HashRange> {
    let n = n.max(1);
    if n == 1 {
        return vec![HashRange {
            start: 0,
            end: MAX_HASH_KEY,
        }];
    }
    let n128 = u128::from(n);
    // floor((u128::MAX + 1) / n) without overflowing.
    let step = u128::MAX / n128 + (u128::MAX % n128 + 1) / n128;
    (0..n128)
        .map(|i| HashRange {
            start: i * step,
            end: if i + 1 == n128 {
                MAX_HASH_KEY
            } else {
                (i + 1) * step - 1
            },
        })
        .collect()
}

/// Serde helper: 128-bit values as decimal strings (JSON numbers would lose precision).
pub mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shards_match_the_aws_cli_example() {
        let r = even_ranges(3);
        assert_eq!(r[0].end, 113427455640312821154458202477256070484);
        assert_eq!(r[1].start, 113427455640312821154458202477256070485);
        assert_eq!(r[1].end, 226854911280625642308916404954512140969);
        assert_eq!(r[2].end, MAX_HASH_KEY);
    }

    #[test]
    fn ranges_tile_the_space() {
        for n in [1u32, 2, 3, 4, 7, 64, 1000] {
            let r = even_ranges(n);
            assert_eq!(r.len(), n as usize);
            assert_eq!(r[0].start, 0);
            assert_eq!(r[r.len() - 1].end, MAX_HASH_KEY);
            for w in r.windows(2) {
                assert_eq!(w[0].end + 1, w[1].start);
            }
            // shard i starts at i * floor(2^128/n)
            if n > 1 {
                let step = r[1].start;
                for (i, x) in r.iter().enumerate() {
                    assert_eq!(x.start, step * i as u128);
                }
            }
        }
        assert_eq!(even_ranges(4)[1].start, 1u128 << 126);
    }

    #[test]
    fn md5_routing_is_big_endian() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(hash_partition_key(""), 0xd41d8cd98f00b204e9800998ecf8427e);
        assert!(parse_hash_key("340282366920938463463374607431768211455").is_some());
        assert!(parse_hash_key("340282366920938463463374607431768211456").is_none());
        assert!(parse_hash_key("-1").is_none());
        assert!(parse_hash_key("").is_none());
    }
}
