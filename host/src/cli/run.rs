//! `weir run --config FILE`: the server. Prints one `ready` line with its addresses once the
//! broker and the API accept connections, applies edits of the file while running, and stops
//! cleanly on SIGINT or SIGTERM (drain, flush, sync) before exiting 0.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use weir_config::Broker;
use weir_host::runtime::Host;

pub fn run(config: &Path, watch: bool) -> anyhow::Result<ExitCode> {
    let host =
        Host::start(config).map_err(|e| anyhow::anyhow!("{}", weir_support::error_chain(&e)))?;
    if watch {
        host.watch_config()
            .context("watching the configuration file")?;
    }
    let mqtt = match host.broker() {
        Broker::Embedded(b) => match &b.listen_v5 {
            Some(v5) => format!("mqtt://{} (MQTT 3.1.1), mqtt://{v5} (MQTT 5)", b.listen),
            None => format!("mqtt://{}", b.listen),
        },
        Broker::External(b) => format!("{} (shared group {})", b.url, b.share_group),
    };
    println!("ready: mqtt {mqtt}, api http://{}", host.api_addr());
    std::io::stdout().flush()?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signal = rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT"),
            _ = term.recv() => Ok("SIGTERM"),
        }
    })?;
    eprintln!("{signal}: draining");
    host.shutdown()
        .map_err(|e| anyhow::anyhow!("{}", weir_support::error_chain(&e)))?;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}
