//! Shared helpers for integration tests: the repository and its built plugin components; start
//! the server binary on a free port and talk to it with a tiny blocking HTTP/1.1 client (no
//! extra dependencies).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `cargo xtask plugins` put the components (`WEIR_PLUGIN_DIR` overrides).
pub fn plugin_dir() -> PathBuf {
    std::env::var_os("WEIR_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/plugins"))
}

/// A built component; fails with the command to build it rather than letting a test skip.
pub fn component(name: &str) -> PathBuf {
    let path = plugin_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} missing: run `cargo xtask plugins` first",
        path.display()
    );
    path
}

/// A running `weir streams serve`.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    /// Starts the server and returns once it printed `listening on ADDR`.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["streams", "serve", "--listen", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn weir streams serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let addr = loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(n) if n > 0 => {
                    if let Some(a) = line.trim().strip_prefix("listening on ") {
                        break Some(a.to_owned());
                    }
                }
                _ => break None,
            }
        };
        let mut server = Server {
            child,
            addr: addr.clone().unwrap_or_default(),
        };
        if addr.is_none() {
            server.kill();
            panic!("server exited before listening");
        }
        server
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL on unix
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// POSTs a Kinesis JSON request; returns (status, parsed body). Errors (connection reset
/// by a killed server) come back as `Err`.
pub fn call(
    addr: &str,
    action: &str,
    body: &serde_json::Value,
) -> std::io::Result<(u16, serde_json::Value)> {
    let payload = serde_json::to_vec(body).expect("json");
    let mut s = TcpStream::connect(addr)?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: Kinesis_20131202.{action}\r\nX-Amz-Date: 20260101T000000Z\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(&payload)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("truncated response"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let body = &raw[split + 4..];
    let v = serde_json::from_slice(body)
        .map_err(|e| std::io::Error::other(format!("bad body: {e}")))?;
    Ok((status, v))
}
