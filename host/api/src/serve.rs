//! The HTTP server loop with the limits a hostile client meets: at most `max_connections`
//! served at once, a deadline for each request's headers (which also closes a keep-alive
//! connection left idle), and a graceful stop. `axum::serve` gives hyper no timer, so a
//! client that opens a connection and sends nothing would hold it forever; this loop drives
//! hyper's connections itself with a tokio timer. A connection speaks HTTP/1.1 or, when it
//! opens with the HTTP/2 preface, cleartext HTTP/2 (the JavaScript SDK's Kinesis client
//! sends every call that way); an HTTP/2 connection that stays idle is closed by keep-alive
//! pings that go unanswered. Body size and body deadlines are
//! enforced per action by the handler (`lib.rs`), before a body is read.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Connection limits of the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once; further clients wait in the kernel's listen backlog.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, counted from when the server
    /// starts waiting for them (so it also ends an idle keep-alive connection).
    pub header_timeout: Duration,
    /// How long a stop waits for requests in progress.
    pub drain_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// The HTTP/2 connection preface.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits, at most `within`, until the bytes the client sent decide its protocol: they
/// differ from the HTTP/2 preface (HTTP/1.1) or hold all of it. False when the client sent
/// too little in time or closed.
async fn protocol_known(stream: &tokio::net::TcpStream, within: Duration) -> bool {
    let sniff = async {
        let mut buf = [0u8; 24];
        loop {
            match stream.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) if n >= H2_PREFACE.len() || buf[..n] != H2_PREFACE[..n] => return true,
                // A prefix of the preface: wait for more without spinning on the same bytes.
                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    tokio::time::timeout(within, sniff).await.unwrap_or(false)
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in progress
/// finish (up to `drain_timeout`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (EMFILE) and the like: say so and give the system a
                    // moment rather than spinning on the same error.
                    tracing::warn!(error = %e, "API accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            // Until its first bytes tell HTTP/1.1 from HTTP/2, a connection is under the
            // header deadline too: hyper's protocol detection itself would wait forever.
            if !protocol_known(&stream, header_timeout).await {
                drop(permit);
                return;
            }
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(Some(header_timeout))
                .keep_alive_timeout(header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let stopping = async move {
                loop {
                    let stopped = *stop.borrow_and_update();
                    if stopped || stop.changed().await.is_err() {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = conn.as_mut() => {}
                () = stopping => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    // Every connection holds a permit: having them all back means every one has ended.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.drain_timeout, permits.acquire_many(all)).await;
}
