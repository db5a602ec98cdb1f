//! Hostile MQTT clients against `weir run`'s embedded broker (rumqttd, patched: see
//! `patches/rumqttd/PATCHES.md`). After each attack an honest client's QoS 1 publish is
//! acknowledged and lands in the stream.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::Command;

use common::{free_port, Weir};

/// An MQTT 3.1.1 CONNECT with a clean session and this client id.
fn connect_packet(client_id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60];
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut p = vec![0x10, body.len() as u8];
    p.extend(body);
    p
}

/// Closes with a TCP reset (SO_LINGER 0) instead of a FIN.
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `linger`, which lives for the call, on a socket we own.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

fn honest_publish(port: u16, client_id: &str, n: &str) {
    let out = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args([
            "-i",
            client_id,
            "-t",
            "in/x",
            "-m",
            &format!("{{\"n\":{n}}}"),
        ])
        .output()
        .expect("mosquitto_pub");
    assert!(
        out.status.success(),
        "an honest QoS 1 publish after the attack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn connect_then_reset_before_connack_with_one_client_id_does_not_silence_the_broker() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mqtt = free_port();
    let text = format!(
        "[broker]\nlisten = \"127.0.0.1:{mqtt}\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n\n[storage]\ndir = \"data\"\n\n[streams.out]\n\n[rules.r]\nsql = \"SELECT * FROM 'in/#'\"\n\n[[rules.r.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"k\"\n"
    );
    let cfg = tmp.path().join("weir.toml");
    std::fs::write(&cfg, text).expect("write config");
    let weir = Weir::start(&cfg);
    for round in 0..30 {
        let mut s = TcpStream::connect(("127.0.0.1", mqtt)).expect("connect");
        s.write_all(&connect_packet("victim"))
            .expect("send CONNECT");
        if round % 3 == 0 {
            // Sometimes give the broker time to answer; never read the CONNACK.
            let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(20)));
            let _ = std::io::Read::read(&mut s, &mut [0u8; 4]);
        }
        reset(s);
    }
    // The same client id, and another one, are still served.
    honest_publish(mqtt, "victim", "1");
    honest_publish(mqtt, "bystander", "2");
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="0:kinesis:out"}"#,
        2,
    );
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    assert_eq!(records.len(), 2, "{records:?}");
}

/// Whether the broker closes `s` within `within`.
fn closed_by_broker(s: &mut TcpStream, within: std::time::Duration) -> bool {
    use std::io::Read;
    let _ = s.set_read_timeout(Some(within));
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn idle_garbage_and_oversized_clients_are_cut_off_and_health_probes_the_broker() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mqtt = free_port();
    let text = format!(
        "[broker]\nlisten = \"127.0.0.1:{mqtt}\"\nconnect_timeout_ms = 300\nmax_packet_bytes = 4096\nmax_inflight = 10\n\n[api]\nlisten = \"127.0.0.1:0\"\n\n[storage]\ndir = \"data\"\n\n[streams.out]\n\n[rules.r]\nsql = \"SELECT * FROM 'in/#'\"\n\n[[rules.r.actions]]\nkind = \"kinesis\"\nstream = \"out\"\npartition_key = \"k\"\n"
    );
    let cfg = tmp.path().join("weir.toml");
    std::fs::write(&cfg, text).expect("write config");
    let weir = Weir::start(&cfg);
    let wait = std::time::Duration::from_secs(10);

    // Hundreds of sockets that never send CONNECT are closed after the CONNECT timeout.
    let mut idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(("127.0.0.1", mqtt)).expect("connect"))
        .collect();
    for s in idle.iter_mut().take(10) {
        assert!(closed_by_broker(s, wait), "an idle socket stays open");
    }
    drop(idle);

    // Garbage, and a fixed header announcing a 256 MiB packet.
    let mut g = TcpStream::connect(("127.0.0.1", mqtt)).expect("connect");
    let _ = g.write_all(&[0xff; 64]);
    assert!(closed_by_broker(&mut g, wait));
    let mut big = TcpStream::connect(("127.0.0.1", mqtt)).expect("connect");
    let _ = big.write_all(&connect_packet("huge"));
    let _ = big.write_all(&[0x32, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert!(closed_by_broker(&mut big, wait));

    // A publish over max_packet_bytes is refused (the publisher is disconnected).
    let oversized = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &mqtt.to_string(), "-q", "1"])
        .args(["-t", "in/x", "-m", &"x".repeat(8192)])
        .output()
        .expect("mosquitto_pub");
    let _ = oversized;

    honest_publish(mqtt, "after-attacks", "1");
    weir.wait_metric(
        r#"weir_action_delivered_total{rule="r",action="0:kinesis:out"}"#,
        1,
    );
    let health = weir.get("/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let (status, _) = weir.terminate();
    assert!(status.success());
    let records = common::read_stream(&tmp.path().join("data/streams"), "out");
    assert_eq!(
        records.len(),
        1,
        "the oversized publish is not in the stream: {records:?}"
    );
}
