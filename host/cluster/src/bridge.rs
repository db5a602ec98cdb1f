//! The sync-to-async bridge: the streams engine is sync (its callers are API `spawn_blocking`
//! tasks, pipeline and Firehose threads), the NATS client is async. The bridge owns a small
//! multi-thread runtime of its own that runs the client; a sync caller hands it a future and
//! waits on a channel for the answer.
//!
//! It never uses `Handle::block_on`, which panics on a runtime thread, and refuses to wait on
//! one of its own threads, where waiting would starve the very runtime that must answer.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

use crate::{ClusterConfig, ClusterError, ClusterResult as Result};

/// The name of the bridge runtime's threads (workers and blocking threads alike).
const THREAD_NAME: &str = "weir-nats";

/// How long a connection attempt to one server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connected NATS client on its own runtime, callable from sync code.
pub struct Bridge {
    /// `Some` until drop, which shuts it down without waiting (a drop may happen on an async
    /// thread, where waiting for the workers would panic).
    runtime: Option<Runtime>,
    handle: Handle,
    client: async_nats::Client,
    js: jetstream::Context,
    config: ClusterConfig,
    /// The bridge whose runtime and connection this one shares ([`Bridge::under_prefix`]):
    /// held so they outlive it.
    _parent: Option<std::sync::Arc<Bridge>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field(
                "nats",
                &weir_support::nats_names::redacted_list(&self.config.nats),
            )
            .field("prefix", &self.config.prefix)
            .finish_non_exhaustive()
    }
}

/// Whether the current thread belongs to a bridge runtime.
fn on_bridge_thread() -> bool {
    std::thread::current().name() == Some(THREAD_NAME)
}

/// Runs `fut` on `handle` and waits for it from this (non-runtime) thread.
fn wait_on<F>(handle: &Handle, fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    debug_assert!(
        !on_bridge_thread(),
        "a blocking cluster call on a weir-nats runtime thread would deadlock it"
    );
    if on_bridge_thread() {
        return Err(ClusterError::OnBridgeThread);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        // The caller may have gone (it cannot: it waits below); nothing to do then.
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|_| ClusterError::BridgeGone)
}

impl Bridge {
    /// Validates `config`, starts the runtime (2 workers named `weir-nats`) and connects to the
    /// servers. Fails when none of them answers within the connect timeout.
    pub fn connect(config: &ClusterConfig) -> Result<Bridge> {
        config.validate()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(THREAD_NAME)
            .enable_all()
            .build()
            .map_err(ClusterError::Runtime)?;
        let handle = runtime.handle().clone();
        let cfg = config.clone();
        // The JetStream context starts a task of its own: made on the runtime.
        let (client, js) = wait_on(&handle, async move {
            let client = connect(cfg).await?;
            let js = jetstream::new(client.clone());
            Ok::<_, ClusterError>((client, js))
        })??;
        Ok(Bridge {
            runtime: Some(runtime),
            handle,
            client,
            js,
            config: config.clone(),
            _parent: None,
        })
    }

    /// The same connection under another `prefix`: a second, separate layout on the cluster
    /// (the Firehose buffers beside the streams) without a second connection or runtime.
    pub fn under_prefix(self: &std::sync::Arc<Self>, prefix: &str) -> Result<Bridge> {
        let config = ClusterConfig {
            prefix: prefix.to_owned(),
            ..self.config.clone()
        };
        config.validate()?;
        Ok(Bridge {
            runtime: None,
            handle: self.handle.clone(),
            client: self.client.clone(),
            js: self.js.clone(),
            config,
            _parent: Some(self.clone()),
        })
    }

    /// Runs `fut` on the bridge runtime and blocks this thread until it finishes. Must not be
    /// called from a bridge thread (a debug assertion; an error in release builds).
    pub fn call<F>(&self, fut: F) -> Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        wait_on(&self.handle, fut)
    }

    /// Starts `fut` on the bridge runtime, for async callers (subscriptions) that `.await` the
    /// handle instead of blocking a thread.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(fut)
    }

    /// The bridge runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The NATS client (cheap to clone; it reconnects by itself).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context over the client.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// The validated config this bridge was connected with.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Each server's `sync_always` (its `jetstream.sync_interval: always`), by server name,
    /// or `None` when this connection may not ask: the servers answer `$SYS.REQ.SERVER.PING.VARZ`
    /// only to users of the system account. Collects the answers that come within `wait`.
    pub fn server_sync_always(&self, wait: Duration) -> Result<Option<Vec<(String, bool)>>> {
        let client = self.client.clone();
        self.call(async move {
            use futures_util::StreamExt as _;
            let inbox = client.new_inbox();
            let mut replies = client.subscribe(inbox.clone()).await.ok()?;
            client
                .publish_with_reply("$SYS.REQ.SERVER.PING.VARZ", inbox, "{}".into())
                .await
                .ok()?;
            client.flush().await.ok()?;
            let mut out = Vec::new();
            let deadline = tokio::time::Instant::now() + wait;
            while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, replies.next()).await {
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&msg.payload) else {
                    continue;
                };
                let name = v["server"]["name"].as_str().unwrap_or("?").to_owned();
                // The server omits `sync_always` when it is false.
                let always = v["data"]["jetstream"]["config"]["sync_always"]
                    .as_bool()
                    .unwrap_or(false);
                out.push((name, always));
            }
            out.sort();
            (!out.is_empty()).then_some(out)
        })
    }

    /// Says at start whether an acknowledged write survives a power cut of a quorum: a warning
    /// naming each server that runs without `sync_interval: always`, or a note that the
    /// setting cannot be seen from this account (see docs/cluster.md).
    pub fn report_sync_setting(&self) {
        match self.server_sync_always(Duration::from_millis(500)) {
            Ok(Some(servers)) => {
                let lax: Vec<&str> = servers
                    .iter()
                    .filter(|(_, always)| !always)
                    .map(|(name, _)| name.as_str())
                    .collect();
                if lax.is_empty() {
                    tracing::info!(servers = servers.len(), "every NATS server fsyncs each write (sync_interval: always)");
                } else {
                    tracing::warn!(servers = ?lax, "these NATS servers acknowledge writes before fsyncing them (no `sync_interval: always`): a power cut of a quorum can lose acknowledged records");
                }
            }
            Ok(None) | Err(_) => tracing::info!(
                "cannot see the NATS servers' fsync setting from this account (a system-account user can); run them with `jetstream.sync_interval: always` or a power cut of a quorum can lose acknowledged records"
            ),
        }
    }

    /// Whether JetStream answers for this account: the meta group has a leader and the
    /// account is enabled. A cluster that just started is not ready until it does.
    pub fn jetstream_ready(&self) -> Result<()> {
        let js = self.js.clone();
        self.call(async move { js.query_account().await })?
            .map(|_| ())
            .map_err(|e| ClusterError::js("account info", "the account", e))
    }

    /// The server name of the leader of stream `name` (its Raft group), `None` while it has
    /// none (an election in progress).
    pub fn stream_leader(&self, name: &str) -> Result<Option<String>> {
        let js = self.js.clone();
        let stream = name.to_string();
        let info = self.call(async move {
            let s = js.get_stream_no_info(&stream).await?;
            s.get_info().await.map_err(async_nats::Error::from)
        })?;
        let info = info.map_err(|e| ClusterError::js("stream info", name, e))?;
        Ok(info.cluster.and_then(|c| c.leader))
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Connects with `config`'s servers, credentials and TLS.
async fn connect(config: ClusterConfig) -> Result<async_nats::Client> {
    let mut options = async_nats::ConnectOptions::new()
        .name("weir")
        .connection_timeout(CONNECT_TIMEOUT)
        // Unlimited reconnects: a server restart or leader move must not end the client.
        .max_reconnects(None);
    if let Some(path) = &config.creds {
        options = options
            .credentials_file(path)
            .await
            .map_err(|e| ClusterError::Config {
                field: "creds",
                reason: format!("{}: {e}", path.display()),
            })?;
    }
    if let Some(tls) = &config.tls {
        options = options.require_tls(true);
        if let Some(ca) = &tls.ca_file {
            options = options.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
    }
    let addrs = config
        .nats
        .iter()
        .map(|s| s.parse::<async_nats::ServerAddr>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ClusterError::Config {
            field: "nats",
            reason: e.to_string(),
        })?;
    // The client ignores credentials in a URL (`nats://user:pass@host`): pass the first
    // ones given as the connection's user and password.
    if let Some(a) = addrs.iter().find(|a| a.has_user_pass()) {
        options = options.user_and_password(
            a.username().unwrap_or_default().to_owned(),
            a.password().unwrap_or_default().to_owned(),
        );
    }
    options
        .connect(addrs)
        .await
        .map_err(|e| ClusterError::Connect {
            servers: weir_support::nats_names::redacted_list(&config.nats),
            source: e.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No server on the port: connect fails with the servers named, and does not hang.
    #[test]
    fn connect_to_nothing_fails_naming_the_servers() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let url = format!("nats://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        let e = Bridge::connect(&ClusterConfig::new(vec![url.clone()])).expect_err("no server");
        assert!(
            matches!(&e, ClusterError::Connect { servers, .. } if servers == &url),
            "{e:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn an_invalid_config_is_refused_before_connecting() {
        let e = Bridge::connect(&ClusterConfig::new(vec![])).expect_err("no servers");
        assert!(
            matches!(e, ClusterError::Config { field: "nats", .. }),
            "{e:?}"
        );
    }

    /// A blocking call from a bridge thread is refused (it would wait on its own runtime).
    #[test]
    fn a_call_from_a_bridge_thread_is_refused() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(THREAD_NAME)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = rt.handle().clone();
        let inner = handle.clone();
        let outcome = wait_on(&handle, async move {
            let on_thread = tokio::spawn(async move {
                std::panic::catch_unwind(|| wait_on(&inner, async { 1 }).map(|_| ()))
            });
            on_thread.await.expect("task")
        })
        .expect("outer call");
        match outcome {
            // Debug builds: the assertion fires; release builds: the typed error.
            Err(_) if cfg!(debug_assertions) => {}
            Ok(Err(ClusterError::OnBridgeThread)) if !cfg!(debug_assertions) => {}
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(wait_on(&handle, async { 2 }).expect("call"), 2);
        rt.shutdown_background();
    }
}
