//! Shadows in a [`DocStore`]: one document per shadow, for Weir hosts that share one store
//! (a NATS JetStream KV bucket, issue 31) and so must all see every shadow.
//!
//! Layout under the service's prefix: `PREFIX/THING/classic` for the classic shadow,
//! `PREFIX/THING/named/NAME` for named ones; each document holds the bytes of a shadow file
//! ([`store::encode`]: magic, frame, JSON of [`Stored`]), tombstones included.
//!
//! **Why names are encoded.** Thing names may hold `:` and shadow names `:` and `$`, which a
//! document key cannot (its segments are letters, digits, `-`, `_`, `=` and inner `.`). So
//! every byte outside `[A-Za-z0-9_-]` is written `=XX` (upper-case hex): `:` is `=3A`, `$` is
//! `=24`. `=` itself never occurs in a name but is escaped too (`=3D`), so the encoding is
//! total and [`decode_segment`] is its exact inverse; decoding refuses anything
//! [`encode_segment`] would not have written, so a listed key always maps back to the same
//! key. Names of mostly `:` and `$` grow threefold: a key over the store's 512 bytes (more
//! than about 150 escaped characters in thing and shadow name together, with a short prefix)
//! cannot be stored and is a 500 that says so.
//!
//! **Why nothing is cached.** Another host may write the same shadow at any moment, so a copy
//! kept here could be stale. Every operation reads the document and its revision, computes,
//! and writes with [`DocExpect::Revision`] (or [`DocExpect::Absent`] when there was none). A
//! [`DocError::Conflict`] means another host wrote in between: the operation starts again on
//! the fresh document, where a request's expected `version` is checked anew. That is what
//! makes two hosts' updates with one expected version end as one success and one 409.

use weir_support::docstore::{check_key, DocError, DocExpect, DocStore};

use crate::error::ShadowError;
use crate::names::{is_shadow_name, ShadowKey};
use crate::service::Change;
use crate::store::{self, Stored};

/// How many times one operation re-reads after losing a race before it gives up with a 500.
/// Each retry means another writer succeeded, so running out takes a shadow that other hosts
/// change continuously; a request should not wait on that forever.
pub(crate) const ATTEMPTS: usize = 16;

/// Bytes that stand for themselves in an encoded name.
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')
}

/// `name` as one key segment: see the module documentation.
pub(crate) fn encode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b':' => out.push_str("=c"),
            b'$' => out.push_str("=d"),
            b if plain(b) => out.push(char::from(b)),
            b => out.push_str(&format!("={b:02X}")),
        }
    }
    out
}

/// The name [`encode_segment`] turned into `seg`; `None` for a segment it cannot have
/// written (a bad escape, lower-case hex, an escaped plain byte, bytes that are not UTF-8).
pub(crate) fn decode_segment(seg: &str) -> Option<String> {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'=' {
            let short = match bytes.get(i + 1) {
                Some(b'c') => Some(b':'),
                Some(b'd') => Some(b'$'),
                _ => None,
            };
            if let Some(decoded) = short {
                out.push(decoded);
                i += 2;
                continue;
            }
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            if hex.bytes().any(|h| h.is_ascii_lowercase()) {
                return None;
            }
            let decoded = u8::from_str_radix(hex, 16).ok()?;
            if plain(decoded) || matches!(decoded, b':' | b'$') {
                return None;
            }
            out.push(decoded);
            i += 3;
        } else if plain(b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

/// The document key of `key` under `prefix`, checked: a 500 when the names, encoded, make a
/// key the store cannot hold.
pub(crate) fn key_of(prefix: &str, key: &ShadowKey) -> Result<String, ShadowError> {
    let thing = encode_segment(key.thing());
    let doc_key = match key.shadow_name() {
        None => format!("{prefix}/{thing}/classic"),
        Some(n) => format!("{prefix}/{thing}/named/{}", encode_segment(n)),
    };
    check_key(&doc_key).map_err(|e| {
        ShadowError::internal(format!(
            "shadow {key:?} cannot be kept in the document store: {e}"
        ))
    })?;
    Ok(doc_key)
}

/// The folder of `thing`'s named shadows.
pub(crate) fn named_folder(prefix: &str, thing: &str) -> String {
    format!("{prefix}/{}/named", encode_segment(thing))
}

/// The shadow names with a document under `thing` (tombstones included), decoded and sorted
/// by name (encoding does not keep the order: `$` sorts before digits, `=24` after them).
/// Keys that do not decode to a valid shadow name are not shadows and are skipped.
pub(crate) fn named(
    docs: &dyn DocStore,
    prefix: &str,
    thing: &str,
) -> Result<Vec<String>, ShadowError> {
    let folder = named_folder(prefix, thing);
    let keys = docs.keys(&folder).map_err(|e| {
        ShadowError::internal(format!(
            "cannot list shadow documents {}: {e}",
            docs.describe(&folder)
        ))
    })?;
    let mut names: Vec<String> = keys
        .iter()
        .filter_map(|k| k.strip_prefix(&folder)?.strip_prefix('/'))
        .filter_map(decode_segment)
        .filter(|n| is_shadow_name(n))
        .collect();
    names.sort();
    Ok(names)
}

/// The shadow under `key` and the expectation a write based on this read must carry.
fn read(docs: &dyn DocStore, key: &str) -> Result<(Option<Stored>, DocExpect), ShadowError> {
    let found = docs.get(key).map_err(|e| {
        ShadowError::internal(format!(
            "cannot read shadow document {}: {e}",
            docs.describe(key)
        ))
    })?;
    let Some((bytes, rev)) = found else {
        return Ok((None, DocExpect::Absent));
    };
    let stored = store::decode(&bytes).map_err(|what| {
        ShadowError::internal(format!(
            "shadow document {} is damaged ({what}); remove it to reset that shadow",
            docs.describe(key)
        ))
    })?;
    Ok((Some(stored), DocExpect::Revision(rev)))
}

/// Runs `op` on the current document of `key` and writes what it returns, compare-and-set;
/// on a conflict, reads again and runs `op` again (at most [`ATTEMPTS`] times). `op` sees
/// only that attempt's read, so it must compute from it alone.
pub(crate) fn with_doc<T>(
    docs: &dyn DocStore,
    key: &str,
    mut op: impl FnMut(Option<&Stored>) -> Result<Change<T>, ShadowError>,
) -> Result<T, ShadowError> {
    for _ in 0..ATTEMPTS {
        let (stored, expect) = read(docs, key)?;
        let (new, answer) = match op(stored.as_ref())? {
            Change::Keep(answer) => return Ok(answer),
            Change::Write(new, answer) => (new, answer),
        };
        let bytes = store::encode(&new).map_err(|e| {
            ShadowError::internal(format!(
                "cannot encode shadow document {}: {e}",
                docs.describe(key)
            ))
        })?;
        match docs.put(key, &bytes, expect) {
            Ok(_) => return Ok(answer),
            Err(DocError::Conflict { .. }) => continue,
            Err(e) => {
                return Err(ShadowError::internal(format!(
                    "cannot write shadow document {}: {e}",
                    docs.describe(key)
                )))
            }
        }
    }
    Err(ShadowError::internal(format!(
        "shadow document {} kept changing: {ATTEMPTS} attempts each found another host's \
         write in between",
        docs.describe(key)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{MAX_SHADOW_NAME, MAX_THING_NAME};

    /// Every byte a shadow name may hold (`[$a-zA-Z0-9:_-]`); a thing name's are these
    /// without `$`.
    const SHADOW_ALPHABET: &[u8] =
        b"$:_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    /// A small deterministic generator (xorshift), so the many-names cases below are the same
    /// on every run and a failure names its seed.
    struct Names(u64);

    impl Names {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// A name of 1..=`max` bytes from `alphabet`, often heavy in `:` and `$` (the
        /// escaped bytes) to reach the longest encodings.
        fn name(&mut self, alphabet: &[u8], max: usize) -> String {
            let len = 1 + (self.next() % max as u64) as usize;
            let escaped_share = self.next() % 4;
            (0..len)
                .map(|_| {
                    let r = self.next();
                    let i = if r % 4 < escaped_share {
                        (r / 4) as usize % 2
                    } else {
                        (r / 4) as usize % alphabet.len()
                    };
                    char::from(alphabet[i])
                })
                .collect()
        }
    }

    #[test]
    fn names_encode_as_documented_and_decode_back() {
        assert_eq!(encode_segment("my:Thing_1-a"), "my=cThing_1-a");
        assert_eq!(encode_segment("$sim:Shadow"), "=dsim=cShadow");
        assert_eq!(encode_segment("a=b.c/d"), "a=3Db=2Ec=2Fd");
        assert_eq!(encode_segment("é"), "=C3=A9");
        for name in [
            "t",
            "my:Thing_1-a",
            "$sim:Shadow",
            "a=b.c/d",
            "é",
            "::$$",
            "=",
        ] {
            assert_eq!(decode_segment(&encode_segment(name)).as_deref(), Some(name));
        }
        // Every single byte of both alphabets, alone and between plain ones.
        for &b in SHADOW_ALPHABET {
            let c = char::from(b);
            for name in [c.to_string(), format!("a{c}b"), format!("{c}{c}")] {
                assert_eq!(decode_segment(&encode_segment(&name)), Some(name));
            }
        }
    }

    /// Only what `encode_segment` writes decodes: anything else would map a listed key to a
    /// name whose own key is a different one.
    #[test]
    fn segments_the_encoding_cannot_write_do_not_decode() {
        for bad in [
            "=", "=3", "=3a", "=61", "=2D", "a=zz", "a:b", "$x", "a.b", "=C3", "=FF", "a b", "=3A",
            "=24", "=e", "=C", "=D",
        ] {
            assert_eq!(decode_segment(bad), None, "{bad:?}");
        }
        assert_eq!(decode_segment(""), Some(String::new()));
    }

    /// The round trip and the key rules for many valid names (the longest included): every
    /// key is one a document store accepts, with one segment per name, and decodes back.
    #[test]
    fn every_valid_name_round_trips_into_a_valid_key() {
        let mut gen = Names(0x5eed_0001);
        let thing_alphabet = &SHADOW_ALPHABET[1..];
        for case in 0..5000 {
            let thing = gen.name(thing_alphabet, MAX_THING_NAME);
            let shadow = gen.name(SHADOW_ALPHABET, MAX_SHADOW_NAME);
            assert_eq!(decode_segment(&encode_segment(&thing)), Some(thing.clone()));
            assert_eq!(
                decode_segment(&encode_segment(&shadow)),
                Some(shadow.clone())
            );
            let named = ShadowKey::new(&thing, Some(&shadow)).expect("valid names");
            let classic = ShadowKey::new(&thing, None).expect("valid thing");
            for key in [named, classic] {
                let doc_key =
                    key_of("shadows", &key).unwrap_or_else(|e| panic!("case {case}: {key:?}: {e}"));
                check_key(&doc_key).expect("a checked key");
                let segs: Vec<&str> = doc_key.split('/').collect();
                assert_eq!(decode_segment(segs[1]).as_deref(), Some(key.thing()));
                match key.shadow_name() {
                    None => assert_eq!(segs[2..], ["classic"]),
                    Some(n) => {
                        assert_eq!(segs[2], "named");
                        assert_eq!(decode_segment(segs[3]).as_deref(), Some(n));
                        assert_eq!(segs.len(), 4);
                    }
                }
            }
        }
        // The longest names of the escaped bytes fit too, under a prefix of 100 bytes.
        let key = ShadowKey::new(&":".repeat(128), Some(&"$".repeat(64))).expect("key");
        let prefix = "p".repeat(100);
        check_key(&key_of(&prefix, &key).expect("fits")).expect("valid");
    }

    #[test]
    fn keys_follow_the_documented_layout() {
        let named = ShadowKey::new("my:thing", Some("$sim:1")).expect("key");
        assert_eq!(
            key_of("weir/shadows", &named).expect("key"),
            "weir/shadows/my=cthing/named/=dsim=c1"
        );
        let classic = ShadowKey::new("t-1", None).expect("key");
        assert_eq!(
            key_of("shadows", &classic).expect("key"),
            "shadows/t-1/classic"
        );
        assert_eq!(named_folder("shadows", "a:b"), "shadows/a=cb/named");
    }
}
