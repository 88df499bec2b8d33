//! MCP over stdin/stdout. stdout carries JSON-RPC only; everything else goes to stderr.
//!
//! The server reads stdin itself and hands rmcp parsed messages, rather than using rmcp's line
//! transport, which falls short on a hostile or careless client in two ways:
//! - A line serde rejects (a number out of range, a lone surrogate, nesting past 128, invalid
//!   UTF-8) is dropped by rmcp unanswered, so the client waits forever. Here it gets a JSON-RPC
//!   error with the line's id when one can be read.
//! - rmcp keeps reading requests while their answers wait for stdout, so a client that stops
//!   reading grows the server without bound. Here a request is read only while fewer than 64
//!   requests await their answer's being written: when stdout blocks, the server stops reading
//!   stdin and its memory stays flat.
//!
//! One writer task owns stdout: rmcp's messages and the errors for bad lines are written whole,
//! one after another.

mod envelope;

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ErrorData, JsonRpcMessage, JsonRpcNotification,
    RequestId, ServerJsonRpcMessage,
};
use rmcp::transport::Transport;
use rmcp::{RoleServer, ServiceExt};
use serde_json::error::Category;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::surfaces::server::DataSourceServer;

/// Requests read but not yet answered on stdout. Bounds what a client that does not read can
/// make the server hold (handlers, answers), while leaving room for pipelining clients. While
/// they are all taken nothing more is read, not even a client's answer to the server's own
/// request (a URL-mode elicitation of the secret intake page): such a call then waits until
/// its link expires, which bounds it.
const MAX_AWAITING: usize = 64;

/// Messages waiting between the reader, rmcp and the writer.
const QUEUE: usize = 16;

/// What the line buffer keeps between lines: a long line's memory is given back after it.
const KEEP_LINE_CAPACITY: usize = 64 * 1024;

/// Serves until the client closes stdin (or SIGINT/SIGTERM). A line longer than
/// `max_line_bytes` is dropped (and logged) without being buffered whole; the session goes on.
pub async fn serve(server: DataSourceServer, max_line_bytes: usize) -> anyhow::Result<()> {
    // Non-blocking pipes when stdin and stdout are pipes: no blocking thread per read or write.
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    let transport = StdioTransport::new(stdin, stdout, max_line_bytes, MAX_AWAITING);
    let running = match server.serve(transport).await {
        Ok(running) => running,
        // The client went away before initializing: nothing to serve.
        Err(e) => {
            tracing::info!("stdio session ended before initialization: {e}");
            return Ok(());
        }
    };
    let ct = running.cancellation_token();
    tokio::spawn(async move {
        super::shutdown::signal().await;
        ct.cancel();
    });
    let reason = running.waiting().await?;
    tracing::debug!(?reason, "stdio session ended");
    Ok(())
}

/// rmcp's side: parsed messages in, messages out through the writer task.
struct StdioTransport {
    incoming: mpsc::Receiver<ClientJsonRpcMessage>,
    /// None once closed.
    outgoing: Option<mpsc::Sender<Outgoing>>,
    /// Ends the reader (on close, or when stdout fails).
    stop: CancellationToken,
}

/// One line for stdout.
struct Outgoing {
    line: Vec<u8>,
    /// The request this answers, whose place is freed once the line is written.
    answers: Option<RequestId>,
    /// Told once the line is written (dropped if it cannot be).
    written: Option<oneshot::Sender<()>>,
}

impl StdioTransport {
    fn new<R, W>(input: R, output: W, max_line_bytes: usize, max_awaiting: usize) -> Self
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let awaiting = Arc::new(Awaiting::new(max_awaiting));
        let stop = CancellationToken::new();
        let (out_tx, out_rx) = mpsc::channel(QUEUE);
        let (in_tx, in_rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_lines(output, out_rx, awaiting.clone(), stop.clone()));
        let lines = LineReader::new(input, max_line_bytes);
        let reading = read_messages(lines, in_tx, out_tx.clone(), awaiting);
        let stopped = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = stopped.cancelled() => {}
                () = reading => {}
            }
        });
        StdioTransport {
            incoming: in_rx,
            outgoing: Some(out_tx),
            stop,
        }
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "stdout is closed")
}

impl Transport<RoleServer> for StdioTransport {
    type Error = io::Error;

    /// Resolves once the message is written, as rmcp's own transport does.
    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), io::Error>> + Send + 'static {
        let outgoing = self.outgoing.clone();
        async move {
            let outgoing = outgoing.ok_or_else(closed)?;
            let answers = match &item {
                JsonRpcMessage::Response(r) => Some(r.id.clone()),
                JsonRpcMessage::Error(e) => e.id.clone(),
                _ => None,
            };
            let mut line = serde_json::to_vec(&item)?;
            line.push(b'\n');
            let (written, done) = oneshot::channel();
            let out = Outgoing {
                line,
                answers,
                written: Some(written),
            };
            outgoing.send(out).await.map_err(|_| closed())?;
            done.await.map_err(|_| closed())
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        self.incoming.recv()
    }

    async fn close(&mut self) -> Result<(), io::Error> {
        self.stop.cancel();
        self.outgoing = None;
        Ok(())
    }
}

impl Drop for StdioTransport {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The places of requests awaiting their answer.
struct Awaiting {
    places: Arc<Semaphore>,
    held: Mutex<HashMap<RequestId, Vec<OwnedSemaphorePermit>>>,
}

impl Awaiting {
    fn new(places: usize) -> Self {
        Awaiting {
            places: Arc::new(Semaphore::new(places.max(1))),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a place for request `id`.
    async fn admit(&self, id: RequestId) {
        // The semaphore is never closed, so this only fails in theory; then admit unbounded.
        let Ok(place) = self.places.clone().acquire_owned().await else {
            return;
        };
        self.lock().entry(id).or_default().push(place);
    }

    /// Frees every place held under `id`: rmcp answers requests that share an id while in
    /// flight once (a later one's answer is dropped), and never answers a cancelled one.
    /// A handler that panics is never answered either: its place stays taken.
    fn answered(&self, id: &RequestId) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, Vec<OwnedSemaphorePermit>>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The one owner of stdout. Ends when every sender is gone, or on a write error (the client is
/// gone: the session stops).
async fn write_lines<W: AsyncWrite + Unpin>(
    mut output: W,
    mut queue: mpsc::Receiver<Outgoing>,
    awaiting: Arc<Awaiting>,
    stop: CancellationToken,
) {
    while let Some(out) = queue.recv().await {
        let written = async {
            output.write_all(&out.line).await?;
            output.flush().await
        }
        .await;
        if let Err(e) = written {
            tracing::error!("cannot write to stdout, ending the session: {e}");
            stop.cancel();
            return;
        }
        if let Some(id) = &out.answers {
            awaiting.answered(id);
        }
        if let Some(written) = out.written {
            let _ = written.send(());
        }
    }
}

/// Reads stdin line by line until EOF: messages go to rmcp, requests only when they have a
/// place; a line that is not a usable message is answered here.
async fn read_messages<R: AsyncRead + Unpin>(
    mut lines: LineReader<R>,
    to_rmcp: mpsc::Sender<ClientJsonRpcMessage>,
    out: mpsc::Sender<Outgoing>,
    awaiting: Arc<Awaiting>,
) {
    loop {
        let line = match lines.next().await {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => {
                tracing::error!("cannot read stdin: {e}");
                return;
            }
        };
        let message = match serde_json::from_slice::<ClientJsonRpcMessage>(line) {
            Ok(message) => message,
            Err(e) => {
                let Some(reply) = reply_to_unusable(line, &e) else {
                    continue;
                };
                let Ok(mut line) = serde_json::to_vec(&reply) else {
                    continue;
                };
                line.push(b'\n');
                // Not the answer to an admitted request: it frees no place.
                let reply = Outgoing {
                    line,
                    answers: None,
                    written: None,
                };
                // Waits while stdout is blocked, so bad lines cannot queue up either.
                if out.send(reply).await.is_err() {
                    return;
                }
                continue;
            }
        };
        match &message {
            JsonRpcMessage::Request(request) => awaiting.admit(request.id.clone()).await,
            JsonRpcMessage::Notification(JsonRpcNotification {
                notification: ClientNotification::CancelledNotification(cancelled),
                ..
            }) => {
                if let Some(id) = &cancelled.params.request_id {
                    awaiting.answered(id);
                }
            }
            _ => {}
        }
        if to_rmcp.send(message).await.is_err() {
            return;
        }
    }
}

/// The error for a line that is not a usable message: -32700 when it is not JSON (serde's
/// reason, which never quotes the input), -32600 when it is JSON but not a JSON-RPC message
/// (a fixed text: serde's would quote it). With the line's id when one can be read. None for a
/// notification, which is never answered.
///
/// rmcp leaves unparsable lines unanswered lest a peer that echoes replies start an error storm;
/// but an echoed reply is a well-formed error message, which is never answered, so no storm.
fn reply_to_unusable(line: &[u8], error: &serde_json::Error) -> Option<ServerJsonRpcMessage> {
    let envelope = envelope::scan(line);
    let data = match error.classify() {
        Category::Syntax | Category::Eof => {
            ErrorData::parse_error(format!("Parse error: {error}"), None)
        }
        Category::Data | Category::Io if envelope.is_notification() => {
            tracing::debug!("ignoring a notification that is not valid JSON-RPC");
            return None;
        }
        Category::Data | Category::Io => ErrorData::invalid_request("Invalid request", None),
    };
    tracing::debug!(code = data.code.0, id = ?envelope.id, "answering a line that is not a usable message");
    Some(ServerJsonRpcMessage::error(data, envelope.id))
}

/// Lines of stdin, at most `max` bytes each (newline included): a longer one is skipped (and
/// logged) as it streams in, never buffered whole.
struct LineReader<R> {
    input: BufReader<R>,
    line: Vec<u8>,
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    fn new(input: R, max: usize) -> Self {
        LineReader {
            // A pipe's worth per read.
            input: BufReader::with_capacity(64 * 1024, input),
            line: Vec::new(),
            max,
        }
    }

    /// The next line that carries something, without its line ending or a leading UTF-8 byte
    /// order mark; None at EOF (a last line without its newline is incomplete and dropped).
    async fn next(&mut self) -> io::Result<Option<&[u8]>> {
        loop {
            if !self.read_line().await? {
                return Ok(None);
            }
            let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
            if !self.content().iter().all(blank) {
                return Ok(Some(self.content()));
            }
        }
    }

    fn content(&self) -> &[u8] {
        let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
    }

    /// Reads one whole line into `self.line`; false at EOF.
    async fn read_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        self.line.shrink_to(KEEP_LINE_CAPACITY);
        let mut skipping = false;
        loop {
            let available = self.input.fill_buf().await?;
            if available.is_empty() {
                return Ok(false);
            }
            let newline = available.iter().position(|b| *b == b'\n');
            let take = newline.map_or(available.len(), |i| i + 1);
            if !skipping && self.line.len() + take > self.max {
                tracing::error!(
                    max_line_length = self.max,
                    "Incoming message exceeded the maximum line length, discarding it"
                );
                skipping = true;
                self.line.clear();
            }
            if !skipping {
                self.line.extend_from_slice(&available[..take]);
            }
            self.input.consume(take);
            if newline.is_some() {
                if skipping {
                    skipping = false;
                    continue;
                }
                return Ok(true);
            }
        }
    }
}
