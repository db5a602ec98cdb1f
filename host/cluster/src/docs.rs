//! `weir_support::docstore::DocStore` over a KV bucket: the small documents (Firehose
//! catalogs, checkpoints) that every host of a cluster must see, with the same
//! compare-and-set contract as the single-host folder store. A document's revision is its
//! KV revision (the bucket stream's sequence), so revisions rise across hosts and a deleted
//! document's successor never reuses its predecessor's revision.
//!
//! DocStore keys (`/`-separated segments of letters, digits, `-`, `_`, `=`, inner `.`) are
//! valid KV keys as they are, so they are stored unchanged.

use std::io;

use weir_support::docstore::{check_key, DocError, DocExpect, DocRevision, DocStore};

use crate::{ClusterError, KvMeta};

/// How often a write that races another host re-reads before it reports a conflict.
const ATTEMPTS: usize = 8;

/// Documents in one KV bucket.
pub(crate) struct KvDocStore {
    kv: KvMeta,
}

impl std::fmt::Debug for KvDocStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvDocStore")
            .field("bucket", &self.kv.bucket())
            .finish()
    }
}

impl KvDocStore {
    pub(crate) fn new(kv: KvMeta) -> KvDocStore {
        KvDocStore { kv }
    }

    fn io(&self, key: &str, what: &str, e: ClusterError) -> DocError {
        DocError::Io {
            key: key.to_owned(),
            what: format!("{what} in KV bucket {}", self.kv.bucket()),
            source: io::Error::other(e),
        }
    }

    fn current(&self, key: &str) -> Result<Option<DocRevision>, DocError> {
        Ok(self.get(key)?.map(|(_, r)| r))
    }

    fn conflict(&self, key: &str, expected: DocExpect) -> DocError {
        DocError::Conflict {
            key: key.to_owned(),
            expected,
            found: self.current(key).ok().flatten(),
        }
    }
}

impl DocStore for KvDocStore {
    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, DocRevision)>, DocError> {
        check_key(key)?;
        Ok(self
            .kv
            .get(key)
            .map_err(|e| self.io(key, "cannot read", e))?
            .map(|e| (e.value.to_vec(), DocRevision(e.revision))))
    }

    fn put(&self, key: &str, bytes: &[u8], expect: DocExpect) -> Result<DocRevision, DocError> {
        check_key(key)?;
        match expect {
            DocExpect::Absent => match self.kv.create(key, bytes) {
                Ok(r) => Ok(DocRevision(r)),
                Err(ClusterError::Exists(_)) => Err(self.conflict(key, expect)),
                Err(e) => Err(self.io(key, "cannot create", e)),
            },
            DocExpect::Revision(r) => match self.kv.update(key, bytes, r.0) {
                Ok(r) => Ok(DocRevision(r)),
                Err(ClusterError::Conflict { .. }) => Err(self.conflict(key, expect)),
                Err(e) => Err(self.io(key, "cannot write", e)),
            },
            DocExpect::Any => {
                for _ in 0..ATTEMPTS {
                    let outcome = match self.current(key)? {
                        Some(r) => self.kv.update(key, bytes, r.0),
                        None => self.kv.create(key, bytes),
                    };
                    match outcome {
                        Ok(r) => return Ok(DocRevision(r)),
                        Err(ClusterError::Conflict { .. } | ClusterError::Exists(_)) => {}
                        Err(e) => return Err(self.io(key, "cannot write", e)),
                    }
                }
                Err(self.conflict(key, expect))
            }
        }
    }

    fn delete(&self, key: &str, expect: DocExpect) -> Result<(), DocError> {
        check_key(key)?;
        for _ in 0..ATTEMPTS {
            let found = self.current(key)?;
            let rev = match (expect, found) {
                (DocExpect::Any | DocExpect::Absent, None) => return Ok(()),
                (DocExpect::Absent, Some(_)) => return Err(self.conflict(key, expect)),
                (DocExpect::Revision(want), Some(have)) if want == have => have,
                (DocExpect::Revision(_), _) => return Err(self.conflict(key, expect)),
                (DocExpect::Any, Some(have)) => have,
            };
            match self.kv.delete(key, rev.0) {
                Ok(()) => return Ok(()),
                Err(ClusterError::Conflict { .. }) if expect == DocExpect::Any => {}
                Err(ClusterError::Conflict { .. }) => return Err(self.conflict(key, expect)),
                Err(e) => return Err(self.io(key, "cannot delete", e)),
            }
        }
        Err(self.conflict(key, expect))
    }

    /// Lists the bucket's subjects (one request to the leader: a key is one subject token,
    /// so no subject filter can select a folder) and reads the entries of the keys directly
    /// under `prefix` only.
    fn keys(&self, prefix: &str) -> Result<Vec<String>, DocError> {
        if !prefix.is_empty() {
            check_key(prefix)?;
        }
        // The folder's filter runs before any entry is read (`keys_where`), so listing one
        // thing's named shadows does not read every shadow in the bucket.
        let in_folder = |k: &str| {
            let rest = if prefix.is_empty() {
                Some(k)
            } else {
                k.strip_prefix(prefix).and_then(|r| r.strip_prefix('/'))
            };
            rest.is_some_and(|r| !r.contains('/')) && check_key(k).is_ok()
        };
        let mut out: Vec<String> = self
            .kv
            .keys_where(in_folder)
            .map_err(|e| self.io(prefix, "cannot list", e))?;
        out.sort();
        Ok(out)
    }

    fn describe(&self, key: &str) -> String {
        format!("key {key} of NATS KV bucket {}", self.kv.bucket())
    }
}
