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
//! [`guard`] protects these routes, the host's `/metrics` and its `POST /rules/test`: when keys
//! or a token are configured, a caller needs `Authorization: Bearer TOKEN` or a SigV4
//! signature with one of the API's keys (checked from the headers first; a request with a body
//! then has the body, at most [`MAX_ADMIN_BODY`], checked against the signed hash); and a
//! state-changing request that a browser sent (it carries `Origin` or `Sec-Fetch-Site`) is
//! refused, so a web page the operator opens cannot trigger a reload.
//!
//! The registry lives in the plugin runtime (the crate that links wasmtime); this crate sees it
//! only through [`PluginAdmin`], so the HTTP surface builds and tests without wasmtime.
//!
//! Invariant: only plain JSON leaves this module; no runtime type is serialised.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
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
        /// Which compiler's code serves now: "quick" until the optimised build replaces it.
        tier: &'static str,
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

/// Who may call the admin routes and `/metrics`. Both empty: anyone (the host says so at
/// start).
#[derive(Debug, Clone, Default)]
pub struct AdminAuth {
    /// The API's SigV4 keys: access key id -> secret.
    pub keys: HashMap<String, String>,
    /// A bearer token.
    pub token: Option<String>,
}

impl AdminAuth {
    /// Whether anyone may call.
    pub fn is_open(&self) -> bool {
        self.keys.is_empty() && self.token.is_none()
    }

    /// Whether `req` may pass, from its headers: `Ok(None)` admitted, `Ok(Some(check))` a
    /// SigV4 signature whose body hash is still to be checked against the body.
    fn admits(&self, req: &Request) -> Result<Option<crate::sigv4::BodyCheck>, &'static str> {
        if self.is_open() {
            return Ok(None);
        }
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match (auth.and_then(|a| a.strip_prefix("Bearer ")), &self.token) {
            (Some(given), Some(token)) => {
                return if weir_sigv4::constant_time_eq(given.trim(), token) {
                    Ok(None)
                } else {
                    Err("the bearer token is not the configured admin_token")
                };
            }
            (Some(_), None) => return Err("no admin_token is configured; sign with SigV4"),
            (None, _) => {}
        }
        if self.keys.is_empty() {
            return Err("send Authorization: Bearer <admin_token>");
        }
        let now = weir_support::now_ms() / 1000;
        // The signature is checked from the headers before any body is read.
        crate::sigv4::check_headers(req.method(), req.uri(), req.headers(), &self.keys, now)
            .map(Some)
            .map_err(|_| SIGV4_OR_TOKEN)
    }
}

/// Whether a browser sent it: browsers add `Origin` to cross-origin and POST requests and
/// `Sec-Fetch-Site` to every request; `curl`, SDKs and scripts send neither.
fn from_a_browser(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::ORIGIN)
        || h.get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() != b"none")
}

const SIGV4_OR_TOKEN: &str = "a SigV4 signature with one of [api] verify_keys, or Authorization: Bearer <admin_token>, is required";

/// The largest body an admin request may carry (`POST /rules/test`'s SQL and payload); a
/// SigV4-signed one is read up to this to check its hash.
pub const MAX_ADMIN_BODY: usize = 1 << 20;

/// Middleware for the admin routes and `/metrics`; see the module docs.
pub async fn guard(State(auth): State<Arc<AdminAuth>>, req: Request, next: Next) -> Response {
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    if !reads && from_a_browser(&req) {
        return reply(
            StatusCode::FORBIDDEN,
            json!({ "error": "requests from web pages are refused on the admin routes" }),
        );
    }
    let unauthorized = |why: &str| {
        let mut resp = reply(StatusCode::UNAUTHORIZED, json!({ "error": why }));
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        resp
    };
    let body_check = match auth.admits(&req) {
        Ok(None) => return next.run(req).await,
        Ok(Some(check)) => check,
        Err(why) => return unauthorized(why),
    };
    // A signed request: its body (empty for reads) must hash to what was signed.
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ADMIN_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "error": format!("an admin request's body is at most {MAX_ADMIN_BODY} bytes") }),
            )
        }
    };
    if body_check.verify(&bytes).is_err() {
        return unauthorized(SIGV4_OR_TOKEN);
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// The admin routes over `admin`.
pub fn router(admin: Arc<dyn PluginAdmin>) -> Router {
    Router::new()
        .route("/plugins", get(list))
        .route("/plugins/{name}/reload", post(reload))
        .with_state(admin)
}

/// A JSON response (axum's `json` feature is not compiled in; this is all it would do here):
/// the admin routes' answers, and the host's `POST /rules/test`.
pub fn reply(status: StatusCode, body: Value) -> Response {
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
        Ok(Some(ReloadReply::Swapped {
            from,
            to,
            load_ms,
            tier,
        })) => reply(
            StatusCode::OK,
            json!({ "outcome": "swapped", "from": from, "to": to, "load_ms": load_ms, "tier": tier }),
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
