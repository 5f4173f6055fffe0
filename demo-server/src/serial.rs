//! `--serial`: one request at a time, in arrival order.
//!
//! Each request takes a [`Ticket`] when it arrives; it runs once its ticket
//! is the oldest one left and nothing else runs. A ticket dropped unused (a
//! request that will not run) or given up on cancellation leaves the queue,
//! so it never blocks the requests behind it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::state::CancelToken;

/// How long a waiter sleeps before looking at its cancel token again (a
/// cancellation also wakes it at once through [`SerialQueue::wake`]).
const RECHECK: Duration = Duration::from_millis(100);

#[derive(Default)]
struct State {
    next: u64,
    /// Tickets not run yet, oldest first.
    waiting: BTreeSet<u64>,
    running: bool,
}

/// The process-wide queue of requests under `--serial`.
#[derive(Default)]
pub struct SerialQueue {
    state: Mutex<State>,
    changed: Condvar,
}

impl SerialQueue {
    /// Queues a request that just arrived.
    pub fn ticket(self: &Arc<Self>) -> Ticket {
        let mut st = self.state.lock();
        let n = st.next;
        st.next += 1;
        st.waiting.insert(n);
        Ticket { queue: self.clone(), n: Some(n) }
    }

    /// Wakes every waiter (a request was cancelled).
    pub fn wake(&self) {
        self.changed.notify_all();
    }

    fn leave(&self, n: u64) {
        self.state.lock().waiting.remove(&n);
        self.changed.notify_all();
    }

    fn finish(&self) {
        self.state.lock().running = false;
        self.changed.notify_all();
    }
}

/// A queued request's place in the [`SerialQueue`].
pub struct Ticket {
    queue: Arc<SerialQueue>,
    n: Option<u64>,
}

impl Ticket {
    /// Waits for this request's turn; `None` when `cancel` fired first (the
    /// request then left the queue). The returned [`Turn`] ends the turn
    /// when dropped.
    pub fn wait(mut self, cancel: &CancelToken) -> Option<Turn> {
        let n = self.n.take()?;
        let queue = self.queue.clone();
        let mut st = queue.state.lock();
        loop {
            if cancel.is_cancelled() {
                st.waiting.remove(&n);
                drop(st);
                queue.changed.notify_all();
                return None;
            }
            if !st.running && st.waiting.first() == Some(&n) {
                st.waiting.remove(&n);
                st.running = true;
                return Some(Turn { queue: queue.clone() });
            }
            queue.changed.wait_for(&mut st, RECHECK);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(n) = self.n.take() {
            self.queue.leave(n);
        }
    }
}

/// The running request's turn; dropping it lets the next request run.
pub struct Turn {
    queue: Arc<SerialQueue>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.queue.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn turns_follow_arrival_order() {
        let q = Arc::new(SerialQueue::default());
        let tickets: Vec<Ticket> = (0..4).map(|_| q.ticket()).collect();
        let order = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(AtomicUsize::new(0));
        // Start the waiters in reverse order: they must still run 0, 1, 2, 3.
        let handles: Vec<_> = tickets
            .into_iter()
            .enumerate()
            .rev()
            .map(|(i, t)| {
                let (order, running) = (order.clone(), running.clone());
                std::thread::spawn(move || {
                    let token = CancelToken::new();
                    let _turn = t.wait(&token).expect("not cancelled");
                    assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "two requests ran at once");
                    std::thread::sleep(Duration::from_millis(5));
                    order.lock().push(i);
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*order.lock(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn cancelled_and_dropped_tickets_leave_the_queue() {
        let q = Arc::new(SerialQueue::default());
        let first = q.ticket();
        let dropped = q.ticket();
        let cancelled = q.ticket();
        let last = q.ticket();
        let token = CancelToken::new();
        let turn = first.wait(&token).unwrap();
        drop(dropped);
        let cancel = Arc::new(CancelToken::new());
        let c2 = cancel.clone();
        let waiter = std::thread::spawn(move || cancelled.wait(&c2).is_none());
        std::thread::sleep(Duration::from_millis(20));
        cancel.cancel();
        q.wake();
        assert!(waiter.join().unwrap(), "a cancelled ticket gets no turn");
        drop(turn);
        // Neither the dropped nor the cancelled ticket blocks the last one.
        let (tx, rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let token = CancelToken::new();
            let _ = tx.send(last.wait(&token).is_some());
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
    }
}
