//! Compiling the regular expressions of `regexp_matches`, `regexp_replace`
//! and `regexp_substr` within fixed bounds.
//!
//! A pattern may come from the message itself (`regexp_matches(s, p)`), so
//! a publisher chooses what the rule compiles. The `regex` crate guarantees
//! matching in linear time, but compiling is only bounded by its size
//! limits, which default to 10 MiB for the program and 2 MiB for the lazy
//! DFA of every compiled pattern. Every pattern here, literal or not, is
//! built by [`compile`] with much smaller limits, and patterns taken from
//! messages go through a small per-thread cache ([`dynamic`]) so that a
//! pattern repeated in every message is compiled once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use regex::{Regex, RegexBuilder};

use crate::eval::EvalError;

/// Longest pattern accepted, in bytes. Patterns in rules are short (AWS's
/// examples are a few dozen bytes); refusing longer ones before parsing
/// bounds the parser's work and each cache key.
pub(crate) const MAX_PATTERN_BYTES: usize = 4 * 1024;

/// `RegexBuilder::size_limit`: the most heap one compiled pattern's program
/// may use (the crate's default is 10 MiB). 1 MiB holds what rules match
/// on: ASCII classes with counts (`[0-9a-f]{8}-...` UUID checks compile to
/// 3 KiB, `[a-z]{1,64}` to 7 KiB) and Unicode classes without large counts
/// (`\w+` 50 KiB, `\d{1,100}` 500 KiB). It refuses large counts of Unicode
/// classes (`\w{1,32}` needs 1.6 MiB; the ASCII `[A-Za-z0-9_]{1,32}` is
/// small) and blow-ups such as `a{1000}{1000}` (32 MiB). A pattern just
/// under the limit takes about 10 ms to compile and, once it has scanned a
/// 128 KiB message, holds about 1.7 MiB (measured with regex 1.13).
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// `RegexBuilder::dfa_size_limit`: the most heap the lazy DFA's cache of one
/// compiled pattern may use. When it fills, the regex crate clears it or
/// falls back to a slower engine; matching stays correct and linear.
pub(crate) const REGEX_DFA_SIZE_LIMIT: usize = 1 << 20;

/// Distinct patterns from messages kept compiled per evaluating thread. A
/// rule usually sees one pattern, or a handful (one per device type), so 32
/// covers real use. A publisher that sends a new pattern in every message
/// gets no reuse, and the cache then costs at most 32 patterns at the
/// limits above (about 55 MiB per thread at worst, see
/// [`REGEX_SIZE_LIMIT`]), never more.
pub(crate) const CACHE_CAPACITY: usize = 32;

/// Why a pattern was not compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternError {
    /// Longer than [`MAX_PATTERN_BYTES`] (the length, in bytes).
    TooLong(usize),
    /// The program would need more than [`REGEX_SIZE_LIMIT`] bytes.
    TooBig,
    /// Not a valid pattern; the regex crate's explanation.
    Invalid(String),
}

impl PatternError {
    /// The evaluation error for a pattern taken from a message. An invalid
    /// pattern is not one: like any bad data in AWS it makes the call
    /// Undefined (`None` here). A pattern over the limits is refused
    /// loudly, so the rule's error action shows what was cut off.
    pub(crate) fn to_eval(&self, function: &'static str) -> Option<EvalError> {
        match self {
            PatternError::TooLong(len) => Some(EvalError::PatternTooLong {
                function,
                len: *len,
                limit: MAX_PATTERN_BYTES,
            }),
            PatternError::TooBig => Some(EvalError::PatternTooBig {
                function,
                limit: REGEX_SIZE_LIMIT,
            }),
            PatternError::Invalid(_) => None,
        }
    }
}

/// Compiles `pattern` within the limits above.
pub(crate) fn compile(pattern: &str) -> Result<Regex, PatternError> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(PatternError::TooLong(pattern.len()));
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => PatternError::TooBig,
            other => PatternError::Invalid(other.to_string()),
        })
}

thread_local! {
    /// Per thread, so evaluation needs no lock and [`crate::Rule`] stays
    /// `Send + Sync + Clone`; `Rc` because a cached regex never leaves its
    /// thread, and it keeps the regex's own match caches warm.
    static DYNAMIC: RefCell<PatternCache> = RefCell::new(PatternCache::new(CACHE_CAPACITY));
}

/// Compiles a pattern taken from a message, through this thread's cache.
pub(crate) fn dynamic(pattern: &str) -> Result<Rc<Regex>, PatternError> {
    DYNAMIC
        .try_with(|cache| match cache.try_borrow_mut() {
            Ok(mut cache) => cache.get_or_compile(pattern),
            // Not reached (nothing in here re-enters the cache), but
            // compiling uncached is correct, and panicking is not.
            Err(_) => compile(pattern).map(Rc::new),
        })
        // The thread is shutting down and its cache is gone.
        .unwrap_or_else(|_| compile(pattern).map(Rc::new))
}

/// How many patterns this thread's cache holds.
#[cfg(test)]
pub(crate) fn dynamic_len() -> usize {
    DYNAMIC.with(|c| c.borrow().len())
}

/// A bounded map from pattern to its compiled form (or to why it does not
/// compile: a hostile pattern repeated in every message is refused without
/// being compiled again). When full, the least recently used entry goes.
pub(crate) struct PatternCache {
    capacity: usize,
    /// Advances on every lookup; an entry's stamp is its last use.
    clock: u64,
    entries: HashMap<Box<str>, Entry>,
}

struct Entry {
    last_used: u64,
    compiled: Result<Rc<Regex>, PatternError>,
}

impl PatternCache {
    pub(crate) fn new(capacity: usize) -> Self {
        PatternCache {
            capacity: capacity.max(1),
            clock: 0,
            entries: HashMap::with_capacity(capacity.max(1)),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// The compiled `pattern`, compiling it on a miss. Eviction scans the
    /// entries, which is cheap next to the compilation it precedes.
    pub(crate) fn get_or_compile(&mut self, pattern: &str) -> Result<Rc<Regex>, PatternError> {
        self.clock += 1;
        if let Some(e) = self.entries.get_mut(pattern) {
            e.last_used = self.clock;
            return e.compiled.clone();
        }
        let compiled = compile(pattern).map(Rc::new);
        if self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        self.entries.insert(
            pattern.into(),
            Entry {
                last_used: self.clock,
                compiled: compiled.clone(),
            },
        );
        compiled
    }

    #[cfg(test)]
    fn contains(&self, pattern: &str) -> bool {
        self.entries.contains_key(pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_limits_refuse_long_and_big_patterns() {
        let long = "a".repeat(MAX_PATTERN_BYTES + 1);
        assert_eq!(compile(&long).err(), Some(PatternError::TooLong(4097)));
        assert!(compile(&"a".repeat(MAX_PATTERN_BYTES)).is_ok());
        assert_eq!(compile("a{1000}{1000}").err(), Some(PatternError::TooBig));
        assert!(matches!(compile("("), Err(PatternError::Invalid(_))));
        // What rules match on still fits.
        for ok in [
            r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
            r"\w+@\w+\.\w{2,}",
            r"^\p{L}+$",
            r"\d{1,100}",
            r"^[A-Za-z0-9_]{1,64}$",
            r"(\d{1,3}\.){3}\d{1,3}",
        ] {
            assert!(compile(ok).is_ok(), "{ok}");
        }
        // Large counts of Unicode classes do not (documented at the limit).
        assert_eq!(compile(r"^\w{1,32}$").err(), Some(PatternError::TooBig));
    }

    #[test]
    fn pattern_cache_returns_the_same_regex_for_a_repeated_pattern() {
        let mut cache = PatternCache::new(4);
        let a = cache.get_or_compile("^a+$").expect("compiles");
        let b = cache.get_or_compile("^a+$").expect("compiles");
        assert!(Rc::ptr_eq(&a, &b), "recompiled a cached pattern");
        assert_eq!(cache.len(), 1);
        // Refusals are cached too, and stay refusals.
        assert_eq!(
            cache.get_or_compile("a{1000}{1000}").err(),
            Some(PatternError::TooBig)
        );
        assert_eq!(
            cache.get_or_compile("a{1000}{1000}").err(),
            Some(PatternError::TooBig)
        );
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn pattern_cache_stays_bounded_and_evicts_the_least_recently_used() {
        let mut cache = PatternCache::new(CACHE_CAPACITY);
        let keep = cache.get_or_compile("keep").expect("compiles");
        for i in 0..(3 * CACHE_CAPACITY) {
            let p = format!("^p{i}$");
            assert!(cache.get_or_compile(&p).is_ok());
            assert!(cache.len() <= CACHE_CAPACITY);
            // Used on every round, so never the least recently used.
            let again = cache.get_or_compile("keep").expect("compiles");
            assert!(Rc::ptr_eq(&keep, &again));
        }
        assert_eq!(cache.len(), CACHE_CAPACITY);
        assert!(!cache.contains("^p0$"));
        assert!(cache.contains(&format!("^p{}$", 3 * CACHE_CAPACITY - 1)));
    }

    #[test]
    fn dynamic_cache_is_per_thread_and_bounded() {
        // A fresh thread, so other tests' patterns do not count.
        let handle = std::thread::spawn(|| {
            let a = dynamic("^x$").expect("compiles");
            let b = dynamic("^x$").expect("compiles");
            assert!(Rc::ptr_eq(&a, &b));
            for i in 0..(2 * CACHE_CAPACITY) {
                assert!(dynamic(&format!("^d{i}$")).is_ok());
            }
            dynamic_len()
        });
        assert_eq!(handle.join().ok(), Some(CACHE_CAPACITY));
    }
}
