//! The row type of the operation table: every tool is one row of data.
//!
//! A row says what the tool is called and what it does for an agent (name, description,
//! annotations), and what it sends (method, path template, argument type, flow). One generic
//! dispatcher (the engine) executes any row; every surface (MCP stdio and HTTP, the `call` CLI,
//! schema and skill export) reads the same rows. Adding a vendor operation means one row and
//! one argument type in that vendor's file under `providers/`; the rows themselves live there,
//! and the registry (`providers`) lists them.

use serde_json::{Map, Value};

use crate::args::{InvalidArgument, ToolArgs};
pub use crate::request::{Method, RequestParts};

/// A vendor the server can talk to. What each one is (its id, title, configuration, rows) is
/// in its provider file; the registry maps this id to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    BigId,
    Pdc,
    Bigdata,
    DataBrain,
}

/// The four MCP tool annotations, always all set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

impl Hints {
    /// Reads the vendor's catalog and changes nothing.
    pub const READ: Hints = Hints {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };
    /// Changes nothing but makes the vendor reach out to an external system (connection tests).
    pub const PROBE: Hints = Hints {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: true,
    };
    /// Adds something new; repeating it would add it twice.
    pub const CREATE: Hints = Hints {
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: false,
    };
    /// Changes named fields and keeps the rest; repeating it changes nothing more.
    pub const UPDATE: Hints = Hints {
        read_only: false,
        destructive: false,
        idempotent: true,
        open_world: false,
    };
    /// Replaces a whole record (what is not sent is lost).
    pub const REPLACE: Hints = Hints {
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
    };
    /// Removes something.
    pub const DELETE: Hints = Hints {
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
    };
    /// Starts work upstream that reaches an external system (a sync).
    pub const TRIGGER: Hints = Hints {
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: true,
    };
}

/// The argument type of a row, erased so rows can live in one static table.
#[derive(Clone, Copy)]
pub struct ArgsSpec {
    /// JSON schema of the arguments (generated from the type).
    pub schema: fn() -> Map<String, Value>,
    /// Deserializes, validates and builds the request parts.
    pub prepare: fn(Value) -> Result<RequestParts, InvalidArgument>,
}

impl ArgsSpec {
    pub const fn of<A: ToolArgs>() -> Self {
        ArgsSpec {
            schema: crate::schema::input_schema::<A>,
            prepare: crate::args::prepare::<A>,
        }
    }
}

/// How the vendor's answer becomes the tool result.
#[derive(Clone, Copy)]
pub struct Output {
    /// `outputSchema` of the result, when the shape is known. Kept lean: only what an agent
    /// needs to read the result, every property optional so vendor variations still conform.
    pub schema: Option<fn() -> Map<String, Value>>,
}

impl Output {
    pub const PASSTHROUGH: Output = Output { schema: None };

    pub const fn typed<T: schemars::JsonSchema + 'static>() -> Self {
        Output {
            schema: Some(crate::schema::output_schema::<T>),
        }
    }
}

/// What a row's request becomes when one call runs.
#[derive(Clone, Copy)]
pub enum Flow {
    /// One request.
    Single,
    /// On 404 the same request goes to an older path (vendors that moved an endpoint).
    FallbackOn404 { path: &'static str },
    /// With `RequestParts::wait` set, repeat the read until `state` says the work is finished
    /// (or the wait runs out), reporting progress on the way. Without it, one request.
    Poll { state: fn(&Value) -> PollState },
    /// Read the current resource first (GET `path` with `query`), then `then` turns it and the
    /// caller's parts into the write. Used where the vendor's write replaces what it is not sent.
    ReadFirst {
        path: &'static str,
        query: &'static [(&'static str, &'static str)],
        then: fn(current: Value, parts: RequestParts) -> Result<RequestParts, InvalidArgument>,
        /// What the dry-run plan says the second request's body will be.
        explain: &'static str,
    },
}

/// Where a polled piece of work stands.
#[derive(Debug, Clone, PartialEq)]
pub struct PollState {
    pub finished: bool,
    /// Percent done, when the vendor says.
    pub percent: Option<f64>,
    pub status: String,
}

/// How to find out whether a create whose answer was lost (timeout, dropped connection after
/// the request was sent) happened, by looking the resource up by its name. Never by sending
/// the create again.
pub struct Reconcile {
    pub method: Method,
    pub path: &'static str,
    /// The lookup's parts, from the parts the create sent.
    pub lookup: fn(&RequestParts) -> RequestParts,
    /// From the lookup's status and body: `Some(true)` it exists, `Some(false)` it does not,
    /// `None` cannot tell.
    pub found: fn(status: u16, body: &Value, sent: &RequestParts) -> Option<bool>,
    /// The tool a person (or agent) checks with, for the hint.
    pub check_with: &'static str,
}

/// One tool.
pub struct OperationSpec {
    /// `<provider>_<verb>_<noun>`.
    pub name: &'static str,
    pub provider: Provider,
    /// Short human title (MCP `title` annotation).
    pub title: &'static str,
    /// What the tool does and when to use it, for the agent.
    pub description: &'static str,
    pub method: Method,
    /// Path relative to the provider's base URL; `{name}` placeholders are filled from the
    /// arguments, percent-encoded.
    pub path: &'static str,
    pub hints: Hints,
    pub args: ArgsSpec,
    pub output: Output,
    pub flow: Flow,
    /// Valid arguments, as JSON: the skill reference's example, and a fixture for tests.
    pub example: &'static str,
    /// For creates: how to tell, after an ambiguous failure, whether it happened.
    pub reconcile: Option<Reconcile>,
    /// Long-running: report progress while waiting when the client asked for it.
    pub progress: bool,
}

impl OperationSpec {
    /// Whether the call changes something upstream (and so takes `dry_run`).
    pub fn mutates(&self) -> bool {
        !self.hints.read_only
    }

    /// Whether its requests may be sent again after a transient failure: only requests that
    /// change nothing. A write is never re-sent.
    pub fn retry_safe(&self) -> bool {
        self.hints.read_only
    }
}
