//! Admin endpoints for the plugin registry, mounted by the host next to the Kinesis API:
//!
//! - `GET /plugins`: every plugin with its serving version (content hash), load time, reload
//!   history, and per-version counters (calls, records in/out, record errors, faults by kind,
//!   time in the guest).
//! - `POST /plugins/{name}/reload`: the explicit reload. Compiles and health-checks the file's
//!   current content off the request thread and swaps it in between batches; answers 200 with
//!   the outcome, 404 for an unknown plugin, 422 with the reason when the new version was
//!   refused (the old one keeps serving).
//!
//! The registry lives in the plugin runtime (the crate that links wasmtime); this crate sees it
//! only through [`PluginAdmin`], so the HTTP surface builds and tests without wasmtime.
//!
//! Invariant: only plain JSON leaves this module; no runtime type is serialised.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

/// What a reload did, in plain values.
#[derive(Debug, Clone, PartialEq)]
pub enum ReloadReply {
    /// A new version was compiled, checked and swapped in.
    Swapped {
        from: String,
        to: String,
        load_ms: f64,
    },
    /// The file's content is the version already serving.
    Unchanged { version: String },
    /// The new version was refused; `serving` keeps serving.
    Refused { error: String, serving: String },
}

/// The plugin registry as the admin routes see it.
pub trait PluginAdmin: Send + Sync + 'static {
    /// Every plugin, each as one JSON object (name, kind, path, version, load time, swaps,
    /// last error, per-version counters).
    fn plugins(&self) -> Vec<Value>;
    /// Reloads `name` from its file, blocking until compiled and checked; `None` when no
    /// plugin has that name.
    fn reload(&self, name: &str) -> Option<ReloadReply>;
}

/// The admin routes over `admin`.
pub fn router(admin: Arc<dyn PluginAdmin>) -> Router {
    Router::new()
        .route("/plugins", get(list))
        .route("/plugins/{name}/reload", post(reload))
        .with_state(admin)
}

/// A JSON response (axum's `json` feature is not compiled in; this is all it would do here).
fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn list(State(admin): State<Arc<dyn PluginAdmin>>) -> Response {
    reply(StatusCode::OK, json!({ "plugins": admin.plugins() }))
}

async fn reload(State(admin): State<Arc<dyn PluginAdmin>>, Path(name): Path<String>) -> Response {
    // Compiling can take a while: keep it off the async workers.
    let worker = admin.clone();
    let wanted = name.clone();
    let result = tokio::task::spawn_blocking(move || worker.reload(&wanted)).await;
    match result {
        Ok(None) => reply(
            StatusCode::NOT_FOUND,
            json!({ "error": format!("no plugin named {name:?}") }),
        ),
        Ok(Some(ReloadReply::Swapped { from, to, load_ms })) => reply(
            StatusCode::OK,
            json!({ "outcome": "swapped", "from": from, "to": to, "load_ms": load_ms }),
        ),
        Ok(Some(ReloadReply::Unchanged { version })) => reply(
            StatusCode::OK,
            json!({ "outcome": "unchanged", "version": version }),
        ),
        Ok(Some(ReloadReply::Refused { error, serving })) => reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "error": error, "serving": serving }),
        ),
        Err(join) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": format!("reload task failed: {join}") }),
        ),
    }
}
