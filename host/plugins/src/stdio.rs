//! Guest stdout/stderr: captured, bounded, never failing.
//!
//! A Rust guest prints its panic message to stderr just before it traps; keeping the tail of
//! stderr lets the host put "panicked at src/lib.rs:12: index out of bounds" into the error
//! action instead of a bare `unreachable`. The buffer keeps only the last [`TAIL_BYTES`], and
//! writes never fail: a guest whose `eprintln!` hit a full pipe would panic on that alone.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// How much of the guest's output is kept.
pub const TAIL_BYTES: usize = 4096;

/// The last [`TAIL_BYTES`] a guest wrote; clones share the buffer.
#[derive(Clone, Default, Debug)]
pub struct OutputTail(Arc<Tail>);

#[derive(Default, Debug)]
struct Tail {
    bytes: Mutex<VecDeque<u8>>,
    /// Set on every write, so the host's check after each call costs one atomic load when the
    /// guest printed nothing, which is nearly always.
    written: AtomicBool,
}

impl OutputTail {
    fn push(&self, bytes: &[u8]) {
        self.0.written.store(true, Ordering::Release);
        let mut buf = self.0.bytes.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
        let overflow = (buf.len() + bytes.len()).saturating_sub(TAIL_BYTES);
        buf.drain(..overflow);
        buf.extend(bytes);
    }

    /// Takes what was written since the last call, as (lossy) text.
    pub fn take(&self) -> String {
        if !self.0.written.swap(false, Ordering::AcqRel) {
            return String::new();
        }
        let mut buf = self.0.bytes.lock().unwrap_or_else(|p| p.into_inner());
        let bytes: Vec<u8> = buf.drain(..).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl IsTerminal for OutputTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for OutputTail {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for OutputTail {
    async fn ready(&mut self) {}
}

impl OutputStream for OutputTail {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(TAIL_BYTES)
    }
}

impl AsyncWrite for OutputTail {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_tail() {
        let t = OutputTail::default();
        t.push(b"hello ");
        t.push(&vec![b'x'; TAIL_BYTES]);
        t.push(b"end");
        let s = t.take();
        assert_eq!(s.len(), TAIL_BYTES);
        assert!(s.ends_with("xend"));
        assert_eq!(t.take(), "");
    }
}
