//! Whether Weir can see the NATS servers' fsync setting: a system-account user gets every
//! server's `sync_always`; an ordinary account cannot ask and gets `None`.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weir_cluster::{Bridge, ClusterConfig};

/// One nats-server with a system account (`sys`) and an ordinary one (`app`), killed on drop;
/// the folder (its store) lives as long as it.
struct Server(Child, u16, #[allow(dead_code)] tempfile::TempDir);

impl Server {
    fn start(sync_always: bool) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = common::free_ports(1)[0];
        let sync = if sync_always {
            "\n  sync_interval: always"
        } else {
            ""
        };
        let conf = dir.path().join("n.conf");
        std::fs::write(
            &conf,
            format!(
                "server_name: solo\nlisten: 127.0.0.1:{port}\n\
                 jetstream {{\n  store_dir: {:?}{sync}\n}}\n\
                 accounts {{ SYS: {{ users: [{{user: sys, password: sys}}] }}, \
                 APP: {{ jetstream: enabled, users: [{{user: app, password: app}}] }} }}\n\
                 system_account: SYS\n",
                dir.path().join("js")
            ),
        )
        .expect("write conf");
        let child = Command::new(common::nats_server())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("n.log")).expect("log"))
            .spawn()
            .expect("spawn nats-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server does not listen: {}",
                std::fs::read_to_string(dir.path().join("n.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Server(child, port, dir)
    }

    fn connect(&self, user: &str) -> Bridge {
        let config = ClusterConfig {
            replicas: 1,
            ..ClusterConfig::new(vec![format!("nats://{user}:{user}@127.0.0.1:{}", self.1)])
        };
        Bridge::connect(&config).expect("connect")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_system_account_user_sees_each_servers_sync_setting() {
    let wait = Duration::from_millis(500);
    let always = Server::start(true);
    assert_eq!(
        always.connect("sys").server_sync_always(wait).expect("ask"),
        Some(vec![("solo".to_owned(), true)])
    );
    let lax = Server::start(false);
    assert_eq!(
        lax.connect("sys").server_sync_always(wait).expect("ask"),
        Some(vec![("solo".to_owned(), false)])
    );
    // An ordinary account's request reaches no server.
    assert_eq!(
        lax.connect("app").server_sync_always(wait).expect("ask"),
        None
    );
}
