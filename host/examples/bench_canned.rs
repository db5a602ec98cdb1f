//! A trivial HTTP endpoint that answers every request with the same canned 200 response,
//! to measure the load generator's own ceiling. `bench-canned 127.0.0.1:PORT`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (mut sock, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 20];
                let mut have = 0usize;
                const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}";
                loop {
                    // find the end of the headers, then skip Content-Length bytes of body
                    let Ok(n) = sock.read(&mut buf[have..]).await else { return };
                    if n == 0 {
                        return;
                    }
                    have += n;
                    while let Some(h) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..h]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                            .unwrap_or(0);
                        let total = h + 4 + len;
                        if have < total {
                            if total > buf.len() {
                                buf.resize(total, 0);
                            }
                            break;
                        }
                        buf.copy_within(total..have, 0);
                        have -= total;
                        if sock.write_all(RESP).await.is_err() {
                            return;
                        }
                    }
                    if have == buf.len() {
                        buf.resize(buf.len() * 2, 0);
                    }
                }
            });
        }
        #[allow(unreachable_code)]
        anyhow::Ok(())
    })
}
