//! A real Secret Service of the test's own: a D-Bus session bus (`dbus-daemon --session
//! --fork`) and GNOME Keyring on it (`gnome-keyring-daemon --unlock --components=secrets`,
//! its login keyring created with a password on stdin in a fresh HOME). Only the server's child
//! processes get its address and HOME ([`TestKeyring::vars`]); the test process's environment is
//! never changed. Tests that need it skip, saying so, where the daemons are not installed
//! (`.ci/run` installs them from the distribution).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DBUS_DAEMON: &str = "dbus-daemon";
const KEYRING_DAEMON: &str = "gnome-keyring-daemon";
const DBUS_SEND: &str = "dbus-send";

/// The login keyring's password (a test keyring, in a temporary HOME).
const PASSWORD: &str = "datasource-mcp-test-keyring";

fn which(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/local/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

pub struct TestKeyring {
    /// `DBUS_SESSION_BUS_ADDRESS` of the bus.
    pub address: String,
    /// The fresh HOME the keyring lives in.
    pub home: PathBuf,
    dbus_pid: u32,
}

impl TestKeyring {
    /// A bus and an unlocked keyring, ready once this returns; `None` (and a note on stderr
    /// naming `test`) where dbus-daemon, dbus-send or gnome-keyring-daemon is missing.
    pub fn start(test: &str) -> Option<TestKeyring> {
        let (Some(dbus), Some(keyring_daemon), Some(_)) =
            (which(DBUS_DAEMON), which(KEYRING_DAEMON), which(DBUS_SEND))
        else {
            eprintln!(
                "SKIPPED {test}: no {DBUS_DAEMON}, {DBUS_SEND} or {KEYRING_DAEMON} (apt-get install dbus-daemon dbus-bin gnome-keyring)"
            );
            return None;
        };
        let home = std::env::temp_dir().join(format!(
            "datasource-mcp-keyring-{}-{}",
            std::process::id(),
            datasource_mcp::secret::random_token("")
        ));
        std::fs::create_dir_all(&home).unwrap();
        let out = Command::new(dbus)
            .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
            .env_clear()
            .env("HOME", &home)
            .env("PATH", "/usr/bin:/bin")
            .stderr(Stdio::null())
            .output()
            .expect("dbus-daemon runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        let address = lines.next().expect("the bus address").trim().to_string();
        let dbus_pid: u32 = lines
            .next()
            .and_then(|p| p.trim().parse().ok())
            .expect("the bus pid");
        let keyring = TestKeyring {
            address,
            home,
            dbus_pid,
        };
        let mut daemon = Command::new(keyring_daemon)
            .args(["--unlock", "--components=secrets", "--daemonize"])
            .env_clear()
            .envs(keyring.vars())
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon starts");
        {
            use std::io::Write;
            let mut stdin = daemon.stdin.take().unwrap();
            stdin.write_all(PASSWORD.as_bytes()).unwrap();
        }
        let _ = daemon.wait();
        let started = Instant::now();
        while !keyring.owns("org.freedesktop.secrets") {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the Secret Service did not start"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        eprintln!(
            "test Secret Service ready in {} ms",
            started.elapsed().as_millis()
        );
        Some(keyring)
    }

    /// What a server child needs to reach this keyring (and nothing else of it).
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS", self.address.clone()),
            ("HOME", self.home.display().to_string()),
        ]
    }

    fn dbus_send(&self, args: &[&str]) -> String {
        let out = Command::new(DBUS_SEND)
            .args(["--session", "--print-reply"])
            .args(args)
            .env_clear()
            .envs(self.vars())
            .output()
            .expect("dbus-send runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn owns(&self, name: &str) -> bool {
        self.dbus_send(&[
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &format!("string:{name}"),
        ])
        .contains("boolean true")
    }

    /// Locks the login keyring, as a person's screen lock would: reading it then needs an
    /// unlock prompt, which fails without a display.
    pub fn lock(&self) {
        let reply = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/collection/login",
        ]);
        assert!(reply.contains("collection/login"), "not locked: {reply}");
    }
}

impl Drop for TestKeyring {
    fn drop(&mut self) {
        // The keyring daemon exits when its bus goes away.
        // SAFETY: a signal to the bus process this harness started (its pid, not a name).
        unsafe {
            libc::kill(self.dbus_pid as libc::pid_t, libc::SIGTERM);
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}
