//! AWS IoT's Device Shadow service for Weir: classic and named shadows with `desired` /
//! `reported` state, per-field metadata, versions and optimistic locking, deltas, and AWS's
//! error codes and texts, kept durably in a folder or, for hosts that share shadows, in a
//! `weir_support::docstore::DocStore` (a NATS JetStream KV bucket in a cluster).
//!
//! **No MQTT, HTTP, async runtime or clock here.** The broker and the REST API call
//! [`ShadowService`] with a payload and the time, and send the documents it returns: an
//! [`UpdateOutcome`]'s `accepted` / `delta` / `documents`, `get`'s and `delete`'s document, a
//! [`NamedShadowPage`], or a [`ShadowError`]'s `/rejected` document. Keeping the protocol out
//! keeps every AWS rule a unit test (`model.rs`, `tests.rs`, each documented example citing its
//! page).
//!
//! `topics.rs` names AWS's shadow topics (`ShadowTopic::parse` for a request's thing, shadow
//! and operation, `reply` for its `/accepted`, `/rejected`, `/delta` and `/documents` topics),
//! as strings, for the broker.
//!
//! An update returns only after its document is on disk (file and folder fsync'd) or, on a
//! document store, written there; see `store.rs` for the file layout and why it is one file
//! per shadow, and `docs.rs` for the document keys and why a shared store is never cached.

// Private modules: the crate's API is what the root re-exports.
mod docs;
mod error;
mod model;
mod names;
mod service;
mod store;
mod topics;

pub use error::{ShadowError, ShadowErrorKind};
pub use model::{request_client_token, ShadowLimits, MAX_CLIENT_TOKEN_BYTES};
pub use names::{ShadowKey, MAX_SHADOW_NAME, MAX_THING_NAME};
pub use service::{
    NamedShadowPage, ShadowService, UpdateOutcome, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, TOMBSTONE_MS,
};
pub use topics::{is_answer_topic, ShadowOp, ShadowReply, ShadowTopic};

#[cfg(test)]
mod tests;
