//! Core behaviour over Streamable HTTP against the demo server (issue 2),
//! with SSE replies and with `--json` replies, plus expired sessions.

mod common;

use std::time::Duration;

use common::core::{self, Demo, Target, call_ok};
use serde_json::json;

const TARGETS: [Target; 2] = [Target::HttpSse, Target::HttpJson];

/// Runs a check over each target, failing (not hanging) if it takes over 90 s.
fn check(f: fn(Target), targets: &'static [Target]) {
    common::bounded(Duration::from_secs(90), move || {
        for t in targets {
            f(*t);
        }
    });
}

#[test]
fn handshake() {
    check(core::handshake, &TARGETS);
}

#[test]
fn list_tools_with_and_without_pagination() {
    check(core::list_tools, &TARGETS);
}

#[test]
fn every_tool() {
    check(core::every_tool, &TARGETS);
}

#[test]
fn tool_errors_are_results() {
    check(core::tool_errors, &TARGETS);
}

#[test]
fn json_rpc_errors() {
    check(core::rpc_errors, &TARGETS);
}

#[test]
fn eight_threads_share_one_session_sse() {
    check(core::concurrent_calls, &[Target::HttpSse]);
}

#[test]
fn eight_threads_share_one_session_json() {
    check(core::concurrent_calls, &[Target::HttpJson]);
}

#[test]
fn timeout_fires_and_session_stays_usable() {
    check(core::timeout_keeps_session, &TARGETS);
}

#[test]
fn server_crash_mid_call_is_an_error() {
    check(core::crash_mid_call, &TARGETS);
}

#[test]
fn garbage_output_is_a_protocol_error() {
    check(core::garbage_reply, &TARGETS);
}

#[test]
fn protocol_versions() {
    check(core::protocol_versions, &TARGETS);
}

#[test]
fn server_to_client_ping_over_sse() {
    check(core::server_ping, &[Target::HttpSse]);
}

#[test]
fn store_refreshes_tools_on_list_changed() {
    check(core::store_sees_new_tool, &[Target::HttpSse]);
}

#[test]
fn mixed_content_kept_whole_through_the_store() {
    check(core::store_mixed_content, &TARGETS);
}

/// `--expire-sessions-after 3`: the server forgets each session after 3 POSTs;
/// the session re-initializes transparently and every call succeeds.
#[test]
fn expired_sessions_are_renewed_transparently() {
    common::bounded(Duration::from_secs(90), move || {
        for t in TARGETS {
            let demo = Demo::start(t, &["--expire-sessions-after", "3"]);
            // Sessions are the handshake era's (the stateless era has none to expire).
            let s = common::connect_pinned(&demo.transport, common::HANDSHAKE_ERA);
            for i in 0..20 {
                let msg = format!("call {i}");
                assert_eq!(call_ok(&s, "echo", json!({ "message": msg })).text(), msg);
            }
            let stats = call_ok(&s, "stats", json!({})).structured_content.unwrap();
            assert!(stats["sessions"].as_u64().unwrap() >= 8, "the server saw new sessions: {stats}");
            assert_eq!(s.list_tools().unwrap().len(), core::DEMO_TOOLS.len());
        }
    });
}

/// SSE streams closed early by the server are resumed with GET + Last-Event-ID.
#[test]
fn sse_stream_resumption() {
    common::bounded(Duration::from_secs(90), move || {
        let demo = Demo::start(Target::HttpSse, &["--sse-disconnect-every", "2"]);
        // Resumption is the handshake era's (2026-07-28 has no Last-Event-ID).
        let s = common::connect_pinned(&demo.transport, common::HANDSHAKE_ERA);
        for i in 0..6 {
            let msg = format!("resumed {i}");
            assert_eq!(call_ok(&s, "echo", json!({ "message": msg })).text(), msg);
        }
        assert_eq!(call_ok(&s, "sleep", json!({"ms": 50})).text(), "slept 50 ms");
    });
}
