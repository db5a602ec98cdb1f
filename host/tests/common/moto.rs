//! moto's server (`python3 -m moto.server`, from `tests/py/requirements.txt`) on a port the
//! system gives: it binds port 0 and prints the port it got, so no other test can take the
//! port between a pick and the bind.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running moto server, killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto and returns once it prints where it listens (within 30 s).
pub fn start() -> Moto {
    let mut child = Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start moto's server");
    let stderr = child.stderr.take().expect("moto's stderr");
    let (tx, rx) = mpsc::channel();
    // Keeps reading after the address line, so moto never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if let Some(at) = line.split("Running on ").nth(1) {
                let _ = tx.send(at.trim().to_owned());
            }
        }
    });
    let endpoint = rx.recv_timeout(Duration::from_secs(30));
    let mut moto = Moto {
        child,
        endpoint: String::new(),
    };
    match endpoint {
        Ok(e) => moto.endpoint = e,
        Err(_) => panic!("moto printed no address within 30 s"),
    }
    moto
}
