//! Background calls that no thread waits for: over a transport whose replies
//! a reader routes (stdio, legacy SSE), the request is written from the
//! submitting thread and the reader completes the call from its reply
//! (library code only: completion queues and plain handles; user callbacks
//! keep the executor path). The store's deadline thread ends a call whose
//! reply does not come in time, and a cancel of its handle ends it at once.
//! A reply that needs more rounds, and an error the retry rule allows, go on
//! in the executor, where blocking is allowed.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::value::RawValue;

use super::StoreInner;
use super::cached::CachePlan;
use super::call::checked_arguments;
use super::index::ToolRef;
use super::retry::repeat_safe;
use super::submit::{Finisher, forward_cancel};
use crate::cancel::CancelGuard;
use crate::error::{Error, Result, TimeoutPhase};
use crate::exec::{DeadlineKey, ToolCall, ToolOutput};
use crate::pool::Lease;
use crate::protocol::tool_result_shape::ToolResultShape;

/// A call on the wire and what its end needs.
struct Direct {
    call: ToolCall,
    target: ToolRef,
    plan: Option<CachePlan>,
    started: Instant,
    /// The call's own deadline, and the limit it stands for.
    deadline: Instant,
    timeout: Duration,
    /// The request id, once written (0 before).
    id: AtomicI64,
    /// Taken by whichever ends the call first: its reply, its deadline, its cancel.
    open: Mutex<Option<Open>>,
}

struct Open {
    finisher: Finisher,
    lease: Lease,
    expiry: Option<DeadlineKey>,
    _cancel: Option<CancelGuard>,
    _forward: Option<CancelGuard>,
}

/// A call handed back to the executor path, with its finisher.
type Back = Box<(ToolCall, Finisher)>;

impl StoreInner {
    /// Starts `call` without a thread waiting for it when it can; else hands it back.
    pub(super) fn start_direct(&self, call: ToolCall, finisher: Finisher) -> std::result::Result<(), Back> {
        let plain = call.options.progress.is_none() && call.options.task_watch().is_none();
        if !plain || !finisher.runs_anywhere() || self.closed.load(Ordering::Acquire) {
            return Err(Box::new((call, finisher)));
        }
        // Resolving without waiting: a service still starting takes the executor path.
        let Ok(target) = self.index().resolve(&call.tool) else { return Err(Box::new((call, finisher))) };
        if checked_arguments(&call.arguments).is_err() {
            return Err(Box::new((call, finisher)));
        }
        let timeout = self.call_timeout(&call.options);
        let deadline = crate::util::deadline_after(timeout);
        let plan = self.cache_plan(&target, &call.arguments, &call.options);
        if let Some(hit) = plan.as_ref().and_then(|p| self.cache_lookup(&target, p)) {
            target.metrics.record_cache_hit();
            finisher.finish(Ok(hit));
            return Ok(());
        }
        let pool = target.service.pool().clone();
        let read_timeout = pool.config().read_timeout;
        let gives_up = deadline.min(Instant::now() + read_timeout);
        let Some(lease) = pool.try_acquire(gives_up) else { return Err(Box::new((call, finisher))) };
        if !lease.session().routes_responses() {
            return Err(Box::new((call, finisher)));
        }
        let state = finisher.state.clone();
        let forward = forward_cancel(&call, &state);
        let direct = Arc::new(Direct {
            call,
            target,
            plan,
            started: Instant::now(),
            deadline,
            timeout,
            id: AtomicI64::new(0),
            open: Mutex::new(None),
        });
        let on_cancel = {
            let d = direct.clone();
            state.cancel.on_cancel(move || d.end_early(Error::Cancelled, "cancelled by the client"))
        };
        let Some(on_cancel) = on_cancel else {
            finisher.finish(Err(Error::Cancelled));
            return Ok(());
        };
        let expiry = {
            let d = direct.clone();
            let error = Error::timeout(TimeoutPhase::Response, read_timeout.min(timeout));
            self.deadlines.arm(gives_up, Box::new(move || d.end_early(error, "timeout")))
        };
        let session = lease.session().clone();
        *direct.open.lock() =
            Some(Open { finisher, lease, expiry, _cancel: Some(on_cancel), _forward: forward });
        // A cancel or a deadline that came before the call was in place found nothing to end.
        if state.cancel.is_cancelled() {
            direct.end_early(Error::Cancelled, "cancelled by the client");
            return Ok(());
        }
        if Instant::now() >= gives_up {
            direct.end_early(Error::timeout(TimeoutPhase::Response, timeout), "timeout");
            return Ok(());
        }
        let d = direct.clone();
        let started = session.start_tool_call(
            &direct.target.tool.name,
            &direct.call.arguments,
            Box::new(move |reply| d.on_reply(reply)),
        );
        match started {
            Ok((id, sent)) => {
                direct.id.store(id, Ordering::Release);
                direct.target.metrics.record_bytes(sent, 0);
                // Ended while the request was being written (its id unknown then):
                // the server is told and the pending entry goes, even if no reply ever comes.
                if direct.open.lock().is_none() {
                    let reason =
                        if state.cancel.is_cancelled() { "cancelled by the client" } else { "timeout" };
                    session.abandon_request(id, reason);
                }
                Ok(())
            }
            Err(e) => {
                let Some(open) = direct.take() else { return Ok(()) };
                let Open { finisher, lease, .. } = open;
                drop(lease);
                if e.may_have_run() {
                    finisher.finish(Err(e));
                    Ok(())
                } else {
                    // Never written: the regular path may try another session.
                    let call = direct.call.clone();
                    Err(Box::new((call, finisher)))
                }
            }
        }
    }
}

impl Direct {
    /// Takes the call's end for the caller, disarming its deadline.
    fn take(&self) -> Option<Open> {
        let open = self.open.lock().take()?;
        if let Some(key) = open.expiry {
            open.finisher.store.deadlines.disarm(key);
        }
        Some(open)
    }

    /// The deadline passed or the handle was cancelled before the reply.
    fn end_early(&self, error: Error, reason: &str) {
        let Some(open) = self.take() else { return };
        let id = self.id.load(Ordering::Acquire);
        if id != 0 {
            open.lease.session().abandon_request(id, reason);
        }
        if matches!(error, Error::Timeout { .. }) {
            open.lease.mark_suspect();
        }
        self.target.metrics.record_call(self.started.elapsed(), Err(&error));
        let Open { finisher, lease, .. } = open;
        drop(lease);
        finisher.finish(Err(error));
    }

    /// The reply came (on the reader thread): a final result ends the call here.
    fn on_reply(self: Arc<Self>, reply: Result<Box<RawValue>>) {
        let Some(open) = self.take() else { return };
        match reply {
            Ok(raw) => match open.lease.session().final_tool_reply(&raw) {
                Some(checked) => {
                    let received = raw.get().len();
                    self.conclude(open, received, checked.map(|shape| (shape, raw, false)));
                }
                None => self.continue_in_executor(open, Ok(raw)),
            },
            Err(e) => self.continue_in_executor(open, Err(e)),
        }
    }

    /// Runs the rounds a reply asks for (this blocks), then concludes.
    fn finish_rounds(&self, open: Open, raw: Box<RawValue>) {
        let received = raw.get().len();
        let session = open.lease.session().clone();
        let finished =
            session.finish_tool_reply(&self.target.tool.name, &self.call.arguments, raw, self.deadline);
        self.conclude(open, received, finished);
    }

    /// Records, caches and delivers a checked reply of `received` bytes.
    fn conclude(
        &self,
        open: Open,
        received: usize,
        finished: Result<(ToolResultShape, Box<RawValue>, bool)>,
    ) {
        let metrics = &self.target.metrics;
        metrics.record_call(self.started.elapsed(), finished.as_ref().map(|(shape, _, _)| shape.is_error));
        metrics.record_bytes(0, received);
        let Open { finisher, lease, .. } = open;
        drop(lease);
        let outcome = finished.map(|(shape, raw, interactive)| {
            let output = ToolOutput::from_server(Arc::from(raw), shape);
            if let (Some(plan), false) = (&self.plan, interactive) {
                finisher.store.cache_store(&self.target, plan, &output, received);
            }
            let mismatch = self.target.schema_mismatch(&output);
            output.with_schema_mismatch(mismatch)
        });
        finisher.finish(outcome);
    }

    /// More rounds, or an error: what may block goes on on a worker.
    fn continue_in_executor(self: Arc<Self>, open: Open, reply: Result<Box<RawValue>>) {
        let store = open.finisher.store.clone();
        let Ok(executor) = store.executor() else {
            let error = reply.err().unwrap_or_else(|| Error::Internal("no worker threads".into()));
            let Open { finisher, .. } = open;
            return finisher.finish(Err(error));
        };
        let worker_store = store.clone();
        executor.spawn(move || match reply {
            Ok(raw) => self.finish_rounds(open, raw),
            Err(e) => {
                let Open { finisher, lease, .. } = open;
                drop(lease);
                let options = &self.call.options;
                let cancelled = finisher.state.cancel.is_cancelled();
                let safe = repeat_safe(self.target.service.config(), &self.target.tool, options);
                let outcome =
                    if !cancelled && e.should_retry(safe) && !self.target.service.pool().in_backoff() {
                        let arguments = checked_arguments(&self.call.arguments);
                        arguments.and_then(|a| {
                            worker_store.invoke(
                                &self.target,
                                a,
                                options,
                                self.deadline,
                                self.timeout,
                                self.plan.as_ref(),
                            )
                        })
                    } else {
                        self.target.metrics.record_call(self.started.elapsed(), Err(&e));
                        Err(e)
                    };
                finisher.finish(outcome);
            }
        });
    }
}
