//! The HTTP API a host serves on `[api] listen`: the Kinesis and Firehose APIs, the plugin
//! admin routes, `POST /rules/test` and `/metrics` behind the admin credentials, and an open
//! `/health` that a load balancer or systemd can poll.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{probe_host, HostError};
use crate::runtime::ingress::Listening;
use crate::runtime::liveness::Liveness;
use crate::runtime::metrics::Metrics;
use weir_config::{Broker, Config};
use weir_plugins::PluginRegistry;
use weir_streams::Streams;

/// The API once it listens: its address, the sender that stops it, and its thread.
pub(super) struct ApiServer {
    pub(super) addr: SocketAddr,
    pub(super) stop: tokio::sync::oneshot::Sender<()>,
    pub(super) thread: JoinHandle<()>,
}

/// Builds the runtime the API serves on. The Firehose service's object-store requests run on
/// it too, which is why the host builds it before the service (and the rules) rather than
/// inside [`start`].
pub(super) fn runtime(config: &Config) -> Result<tokio::runtime::Runtime, HostError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("weir-api")
        .enable_all()
        .build()
        .map_err(|source| HostError::Api {
            addr: config.api.listen.clone(),
            what: "starting its runtime",
            source,
        })
}

/// The Kinesis API's state over `streams` with the `[api]` settings; the caller adds the
/// Firehose service.
pub(super) fn state(config: &Config, streams: Streams) -> weir_api::ApiState {
    weir_api::ApiState::new(
        streams,
        weir_api::ApiConfig {
            keys: config.api.verify_keys.clone().into_iter().collect(),
            body_timeout: config.api.body_timeout,
            body_budget_bytes: usize::try_from(config.api.body_budget_bytes).unwrap_or(usize::MAX),
            ..weir_api::ApiConfig::default()
        },
    )
}

/// `state` serving the IoT data plane too: the host's shadow store and its broker publisher
/// (`runtime/http_publish.rs`), so an HTTP `Publish` reaches subscribers and the rules.
pub(super) fn with_iot_data(
    state: weir_api::ApiState,
    resources: &crate::runtime::resources::Resources,
) -> weir_api::ApiState {
    let state = state.with_mqtt(crate::runtime::http_publish::BrokerPublish::shared(
        resources.publisher.clone(),
    ));
    match &resources.shadows {
        Some(shadows) => state.with_shadows(shadows.clone()),
        None => state,
    }
}

/// Binds `[api] listen` and serves `state` plus the admin and health routes in a thread of
/// its own. Binding here, before the host is returned, makes a taken port fail `weir run` at
/// start rather than leave a host nobody can reach.
pub(super) fn start(
    config: &Config,
    rt: tokio::runtime::Runtime,
    state: weir_api::ApiState,
    metrics: &Arc<Metrics>,
    registry: Arc<PluginRegistry>,
    listening: Option<Listening>,
) -> Result<ApiServer, HostError> {
    let api_err = |what: &'static str| {
        let addr = config.api.listen.clone();
        move |source| HostError::Api { addr, what, source }
    };
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(&config.api.listen))
        .map_err(api_err("cannot listen"))?;
    let addr = listener.local_addr().map_err(api_err("cannot listen"))?;
    let app = Router::new()
        .merge(health_route(
            &config.broker,
            listening,
            metrics.liveness.clone(),
        ))
        .merge(guarded_routes(config, addr, metrics.clone(), registry))
        .merge(weir_api::router(state));
    let limits = weir_api::ServerLimits {
        max_connections: config.api.max_connections,
        header_timeout: config.api.header_timeout,
        ..weir_api::ServerLimits::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("weir-api".into())
        .spawn(move || {
            rt.block_on(weir_api::serve(listener, app, limits, async move {
                let _ = stopped.await;
            }));
        })
        .map_err(api_err("starting its thread"))?;
    Ok(ApiServer { addr, stop, thread })
}

/// `/metrics`, the plugin admin routes and `POST /rules/test`, behind the same credentials as the Kinesis API
/// (keys) or the admin token. Warns when the API is open to anyone who can reach `addr`.
fn guarded_routes(
    config: &Config,
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    registry: Arc<PluginRegistry>,
) -> Router {
    let admin_auth = Arc::new(weir_api::admin::AdminAuth {
        keys: config.api.verify_keys.clone().into_iter().collect(),
        token: config.api.admin_token.clone(),
    });
    if admin_auth.keys.is_empty() {
        tracing::warn!(
            addr = %addr,
            "[api] has no verify_keys: anyone who can reach this address can call the Kinesis API{}",
            if admin_auth.is_open() { ", reload plugins and read /metrics" } else { "" }
        );
    }
    let reg = registry.clone();
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let text = metrics.render(Some(&reg));
                async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
            }),
        )
        .merge(weir_api::admin::router(crate::runtime::plugin_admin(
            registry,
        )))
        .merge(super::rule_test_api::router())
        .layer(axum::middleware::from_fn_with_state(
            admin_auth,
            weir_api::admin::guard,
        ))
}

/// `/health`, open to everyone: 200 while the broker answers and every worker lives, 503
/// with the reason otherwise, both with the uptime and which broker the host uses.
fn health_route(broker: &Broker, listening: Option<Listening>, liveness: Arc<Liveness>) -> Router {
    let started = Instant::now();
    let broker_desc = match (broker, listening) {
        (Broker::Embedded(_), Some(at)) => format!("embedded {}", at.v4),
        (Broker::Embedded(b), None) => format!("embedded {}", b.listen),
        (Broker::External(b), _) => format!("external {}", b.url),
    };
    let broker = broker.clone();
    Router::new().route(
        "/health",
        get(move || {
            health(
                broker.clone(),
                listening,
                liveness.clone(),
                started,
                broker_desc.clone(),
            )
        }),
    )
}

/// The broker is probed end to end (CONNECT -> CONNACK), so a listener that serves nobody
/// makes the host unhealthy; so does a dead worker.
async fn health(
    broker: Broker,
    listening: Option<Listening>,
    liveness: Arc<Liveness>,
    started: Instant,
    broker_desc: String,
) -> Response {
    let probe = tokio::task::spawn_blocking(move || probe_host(&broker, listening, &liveness))
        .await
        .unwrap_or_else(|e| Err(format!("probe task failed: {e}")));
    let (status, body) = match probe {
        Ok(()) => (
            StatusCode::OK,
            serde_json::json!({
                "status": "ok",
                "uptime_s": started.elapsed().as_secs(),
                "broker": broker_desc,
            }),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({
                "status": "failing",
                "uptime_s": started.elapsed().as_secs(),
                "broker": broker_desc,
                "error": e,
            }),
        ),
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
