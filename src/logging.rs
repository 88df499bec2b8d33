//! Logs go to stderr only (stdout is the JSON-RPC channel), through a writer that masks every
//! known secret by value. rmcp's own debug logging prints whole requests (tool arguments,
//! passwords included), so it is capped at `info` whatever `RUST_LOG` says.

use std::io::{self, Write};

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::redact;

/// Writes one log event to stderr after masking secrets.
pub struct RedactingStderr;

/// Buffers one event; masks and writes it in one piece when dropped.
pub struct EventBuffer(Vec<u8>);

impl Write for EventBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuffer {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let clean = redact::scrub_text(&text, None);
        let _ = io::stderr().lock().write_all(clean.as_bytes());
    }
}

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = EventBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        EventBuffer(Vec::with_capacity(256))
    }
}

/// `RUST_LOG`, or else `default` (servers: `info,rmcp=warn`).
pub fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
}

/// rmcp logs whole messages (tool arguments, passwords included): requests at debug and
/// trace, and at `info` every notification, including a `tools/call` a client sends without an
/// id. Whatever `RUST_LOG` asks, nothing of rmcp below `warn` is written (and what is written
/// is masked by shape too).
pub fn rmcp_cap() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("rmcp", LevelFilter::WARN)
}

/// Installs the stderr logger (filtered by `RUST_LOG`, else `default`) and the panic hook.
/// Call once, first thing.
pub fn init(default: &str) {
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(RedactingStderr)
        .with_ansi(false)
        .with_target(true)
        .with_filter(filter(default).and(rmcp_cap()));
    let _ = tracing_subscriber::registry().with(layer).try_init();
    install_panic_hook();
}

/// A panic message can hold anything a value's `Debug` printed; mask it like a log line.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = io::stderr()
            .lock()
            .write_all(panic_line(&payload, &location).as_bytes());
    }));
}

/// The stderr line of a panic: its message with every known secret masked.
fn panic_line(payload: &str, location: &str) -> String {
    let clean = redact::scrub_text(payload, None);
    format!("datasource-mcp: internal error at {location}: {clean}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_lines_mask_known_secrets() {
        redact::register_secret("S3NT1NEL-panic-credential");
        assert_eq!(
            panic_line(
                "called unwrap on Err(Auth { token: \"S3NT1NEL-panic-credential\" })",
                "src/x.rs:1"
            ),
            "datasource-mcp: internal error at src/x.rs:1: called unwrap on Err(Auth { token: \"***\" })\n"
        );
    }
}
