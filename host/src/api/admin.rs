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
//! Invariant: only plain JSON leaves this module; no runtime type is serialised.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use crate::plugins::{PluginRegistry, PluginSlot, ReloadOutcome};

/// The admin routes over `registry`.
pub fn router(registry: Arc<PluginRegistry>) -> Router {
    Router::new()
        .route("/plugins", get(list))
        .route("/plugins/{name}/reload", post(reload))
        .with_state(registry)
}

fn describe(slot: &PluginSlot) -> Value {
    let current = slot.current();
    let status = slot.status();
    let versions: Vec<Value> = slot
        .version_counters()
        .into_iter()
        .map(|(version, c)| {
            let faults: Map<String, Value> = c
                .faults
                .iter()
                .map(|(kind, n)| (kind.as_str().to_string(), json!(n)))
                .collect();
            json!({
                "version": version,
                "calls": c.calls,
                "records_in": c.records_in,
                "records_out": c.records_out,
                "record_errors": c.record_errors,
                "faults": faults,
                "time_in_guest_ms": c.time_in_guest.as_secs_f64() * 1e3,
            })
        })
        .collect();
    json!({
        "name": slot.name(),
        "kind": current.kind().as_str(),
        "path": slot.path().display().to_string(),
        "version": current.version(),
        "loaded_at_ms": current
            .loaded_at()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        "load_ms": current.load_time().as_secs_f64() * 1e3,
        "from_cache": current.from_cache(),
        "swaps": status.swaps,
        "last_error": status.last_error,
        "versions": versions,
    })
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

async fn list(State(registry): State<Arc<PluginRegistry>>) -> Response {
    let plugins: Vec<Value> = registry.slots().iter().map(|s| describe(s)).collect();
    reply(StatusCode::OK, json!({ "plugins": plugins }))
}

async fn reload(State(registry): State<Arc<PluginRegistry>>, Path(name): Path<String>) -> Response {
    let Some(slot) = registry.get(&name) else {
        return reply(
            StatusCode::NOT_FOUND,
            json!({ "error": format!("no plugin named {name:?}") }),
        );
    };
    // Compiling can take a while: keep it off the async workers.
    let worker = slot.clone();
    let result = tokio::task::spawn_blocking(move || worker.reload()).await;
    match result {
        Ok(Ok(ReloadOutcome::Swapped {
            from,
            to,
            load_time,
        })) => reply(
            StatusCode::OK,
            json!({
                "outcome": "swapped",
                "from": from,
                "to": to,
                "load_ms": load_time.as_secs_f64() * 1e3,
            }),
        ),
        Ok(Ok(ReloadOutcome::Unchanged { version })) => reply(
            StatusCode::OK,
            json!({ "outcome": "unchanged", "version": version }),
        ),
        Ok(Err(e)) => reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "error": e.to_string(),
                "serving": slot.current().version(),
            }),
        ),
        Err(join) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": format!("reload task failed: {join}") }),
        ),
    }
}
