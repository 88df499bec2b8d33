//! Raw TCP for the slow-client tests: connections that send part of a request and stop, whether
//! the server still holds them, responses read byte for byte, and descriptor limits (ours, and
//! the server's under test).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Runs the child under a limit of `limit` file descriptors.
pub fn limit_descriptors(cmd: &mut tokio::process::Command, limit: libc::rlim_t) {
    // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let r = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &r) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// Raises this process's soft descriptor limit to at least `need` (up to 4,096, for the other
/// tests running alongside); false if the hard limit does not allow `need`.
pub fn raise_own_fd_limit(need: libc::rlim_t) -> bool {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return false;
        }
        if r.rlim_cur >= need {
            return true;
        }
        if r.rlim_max < need {
            return false;
        }
        r.rlim_cur = r.rlim_max.min(4096).max(need);
        libc::setrlimit(libc::RLIMIT_NOFILE, &r) == 0
    }
}

/// The start of a request that never ends: the request line and part of the headers.
pub const PARTIAL: &[u8] = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl";

/// Opens `n` connections that each send [`PARTIAL`] (or nothing, if `silent`) and stop.
pub async fn open_partial(addr: SocketAddr, n: usize, silent: bool) -> Vec<TcpStream> {
    open_sending(addr, n, if silent { b"" } else { PARTIAL }).await
}

/// Opens `n` connections that each send `start` and stop.
pub async fn open_sending(addr: SocketAddr, n: usize, start: &'static [u8]) -> Vec<TcpStream> {
    tokio::task::spawn_blocking(move || {
        (0..n)
            .filter_map(|_| {
                let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
                s.write_all(start).ok()?;
                Some(s)
            })
            .collect()
    })
    .await
    .unwrap()
}

/// Whether the server still holds this connection open (nothing received, no EOF, no reset).
pub fn is_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut reader = s;
    let open = matches!(
        reader.read(&mut [0u8; 1]),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    );
    s.set_nonblocking(false).unwrap();
    open
}

pub fn count_open(streams: &[TcpStream]) -> usize {
    streams.iter().filter(|s| is_open(s)).count()
}

/// Polls until `streams` are all closed by the server, up to `limit`: how long it took.
pub async fn all_closed_within(streams: &[TcpStream], limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if count_open(streams) == 0 {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Whether the server closes `s` within `limit` without sending a byte.
pub fn closed_without_answer(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    match s.read(&mut [0u8; 64]) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

/// A response read off a raw connection.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    /// Lowercased names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {self:?}"))
    }
}

/// Reads one response (until the server closes the connection, or its declared length).
pub fn read_response(s: &mut TcpStream, limit: Duration) -> Raw {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let complete = |data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return false;
        };
        let length = head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        });
        length.is_some_and(|n| body.len() >= n)
    };
    while !complete(&data) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "no complete response: {e}; got {:?}",
                String::from_utf8_lossy(&data)
            ),
        }
    }
    let text = String::from_utf8_lossy(&data).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Raw {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

/// Sends `request` on a new connection and reads the answer.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request).unwrap();
    read_response(&mut s, Duration::from_secs(10))
}
