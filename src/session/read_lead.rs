//! A caller that reads the session's replies on its own thread (stdio): a
//! batch lane waiting for a window of replies reads the pipe itself instead
//! of being handed each reply by the reader thread.

use std::marker::PhantomData;
use std::time::Instant;

use super::Session;
use crate::transport::ReadHere;

/// The calling thread leads the session's reads while this lives. It must
/// not block on anything else a reply would end (another call's wait, input
/// rounds): nobody else reads meanwhile.
pub(crate) struct ReadLead<'a> {
    session: &'a Session,
    /// Not `Send`: the lead belongs to the thread that took it.
    _here: PhantomData<*const ()>,
}

impl Session {
    /// Takes the lead of the reads for the calling thread; `None` when the
    /// transport cannot (HTTP) or another caller leads.
    pub(crate) fn lead_reads(&self) -> Option<ReadLead<'_>> {
        self.inner.transport.lead_reads().then(|| ReadLead { session: self, _here: PhantomData })
    }
}

impl ReadLead<'_> {
    /// Reads and routes what the server sends until some was routed, `ready`
    /// says what the caller waits for is there, or `until` passes.
    pub(crate) fn read(&self, until: Instant, ready: &dyn Fn() -> bool) -> ReadHere {
        self.session.inner.transport.read_here(until, ready)
    }
}

impl Drop for ReadLead<'_> {
    fn drop(&mut self) {
        self.session.inner.transport.release_reads();
    }
}
