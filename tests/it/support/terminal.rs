//! A terminal for a child process: a pseudo-terminal pair, the child in a session of its own
//! with the pty as its controlling terminal (what `/dev/tty` opens) and its stdin, the test
//! holding the other side. What the terminal shows is what a person would see: a prompt, and
//! the typed text only when the terminal echoes it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Terminal {
    /// Where the test types.
    keyboard: File,
    /// Everything the terminal showed so far (read on a thread of its own until the child's
    /// side closes).
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    /// Spawns `cmd` on a new terminal; its stdout and stderr are piped to the test.
    pub fn spawn(mut cmd: Command) -> (Terminal, Child) {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes the two descriptors it opens; no name, termios or size.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened by openpty and are owned here only.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        cmd.stdin(Stdio::from(slave))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("the child starts on the terminal");
        // The Command holds the test's copy of the child's side: without it, reading ends
        // once the child exits.
        drop(cmd);
        let keyboard = File::from(master.try_clone().unwrap());
        let mut display = File::from(master);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let shown = screen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            // EIO once the child's side is closed.
            while let Ok(n) = display.read(&mut buf) {
                if n == 0 {
                    break;
                }
                shown.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        (
            Terminal {
                keyboard,
                screen,
                reader: Some(reader),
            },
            child,
        )
    }

    /// What the terminal showed so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal shows `text` (within 10 s).
    pub fn wait_for(&self, text: &str) {
        let started = Instant::now();
        while !self.screen().contains(text) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the terminal never showed {text:?}: {:?}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `text` as a person would.
    pub fn type_text(&mut self, text: &str) {
        self.keyboard.write_all(text.as_bytes()).unwrap();
    }

    /// Everything the terminal showed, once the child's side is closed.
    pub fn finish(mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.screen()
    }
}
