//! Logs go to stderr only (stdout is the JSON-RPC channel), through a writer that masks every
//! known secret by value. rmcp's own debug logging prints whole requests (tool arguments,
//! passwords included), so it is capped at `info` whatever `RUST_LOG` says.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

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

/// The filter: `RUST_LOG` (default `info`), with rmcp capped at `info`.
pub fn filter() -> EnvFilter {
    let base = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    base.add_directive("rmcp=info".parse().expect("static directive"))
}

/// Installs the stderr logger and the panic hook. Call once, first thing.
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(RedactingStderr)
        .with_ansi(false)
        .with_target(true)
        .try_init();
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
        let clean = redact::scrub_text(&payload, None);
        let _ = writeln!(
            io::stderr().lock(),
            "datasource-mcp: internal error at {location}: {clean}"
        );
    }));
}
