//! The HTTP server loop with the limits a hostile client meets: at most `max_connections`
//! served at once, a deadline for each request's headers, an idle deadline, a write deadline,
//! and a graceful stop. `axum::serve` gives hyper no timer, so a client that opens a
//! connection and sends nothing would hold it forever; this loop drives hyper's connections
//! itself with a tokio timer. A connection speaks HTTP/1.1 or, when it opens with the HTTP/2
//! preface, cleartext HTTP/2 (the JavaScript SDK's Kinesis client sends every call that way).
//!
//! Every connection has a watchdog ([`watchdog`]) fed by a service wrapper that counts the
//! requests in flight and sees each response frame handed to hyper:
//! - **idle**: no request in flight and none started for `header_timeout`, and the connection
//!   is shut down gracefully (HTTP/2: GOAWAY), whatever keep-alive PINGs it answers. hyper's
//!   own HTTP/2 keep-alive only finds dead peers, so a client that answers PINGs and sends
//!   nothing held its slot forever;
//! - **write stall**: a response frame that hyper took and has not come back for within
//!   `write_timeout` (its HTTP/2 flow-control window or the TCP buffer stayed full: the client
//!   stopped reading), and the connection is dropped at once, which frees the request's task,
//!   its buffered events and the slot. This is what ends a SubscribeToShard whose client
//!   stopped reading: its writer otherwise waits forever on a full window.
//!
//! Body size, body deadlines, the signature and the body memory budget are the handler's
//! (`lib.rs`), before a body is read.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

/// Connection limits of the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once; further clients wait in the kernel's listen backlog.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, counted from when the server
    /// starts waiting for them; also the idle timeout: a connection (HTTP/1.1 keep-alive or
    /// HTTP/2) with no request in flight and none started for this long is closed.
    pub header_timeout: Duration,
    /// Longest a response frame may wait for the client to take it (a full HTTP/2 window or
    /// TCP buffer) before the connection is dropped.
    pub write_timeout: Duration,
    /// How long a stop, or the graceful close of an idle connection, waits for requests in
    /// progress.
    pub drain_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
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

/// What one connection's requests are doing, as its watchdog sees it.
#[derive(Debug)]
struct Activity {
    /// Requests whose handler runs or whose response body hyper still holds.
    in_flight: usize,
    /// When `in_flight` last changed (or the connection opened): idle is measured from here.
    since: Instant,
    /// Response frames hyper has taken and not come back for, by request: since when.
    unpolled: BTreeMap<u64, Instant>,
}

/// One connection's activity, shared by its service (every request) and its watchdog.
#[derive(Debug)]
struct ConnActivity {
    tx: watch::Sender<Activity>,
    next_id: AtomicU64,
}

impl ConnActivity {
    fn new() -> Self {
        ConnActivity {
            tx: watch::Sender::new(Activity {
                in_flight: 0,
                since: Instant::now(),
                unpolled: BTreeMap::new(),
            }),
            next_id: AtomicU64::new(0),
        }
    }
}

/// A request in flight on its connection, from the handler's call until hyper drops the
/// response body (sent, or the connection gone). Also the body's write-stall marker.
#[derive(Debug)]
struct InFlight {
    conn: Arc<ConnActivity>,
    id: u64,
}

impl InFlight {
    fn start(conn: Arc<ConnActivity>) -> Self {
        let id = conn.next_id.fetch_add(1, Ordering::Relaxed);
        conn.tx.send_modify(|a| {
            a.in_flight += 1;
            a.since = Instant::now();
        });
        InFlight { conn, id }
    }

    /// hyper took a frame: it must come back for the next one within the write timeout.
    fn handed(&self) {
        let id = self.id;
        self.conn.tx.send_if_modified(|a| {
            a.unpolled.insert(id, Instant::now());
            // Only a first pending frame moves the watchdog's nearest deadline earlier.
            a.unpolled.len() == 1
        });
    }

    /// hyper came back: the frame it took has been written on.
    fn polled(&self) {
        let id = self.id;
        // A later deadline never needs waking the watchdog: it re-reads when its timer fires.
        self.conn.tx.send_if_modified(|a| {
            a.unpolled.remove(&id);
            false
        });
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let id = self.id;
        self.conn.tx.send_modify(|a| {
            a.in_flight = a.in_flight.saturating_sub(1);
            a.since = Instant::now();
            a.unpolled.remove(&id);
        });
    }
}

/// A response body that tells its connection's watchdog when hyper takes a frame and when
/// it comes back for the next, and keeps its request counted as in flight until dropped.
#[derive(Debug)]
struct TrackedBody {
    inner: Body,
    flight: InFlight,
    handed: bool,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.handed {
            this.flight.polled();
            this.handed = false;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled {
            this.flight.handed();
            this.handed = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The router as hyper calls it, with every request tracked on its connection.
#[derive(Clone)]
struct Tracked {
    inner: TowerToHyperService<Router>,
    conn: Arc<ConnActivity>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = hyper::Response<TrackedBody>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<hyper::Response<TrackedBody>, Infallible>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        // Counted from the call: a handler that is still reading or working is not idle.
        let flight = InFlight::start(self.conn.clone());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(resp.map(|inner| TrackedBody {
                inner,
                flight,
                handed: false,
            }))
        })
    }
}

/// Why a watchdog ends its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Nothing in flight and nothing started for the idle timeout: close gracefully.
    Idle,
    /// A response frame waited longer than the write timeout: drop the connection.
    Stalled,
}

/// Resolves when the connection has been idle for `idle`, or a response frame has waited
/// for the client longer than `write`.
async fn watchdog(mut rx: watch::Receiver<Activity>, idle: Duration, write: Duration) -> Ending {
    loop {
        let next = {
            let a = rx.borrow_and_update();
            let stall = a
                .unpolled
                .values()
                .min()
                .map(|t| (*t + write, Ending::Stalled));
            let quiet = (a.in_flight == 0).then(|| (a.since + idle, Ending::Idle));
            match (stall, quiet) {
                (Some(s), Some(q)) => Some(if s.0 <= q.0 { s } else { q }),
                (s, q) => s.or(q),
            }
        };
        match next {
            Some((deadline, ending)) if deadline <= Instant::now() => return ending,
            Some((deadline, _)) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    changed = rx.changed() => {
                        if changed.is_err() {
                            // The service is gone, so is the connection: nothing to watch.
                            std::future::pending::<()>().await;
                        }
                    }
                }
            }
            None => {
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
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
        let activity = Arc::new(ConnActivity::new());
        let watched = activity.tx.subscribe();
        let service = Tracked {
            inner: TowerToHyperService::new(app.clone()),
            conn: activity,
        };
        tokio::spawn(serve_connection(
            stream,
            service,
            watched,
            stop_rx.clone(),
            limits,
            permit,
        ));
    }
    let _ = stop_tx.send(true);
    // Every connection holds a permit: having them all back means every one has ended.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.drain_timeout, permits.acquire_many(all)).await;
}

/// Serves one connection (HTTP/1.1 or HTTP/2, told apart by its first bytes) until the
/// peer closes it, the server stops (then gracefully, bounded by the drain timeout), or the
/// watchdog ends it: idle past the header timeout (gracefully) or not reading its response
/// (dropped). The permit is held until it has ended, which is what `serve` waits for.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    service: Tracked,
    watched: watch::Receiver<Activity>,
    mut stop: watch::Receiver<bool>,
    limits: ServerLimits,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    // Until its first bytes tell HTTP/1.1 from HTTP/2, a connection is under the
    // header deadline too: hyper's protocol detection itself would wait forever.
    if !protocol_known(&stream, limits.header_timeout).await {
        return;
    }
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    // Keep-alive PINGs find dead peers; the watchdog closes live idle ones.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.header_timeout);
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
    let graceful = tokio::select! {
        _ = conn.as_mut() => false,
        () = stopping => true,
        ending = watchdog(watched, limits.header_timeout, limits.write_timeout) => {
            if ending == Ending::Stalled {
                tracing::debug!(
                    write_timeout_ms = limits.write_timeout.as_millis() as u64,
                    "API connection dropped: the client stopped reading its response"
                );
            }
            ending == Ending::Idle
        }
    };
    if graceful {
        // HTTP/2 sends GOAWAY and waits for its streams; HTTP/1.1 closes once the
        // response in progress (if any) is written. Bounded: a peer that never lets
        // either finish is dropped.
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(limits.drain_timeout, conn.as_mut()).await;
    }
    drop(permit);
}
