//! Shard iterators: opaque, tamper-evident, expiring tokens.
//!
//! A token carries (stream uid, shard index, next counter, issue time) and an HMAC-SHA256
//! tag (truncated to 16 bytes) under a per-host secret, so a client cannot forge a position
//! in a shard it was not given, and a token from another host or an older install fails.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a shard iterator stays valid (AWS: five minutes).
pub const ITERATOR_TTL_MS: i64 = 5 * 60 * 1000;
const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 8 + 8 + 8 + 8;
const TAG_LEN: usize = 16;

/// What a shard iterator points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IteratorPos {
    pub stream_uid: u64,
    pub shard_index: u64,
    /// The next record to return has a counter >= this.
    pub counter: u64,
    pub issued_ms: i64,
}

/// Signs and checks iterator tokens.
#[derive(Clone)]
pub struct IteratorCodec {
    secret: [u8; 32],
}

impl std::fmt::Debug for IteratorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IteratorCodec(..)")
    }
}

impl IteratorCodec {
    pub fn new(secret: [u8; 32]) -> Self {
        IteratorCodec { secret }
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG_LEN] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("hmac takes any key length"));
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(&full[..TAG_LEN]);
        t
    }

    pub fn encode(&self, pos: &IteratorPos) -> String {
        let mut raw = Vec::with_capacity(BODY_LEN + TAG_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(&pos.stream_uid.to_be_bytes());
        raw.extend_from_slice(&pos.shard_index.to_be_bytes());
        raw.extend_from_slice(&pos.counter.to_be_bytes());
        raw.extend_from_slice(&pos.issued_ms.to_be_bytes());
        let tag = self.tag(&raw);
        raw.extend_from_slice(&tag);
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    /// `None` when the token is malformed or its tag does not verify.
    pub fn decode(&self, token: &str) -> Option<IteratorPos> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()?;
        if raw.len() != BODY_LEN + TAG_LEN || raw[0] != VERSION {
            return None;
        }
        let (body, tag) = raw.split_at(BODY_LEN);
        let expected = self.tag(body);
        // constant-time comparison
        let diff = expected
            .iter()
            .zip(tag)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return None;
        }
        let rd = |o: usize| -> [u8; 8] { body[o..o + 8].try_into().unwrap_or([0; 8]) };
        Some(IteratorPos {
            stream_uid: u64::from_be_bytes(rd(1)),
            shard_index: u64::from_be_bytes(rd(9)),
            counter: u64::from_be_bytes(rd(17)),
            issued_ms: i64::from_be_bytes(rd(25)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let c = IteratorCodec::new([7; 32]);
        let p = IteratorPos {
            stream_uid: 9,
            shard_index: 2,
            counter: 77,
            issued_ms: 1_700_000_000_000,
        };
        let t = c.encode(&p);
        assert!(t.len() <= 512);
        assert_eq!(c.decode(&t), Some(p));
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(&t)
            .expect("b64");
        raw[20] ^= 1;
        let forged = base64::engine::general_purpose::STANDARD.encode(raw);
        assert_eq!(c.decode(&forged), None);
        assert_eq!(IteratorCodec::new([8; 32]).decode(&t), None);
        assert_eq!(c.decode("garbage"), None);
    }
}
