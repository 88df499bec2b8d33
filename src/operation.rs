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

/// A toolset: a vendor the server can talk to, or the tools that span every vendor. What
/// each one is (its id, title, configuration, rows) is in its provider file; the registry maps
/// this id to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    BigId,
    Pdc,
    Bigdata,
    DataBrain,
    /// Tools over every configured vendor at once.
    Inventory,
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
    /// Where the vendor's answer holds what the tool returns (JSON pointers, one of which
    /// must name a value): an answer without it (a renamed field in a new release, a proxy's
    /// page, an unexpected wrapper) is an error naming the shape it got, never an empty result.
    pub holds: &'static [&'static str],
}

impl Output {
    pub const PASSTHROUGH: Output = Output {
        schema: None,
        holds: &[],
    };

    pub const fn typed<T: schemars::JsonSchema + 'static>() -> Self {
        Output {
            schema: Some(crate::schema::output_schema::<T>),
            holds: &[],
        }
    }

    /// The same, with where the answer holds its result.
    pub const fn holding(self, holds: &'static [&'static str]) -> Self {
        Output { holds, ..self }
    }
}

/// What one call of a row does, in order: an optional read of the current resource, the
/// row's request (with an optional second form, chosen when the vendor rejects the first), and
/// an optional wait for the work the request started.
#[derive(Clone, Copy)]
pub struct Flow {
    pub read_first: Option<ReadFirst>,
    pub fallback: Option<Fallback>,
    pub then_poll: Option<Poll>,
    /// Instead of a request: every configured vendor's inventory listing at once, merged.
    pub fan_out: bool,
}

impl Flow {
    /// One request.
    pub const SINGLE: Flow = Flow {
        read_first: None,
        fallback: None,
        then_poll: None,
        fan_out: false,
    };

    /// Every configured vendor's inventory listing at once.
    pub const FAN_OUT: Flow = Flow {
        fan_out: true,
        ..Flow::SINGLE
    };

    pub const fn read_first(read: ReadFirst) -> Flow {
        Flow {
            read_first: Some(read),
            ..Flow::SINGLE
        }
    }

    pub const fn fallback(fallback: Fallback) -> Flow {
        Flow {
            fallback: Some(fallback),
            ..Flow::SINGLE
        }
    }

    pub const fn poll(poll: Poll) -> Flow {
        Flow {
            then_poll: Some(poll),
            ..Flow::SINGLE
        }
    }
}

/// Read the current resource first (GET `path` with `query`), then `then` turns it and the
/// caller's parts into the request. Used where the vendor's write replaces what it is not
/// sent, or a request is made of a stored resource's settings.
#[derive(Clone, Copy)]
pub struct ReadFirst {
    pub path: &'static str,
    pub query: &'static [(&'static str, &'static str)],
    pub then: fn(current: Value, parts: RequestParts) -> Result<RequestParts, InvalidArgument>,
    /// What the dry-run plan says the request's body will be.
    pub explain: &'static str,
}

/// A second form of a request whose first form the evidence does not settle (an endpoint that
/// moved, a body that changed shape between versions). Only for requests that change nothing:
/// when the vendor's answer to the first form says it rejects that form, the second is sent
/// once, and if the vendor accepts it, it is used from then on for the life of the process.
#[derive(Clone, Copy)]
pub struct Fallback {
    /// Whether an answer (status, JSON body or `Null`) rejects the first form.
    pub rejected: fn(status: u16, body: &Value) -> bool,
    /// The second form's path (the row's own when `None`) …
    pub path: Option<&'static str>,
    /// … and parts (the same when `None`).
    pub rewrite: Option<fn(RequestParts) -> RequestParts>,
    /// What the dry-run plan says about it.
    pub note: &'static str,
}

/// Waiting for the work a request started, when the call asks to (`RequestParts::wait`),
/// reporting progress on the way.
#[derive(Clone, Copy)]
pub struct Poll {
    /// Where the work's status is read: the row's own request again (`None`: the row reads a
    /// status), or this path with `{id}` filled from `job_id`.
    pub status_path: Option<&'static str>,
    /// The started work's id, from the row's answer and what the row sent (a vendor that
    /// answers no id has its work followed by what the request named, e.g. BigID's data source
    /// name for the source's last scan).
    pub job_id: fn(answer: &Value, sent: &RequestParts) -> Option<String>,
    /// Where the work stands, from a status answer.
    pub state: fn(&Value) -> PollState,
    /// Whether a status read still shows the work from before this call started it (a "last
    /// scan" read answers the previous scan until the vendor registers the new one), from the
    /// status read just before the start and the one now. `None`: every status read is of the
    /// work this call started.
    pub stale: Option<fn(before: &Value, now: &Value) -> bool>,
    /// What an agent reads first in a status answer besides its state (counts, the failure
    /// reason, which run it is), put in the result next to `status`, the vendor's answer kept
    /// under `job`. `None`: a row that reads a status answers the vendor's answer as it is.
    pub summary: Option<Summary>,
}

/// What a row reads of a status answer besides its state (see [`Poll::summary`]).
pub type Summary = fn(&Value) -> Map<String, Value>;

/// Where a polled piece of work stands.
#[derive(Debug, Clone, PartialEq)]
pub struct PollState {
    pub finished: bool,
    /// Percent done, when the vendor says.
    pub percent: Option<f64>,
    pub status: String,
}

/// How a list tool shapes what the vendor lists: one page of compact rows unless asked
/// otherwise, the total when the vendor reports it, and the arguments of the next page.
#[derive(Clone, Copy)]
pub struct Listing {
    /// Where the items are in the vendor's answer: the first of these JSON pointers that
    /// names a list (`""` is the answer itself).
    pub items: &'static [&'static str],
    /// Where the vendor reports the total, if it does.
    pub total: Option<&'static str>,
    /// The compact row of an item: `id`, `name`, `type`, `status`, `host` where the vendor
    /// has them (the same keys for every vendor, so an inventory can merge them), and what else
    /// an agent picks its next call by.
    pub row: fn(&Value) -> Value,
    /// Who pages.
    pub paging: Paging,
    /// Paths into an item that `fields` may name, with what they hold (the `fields`
    /// argument's description shows them: an agent finds a database by its field, not by
    /// reading every row).
    pub fields: &'static str,
    /// Where the vendor keeps a row's last test outcome elsewhere (PDC: in the test's job).
    pub completion: Option<RowCompletion>,
}

/// A row's last connection test, read with another read-only tool so that "which connections
/// fail?" is one call: the tool, its arguments from the compact row (`None`: nothing to read),
/// and the row completed from its answer (`is_error`: that read failed).
#[derive(Clone, Copy)]
pub struct RowCompletion {
    pub tool: &'static str,
    pub args: fn(row: &Value) -> Option<Value>,
    pub apply: fn(row: &mut Value, answer: &Value, is_error: bool),
}

/// Who pages a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    /// The vendor: the row's own `skip` and `limit` arguments reach it.
    Vendor,
    /// Us: the vendor answers everything and the page is cut here (`skip`, `limit` are the
    /// server's own arguments of the tool).
    Local,
}

/// A page size when the caller names none: small enough for a model's context.
pub const DEFAULT_PAGE: u64 = 50;

/// Most items one page may ask for where the server pages.
pub const MAX_LOCAL_PAGE: u64 = 1_000;

/// The shared list arguments of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct ListArgs {
    pub full: bool,
    pub fields: Option<Vec<String>>,
    pub skip: u64,
    pub limit: u64,
}

impl ListArgs {
    /// Takes the server's own list arguments out of `args` (the row's type never sees them);
    /// where the vendor pages, reads `skip` and `limit` and leaves them for the row.
    pub fn take(args: &mut Value, paging: Paging) -> Result<ListArgs, InvalidArgument> {
        let map = match args.as_object_mut() {
            Some(map) => map,
            None => return Err(InvalidArgument::new("arguments", "must be an object")),
        };
        let full = match map.remove("detail") {
            None | Some(Value::Null) => false,
            Some(Value::String(d)) if d == "compact" => false,
            Some(Value::String(d)) if d == "full" => true,
            Some(_) => {
                return Err(InvalidArgument::new("detail", "must be compact or full"));
            }
        };
        let fields = match map.remove("fields") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut fields = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item
                        .as_str()
                        .filter(|f| !f.trim().is_empty() && f.len() <= 200)
                    {
                        Some(f) => fields.push(f.to_string()),
                        None => {
                            return Err(InvalidArgument::new(
                                format!("fields[{i}]"),
                                "must be a field name (a dotted path such as connectionStatusTest.is_success)",
                            ));
                        }
                    }
                }
                Some(fields)
            }
            Some(_) => {
                return Err(InvalidArgument::new(
                    "fields",
                    "must be a non-empty list of field names",
                ));
            }
        };
        let number = |map: &mut Map<String, Value>, key: &str, remove: bool| {
            let v = if remove {
                map.remove(key)
            } else {
                map.get(key).cloned()
            };
            match v {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                    InvalidArgument::new(key, "wrong type: expected a whole number ≥ 0")
                }),
            }
        };
        let local = paging == Paging::Local;
        let skip = number(map, "skip", local)?.unwrap_or(0);
        let limit = number(map, "limit", local)?.unwrap_or(DEFAULT_PAGE);
        if local && !(1..=MAX_LOCAL_PAGE).contains(&limit) {
            return Err(InvalidArgument::new(
                "limit",
                format!("must be between 1 and {MAX_LOCAL_PAGE}"),
            ));
        }
        Ok(ListArgs {
            full,
            fields,
            skip,
            limit,
        })
    }
}

/// What every list tool returns (its outputSchema): the page's items, and with them `total`
/// (when known), `next` (the arguments of the next page) and `truncated` (when the result
/// budget cut the page).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ListPage {
    pub items: Vec<Map<String, Value>>,
}

/// How to find out whether a create whose answer was lost (timeout, dropped connection after
/// the request was sent) happened: by looking the resource up with a read-only row, never by
/// sending the create again.
pub struct Reconcile {
    /// The read-only row that looks it up (and that the hint tells a person to check with).
    pub lookup: &'static str,
    /// The lookup's arguments, from the parts the create sent.
    pub args: fn(sent: &RequestParts) -> Value,
    /// From the lookup's status and body (and what the lookup found before the create, when
    /// `before`): `Some(true)` this call created it, `Some(false)` it did not, `None` cannot
    /// tell.
    pub found:
        fn(status: u16, body: &Value, sent: &RequestParts, before: Option<&Value>) -> Option<bool>,
    /// Look up before the create too: where names are not unique, only something that was not
    /// there before the call is the call's doing.
    pub before: bool,
}

/// One thing the code relies on about a vendor, where it comes from, and how sure we are.
#[derive(Clone, Copy, Debug)]
pub struct Fact {
    pub about: Aspect,
    pub claim: &'static str,
    pub source: Source,
    /// For an assumed request shape: what to do when the vendor refuses it, for the error's
    /// hint.
    pub if_refused: Option<&'static str>,
    /// How `datasource-mcp verify` checks it against the user's tenant.
    pub verify: Verify,
}

impl Fact {
    pub const fn new(about: Aspect, claim: &'static str, source: Source) -> Fact {
        Fact {
            about,
            claim,
            source,
            if_refused: None,
            verify: Verify::NONE,
        }
    }

    /// This fact, with what to do when the vendor refuses a request it shapes.
    pub const fn if_refused(self, what: &'static str) -> Fact {
        Fact {
            if_refused: Some(what),
            ..self
        }
    }

    /// This fact, checked by `verify` with read-only requests.
    pub const fn probe(self, probe: &'static FactProbe) -> Fact {
        Fact {
            verify: Verify {
                read: Some(probe),
                ..self.verify
            },
            ..self
        }
    }

    /// This fact, checked by `verify --write` from what its provider's write script saw (the
    /// answers of its steps, by label).
    pub const fn written(self, read: fn(&Seen) -> Verdict) -> Fact {
        Fact {
            verify: Verify {
                write: Some(read),
                ..self.verify
            },
            ..self
        }
    }

    /// This fact, which `verify` cannot check safely, and why.
    pub const fn cannot_verify(self, why: &'static str) -> Fact {
        Fact {
            verify: Verify {
                cannot: Some(why),
                ..self.verify
            },
            ..self
        }
    }
}

// ---- verify: a fact against the user's tenant -------------------------------------------------

/// How `datasource-mcp verify` checks a fact: read-only requests (every run), what the
/// provider's write script saw (`--write`: a throwaway source created, tested, changed and
/// deleted), or why it cannot be checked safely. An assumed fact has at least one.
#[derive(Clone, Copy, Debug)]
pub struct Verify {
    pub read: Option<&'static FactProbe>,
    pub write: Option<fn(&Seen) -> Verdict>,
    pub cannot: Option<&'static str>,
}

impl Verify {
    pub const NONE: Verify = Verify {
        read: None,
        write: None,
        cannot: None,
    };

    /// Whether `verify` has a way to check the fact.
    pub fn is_checked(&self) -> bool {
        self.read.is_some() || self.write.is_some()
    }
}

/// The read-only requests that check a fact, and what their answers say about it. The
/// requests go through the provider's authenticated send (its token, limits, retries of
/// reads); what is read of the answers is their status and shape.
#[derive(Debug)]
pub struct FactProbe {
    pub asks: &'static [Ask],
    pub read: fn(&Seen) -> Verdict,
}

/// The values a probe's path parameter takes, from the answers so far.
pub type Values = fn(&Seen) -> Vec<String>;

/// One read-only request of a probe. Its answer is kept under `label`; an identical request
/// another probe of the run already made is answered from that one.
#[derive(Clone, Copy, Debug)]
pub struct Ask {
    pub label: &'static str,
    pub method: Method,
    /// Relative to the base URL; a `{param}` is filled by `fill`.
    pub path: &'static str,
    pub query: &'static [(&'static str, &'static str)],
    /// A JSON body (a read sent as POST: PDC's filter).
    pub body: Option<&'static str>,
    /// A path parameter's values, from earlier answers: one request per value (none when
    /// there is no value).
    pub fill: Option<(&'static str, Values)>,
    /// Sent only when earlier answers say so (a second route after the first is refused).
    pub when: Option<fn(&Seen) -> bool>,
}

impl Ask {
    pub const fn get(label: &'static str, path: &'static str) -> Ask {
        Ask {
            label,
            method: Method::Get,
            path,
            query: &[],
            body: None,
            fill: None,
            when: None,
        }
    }

    /// A read sent as POST with a JSON body.
    pub const fn post(label: &'static str, path: &'static str, body: &'static str) -> Ask {
        Ask {
            method: Method::Post,
            body: Some(body),
            ..Ask::get(label, path)
        }
    }

    pub const fn query(self, query: &'static [(&'static str, &'static str)]) -> Ask {
        Ask { query, ..self }
    }

    pub const fn fill(self, param: &'static str, values: Values) -> Ask {
        Ask {
            fill: Some((param, values)),
            ..self
        }
    }

    pub const fn when(self, when: fn(&Seen) -> bool) -> Ask {
        Ask {
            when: Some(when),
            ..self
        }
    }

    /// The request as a report shows it: the path template (a filled parameter may be a
    /// source's name, which a report never shows) and the query.
    pub fn shown(&self) -> String {
        let mut out = format!("{} {}", self.method.as_str(), self.path);
        for (i, (k, v)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(&format!("{k}={v}"));
        }
        out
    }
}

/// What every throwaway source of `verify --write` is named with, then a random part.
pub const THROWAWAY_PREFIX: &str = "datasource-mcp-verify-";

/// What `verify --write` does at a vendor: makes a throwaway source (named
/// [`THROWAWAY_PREFIX`] and a random part), tests and changes it with `steps`, and deletes
/// every source the steps made with `cleanup`: after the steps, after a failure and after an
/// interruption. It never touches a source it did not make.
#[derive(Debug)]
pub struct WriteScript {
    pub steps: &'static [Step],
    /// What the steps made, each as the arguments of `cleanup` (from the answers so far; a
    /// create whose answer was lost counts as made).
    pub made: fn(&Seen) -> Vec<Value>,
    /// The tool that deletes one of them.
    pub cleanup: &'static str,
}

/// One step of a write script; a step whose arguments cannot be made (what it needs was not
/// answered) is skipped.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    pub label: &'static str,
    pub via: Via,
}

/// How a step is sent.
#[derive(Clone, Copy, Debug)]
pub enum Via {
    /// A call of the tool through the engine, as an agent makes it (read-first merges and
    /// all): its arguments.
    Tool(&'static str, fn(&Seen) -> Option<Value>),
    /// One request, sent as is with the provider's credential, its status kept.
    Request(Method, &'static str, fn(&Seen) -> Option<RequestParts>),
}

impl Step {
    pub const fn tool(
        label: &'static str,
        tool: &'static str,
        args: fn(&Seen) -> Option<Value>,
    ) -> Step {
        Step {
            label,
            via: Via::Tool(tool, args),
        }
    }

    pub const fn request(
        label: &'static str,
        method: Method,
        path: &'static str,
        parts: fn(&Seen) -> Option<RequestParts>,
    ) -> Step {
        Step {
            label,
            via: Via::Request(method, path, parts),
        }
    }

    /// The step as a report shows it: the tool, or the request's method and path template.
    pub fn shown(&self) -> String {
        match self.via {
            Via::Tool(tool, _) => tool.to_string(),
            Via::Request(method, path, _) => format!("{} {path}", method.as_str()),
        }
    }
}

/// One answer a run of `verify` saw: of a probe's request, or of a write script's step.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// What was asked, as a report may show it (`GET /ds-connections/{name}/scan`, or a
    /// tool's name).
    pub request: String,
    /// The vendor's HTTP status (a tool's: its error's, when it failed), when it answered.
    pub status: Option<u16>,
    /// Its JSON body (a tool's: its result or error envelope); `Null` when none.
    pub body: Value,
    /// The value a filled path parameter had (never shown unless a verdict chooses to, for a
    /// vendor's own word such as a connector type).
    pub param: Option<String>,
    /// Why there is no usable answer (our error code: `CONNECTION_FAILED`,
    /// `AUTHENTICATION_FAILED`, …), or a tool's error code.
    pub error: Option<String>,
}

impl Answer {
    /// A 2xx answer, and for a tool no error.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.status.is_none_or(|s| (200..300).contains(&s))
    }

    /// `HTTP 404`, or why no answer came.
    pub fn status_text(&self) -> String {
        match (self.status, &self.error) {
            (Some(s), _) => format!("HTTP {s}"),
            (None, Some(e)) => format!("no answer ({e})"),
            (None, None) => "answered".into(),
        }
    }

    /// `GET /x: HTTP 404`.
    pub fn said(&self) -> String {
        format!("{}: {}", self.request, self.status_text())
    }

    /// The keys of the object at `pointer`, sorted and joined, for a report (names, never
    /// values).
    pub fn keys_at(&self, pointer: &str) -> String {
        let mut keys: Vec<&str> = self
            .body
            .pointer(pointer)
            .and_then(Value::as_object)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        format!("{{{}}}", keys.join(", "))
    }
}

/// What a run of `verify` saw at one provider, by label, in order.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    answers: Vec<(&'static str, Answer)>,
    /// The throwaway's name under `--write`.
    pub throwaway: Option<String>,
    /// The throwaway's made-up credential (masked in every output).
    pub secret: Option<String>,
}

impl Seen {
    pub fn push(&mut self, label: &'static str, answer: Answer) {
        self.answers.push((label, answer));
    }

    /// The first answer kept under `label`.
    pub fn first(&self, label: &str) -> Option<&Answer> {
        self.answers
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, a)| a)
    }

    /// The first answer kept under `label`, or the verdict when none came (not asked, or the
    /// vendor was not reached): see [`answered!`].
    pub fn answered(&self, label: &str) -> Result<&Answer, Verdict> {
        match self.first(label) {
            None => Err(Verdict::not_checked("not asked")),
            Some(a) if a.status.is_none() && a.error.is_some() => {
                Err(Verdict::not_checked(a.said()))
            }
            Some(a) => Ok(a),
        }
    }

    /// Every answer kept under `label`, in order.
    pub fn all<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a Answer> + 'a {
        self.answers
            .iter()
            .filter(move |(l, _)| *l == label)
            .map(|(_, a)| a)
    }

    /// Every answer, in order.
    pub fn answers(&self) -> impl Iterator<Item = &(&'static str, Answer)> {
        self.answers.iter()
    }
}

/// Whether the vendor answered as the ledger says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Held,
    Differs,
    NotChecked,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Held => "held",
            Outcome::Differs => "differs",
            Outcome::NotChecked => "not checked",
        }
    }
}

/// A fact's verdict: the outcome, what was observed (statuses, shapes and the vendor's own
/// words: keys, states, types; never a value of a source), and where the code has two forms
/// (two routes, two body shapes), the one this tenant speaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub observed: String,
    pub speaks: Option<String>,
}

impl Verdict {
    pub fn held(observed: impl Into<String>) -> Verdict {
        Verdict {
            outcome: Outcome::Held,
            observed: observed.into(),
            speaks: None,
        }
    }

    pub fn differs(observed: impl Into<String>) -> Verdict {
        Verdict {
            outcome: Outcome::Differs,
            observed: observed.into(),
            speaks: None,
        }
    }

    /// Not checked, and why.
    pub fn not_checked(why: impl Into<String>) -> Verdict {
        Verdict {
            outcome: Outcome::NotChecked,
            observed: why.into(),
            speaks: None,
        }
    }

    /// Which of two forms this tenant speaks.
    pub fn speaking(mut self, form: impl Into<String>) -> Verdict {
        self.speaks = Some(form.into());
        self
    }
}

/// A vendor's own word (a state, a connector type) as a report may show it: letters, digits,
/// `-`, `_` and spaces, at most 40 of them; anything else is shown as `(a value)`.
pub fn shown_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word.len() <= 40
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' '));
    match plain {
        true => word.to_string(),
        false => "(a value)".into(),
    }
}

/// The answer kept under `label` in `seen`, or, from the enclosing probe, the verdict of one
/// missing or refused: not checked when no answer came (the vendor was not reached).
macro_rules! answered {
    ($seen:expr, $label:expr) => {
        match $seen.answered($label) {
            Ok(answer) => answer,
            Err(verdict) => return verdict,
        }
    };
}
pub(crate) use answered;

/// What part of the vendor's API a fact is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aspect {
    /// Where a request goes and how it authenticates.
    Path,
    Auth,
    /// What a request carries.
    Request,
    /// What comes back: success shapes, statuses, errors, values.
    Response,
    Errors,
    Values,
}

impl Aspect {
    pub fn as_str(self) -> &'static str {
        match self {
            Aspect::Path => "path",
            Aspect::Auth => "auth",
            Aspect::Request => "request",
            Aspect::Response => "response",
            Aspect::Errors => "errors",
            Aspect::Values => "values",
        }
    }

    /// Whether a wrong belief about it makes the vendor reject the request.
    pub fn shapes_the_request(self) -> bool {
        matches!(self, Aspect::Path | Aspect::Request)
    }
}

/// Where a fact comes from, strongest first.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// The vendor's own documentation (a URL).
    VendorDocs(&'static str),
    /// The vendor's own code: SDK, CLI, MCP server, infrastructure-as-code (repo and path).
    VendorCode(&'static str),
    /// A community client that runs against real instances (repo and path).
    Community(&'static str),
    /// No evidence found: what the code assumes, and why.
    Assumed(&'static str),
}

impl Source {
    pub fn confidence(self) -> &'static str {
        match self {
            Source::VendorDocs(_) => "vendor docs",
            Source::VendorCode(_) => "vendor code",
            Source::Community(_) => "community client",
            Source::Assumed(_) => "assumed",
        }
    }

    pub fn reference(self) -> &'static str {
        match self {
            Source::VendorDocs(r)
            | Source::VendorCode(r)
            | Source::Community(r)
            | Source::Assumed(r) => r,
        }
    }

    pub fn is_assumed(self) -> bool {
        matches!(self, Source::Assumed(_))
    }
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
    /// What this row relies on about the vendor, with sources (the ledger, `VENDORS.md`).
    pub facts: &'static [Fact],
    /// For list tools: paging and compact rows.
    pub listing: Option<Listing>,
}

impl OperationSpec {
    /// The request parts of a call with `args`, the server's own list arguments taken out
    /// first (examples, probes and lookups go through here; a call through the engine,
    /// which also uses those arguments).
    pub fn prepare(&self, mut args: Value) -> Result<RequestParts, InvalidArgument> {
        if let Some(listing) = self.listing {
            ListArgs::take(&mut args, listing.paging)?;
        }
        (self.args.prepare)(args)
    }

    /// The request-shaping facts of this row that no evidence confirms.
    pub fn assumed_request_facts(&self) -> impl Iterator<Item = &'static Fact> {
        self.facts
            .iter()
            .filter(|f| f.about.shapes_the_request() && f.source.is_assumed())
    }

    /// Whether the call changes something upstream (and so takes `dry_run`).
    pub fn mutates(&self) -> bool {
        !self.hints.read_only
    }

    /// Whether a call sends credentials the user may still have to enter: a change, or a
    /// connection test of a candidate configuration.
    pub fn sends_credentials(&self) -> bool {
        self.mutates() || self.hints == Hints::PROBE
    }

    /// Whether its requests may be sent again after a transient failure: only requests that
    /// change nothing. A write is never re-sent.
    pub fn retry_safe(&self) -> bool {
        self.hints.read_only
    }
}
