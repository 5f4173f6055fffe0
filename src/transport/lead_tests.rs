//! A caller that leads the stdio reads: what it leaves behind when it gives
//! them back (lines a capped turn left in the buffer, answers to server
//! requests among them) is the reader thread's, and none of it is lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fault_tests::{PingAnswerer, bounded, sh};
use super::stdio::StdioTransport;
use super::{ReadHere, Transport};

#[test]
fn what_a_leader_leaves_in_the_buffer_is_routed_and_answered_after_it_gives_back() {
    // 300 responses at once (more than one turn routes), then a ping whose
    // answer the server waits for before its last response.
    let script = r#"sleep 0.5
i=1; while [ $i -le 300 ]; do printf '{"jsonrpc":"2.0","id":%d,"result":{}}\n' $i; i=$((i+1)); done
printf '{"jsonrpc":"2.0","id":"p1","method":"ping"}\n'
read answer
printf '{"jsonrpc":"2.0","id":1000,"result":{}}\n'
exec sleep 30"#;
    bounded(Duration::from_secs(20), move || {
        let (tx, rx) = crossbeam_channel::unbounded();
        let transport = StdioTransport::spawn(
            "leftovers",
            &sh(script, &[]),
            Arc::new(PingAnswerer { responses: tx }),
            1 << 20,
        )
        .unwrap();
        assert!(transport.lead_reads());
        std::thread::sleep(Duration::from_millis(1500)); // every line is in the pipe by now
        let read = transport.read_here(Instant::now() + Duration::from_secs(5), &|| false);
        assert_eq!(read, ReadHere::Read);
        let routed_by_the_leader = rx.try_iter().count();
        assert!(routed_by_the_leader < 300, "one turn routed all {routed_by_the_leader} lines");
        transport.release_reads();
        let mut ids: Vec<i64> = Vec::new();
        while ids.last() != Some(&1000) {
            let id = rx.recv_timeout(Duration::from_secs(5)).expect("the reader thread routes what was left");
            ids.push(id);
        }
        let expected: Vec<i64> = ((routed_by_the_leader as i64 + 1)..=300).chain([1000]).collect();
        assert_eq!(ids, expected);
        transport.close();
    });
}
