//! A real headless Chromium, driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: JSON messages ending in NUL on file descriptors 3 and 4), so no
//! WebSocket client is needed. Used where a test must act as a person on a page: open it, type
//! into a field, press Enter, read what came back.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The Chromium on this machine, if any.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Flags for a quiet, self-contained headless Chromium (no network of its own).
fn flags(profile: &std::path::Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

fn profile_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "datasource-mcp-chromium-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `chromium --headless --dump-dom url`: the DOM after load, as a page GET sees it.
pub fn dump_dom(chromium: &std::path::Path, url: &str) -> String {
    let profile = profile_dir();
    let out = std::process::Command::new(chromium)
        .args(flags(&profile))
        .arg("--dump-dom")
        .arg(url)
        .stderr(std::process::Stdio::null())
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A Chromium driven over the DevTools protocol, with one page.
pub struct Browser {
    child: std::process::Child,
    to: std::fs::File,
    from: mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
    profile: PathBuf,
    /// Events seen while waiting for answers.
    events: Vec<Value>,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`; both are owned from here on.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2");
    // SAFETY: freshly created descriptors, owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Browser {
    pub fn start(chromium: &std::path::Path) -> Browser {
        let profile = profile_dir();
        let (cmd_read, cmd_write) = pipe();
        let (out_read, out_write) = pipe();
        let (child_in, child_out) = (cmd_read.as_raw_fd(), out_write.as_raw_fd());
        let mut command = std::process::Command::new(chromium);
        command
            .args(flags(&profile))
            .arg("--remote-debugging-pipe")
            .arg("about:blank")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(child_in, 3) < 0 || libc::dup2(child_out, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("chromium starts");
        drop(cmd_read);
        drop(out_write);
        let (tx, rx) = mpsc::channel();
        let reader = std::fs::File::from(out_read);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            loop {
                let mut message = Vec::new();
                match reader.read_until(0, &mut message) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                message.pop();
                if let Ok(v) = serde_json::from_slice::<Value>(&message)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        let mut browser = Browser {
            child,
            to: std::fs::File::from(cmd_write),
            from: rx,
            next_id: 0,
            session: String::new(),
            profile,
            events: Vec::new(),
        };
        let target = browser.send(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("a target").to_string();
        let attached = browser.send(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        browser.page("Page.enable", json!({}));
        browser
    }

    /// Sends a command (to the browser, or to a session) and returns its result.
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        self.to.write_all(&bytes).expect("chromium reads commands");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {method} within 30 s"));
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// A command to the page.
    pub fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
    }

    /// Waits for the page's next load event (or one already seen).
    pub fn wait_for_load(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = self
                .events
                .iter()
                .position(|e| e["method"] == "Page.loadEventFired")
            {
                self.events.drain(..=i);
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from
                .recv_timeout(left)
                .expect("the page loads within 30 s");
            self.events.push(v);
        }
    }

    /// Opens `url` and waits until it has loaded.
    pub fn open(&mut self, url: &str) {
        self.events.clear();
        self.page("Page.navigate", json!({"url": url}));
        self.wait_for_load();
    }

    /// The page's HTML as the browser holds it now.
    pub fn html(&mut self) -> String {
        let doc = self.page("DOM.getDocument", json!({}));
        let root = doc["root"]["nodeId"].clone();
        let html = self.page("DOM.getOuterHTML", json!({"nodeId": root}));
        html["outerHTML"].as_str().unwrap_or_default().to_string()
    }

    /// Focuses the element `selector` selects, as a click would.
    pub fn focus(&mut self, selector: &str) {
        let doc = self.page("DOM.getDocument", json!({}));
        let root = doc["root"]["nodeId"].clone();
        let node = self.page(
            "DOM.querySelector",
            json!({"nodeId": root, "selector": selector}),
        );
        assert_ne!(node["nodeId"], 0, "nothing matches {selector}");
        self.page("DOM.focus", json!({"nodeId": node["nodeId"]}));
    }

    /// Types `text` into the focused element.
    pub fn type_text(&mut self, text: &str) {
        self.page("Input.insertText", json!({"text": text}));
    }

    /// Presses Enter (a form's implicit submission).
    pub fn press_enter(&mut self) {
        for kind in ["keyDown", "keyUp"] {
            self.page(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": "Enter", "code": "Enter",
                       "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13, "text": "\r"}),
            );
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
