//! [`ShadowService`]: the four operations of AWS's Device Shadow service over the store, in
//! the shape both callers need. The MQTT side publishes an outcome's documents on
//! `.../update/accepted`, `.../update/delta` and `.../update/documents` and an error's
//! [`ShadowError::rejected_document`] on `.../rejected`; the REST side answers with the
//! accepted document or the error's code and `kind().rest_error_type()`.
//!
//! **Concurrency.** Each shadow has its own mutex, held from reading the current version to
//! the end of the fsync'd write, so updates of one shadow are serialised (two with the same
//! expected `version`: one wins, the other gets 409) while different shadows proceed in
//! parallel. The map of mutexes is locked only to find or add one.
//!
//! **Two backends.** [`ShadowService::open`] keeps shadows in a folder this process owns
//! (`store.rs`), and caches each shadow after its first read. [`ShadowService::on_docs`]
//! keeps them in a shared [`DocStore`] (`docs.rs`), where other hosts write too: there the
//! per-shadow mutex still orders this host's own requests, but every operation reads the
//! document afresh and writes compare-and-set, redoing the operation when another host won
//! the race.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use weir_support::docstore::{check_key, DocStore};
use weir_support::lock;

use crate::docs;
use crate::error::{ShadowError, ShadowErrorKind};
use crate::model::{self, ShadowDoc, ShadowLimits};
use crate::names::{check_shadow_name, check_thing_name, ShadowKey};
use crate::store::{self, Stored};

/// How long a deleted shadow's version is remembered: "If you create a device shadow document
/// that has the same name as one that was deleted within the past 48 hours, the version
/// number of the new device shadow document will follow that of the deleted one. If a device
/// shadow document has been deleted for more than 48 hours, the version number of a new
/// device shadow document with the same name will be 0." ("Interacting with shadows").
pub const TOMBSTONE_MS: i64 = 48 * 3600 * 1000;

/// ListNamedShadowsForThing's `pageSize` range (1 to 100, the SDKs' validation) and the page
/// size used when none is given (AWS does not document its default).
pub const MAX_PAGE_SIZE: usize = 100;
pub const DEFAULT_PAGE_SIZE: usize = 25;

/// An accepted update: the documents AWS publishes for it. All are JSON values in AWS's
/// field order (`serde_json::to_vec` gives the payload).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateOutcome {
    /// The shadow's version after the update.
    pub version: u64,
    /// `/update/accepted`, and UpdateThingShadow's response body.
    pub accepted: Value,
    /// `/update/delta`, when the update set desired state and desired and reported differ.
    pub delta: Option<Value>,
    /// `/update/documents`.
    pub documents: Value,
}

/// One page of ListNamedShadowsForThing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedShadowPage {
    pub results: Vec<String>,
    /// Pass back to get the next page; `None` on the last one.
    pub next_token: Option<String>,
    /// Seconds.
    pub timestamp: u64,
}

impl NamedShadowPage {
    /// AWS's "Shadow name list response document": `results`, `nextToken` (absent on the last
    /// page), `timestamp`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("results".into(), Value::from(self.results.clone()));
        if let Some(t) = &self.next_token {
            m.insert("nextToken".into(), Value::from(t.clone()));
        }
        m.insert("timestamp".into(), Value::from(self.timestamp));
        Value::Object(m)
    }
}

/// What one shadow's mutex guards: on the Files backend, its file's content once read. A
/// damaged file is not cached: each use reads it again, so a file an operator repairs or
/// moves away is seen without a restart. On the Docs backend nothing is cached (`loaded`
/// stays `None`): the mutex only keeps this host's requests for the shadow in order.
#[derive(Default)]
struct Slot {
    loaded: Option<Option<Stored>>,
}

/// Where the shadows are kept.
#[derive(Debug)]
enum Backend {
    /// A folder this process owns: `store.rs`'s layout.
    Files(PathBuf),
    /// A document store that other hosts may share: `docs.rs`'s layout under `prefix`.
    Docs {
        store: Arc<dyn DocStore>,
        prefix: String,
    },
}

/// What an operation does with the shadow it read: leave it, or replace it with a new
/// stored content; either way with the operation's answer.
pub(crate) enum Change<T> {
    Keep(T),
    /// Boxed: a shadow is a few hundred bytes, most answers far less.
    Write(Box<Stored>, T),
}

/// The Device Shadow service over a folder or a document store. Share it across threads
/// (`Arc<ShadowService>`); every method takes `&self`.
pub struct ShadowService {
    backend: Backend,
    limits: ShadowLimits,
    slots: Mutex<HashMap<ShadowKey, Arc<Mutex<Slot>>>>,
}

impl std::fmt::Debug for ShadowService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowService")
            .field("backend", &self.backend)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ShadowService {
    /// Opens (creating it if needed) the store in `dir` with AWS's limits. Reads no shadow:
    /// each is read on first use (see [`ShadowService::check`] for a scan at start).
    pub fn open(dir: &Path) -> Result<ShadowService, ShadowError> {
        ShadowService::open_with(dir, ShadowLimits::default())
    }

    /// [`ShadowService::open`] with other limits.
    pub fn open_with(dir: &Path, limits: ShadowLimits) -> Result<ShadowService, ShadowError> {
        weir_support::create_dir_all_synced(dir).map_err(|e| {
            ShadowError::internal(format!(
                "cannot create shadow folder {}: {e}",
                dir.display()
            ))
        })?;
        Ok(ShadowService::with_backend(
            Backend::Files(dir.to_path_buf()),
            limits,
        ))
    }

    /// The service over a shared document store: each shadow is the document
    /// `PREFIX/THING/classic` or `PREFIX/THING/named/NAME` of `docs` (names encoded, see
    /// `docs.rs`), holding the same bytes as a shadow file. Several services (on several
    /// hosts) may share `docs`: no copy is cached, and writes are compare-and-set. Reads
    /// nothing; `prefix` must be a valid document key (one or more segments, such as
    /// `"shadows"`), else a 500.
    pub fn on_docs(
        docs: Arc<dyn DocStore>,
        prefix: &str,
        limits: ShadowLimits,
    ) -> Result<ShadowService, ShadowError> {
        check_key(prefix).map_err(|e| {
            ShadowError::internal(format!("bad prefix for the shadow documents: {e}"))
        })?;
        Ok(ShadowService::with_backend(
            Backend::Docs {
                store: docs,
                prefix: prefix.to_string(),
            },
            limits,
        ))
    }

    fn with_backend(backend: Backend, limits: ShadowLimits) -> ShadowService {
        ShadowService {
            backend,
            limits,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The folder of a service made by [`ShadowService::open`]; `None` for one on a document
    /// store.
    pub fn dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Files(dir) => Some(dir),
            Backend::Docs { .. } => None,
        }
    }

    pub fn limits(&self) -> ShadowLimits {
        self.limits
    }

    /// Reads every shadow file and returns the errors of those that cannot be read (each
    /// names its file), for a log line at start. The others are cached on the way.
    ///
    /// On a document store this reads nothing and finds no problems: the documents belong
    /// to every host sharing the store, so what one host finds at its start says little (any
    /// host may rewrite a shadow a moment later), and reading every shadow of a cluster over
    /// the network at each start would cost more than it tells. A damaged document is
    /// reported by each request that meets it, naming the document.
    pub fn check(&self) -> Vec<ShadowError> {
        let mut problems = Vec::new();
        let Backend::Files(dir) = &self.backend else {
            return problems;
        };
        let Ok(things) = std::fs::read_dir(dir) else {
            return problems;
        };
        let mut keys = Vec::new();
        for thing in things.flatten() {
            let Some(thing) = thing.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let Ok(classic) = ShadowKey::new(&thing, None) else {
                continue;
            };
            keys.push(classic);
            match store::named_files(&store::named_dir(dir, &thing)) {
                Ok(names) => keys.extend(
                    names
                        .iter()
                        .filter_map(|n| ShadowKey::new(&thing, Some(n)).ok()),
                ),
                Err(e) => problems.push(e),
            }
        }
        keys.sort();
        for key in keys {
            if let Err(e) = self.with_shadow(&key, |_| Ok(Change::Keep(()))) {
                problems.push(e);
            }
        }
        problems
    }

    fn slot(&self, key: &ShadowKey) -> Arc<Mutex<Slot>> {
        lock(&self.slots).entry(key.clone()).or_default().clone()
    }

    /// Runs `op` on the stored content of `key` (tombstones included; `None` when there is
    /// none) under the shadow's mutex, and stores what it returns to write, durably, before
    /// answering. On the Files backend the content is read on first use and cached; on the
    /// Docs backend it is read each time, and `op` runs again on a fresh read when another
    /// host wrote meanwhile (see `docs::with_doc`), so `op` must compute from its argument
    /// alone.
    fn with_shadow<T>(
        &self,
        key: &ShadowKey,
        mut op: impl FnMut(Option<&Stored>) -> Result<Change<T>, ShadowError>,
    ) -> Result<T, ShadowError> {
        let slot = self.slot(key);
        let mut g = lock(&slot);
        match &self.backend {
            Backend::Files(dir) => {
                let path = store::path_of(dir, key);
                if g.loaded.is_none() {
                    g.loaded = Some(store::read(&path)?);
                }
                let stored = g.loaded.as_ref().and_then(Option::as_ref);
                match op(stored)? {
                    Change::Keep(answer) => Ok(answer),
                    Change::Write(new, answer) => {
                        if let Err(e) = store::write(&path, &new) {
                            // The file may hold the old content or (a failed folder sync) the
                            // new one: read it again next time rather than trust either.
                            g.loaded = None;
                            return Err(e);
                        }
                        g.loaded = Some(Some(*new));
                        Ok(answer)
                    }
                }
            }
            Backend::Docs { store, prefix } => {
                docs::with_doc(store.as_ref(), &docs::key_of(prefix, key)?, op)
            }
        }
    }

    /// UpdateThingShadow / a publish on `.../update`. Creates the shadow if there is none.
    /// Returns once the new document is on disk (file and folder fsync'd).
    pub fn update(
        &self,
        thing: &str,
        shadow_name: Option<&str>,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<UpdateOutcome, ShadowError> {
        let req = model::parse_update(payload, &self.limits)?;
        let token = req.client_token.as_deref();
        let key = ShadowKey::new(thing, shadow_name).map_err(|e| e.with_token(token))?;
        let ts = model::ts(now_ms);
        self.with_shadow(&key, |stored| {
            let (live, current_version) = live_and_version(stored, now_ms);
            if req.version.is_some_and(|v| v != current_version) {
                return Err(ShadowError::new(
                    ShadowErrorKind::Conflict,
                    "Version conflict",
                ));
            }
            let next = current_version.checked_add(1).ok_or_else(|| {
                ShadowError::internal(format!("{key:?}: version {current_version} cannot grow"))
            })?;
            let doc = model::apply(live, &req, next, ts);
            if model::state_size(&doc) > self.limits.max_state_bytes {
                return Err(ShadowError::too_large());
            }
            let outcome = UpdateOutcome {
                version: doc.version,
                accepted: model::accepted_document(&req, doc.version, ts),
                delta: model::delta_document(&req, &doc, ts),
                documents: model::documents_document(live, &doc, token, ts),
            };
            let new = Stored {
                doc,
                deleted_at_ms: None,
            };
            Ok(Change::Write(Box::new(new), outcome))
        })
        .map_err(|e| e.with_token(token))
    }

    /// GetThingShadow / a publish on `.../get`: the whole document with its delta. `client_token`
    /// is the request's, if any (see [`crate::request_client_token`] for an MQTT payload).
    pub fn get(
        &self,
        thing: &str,
        shadow_name: Option<&str>,
        client_token: Option<&str>,
        now_ms: i64,
    ) -> Result<Value, ShadowError> {
        let key = ShadowKey::new(thing, shadow_name).map_err(|e| e.with_token(client_token))?;
        self.with_shadow(&key, |stored| match live_and_version(stored, now_ms).0 {
            Some(doc) => Ok(Change::Keep(model::get_document(
                doc,
                client_token,
                model::ts(now_ms),
            ))),
            None => Err(ShadowError::no_shadow(key.display_name())),
        })
        .map_err(|e| e.with_token(client_token))
    }

    /// DeleteThingShadow / a publish on `.../delete`: `{"version", "timestamp"}` of the deleted
    /// shadow. The version is kept in a tombstone, so a shadow recreated within 48 hours
    /// continues it ("Deleting a shadow does not reset its version number to 0").
    pub fn delete(
        &self,
        thing: &str,
        shadow_name: Option<&str>,
        client_token: Option<&str>,
        now_ms: i64,
    ) -> Result<Value, ShadowError> {
        let key = ShadowKey::new(thing, shadow_name).map_err(|e| e.with_token(client_token))?;
        self.with_shadow(&key, |stored| {
            let Some(doc) = live_and_version(stored, now_ms).0 else {
                return Err(ShadowError::no_shadow(key.display_name()));
            };
            let version = doc.version;
            let tombstone = Stored {
                doc: ShadowDoc {
                    version,
                    ..ShadowDoc::default()
                },
                deleted_at_ms: Some(now_ms),
            };
            let answer = model::delete_document(version, client_token, model::ts(now_ms));
            Ok(Change::Write(Box::new(tombstone), answer))
        })
        .map_err(|e| e.with_token(client_token))
    }

    /// ListNamedShadowsForThing: the thing's named shadows in name order (the classic shadow
    /// is not listed; a thing with none, or no such thing, gives an empty list). `next_token`
    /// is a previous page's; `page_size` is 1 to 100.
    pub fn list_named(
        &self,
        thing: &str,
        next_token: Option<&str>,
        page_size: Option<usize>,
        now_ms: i64,
    ) -> Result<NamedShadowPage, ShadowError> {
        check_thing_name(thing)?;
        let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(ShadowError::bad_request("Invalid pageSize"));
        }
        // The token is the first name of the next page.
        if let Some(t) = next_token {
            check_shadow_name(t).map_err(|_| ShadowError::bad_request("Invalid nextToken"))?;
        }
        let names = match &self.backend {
            Backend::Files(dir) => store::named_files(&store::named_dir(dir, thing))?,
            // One listing of the thing's folder, then a read of each document below to leave
            // out tombstones.
            Backend::Docs { store, prefix } => docs::named(store.as_ref(), prefix, thing)?,
        };
        let mut results = Vec::new();
        let mut next = None;
        for name in names
            .into_iter()
            .filter(|n| next_token.is_none_or(|t| n.as_str() >= t))
        {
            let key = ShadowKey::new(thing, Some(&name))?;
            // A damaged file is still a shadow that exists: listed, and its get says why
            // it cannot be read.
            let exists = self
                .with_shadow(&key, |stored| {
                    Ok(Change::Keep(live_and_version(stored, now_ms).0.is_some()))
                })
                .unwrap_or(true);
            if !exists {
                continue;
            }
            if results.len() == page_size {
                next = Some(name);
                break;
            }
            results.push(name);
        }
        Ok(NamedShadowPage {
            results,
            next_token: next,
            timestamp: model::ts(now_ms),
        })
    }
}

/// The live shadow (none for no file or a tombstone) and the version a request's `version`
/// must match: the live one's, a tombstone's within 48 hours, else 0.
fn live_and_version(stored: Option<&Stored>, now_ms: i64) -> (Option<&ShadowDoc>, u64) {
    match stored {
        None => (None, 0),
        Some(Stored {
            doc,
            deleted_at_ms: None,
        }) => (Some(doc), doc.version),
        Some(Stored {
            doc,
            deleted_at_ms: Some(at),
        }) => {
            let version = if now_ms.saturating_sub(*at) <= TOMBSTONE_MS {
                doc.version
            } else {
                0
            };
            (None, version)
        }
    }
}
