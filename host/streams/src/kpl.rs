//! De-aggregation of KPL aggregated records.
//!
//! The Kinesis Producer Library packs many user records into one Kinesis record:
//! magic `F3 89 9A C2`, a protobuf `AggregatedRecord`, then the MD5 of the protobuf bytes.
//! The decoder is hand-written (a few dozen lines) to avoid a protobuf code generator for
//! two messages. Anything that does not check out (magic, MD5, structure) is treated as a
//! plain record, as the KCL does.

use md5::{Digest, Md5};

/// The four magic bytes of an aggregated record.
pub const KPL_MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];

/// One user record from an aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Skips a field of the given wire type.
    fn skip(&mut self, wire: u64) -> Option<()> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => {
                self.pos = self.pos.checked_add(8).filter(|p| *p <= self.buf.len())?;
                Some(())
            }
            2 => self.bytes().map(|_| ()),
            5 => {
                self.pos = self.pos.checked_add(4).filter(|p| *p <= self.buf.len())?;
                Some(())
            }
            _ => None,
        }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

struct RawRecord<'a> {
    pk_index: u64,
    ehk_index: Option<u64>,
    data: &'a [u8],
}

fn parse_record(buf: &[u8]) -> Option<RawRecord<'_>> {
    let mut r = Reader { buf, pos: 0 };
    let mut pk_index = None;
    let mut ehk_index = None;
    let mut data = None;
    while !r.done() {
        let key = r.varint()?;
        match (key >> 3, key & 7) {
            (1, 0) => pk_index = Some(r.varint()?),
            (2, 0) => ehk_index = Some(r.varint()?),
            (3, 2) => data = Some(r.bytes()?),
            (_, wire) => r.skip(wire)?,
        }
    }
    Some(RawRecord {
        pk_index: pk_index?,
        ehk_index,
        data: data?,
    })
}

/// Splits an aggregated record into its user records; `None` if `data` is not a valid
/// aggregate (the caller then treats it as one plain record).
pub fn deaggregate(data: &[u8]) -> Option<Vec<SubRecord>> {
    if data.len() < KPL_MAGIC.len() + 16 || data[..4] != KPL_MAGIC {
        return None;
    }
    let (body, digest) = data[4..].split_at(data.len() - 4 - 16);
    if Md5::digest(body).as_slice() != digest {
        return None;
    }
    let mut r = Reader { buf: body, pos: 0 };
    let mut keys: Vec<String> = Vec::new();
    let mut hash_keys: Vec<String> = Vec::new();
    let mut raws = Vec::new();
    while !r.done() {
        let key = r.varint()?;
        match (key >> 3, key & 7) {
            (1, 2) => keys.push(String::from_utf8(r.bytes()?.to_vec()).ok()?),
            (2, 2) => hash_keys.push(String::from_utf8(r.bytes()?.to_vec()).ok()?),
            (3, 2) => raws.push(parse_record(r.bytes()?)?),
            (_, wire) => r.skip(wire)?,
        }
    }
    raws.into_iter()
        .map(|raw| {
            let partition_key = keys.get(usize::try_from(raw.pk_index).ok()?)?.clone();
            let explicit_hash_key = match raw.ehk_index {
                Some(i) => Some(hash_keys.get(usize::try_from(i).ok()?)?.clone()),
                None => None,
            };
            Some(SubRecord {
                partition_key,
                explicit_hash_key,
                data: raw.data.to_vec(),
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        varint(out, field << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    /// Builds an aggregated record by hand, byte by byte, as the KPL would.
    pub(crate) fn build_aggregate(
        keys: &[&str],
        records: &[(u64, Option<u64>, &[u8])],
        ehks: &[&str],
    ) -> Vec<u8> {
        let mut body = Vec::new();
        for k in keys {
            field_bytes(&mut body, 1, k.as_bytes());
        }
        for k in ehks {
            field_bytes(&mut body, 2, k.as_bytes());
        }
        for (pk, ehk, data) in records {
            let mut rec = Vec::new();
            varint(&mut rec, 1 << 3);
            varint(&mut rec, *pk);
            if let Some(e) = ehk {
                varint(&mut rec, 2 << 3);
                varint(&mut rec, *e);
            }
            field_bytes(&mut rec, 3, data);
            // a tag (field 4) that the decoder must skip
            let mut tag = Vec::new();
            field_bytes(&mut tag, 1, b"k");
            field_bytes(&mut rec, 4, &tag);
            field_bytes(&mut body, 3, &rec);
        }
        let mut out = KPL_MAGIC.to_vec();
        out.extend_from_slice(&body);
        out.extend_from_slice(&Md5::digest(&body));
        out
    }

    #[test]
    fn hand_built_aggregate_round_trips() {
        let big = vec![7u8; 300]; // forces a two-byte length varint
        let agg = build_aggregate(
            &["95B•140", "other"],
            &[(0, None, b"one"), (1, Some(0), b"two"), (0, None, &big)],
            &["12345"],
        );
        let subs = deaggregate(&agg).expect("valid aggregate");
        assert_eq!(subs.len(), 3);
        assert_eq!(
            subs[0],
            SubRecord {
                partition_key: "95B•140".into(),
                explicit_hash_key: None,
                data: b"one".to_vec()
            }
        );
        assert_eq!(subs[1].explicit_hash_key.as_deref(), Some("12345"));
        assert_eq!(subs[2].data, big);
    }

    #[test]
    fn bad_aggregates_are_plain_records() {
        let mut agg = build_aggregate(&["a"], &[(0, None, b"x")], &[]);
        let last = agg.len() - 1;
        agg[last] ^= 1; // MD5 mismatch
        assert!(deaggregate(&agg).is_none());
        assert!(deaggregate(b"plain").is_none());
        // index out of range
        let agg = build_aggregate(&["a"], &[(5, None, b"x")], &[]);
        assert!(deaggregate(&agg).is_none());
    }
}
