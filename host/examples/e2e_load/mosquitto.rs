//! The mosquitto broker the bench starts on a free port.

use super::*;

/// A mosquitto started for this run; killed on drop.
pub(super) struct Mosquitto {
    pub(super) child: Child,
    pub(super) port: u16,
}

impl Mosquitto {
    pub(super) fn start(dir: &Path) -> AnyResult<Mosquitto> {
        let port = free_port()?;
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_inflight_messages 1000\nmax_queued_messages 100000\n"
            ),
        )?;
        let log_path = dir.join("mosquitto.log");
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|b| Path::new(b).exists())
            .unwrap_or("mosquitto");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path)?)
            .spawn()
            .map_err(|e| format!("starting {bin}: {e}"))?;
        let mut m = Mosquitto { child, port };
        if !wait_listening(port, Duration::from_secs(5)) || m.child.try_wait()?.is_some() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("mosquitto did not listen on 127.0.0.1:{port}:\n{log}").into());
        }
        Ok(m)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
