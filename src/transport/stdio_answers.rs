//! Answers to a stdio server's own requests (such as `ping`), waiting to be
//! written. Whoever routes a request queues its answer, and writes the queue
//! once it holds no read state: a write may wait, and must route meanwhile.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Answers kept at most: a server that sends requests without reading the
/// answers loses the newest, instead of growing the client without bound.
const MAX_QUEUED_ANSWERS: usize = 256;

/// The queue of answers not yet written, oldest first.
#[derive(Default)]
pub(super) struct Answers {
    queue: Mutex<VecDeque<Vec<u8>>>,
    /// The queue's length, read without the lock: the reader looks after
    /// every turn, and the queue is nearly always empty.
    queued: AtomicUsize,
}

impl Answers {
    /// Queues `answer`; `false` when the queue is full and it was dropped.
    pub(super) fn push(&self, answer: Vec<u8>) -> bool {
        let mut queue = self.queue.lock();
        if queue.len() >= MAX_QUEUED_ANSWERS {
            return false;
        }
        queue.push_back(answer);
        self.queued.store(queue.len(), Ordering::Release);
        true
    }

    /// The oldest answer, taken off the queue.
    pub(super) fn pop(&self) -> Option<Vec<u8>> {
        if self.is_empty() {
            return None;
        }
        let mut queue = self.queue.lock();
        let answer = queue.pop_front();
        self.queued.store(queue.len(), Ordering::Release);
        answer
    }

    /// Whether no answer waits.
    pub(super) fn is_empty(&self) -> bool {
        self.queued.load(Ordering::Acquire) == 0
    }

    /// Puts back an answer that could not be written yet, to go first.
    pub(super) fn put_back(&self, answer: Vec<u8>) {
        let mut queue = self.queue.lock();
        queue.push_front(answer);
        self.queued.store(queue.len(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_puts_back_first_and_drops_past_the_limit() {
        let answers = Answers::default();
        for i in 0..MAX_QUEUED_ANSWERS {
            assert!(answers.push(vec![i as u8]));
        }
        assert!(!answers.push(vec![255]), "past the limit");
        let first = answers.pop().unwrap();
        assert_eq!(first, vec![0]);
        answers.put_back(first);
        assert_eq!(answers.pop().unwrap(), vec![0]);
        assert_eq!(answers.pop().unwrap(), vec![1]);
        assert_eq!(std::iter::from_fn(|| answers.pop()).count(), MAX_QUEUED_ANSWERS - 2);
        assert!(answers.is_empty());
    }
}
