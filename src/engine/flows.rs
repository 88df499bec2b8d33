//! The flows that run a row once its arguments are checked: the read a change is made from,
//! the lookup a create of non-unique names needs, the request (in the form the vendor
//! accepts), the reconcile of a write whose answer was lost, and the wait for the work a
//! request started.

use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::{Engine, ProgressSink, Watch};
use crate::error::ToolError;
use crate::operation::{OperationSpec, Poll, PollState, Reconcile};
use crate::redact;
use crate::request::{Method, RequestParts};
use crate::upstream::{HttpResponse, ProviderClient, ResponseBody, TransportError};

/// One call on its way: the provider it goes to, and its own secrets, which the vendor trace
/// masks too.
struct Call<'a> {
    provider: &'a ProviderClient,
    mask: Option<redact::Matcher>,
    /// The status of the vendor's last answer (0: none yet), for the audit log.
    status: &'a AtomicU16,
}

impl Engine {
    /// Runs a row's flow for one vendor, with the call's secrets masked in its trace and its
    /// vendor status kept for the audit log.
    pub(super) async fn run(
        &self,
        op: &'static OperationSpec,
        provider: &ProviderClient,
        parts: RequestParts,
        secrets: &redact::CallSecrets,
        status: &AtomicU16,
        watch: Watch<'_>,
    ) -> Result<Value, ToolError> {
        let call = Call {
            provider,
            mask: (!secrets.is_empty()).then(|| secrets.matcher().clone()),
            status,
        };
        self.execute(op, &call, parts, watch).await
    }

    /// Runs a row's flow: its read first, the lookup a create of non-unique names needs, its
    /// request (in the form the vendor accepts), and the wait for the work it started.
    async fn execute(
        &self,
        op: &'static OperationSpec,
        call: &Call<'_>,
        parts: RequestParts,
        watch: Watch<'_>,
    ) -> Result<Value, ToolError> {
        let parts = match op.flow.read_first {
            Some(read) => {
                let read_parts = read_parts(&parts, read.query);
                let current = self
                    .send(call, Method::Get, read.path, &read_parts, true)
                    .await?;
                let current = expect_success(current)?;
                let current = current.json().cloned().unwrap_or(Value::Null);
                (read.then)(current, parts).map_err(ToolError::Precondition)?
            }
            None => parts,
        };
        let before = match &op.reconcile {
            Some(rec) if rec.before => self
                .lookup(rec, call, &parts)
                .await
                .ok()
                .filter(|(status, _)| (200..300).contains(status)),
            _ => None,
        };
        let polling = op.flow.then_poll.filter(|_| parts.wait.is_some());
        // Where a status read may still show earlier work, the status before the start.
        let earlier = match polling {
            Some(
                poll @ Poll {
                    stale: Some(_),
                    status_path: Some(path),
                    ..
                },
            ) => match (poll.job_id)(&Value::Null, &parts) {
                Some(id) => {
                    let status = RequestParts::new().path("id", id);
                    match self.send(call, Method::Get, path, &status, true).await {
                        Ok(r) if r.is_success() => Some(result_object(r)),
                        _ => Some(Value::Null),
                    }
                }
                None => None,
            },
            _ => None,
        };
        let sent = self.send_row(op, call, &parts);
        let sent = match polling {
            // The wait reports progress itself.
            Some(_) => sent.await,
            None => heartbeat(sent, watch.progress, self.upstream.settings().heartbeat).await,
        };
        let answer = match sent {
            Ok(r) => expect_success(r).map_err(|e| e.of_request(op))?,
            Err(ToolError::Transport(cause)) if op.mutates() && cause.maybe_sent() => {
                return self.reconcile(op, call, &parts, cause, before).await;
            }
            Err(e) => return Err(e),
        };
        let Some(poll) = op.flow.then_poll else {
            return Ok(result_object(answer));
        };
        match poll.status_path {
            // The row reads a status: with a wait, read it again until the work is done.
            None => match polling {
                Some(_) => {
                    let deadline = Instant::now() + parts.wait.unwrap_or_default();
                    let end = Wait {
                        poll,
                        id: None,
                        parts: &parts,
                        deadline,
                        earlier: None,
                    };
                    let status = self.wait(op, call, answer, end, watch.progress).await?;
                    Ok(status_result(poll, status))
                }
                None => Ok(status_result(poll, result_object(answer))),
            },
            // The row started a job: its id, and with a wait, its end.
            Some(_) => {
                let value = result_object(answer);
                let id = job_id(poll, &value, &parts)?;
                if let Some(started) = watch.started {
                    started(&id);
                }
                let Some(limit) = polling.map(|_| parts.wait.unwrap_or_default()) else {
                    return Ok(json!({"job_id": id, "answer": value}));
                };
                let deadline = Instant::now() + limit;
                self.follow(op, call, poll, &id, deadline, earlier, watch.progress)
                    .await
            }
        }
    }

    /// Reads a started job's status until it ends or `deadline` passes: the result of a row
    /// that started a job and waits (`{job_id, status, job}`). `earlier`: the status read before
    /// the start, where a read may still show earlier work.
    #[allow(clippy::too_many_arguments)]
    async fn follow(
        &self,
        op: &'static OperationSpec,
        call: &Call<'_>,
        poll: Poll,
        id: &str,
        deadline: Instant,
        earlier: Option<Value>,
        progress: Option<&dyn ProgressSink>,
    ) -> Result<Value, ToolError> {
        let status = RequestParts::new().path("id", id.to_string());
        let path = poll.status_path.unwrap_or(op.path);
        let limit = deadline.saturating_duration_since(Instant::now());
        let first = self
            .before(deadline, self.send(call, Method::Get, path, &status, true))
            .await
            .ok_or_else(|| ToolError::WaitTimeout {
                status: "started".into(),
                seconds: limit.as_secs(),
            })??;
        let first = expect_success(first)?;
        let end = Wait {
            poll,
            id: Some(id),
            parts: &status,
            deadline,
            earlier: earlier.as_ref(),
        };
        let job = self.wait(op, call, first, end, progress).await?;
        let state = (poll.state)(&job);
        let mut result = Map::new();
        result.insert("job_id".into(), json!(id));
        result.insert("status".into(), json!(shown_status(&state.status)));
        if let Some(summary) = poll.summary {
            sum_up(&mut result, &state, summary(&job));
        }
        result.insert("job".into(), job);
        Ok(Value::Object(result))
    }

    /// Follows a job a call of `op` started (by another process that stopped, or before a
    /// restart) to its end, as that call would have: the same result, masked, counted and
    /// audited like a call. For a task whose runner went away.
    pub async fn resume(
        &self,
        op: &'static OperationSpec,
        id: &str,
        wait: Duration,
        cx: &super::CallContext,
    ) -> super::CallOutcome {
        let started = Instant::now();
        let secrets = redact::CallSecrets::default();
        let mut trail = super::audit::Trail::default();
        // The job is followed with the credential of the caller who started it (per-user mode:
        // their own), as the call that started it was.
        let acting = self.acting(op, cx).await;
        if let Ok(acting) = &acting {
            trail.credential = Some(acting.as_ref().map_or("service", |a| a.label()));
        }
        let result = match (acting, self.provider(op.provider), op.flow.then_poll) {
            (Err(e), _, _) => Err(e),
            (Ok(acting), Some(provider), Some(poll)) if poll.status_path.is_some() => {
                let call = Call {
                    provider,
                    mask: None,
                    status: &trail.status,
                };
                let deadline = Instant::now() + wait;
                let progress = cx.progress.as_deref();
                let followed = self.follow(op, &call, poll, id, deadline, None, progress);
                let followed = match acting {
                    Some(acting) => super::credentials::ACTING.scope(acting, followed).await,
                    None => followed.await,
                };
                match followed {
                    Ok(mut value) => {
                        redact::clean_json(&mut value, None);
                        self.fit(super::Shaped::whole(value))
                    }
                    Err(e) => Err(e),
                }
            }
            _ => Err(ToolError::Internal),
        };
        self.conclude(op, result, &secrets, &trail, cx, started)
    }

    /// Sends a row's request; where its first form is uncertain and the vendor rejects it, the
    /// second, which is then used for the rest of the process.
    async fn send_row(
        &self,
        op: &'static OperationSpec,
        call: &Call<'_>,
        parts: &RequestParts,
    ) -> Result<HttpResponse, ToolError> {
        let retry_safe = op.retry_safe();
        let Some(fallback) = op.flow.fallback.filter(|_| retry_safe) else {
            return self.send(call, op.method, op.path, parts, retry_safe).await;
        };
        let second = || {
            let parts = match fallback.rewrite {
                Some(rewrite) => rewrite(parts.clone()),
                None => parts.clone(),
            };
            (fallback.path.unwrap_or(op.path), parts)
        };
        if self.learned_second_form(op) {
            let (path, parts) = second();
            return self.send(call, op.method, path, &parts, retry_safe).await;
        }
        let first = self
            .send(call, op.method, op.path, parts, retry_safe)
            .await?;
        if !(fallback.rejected)(first.status, first.json().unwrap_or(&Value::Null)) {
            return Ok(first);
        }
        tracing::info!(
            tool = op.name,
            status = first.status,
            "the vendor rejects the first form; sending the second"
        );
        let (path, parts) = second();
        let second = self.send(call, op.method, path, &parts, retry_safe).await?;
        if second.is_success() {
            self.learned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(op.name);
        }
        Ok(second)
    }

    fn learned_second_form(&self, op: &OperationSpec) -> bool {
        self.learned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(op.name)
    }

    /// Runs a create's lookup row with arguments made from what the create sends.
    async fn lookup(
        &self,
        rec: &Reconcile,
        call: &Call<'_>,
        sent: &RequestParts,
    ) -> Result<(u16, Value), ToolError> {
        let row = crate::providers::operation(rec.lookup).ok_or(ToolError::Internal)?;
        let parts = row.prepare((rec.args)(sent))?;
        let r = self.send_row(row, call, &parts).await?;
        Ok((r.status, r.json().cloned().unwrap_or(Value::Null)))
    }

    /// After a write's answer was lost: a create is looked up and reported as created (a
    /// result), not created, or unknown (errors). Nothing is sent again.
    async fn reconcile(
        &self,
        op: &'static OperationSpec,
        call: &Call<'_>,
        sent: &RequestParts,
        cause: TransportError,
        before: Option<(u16, Value)>,
    ) -> Result<Value, ToolError> {
        tracing::warn!(tool = op.name, %cause, "the answer to a write was lost; not sending it again");
        let Some(rec) = &op.reconcile else {
            return Err(ToolError::OutcomeUnknown {
                cause,
                check_with: None,
            });
        };
        let found = match self.lookup(rec, call, sent).await {
            Ok((status, body)) => {
                let before = before.as_ref().map(|(_, b)| b);
                (rec.found)(status, &body, sent, before).map(|f| (f, body))
            }
            Err(_) => None,
        };
        match found {
            Some((true, body)) => Ok(json!({
                "outcome": "created",
                "message": format!("The answer was lost ({cause}), but a lookup finds what this call created: it exists now. Do not create it again."),
                "lookup": body,
            })),
            Some((false, _)) => Err(ToolError::NotCreated { cause }),
            None => Err(ToolError::OutcomeUnknown {
                cause,
                check_with: Some(rec.lookup),
            }),
        }
    }

    /// Reads a job's status until it finishes or the wait runs out, reporting progress.
    /// `first` is the status read already made; `id` names the job the row started (none when
    /// the row itself reads a status).
    #[allow(clippy::too_many_arguments)]
    async fn wait(
        &self,
        op: &'static OperationSpec,
        call: &Call<'_>,
        first: HttpResponse,
        end: Wait<'_>,
        progress: Option<&dyn ProgressSink>,
    ) -> Result<Value, ToolError> {
        let Wait {
            poll,
            id,
            parts,
            deadline,
            earlier,
        } = end;
        let (method, path) = match (id, poll.status_path) {
            (Some(_), Some(path)) => (Method::Get, path),
            _ => (op.method, op.path),
        };
        let started = Instant::now();
        let interval = self.upstream.settings().poll_interval;
        let mut reported = -1.0;
        let mut polls = 0u32;
        let mut answer = first;
        loop {
            let value = result_object(answer);
            let now = match (earlier, poll.stale) {
                // Still the earlier work: this call's has not shown up yet.
                (Some(before), Some(stale)) if stale(before, &value) => PollState {
                    finished: false,
                    percent: None,
                    status: "starting".into(),
                },
                _ => (poll.state)(&value),
            };
            polls += 1;
            // Percent when the vendor gives it, else the poll count: always increasing.
            let (done, total) = match now.percent {
                Some(p) => (p, Some(100.0)),
                None => (f64::from(polls), None),
            };
            if let Some(sink) = progress
                && done > reported
            {
                // Vendor text, on its way to the client like a result: masked, stripped, short.
                let status = shown_status(&now.status);
                sink.report(done, total, format!("job {status}")).await;
                reported = done;
            }
            if now.finished {
                return Ok(value);
            }
            let timeout = || ToolError::WaitTimeout {
                status: shown_status(&now.status),
                seconds: started.elapsed().as_secs_f64().round() as u64,
            };
            if Instant::now() + interval > deadline {
                return Err(timeout());
            }
            tokio::time::sleep(interval).await;
            // The wait is a deadline: a vendor's Retry-After cannot stretch it.
            let r = self
                .before(deadline, self.send(call, method, path, parts, true))
                .await
                .ok_or_else(timeout)??;
            answer = expect_success(r)?;
        }
    }

    /// `work`'s output if it finishes before `deadline`.
    async fn before<T>(&self, deadline: Instant, work: impl Future<Output = T>) -> Option<T> {
        tokio::time::timeout_at(deadline.into(), work).await.ok()
    }

    /// Sends `method path` with `parts` through the call's authenticated send.
    async fn send(
        &self,
        call: &Call<'_>,
        method: Method,
        path: &str,
        parts: &RequestParts,
        retry_safe: bool,
    ) -> Result<HttpResponse, ToolError> {
        let mut request = call.provider.request(method, path, parts, retry_safe)?;
        request.mask = call.mask.clone();
        let response = call.provider.send(&self.upstream, &request).await?;
        call.status.store(response.status, Ordering::Relaxed);
        Ok(response)
    }
}

/// The parts of a flow's preliminary read: the same path parameters, the read's own query.
pub(super) fn read_parts(
    parts: &RequestParts,
    query: &[(&'static str, &'static str)],
) -> RequestParts {
    RequestParts {
        path_params: parts.path_params.clone(),
        query: query.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        body: None,
        wait: None,
    }
}

/// Awaits `fut`, reporting progress every `every` while it runs, when progress was asked for.
async fn heartbeat<T>(
    fut: impl Future<Output = T>,
    progress: Option<&dyn ProgressSink>,
    every: Duration,
) -> T {
    let Some(sink) = progress else {
        return fut.await;
    };
    let started = Instant::now();
    sink.report(0.0, None, "request sent".into()).await;
    tokio::pin!(fut);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            out = &mut fut => {
                sink.report(f64::from(ticks) + 1.0, None, "answer received".into()).await;
                return out;
            }
            _ = tokio::time::sleep(every) => {
                ticks += 1;
                let waited = started.elapsed().as_secs();
                sink.report(f64::from(ticks), None, format!("waiting for the vendor ({waited} s)")).await;
            }
        }
    }
}

/// A 2xx answer whose body is JSON (or empty), else the error that says what came instead.
fn expect_success(response: HttpResponse) -> Result<HttpResponse, ToolError> {
    match response.status {
        200..=299 => match &response.body {
            // A login page or a proxy's HTML with 200 is not the vendor's answer.
            ResponseBody::Text(text) => Err(ToolError::UnexpectedAnswer {
                status: Some(response.status),
                what: format!("a body that is not JSON ({})", first_words(text)),
            }),
            _ => Ok(response),
        },
        300..=399 => Err(ToolError::Redirect {
            status: response.status,
            location: response.location,
        }),
        _ => Err(ToolError::Vendor(response)),
    }
}

/// What a wait follows and until when.
struct Wait<'a> {
    poll: Poll,
    /// The job's id, where the status is read at the poll's own path.
    id: Option<&'a str>,
    /// The status read's parts.
    parts: &'a RequestParts,
    deadline: Instant,
    /// The status read before the start, where a read may still show earlier work.
    earlier: Option<&'a Value>,
}

/// The id of the job a row started, checked as strictly as a caller's before it goes into a
/// path.
fn job_id(poll: Poll, answer: &Value, sent: &RequestParts) -> Result<String, ToolError> {
    let id = (poll.job_id)(answer, sent).ok_or_else(|| ToolError::UnexpectedAnswer {
        status: None,
        what: "no job id in its answer".into(),
    })?;
    crate::args::check::path_segment("job_id", &id)
        .and_then(|()| crate::args::check::no_control_chars("job_id", &id))
        .map_err(|e| ToolError::UnexpectedAnswer {
            status: None,
            what: format!("a job id that cannot be one ({})", e.reason),
        })?;
    Ok(id)
}

/// A status row's result: the vendor's answer as is, or, where the row sums it up, the state,
/// whether the work finished, the summary, and the answer under `job`.
fn status_result(poll: Poll, answer: Value) -> Value {
    let Some(summary) = poll.summary else {
        return answer;
    };
    let state = (poll.state)(&answer);
    let mut result = Map::new();
    result.insert("status".into(), json!(shown_status(&state.status)));
    result.insert("finished".into(), json!(state.finished));
    sum_up(&mut result, &state, summary(&answer));
    result.insert("job".into(), answer);
    Value::Object(result)
}

/// A status's percent done (where the vendor says) and the row's summary of it, into a result.
fn sum_up(result: &mut Map<String, Value>, state: &PollState, summary: Map<String, Value>) {
    if let Some(percent) = state.percent {
        result.insert("percent".into(), json!(percent));
    }
    result.extend(summary);
}

/// Longest job status shown (in progress, a result's `status`, a wait's error): a status is a
/// word; a vendor's megabyte of it is not shown.
const MAX_STATUS_CHARS: usize = 200;

/// A job's status as shown: masked before it is cut, hidden characters stripped.
fn shown_status(status: &str) -> String {
    redact::sanitize_text(&redact::excerpt(status, MAX_STATUS_CHARS, None)).into_owned()
}

/// The start of a text, on one line, for a message.
fn first_words(text: &str) -> String {
    // Masked before it is cut (see redact::excerpt).
    let text = redact::excerpt(text, 61, None);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .take(60)
        .collect();
    let one_line = one_line.trim();
    if text.chars().count() > 60 {
        format!("starts with \"{one_line}…\"")
    } else {
        format!("\"{one_line}\"")
    }
}

/// Where a bare-list answer's items are in its result object.
pub(super) const BARE_LIST_POINTER: &str = "/items";

/// The structured result: objects as they are, anything else wrapped so the result is always
/// an object (`{"items": [...]}` for arrays).
pub(super) fn result_object(response: HttpResponse) -> Value {
    match response.body {
        ResponseBody::Json(Value::Object(map)) => Value::Object(map),
        ResponseBody::Json(Value::Array(items)) => json!({ "items": items }),
        ResponseBody::Json(other) => json!({ "value": other }),
        ResponseBody::Text(text) => json!({ "status": response.status, "text": text }),
        ResponseBody::Empty => json!({ "status": response.status }),
    }
}
