//! One request of a session, from its encoding to its result: waiting with a
//! deadline, cancellation, expired HTTP sessions, protocol version retries
//! and, in the stateless era, multi round-trip results and tasks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::reply::{Deliver, Reply, ReplySlot, reply_slots};
use super::{MessageSizes, Session, check_tool_result};
use crate::cancel::{CancelGuard, CancelToken};
use crate::error::{Error, Result, TimeoutPhase};
use crate::protocol::messages::methods;
use crate::protocol::modern::{self, ResultKind};
use crate::protocol::tool_result_shape::ToolResultShape;
use crate::transport::{Interrupt, OutgoingRequest};
use crate::util::deadline_after;

/// How often a request is sent again at another protocol version (`-32022`).
const MAX_VERSION_RETRIES: u32 = 2;
/// The most rounds of one multi round-trip request.
const MAX_INPUT_ROUNDS: u32 = 16;

/// One request as the session sends it (every round of it).
#[derive(Clone, Copy)]
pub(crate) struct Exchange<'a> {
    /// The method.
    pub(crate) method: &'a str,
    /// The params, encoded (a JSON object), if any.
    pub(crate) params: Option<&'a [u8]>,
    /// The limit of the whole request, every round included.
    pub(crate) timeout: Duration,
    /// Cancels it.
    pub(crate) cancel: Option<&'a CancelToken>,
    /// The progress token, when the caller asked for progress.
    pub(crate) progress: Option<&'a str>,
    /// What `Mcp-Name` names (a tool, prompt or resource), when the method has one.
    pub(crate) name: Option<&'a str>,
    /// The `Mcp-Param-*` headers of a tool call.
    pub(crate) headers: &'a [(String, String)],
    /// Where a task the request becomes is shown.
    pub(crate) task: Option<&'a crate::call_options::TaskWatcher>,
}

impl<'a> Exchange<'a> {
    /// A request without progress, name or headers.
    pub(crate) fn plain(
        method: &'a str,
        params: Option<&'a [u8]>,
        timeout: Duration,
        cancel: Option<&'a CancelToken>,
    ) -> Self {
        Exchange { method, params, timeout, cancel, progress: None, name: None, headers: &[], task: None }
    }
}

/// Encodes params once; every round reuses the bytes.
pub(crate) fn encode_params<P: Serialize + ?Sized>(params: Option<&P>) -> Result<Option<Vec<u8>>> {
    params
        .map(|p| {
            let mut buf = Vec::with_capacity(128);
            write_params(&mut buf, p).map(|()| buf)
        })
        .transpose()
}

/// Appends the JSON of `params` to `buf`.
fn write_params<P: Serialize + ?Sized>(buf: &mut Vec<u8>, params: &P) -> Result<()> {
    serde_json::to_writer(buf, params)
        .map_err(|e| Error::InvalidArgument(format!("cannot encode params: {e}")))
}

impl Session {
    /// Sends a request and waits for its raw result.
    pub(crate) fn request<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: Option<&P>,
        timeout: Duration,
        cancel: Option<&CancelToken>,
    ) -> Result<Box<RawValue>> {
        let params = encode_params(params)?;
        let exchange = Exchange::plain(method, params.as_deref(), timeout, cancel);
        self.exchange(&exchange, &mut MessageSizes::default())
    }

    /// Runs a request to its final result: the first round, then what the
    /// result asks for (input for the server, a task to follow), all by the
    /// request's deadline.
    pub(crate) fn exchange(&self, x: &Exchange<'_>, sizes: &mut MessageSizes) -> Result<Box<RawValue>> {
        let deadline = deadline_after(x.timeout);
        let raw = self.round(x, "", deadline, sizes)?;
        self.finish(x, raw, deadline, sizes)
    }

    /// [`Session::exchange`] for `tools/call`, with the result checked.
    pub(crate) fn exchange_tool(
        &self,
        x: &Exchange<'_>,
        sizes: &mut MessageSizes,
    ) -> Result<(ToolResultShape, Box<RawValue>)> {
        let deadline = deadline_after(x.timeout);
        let raw = self.round(x, "", deadline, sizes)?;
        self.finish_tool(x, raw, deadline, sizes)
    }

    /// [`Session::finish`] for `tools/call`, reading the result once: a
    /// complete result (the usual case) says so in the same pass that checks
    /// it is a `CallToolResult`. The result is not built here: whoever reads
    /// it parses it (see [`crate::exec::ToolOutput`]).
    pub(crate) fn finish_tool(
        &self,
        x: &Exchange<'_>,
        raw: Box<RawValue>,
        deadline: Instant,
        sizes: &mut MessageSizes,
    ) -> Result<(ToolResultShape, Box<RawValue>)> {
        if self.is_modern() {
            if let Ok(shape) = check_tool_result(&raw)
                && shape.complete
            {
                return Ok((shape, raw));
            }
            let raw = self.finish(x, raw, deadline, sizes)?;
            return check_tool_result(&raw).map(|shape| (shape, raw));
        }
        check_tool_result(&raw).map(|shape| (shape, raw))
    }

    /// Takes a first result to the final one (a pipelined call's reply goes
    /// through here too): complete results as they are; in the stateless era
    /// input requests are answered and the request sent again, tasks followed.
    pub(crate) fn finish(
        &self,
        x: &Exchange<'_>,
        mut raw: Box<RawValue>,
        deadline: Instant,
        sizes: &mut MessageSizes,
    ) -> Result<Box<RawValue>> {
        if !self.is_modern() {
            return Ok(raw);
        }
        let interactive =
            matches!(x.method, methods::TOOLS_CALL | methods::PROMPTS_GET | methods::RESOURCES_READ);
        loop {
            let kind =
                modern::result_kind(&raw).map_err(|e| Error::Protocol(format!("{}: {e}", x.method)))?;
            match kind {
                ResultKind::Complete => return Ok(raw),
                ResultKind::InputRequired(input) if interactive => {
                    sizes.input_rounds += 1;
                    if sizes.input_rounds > MAX_INPUT_ROUNDS {
                        return Err(Error::Protocol(format!(
                            "{} still asked for input after {MAX_INPUT_ROUNDS} rounds",
                            x.method
                        )));
                    }
                    let extra = self.answer_inputs(&input, deadline, x.timeout)?;
                    raw = self.round(x, &extra, deadline, sizes)?;
                }
                ResultKind::Task if x.method == methods::TOOLS_CALL => {
                    return self.follow_task(&raw, x, deadline, sizes);
                }
                ResultKind::InputRequired(_) | ResultKind::Task => {
                    return Err(Error::Protocol(format!(
                        "{} answered with a result of the wrong kind",
                        x.method
                    )));
                }
                ResultKind::Unknown(kind) => {
                    return Err(Error::Protocol(format!(
                        "{} answered with unknown resultType '{kind}'",
                        x.method
                    )));
                }
            }
        }
    }

    /// One round: sends the request (under a new id) and waits, by
    /// `deadline`; renews an expired HTTP session once, and in the stateless
    /// era moves to a version the server names when it refuses this one.
    fn round(
        &self,
        x: &Exchange<'_>,
        extra: &str,
        deadline: Instant,
        sizes: &mut MessageSizes,
    ) -> Result<Box<RawValue>> {
        let mut version_retries = 0;
        let mut renewed = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::timeout(TimeoutPhase::Response, x.timeout));
            }
            let generation = self.inner.generation.load(std::sync::atomic::Ordering::Acquire);
            match self.send_and_wait(x, extra, remaining, sizes) {
                // Only a request the server refused (404 = expired session) is sent again;
                // one that may be running (a 404 while resuming its stream) is not.
                // (Never for `initialize` itself: the renewal is an `initialize`.)
                Err(Error::Transport { status: Some(404), may_have_run: false, .. })
                    if !renewed
                        && x.method != methods::INITIALIZE
                        && !self.is_modern()
                        && !self.inner.transport.routes_responses() =>
                {
                    renewed = true;
                    self.reinitialize(generation)?;
                }
                Err(Error::Rpc { code: modern::codes::UNSUPPORTED_PROTOCOL_VERSION, data, message })
                    if self.is_modern() && version_retries < MAX_VERSION_RETRIES =>
                {
                    version_retries += 1;
                    let supported = modern::supported_in(data.as_ref());
                    let Some(version) = modern::choose(&supported) else {
                        return Err(Error::UnsupportedVersion(format!(
                            "the server speaks {} ({message})",
                            supported.join(", ")
                        )));
                    };
                    self.use_version(version);
                }
                // A response timeout names the request's limit, not what was left of
                // it in this round; the other phases keep their own limits.
                Err(Error::Timeout { phase: TimeoutPhase::Response, detail, .. }) => {
                    return Err(Error::Timeout { phase: TimeoutPhase::Response, after: x.timeout, detail });
                }
                other => return other,
            }
        }
    }

    fn reinitialize(&self, seen_generation: u64) -> Result<()> {
        use std::sync::atomic::Ordering;
        let _guard = self.inner.reinit.lock();
        if self.inner.generation.load(Ordering::Acquire) != seen_generation {
            return Ok(()); // another thread already opened a new server session
        }
        log::info!(target: "mcpstore::session", "[{}] HTTP session expired; initializing a new one", self.inner.router.service);
        self.inner.transport.begin_session();
        self.handshake(self.inner.options.connection_timeout)?;
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    pub(super) fn next_id(&self) -> i64 {
        self.inner.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    fn send_and_wait(
        &self,
        x: &Exchange<'_>,
        extra: &str,
        timeout: Duration,
        sizes: &mut MessageSizes,
    ) -> Result<Box<RawValue>> {
        let id = self.next_id();
        let mut body = Vec::with_capacity(256);
        self.wire().encode(&mut body, id, x.method, x.params, extra, x.progress);
        sizes.sent += body.len();
        let started = Instant::now();
        let deadline = deadline_after(timeout);
        let routed = self.inner.transport.routes_responses();
        // An inline (HTTP) request is stopped by shutting its connection down.
        let interrupt = (!routed && x.cancel.is_some()).then(Interrupt::new);
        let request = OutgoingRequest {
            id,
            method: x.method,
            body: &body,
            write_timeout: self.inner.options.write_timeout.min(timeout),
            read_timeout: timeout,
            interrupt: interrupt.as_ref(),
            name: x.name,
            headers: x.headers,
        };
        // The initialize request must never be cancelled (MCP lifecycle).
        let cancellable = x.method != methods::INITIALIZE;
        let result = if routed {
            // A pooled reply slot: creating one per request costs more than reusing one.
            let channel = reply_slots().get();
            // Registered before the cancel token learns the id, so a cancel always finds it.
            self.inner.router.register(id, Deliver::Slot(channel.sender()), tag_of(id))?;
            let Ok(_cancel_guard) = self.watch_cancel(x.cancel, id, None) else {
                let owned = self.inner.router.pending.lock().remove(&id).is_some();
                if !owned {
                    drop(channel.detach());
                }
                return Err(Error::Cancelled);
            };
            let (result, clean) = match self.inner.transport.send_request(&request) {
                Ok(_) => self.wait(id, &channel, (started, deadline), timeout, cancellable),
                Err(e) => {
                    // Clean only if the waiter was still ours: a closing reader may have
                    // taken it and be about to send into the channel.
                    let owned = self.inner.router.pending.lock().remove(&id).is_some();
                    (Err(e), owned)
                }
            };
            if !clean {
                drop(channel.detach()); // a late reply may still land in it: never reuse it
            }
            result
        } else {
            let Ok(_cancel_guard) = self.watch_cancel(x.cancel, id, interrupt.clone()) else {
                return Err(Error::Cancelled);
            };
            match self.inner.transport.send_request(&request) {
                Ok(Some(outcome)) => outcome.map_err(Error::from),
                Ok(None) => Err(Error::Internal("inline transport returned no response".into())),
                Err(e @ Error::Timeout { phase: TimeoutPhase::Response, .. }) => {
                    if cancellable {
                        // The server may hang: the caller must not wait for this POST too.
                        self.send_cancel_in_background(id, "timeout");
                    }
                    Err(e)
                }
                Err(e) => Err(e),
            }
        };
        if x.cancel.is_some_and(CancelToken::is_cancelled) && result.is_err() {
            return Err(Error::Cancelled);
        }
        result
    }

    /// Registers what cancelling request `id` means with `cancel`: wake its
    /// waiter (a routed transport) or stop its request (`interrupt`, inline),
    /// and tell the server. `Err` when the token was cancelled already (the
    /// request must not be sent).
    fn watch_cancel(
        &self,
        cancel: Option<&CancelToken>,
        id: i64,
        interrupt: Option<Arc<Interrupt>>,
    ) -> std::result::Result<Option<CancelGuard>, ()> {
        let Some(token) = cancel else { return Ok(None) };
        let session = Arc::downgrade(&self.inner);
        let guard = token.on_cancel(move || {
            match &interrupt {
                Some(i) => i.fire(),
                None => {
                    if let Some(inner) = session.upgrade() {
                        inner.router.complete(id, Err(Error::Cancelled));
                    }
                }
            }
            if let Some(inner) = session.upgrade() {
                Session { inner }.send_cancel_in_background(id, "cancelled by the client");
            }
        });
        guard.map(Some).ok_or(())
    }

    /// Waits for the reply of request `id`; also says whether the channel is
    /// clean (no reply can arrive in it any more) so it may be reused.
    fn wait(
        &self,
        id: i64,
        rx: &ReplySlot,
        (started, deadline): (Instant, Instant),
        timeout: Duration,
        cancellable: bool,
    ) -> (Result<Box<RawValue>>, bool) {
        // What the server wrote instead of a reply, if anything, explains the timeout.
        let timed_out = || Error::Timeout {
            phase: TimeoutPhase::Response,
            after: timeout,
            detail: self.inner.router.stray_since(started),
        };
        loop {
            match rx.recv_deadline(deadline) {
                Ok((tag, result)) if tag == tag_of(id) => return (result, true),
                Ok((tag, _)) => {
                    // Never expected (channels are reused only when clean); drop it and keep waiting.
                    log::warn!(target: "mcpstore::session", "[{}] discarded a stray reply (tag {tag})", self.inner.router.service);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.inner.router.pending.lock().remove(&id).is_some() {
                        if cancellable {
                            self.send_cancel_in_background(id, "timeout");
                        }
                        return (Err(timed_out()), true);
                    }
                    // The response raced the deadline: it is in the channel or about to be.
                    return match rx.recv_timeout(Duration::from_millis(100)) {
                        Ok((tag, r)) if tag == tag_of(id) => (r, true),
                        _ => (Err(timed_out()), false),
                    };
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return (Err(self.inner.router.closed_error(true)), false);
                }
            }
        }
    }

    /// Writes several `tools/call` requests back to back (stdio pipelining);
    /// each reply arrives on `tx` with its tag. Returns the request ids, in order.
    pub(crate) fn start_tool_calls(
        &self,
        calls: &[(usize, &str, &serde_json::Value)],
        tx: &Sender<Reply>,
    ) -> Result<Vec<i64>> {
        let wire = self.wire();
        // Every body goes into one buffer, its params through one scratch
        // buffer: no allocation per request.
        let mut joined = Vec::with_capacity(calls.len() * 128);
        let mut ends = Vec::with_capacity(calls.len());
        let mut params = Vec::with_capacity(128);
        let mut ids = Vec::with_capacity(calls.len());
        for (tag, name, arguments) in calls {
            let id = self.next_id();
            params.clear();
            write_params(&mut params, &super::CallParams { name, arguments })?;
            wire.encode(&mut joined, id, methods::TOOLS_CALL, Some(&params), "", None);
            self.inner.router.register(id, Deliver::Channel(tx.clone()), *tag)?;
            ends.push(joined.len());
            ids.push(id);
        }
        let write_timeout = self.inner.options.write_timeout;
        let starts = std::iter::once(0).chain(ends.iter().copied());
        let requests: Vec<OutgoingRequest<'_>> = ids
            .iter()
            .zip(starts.zip(&ends))
            .zip(calls)
            .map(|((id, (start, &end)), (_, name, _))| OutgoingRequest {
                id: *id,
                method: methods::TOOLS_CALL,
                body: &joined[start..end],
                write_timeout,
                read_timeout: self.inner.options.read_timeout,
                interrupt: None,
                name: Some(name),
                headers: &[],
            })
            .collect();
        if let Err(e) = self.inner.transport.send_pipelined(&requests) {
            let mut pending = self.inner.router.pending.lock();
            for id in &ids {
                pending.remove(id);
            }
            return Err(e);
        }
        Ok(ids)
    }

    /// Forgets a pipelined request that timed out or was cancelled (`reason`)
    /// and tells the server; whether it was still waiting.
    pub(crate) fn abandon_request(&self, id: i64, reason: &str) -> bool {
        let removed = self.inner.router.pending.lock().remove(&id).is_some();
        if removed {
            self.send_cancel_in_background(id, reason);
        }
        removed
    }

    /// Writes one `tools/call` whose reply `on_reply` receives on the reader
    /// thread (routed transports only). Returns the request's id and size; on
    /// an error `on_reply` never runs, otherwise it runs exactly once.
    pub(crate) fn start_tool_call(
        &self,
        name: &str,
        arguments: &serde_json::Value,
        on_reply: super::reply::ReplyCallback,
    ) -> Result<(i64, usize)> {
        if !self.inner.transport.routes_responses() {
            return Err(Error::Internal("start_tool_call needs a routed transport".into()));
        }
        let id = self.next_id();
        let mut params = Vec::with_capacity(128);
        write_params(&mut params, &super::CallParams { name, arguments })?;
        let mut body = Vec::with_capacity(params.len() + 128);
        self.wire().encode(&mut body, id, methods::TOOLS_CALL, Some(&params), "", None);
        self.inner.router.register(id, Deliver::Callback(on_reply), tag_of(id))?;
        let request = OutgoingRequest {
            id,
            method: methods::TOOLS_CALL,
            body: &body,
            write_timeout: self.inner.options.write_timeout,
            read_timeout: self.inner.options.read_timeout,
            interrupt: None,
            name: Some(name),
            headers: &[],
        };
        match self.inner.transport.send_request(&request) {
            Ok(_) => Ok((id, body.len())),
            // Still ours: it never runs. Taken by a closing reader: it delivers the error.
            Err(e) if self.inner.router.pending.lock().remove(&id).is_some() => Err(e),
            Err(_) => Ok((id, body.len())),
        }
    }

    /// Tells the server to stop working on request `id`, never blocking the
    /// caller: the notice goes through the store's notice thread (one bounded
    /// queue, not a thread per timeout), bounded by a short write limit. In
    /// the stateless era over HTTP, closing the request's stream is the
    /// cancellation, and nothing is sent.
    pub(super) fn send_cancel_in_background(&self, id: i64, reason: &str) {
        if self.is_modern() && !self.inner.transport.routes_responses() {
            return;
        }
        self.post_notification(methods::CANCELLED, Some(&json!({ "requestId": id, "reason": reason })));
    }
}

/// The tag a single request's reply carries: its id (pipelined batches use their own tags).
fn tag_of(id: i64) -> usize {
    id as usize
}
