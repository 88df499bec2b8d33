//! A Redis server of the test's own, from the distribution's `redis-server` (`.ci/run`
//! installs it): on a free loopback port, no persistence, stopped when dropped. Tests that
//! need it skip (saying so) where it is not installed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn redis_server() -> Option<PathBuf> {
    ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

pub struct TestRedis {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl TestRedis {
    /// A fresh server, answering once this returns; `None` (and a note on stderr) without
    /// redis-server.
    pub async fn start() -> Option<TestRedis> {
        let Some(bin) = redis_server() else {
            eprintln!("skipped: redis-server is not installed (apt-get install redis-server)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(TestRedis {
                    child,
                    url: format!("redis://127.0.0.1:{port}/0"),
                    port,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not answer on port {port}");
    }

    /// Stops it now (a store that loses its Redis mid-run).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
