//! `weir run --config FILE`: the server. Prints one `ready` line with its addresses once the
//! broker and the API accept connections, applies edits of the file while running, and stops
//! cleanly on SIGINT or SIGTERM (drain, flush, sync) before exiting 0. A host that stops doing
//! its job (a dead worker thread, or a broker that fails three end-to-end probes in a row, 2 s
//! apart) stops the same way and exits 1, so a supervisor restarts it instead of keeping a
//! zombie that answers ok.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use weir_config::Broker;
use weir_host::runtime::RunningHost;

pub fn run(config: &Path, watch: bool) -> anyhow::Result<ExitCode> {
    let host = RunningHost::start(config)
        .map_err(|e| anyhow::anyhow!("{}", weir_support::error_chain(&e)))?;
    if watch {
        host.watch_config()
            .context("watching the configuration file")?;
    }
    let mqtt = mqtt_addresses(&host);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The handlers exist before `ready` is printed: a SIGTERM right after it drains too.
    let (mut term, mut int) = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    println!("ready: mqtt {mqtt}, api http://{}", host.api_addr());
    std::io::stdout().flush()?;

    let (dead_tx, dead_rx) = tokio::sync::oneshot::channel::<String>();
    watch_health(&host, dead_tx).context("starting the broker watchdog")?;
    let stop: Result<&str, String> = rt.block_on(async {
        tokio::select! {
            _ = int.recv() => Ok("SIGINT"),
            _ = term.recv() => Ok("SIGTERM"),
            Ok(e) = dead_rx => Err(e),
        }
    });
    let code = match &stop {
        Ok(signal) => {
            eprintln!("{signal}: draining");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unhealthy ({e}): draining, then exiting 1");
            ExitCode::FAILURE
        }
    };
    host.shutdown()
        .map_err(|e| anyhow::anyhow!("{}", weir_support::error_chain(&e)))?;
    println!("stopped");
    Ok(code)
}

/// The MQTT side as the `ready` line names it: the embedded broker's listeners as bound (a
/// configured port 0 shows the port the system gave), or the external broker and the
/// shared-subscription group this host reads through.
fn mqtt_addresses(host: &RunningHost) -> String {
    match (host.broker(), host.listening()) {
        (Broker::External(b), _) => format!("{} (shared group {})", b.url, b.share_group),
        (Broker::Embedded(b), None) => format!("mqtt://{}", b.listen),
        (Broker::Embedded(_), Some(at)) => match at.v5 {
            Some(v5) => format!("mqtt://{} (MQTT 3.1.1), mqtt://{v5} (MQTT 5)", at.v4),
            None => format!("mqtt://{}", at.v4),
        },
    }
}

/// Probes the host every 2 s on its own thread; after three failures in a row it reports
/// the last one on `dead`, so `run` stops the host and exits 1 (a supervisor then restarts
/// it). Holds the host weakly: the thread ends once the host is gone.
fn watch_health(
    host: &std::sync::Arc<RunningHost>,
    dead: tokio::sync::oneshot::Sender<String>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let watched = std::sync::Arc::downgrade(host);
    std::thread::Builder::new()
        .name("weir-broker-watch".into())
        .spawn(move || {
            let mut failures = 0;
            loop {
                std::thread::sleep(std::time::Duration::from_secs(2));
                let Some(host) = watched.upgrade() else {
                    return;
                };
                match host.probe() {
                    Ok(()) => failures = 0,
                    Err(e) => {
                        failures += 1;
                        tracing::error!(error = %e, failures, "the host is unhealthy");
                        if failures >= 3 {
                            let _ = dead.send(e);
                            return;
                        }
                    }
                }
            }
        })
}
