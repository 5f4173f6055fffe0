//! The process-wide pool of one-shot reply channels used by stdio requests:
//! creating a channel per request costs more than reusing one (see the
//! `objects/*_reply_channel` micro-benchmarks).

use crossbeam_channel::{Receiver, Sender};
use serde_json::value::RawValue;

use crate::error::Result;
use crate::objpool::{ObjectPool, register_object_pool};

/// A reply delivered to a waiter: its tag and the raw result or error.
pub(crate) type Reply = (usize, Result<Box<RawValue>>);

type Channel = (Sender<Reply>, Receiver<Reply>);

/// The shared pool; a channel goes back only when no late reply can land in it.
pub(crate) fn reply_channels() -> &'static ObjectPool<Channel> {
    static POOL: std::sync::OnceLock<ObjectPool<Channel>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let pool = ObjectPool::new(
            1024,
            || crossbeam_channel::bounded(1),
            |(_, rx): &mut Channel| {
                while rx.try_recv().is_ok() {}
            },
        );
        register_object_pool("reply_channels", pool.clone());
        pool
    })
}
