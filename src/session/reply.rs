//! How a reply reaches the caller waiting for it.
//!
//! A single request waits on a [`ReplySlot`]: one mutex-guarded place and a
//! condition variable. A waiting caller parks at once; a channel would first
//! spin and call `sched_yield` several times (crossbeam's back-off), which
//! costs a system call each and, on a small machine, takes the CPU from the
//! server the caller is waiting for. Slots come from a process-wide pool
//! (shown in the pool statistics as `reply_channels`): creating one per
//! request costs more than reusing one, as the `objects/*_reply_channel`
//! micro-benchmarks show for the channels used before.
//!
//! Pipelined batches and the listen loop, which take many replies or none
//! for a long time, keep a channel ([`Deliver::Channel`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{RecvTimeoutError, Sender};
use parking_lot::{Condvar, Mutex};
use serde_json::value::RawValue;

use crate::error::Result;
use crate::objpool::{ObjectPool, register_object_pool};

/// A reply delivered to a waiter: its tag and the raw result or error.
pub(crate) type Reply = (usize, Result<Box<RawValue>>);

/// Where the router puts the reply of one request.
pub(crate) enum Deliver {
    /// A single caller waiting on a slot.
    Slot(SlotSender),
    /// A channel shared by several requests (a batch lane) or a long wait.
    Channel(Sender<Reply>),
    /// Library code that completes a call no thread waits for; runs on the
    /// thread that delivers the reply (a transport's reader), so it must not block.
    Callback(ReplyCallback),
}

/// What completes a request no thread waits for, given its raw result or error.
pub(crate) type ReplyCallback = Box<dyn FnOnce(Result<Box<RawValue>>) + Send>;

impl Deliver {
    /// Hands `reply` over; a waiter that is gone is no error.
    pub(crate) fn send(self, reply: Reply) {
        match self {
            Deliver::Slot(slot) => slot.send(reply),
            Deliver::Channel(tx) => {
                let _ = tx.send(reply);
            }
            Deliver::Callback(complete) => complete(reply.1),
        }
    }
}

#[derive(Default)]
struct SlotState {
    reply: Option<Reply>,
    /// The sender was dropped without a reply (like a disconnected channel).
    sender_gone: bool,
}

/// One reply's place, shared by its sender (the router) and its waiter.
#[derive(Default)]
pub(crate) struct ReplySlot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

/// The sending half of a slot. Dropping it without sending tells the waiter,
/// as dropping a channel's last sender would.
pub(crate) struct SlotSender(Option<Arc<ReplySlot>>);

impl SlotSender {
    fn send(mut self, reply: Reply) {
        if let Some(slot) = self.0.take() {
            slot.state.lock().reply = Some(reply);
            slot.ready.notify_one();
        }
    }
}

impl Drop for SlotSender {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.state.lock().sender_gone = true;
            slot.ready.notify_one();
        }
    }
}

impl ReplySlot {
    /// A sender for this slot; one at a time (the slot holds one reply).
    pub(crate) fn sender(self: &Arc<Self>) -> SlotSender {
        SlotSender(Some(self.clone()))
    }

    /// Waits until the reply is there, or the sender is gone, or `deadline`.
    pub(crate) fn recv_deadline(&self, deadline: Instant) -> std::result::Result<Reply, RecvTimeoutError> {
        let mut state = self.state.lock();
        loop {
            if let Some(reply) = state.reply.take() {
                return Ok(reply);
            }
            if state.sender_gone {
                return Err(RecvTimeoutError::Disconnected);
            }
            if self.ready.wait_until(&mut state, deadline).timed_out() {
                return state.reply.take().ok_or(RecvTimeoutError::Timeout);
            }
        }
    }

    /// [`ReplySlot::recv_deadline`] with a timeout.
    pub(crate) fn recv_timeout(&self, timeout: Duration) -> std::result::Result<Reply, RecvTimeoutError> {
        self.recv_deadline(Instant::now() + timeout)
    }

    fn reset(&self) {
        *self.state.lock() = SlotState::default();
    }
}

/// The shared pool; a slot goes back only when no late reply can land in it.
pub(crate) fn reply_slots() -> &'static ObjectPool<Arc<ReplySlot>> {
    static POOL: std::sync::OnceLock<ObjectPool<Arc<ReplySlot>>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let pool = ObjectPool::new(1024, Arc::<ReplySlot>::default, |slot: &mut Arc<ReplySlot>| slot.reset());
        register_object_pool("reply_channels", pool.clone());
        pool
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_sent_before_the_wait_is_taken_at_once() {
        let slot = Arc::new(ReplySlot::default());
        slot.sender().send((7, Err(crate::error::Error::Cancelled)));
        let (tag, _) = slot.recv_timeout(Duration::ZERO).unwrap();
        assert_eq!(tag, 7);
    }

    #[test]
    fn a_reply_from_another_thread_wakes_the_waiter() {
        let slot = Arc::new(ReplySlot::default());
        let sender = slot.sender();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.send((3, Err(crate::error::Error::Cancelled)));
        });
        assert_eq!(slot.recv_timeout(Duration::from_secs(10)).unwrap().0, 3);
        t.join().unwrap();
    }

    #[test]
    fn a_dropped_sender_disconnects_and_a_silent_one_times_out() {
        let slot = Arc::new(ReplySlot::default());
        let sender = slot.sender();
        assert!(matches!(slot.recv_timeout(Duration::from_millis(10)), Err(RecvTimeoutError::Timeout)));
        drop(sender);
        assert!(matches!(slot.recv_timeout(Duration::from_secs(10)), Err(RecvTimeoutError::Disconnected)));
        slot.reset();
        assert!(matches!(slot.recv_timeout(Duration::ZERO), Err(RecvTimeoutError::Timeout)));
    }
}
