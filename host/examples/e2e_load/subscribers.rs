//! The subscribers of the mosquitto runs: the load tool's rumqttc client or `mosquitto_sub`.

use super::*;

/// Who receives mosquitto's forwarded messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SubKind {
    /// The load tool's client (rumqttc, `weir_device::connection::Connection`), on a thread
    /// and runtime of its own like Weir's shard readers.
    Rumqttc,
    /// mosquitto's own C client, `mosquitto_sub -F '%U %p'`: its receive time and the payload.
    MosquittoSub,
}

/// `mosquitto_sub` subscribes to this too; a probe coming back means the subscription is live.
pub(super) const PROBE_TOPIC: &str = "bench/probe";

/// A subscriber running for one mosquitto run.
pub(super) struct RunningSub {
    pub(super) thread: std::thread::JoinHandle<Result<Receiver, String>>,
    pub(super) child: Option<Child>,
}

pub(super) fn start_rumqttc_sub(
    broker: BrokerUrl,
    client_id: String,
    progress: Arc<Progress>,
) -> AnyResult<RunningSub> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let mut c = ConnectionOptions::new(broker, client_id);
    // A subscriber keeping its session would get an earlier run's backlog.
    c.clean_session = true;
    let thread = std::thread::Builder::new()
        .name("bench-mqtt-sub".into())
        .spawn(move || -> Result<Receiver, String> {
            let srt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            srt.block_on(async {
                let setup = async {
                    let mut sub = Connection::connect(&c).await.map_err(|e| e.to_string())?;
                    let rx = sub
                        .take_incoming()
                        .ok_or("incoming channel already taken")?;
                    sub.subscribe(TOPIC, Qos::AtLeastOnce, Duration::from_secs(10))
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>((sub, rx))
                };
                let (sub, mut rx) = match setup.await {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                let mut r = Receiver::new(progress.clone());
                let mut batch = Vec::with_capacity(1024);
                while !progress.stop.load(Ordering::Relaxed) {
                    let got = tokio::time::timeout(
                        Duration::from_millis(100),
                        rx.recv_many(&mut batch, 1024),
                    )
                    .await;
                    if got == Ok(0) {
                        break;
                    }
                    let now = now_us();
                    for msg in batch.drain(..) {
                        r.record(&msg.payload, now);
                    }
                }
                let _ = sub.close().await;
                Ok(r)
            })
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(RunningSub {
            thread,
            child: None,
        }),
        Ok(Err(e)) => Err(format!("subscriber: {e}").into()),
        Err(_) => Err("subscriber thread ended before subscribing".into()),
    }
}

/// `secs.nanos` (mosquitto_sub's `%U`) to microseconds.
pub(super) fn unix_us(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, "0"));
    let micros: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    Some(secs.parse::<u64>().ok()? * 1_000_000 + micros.parse::<u64>().ok()?)
}

pub(super) fn start_mosquitto_sub(
    rt: &tokio::runtime::Runtime,
    broker: BrokerUrl,
    client_id: String,
    progress: Arc<Progress>,
) -> AnyResult<RunningSub> {
    use std::io::BufRead as _;
    let port = broker.port.to_string();
    let mut child = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port, "-q", "1", "-i", &client_id])
        .args(["-t", TOPIC, "-t", PROBE_TOPIC, "-F", "%U %p"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting mosquitto_sub: {e}"))?;
    let out = child.stdout.take().ok_or("mosquitto_sub has no stdout")?;
    let ready = Arc::new(AtomicBool::new(false));
    let ready2 = ready.clone();
    let thread = std::thread::Builder::new()
        .name("bench-mosq-sub".into())
        .spawn(move || -> Result<Receiver, String> {
            let mut input = std::io::BufReader::with_capacity(1 << 20, out);
            let mut r = Receiver::new(progress);
            let mut line = Vec::with_capacity(512);
            loop {
                line.clear();
                match input.read_until(b'\n', &mut line) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => return Err(format!("reading mosquitto_sub: {e}")),
                }
                let l = line.strip_suffix(b"\n").unwrap_or(&line);
                let Some(sp) = l.iter().position(|b| *b == b' ') else {
                    continue;
                };
                let (at, payload) = (&l[..sp], &l[sp + 1..]);
                if payload == b"probe" {
                    ready2.store(true, Ordering::Relaxed);
                    continue;
                }
                r.record(payload, unix_us(at).unwrap_or_else(now_us));
            }
            Ok(r)
        })?;
    let mut sub = RunningSub {
        thread,
        child: Some(child),
    };
    // Probe until mosquitto_sub shows it is subscribed.
    let live = rt.block_on(async {
        let probe = Connection::connect(&ConnectionOptions::new(
            broker,
            format!("{client_id}-probe"),
        ))
        .await
        .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.load(Ordering::Relaxed) && Instant::now() < deadline {
            let _ = probe
                .publish(PROBE_TOPIC, Qos::AtMostOnce, b"probe".to_vec())
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = probe.close().await;
        Some(ready.load(Ordering::Relaxed))
    });
    if live != Some(true) {
        let _ = sub.stop();
        return Err("mosquitto_sub did not receive the probe within 10 s".into());
    }
    Ok(sub)
}

impl RunningSub {
    pub(super) fn stop(&mut self) -> Option<u64> {
        let ticks = self.child.as_ref().and_then(|c| process_ticks(c.id()));
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        ticks
    }
}
