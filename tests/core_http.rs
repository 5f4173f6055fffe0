//! Core behaviour over Streamable HTTP against the demo server (issue 2),
//! with SSE replies and with `--json` replies, plus expired sessions.

mod common;

use common::core::{self, Demo, Target, call_ok};
use serde_json::json;

const TARGETS: [Target; 2] = [Target::HttpSse, Target::HttpJson];

#[test]
fn handshake() {
    for t in TARGETS {
        core::handshake(t);
    }
}

#[test]
fn list_tools_with_and_without_pagination() {
    for t in TARGETS {
        core::list_tools(t);
    }
}

#[test]
fn every_tool() {
    for t in TARGETS {
        core::every_tool(t);
    }
}

#[test]
fn tool_errors_are_results() {
    for t in TARGETS {
        core::tool_errors(t);
    }
}

#[test]
fn json_rpc_errors() {
    for t in TARGETS {
        core::rpc_errors(t);
    }
}

#[test]
fn eight_threads_share_one_session_sse() {
    core::concurrent_calls(Target::HttpSse);
}

#[test]
fn eight_threads_share_one_session_json() {
    core::concurrent_calls(Target::HttpJson);
}

#[test]
fn timeout_fires_and_session_stays_usable() {
    for t in TARGETS {
        core::timeout_keeps_session(t);
    }
}

#[test]
fn server_crash_mid_call_is_an_error() {
    for t in TARGETS {
        core::crash_mid_call(t);
    }
}

#[test]
fn garbage_output_is_a_protocol_error() {
    for t in TARGETS {
        core::garbage_reply(t);
    }
}

#[test]
fn protocol_versions() {
    for t in TARGETS {
        core::protocol_versions(t);
    }
}

#[test]
fn server_to_client_ping_over_sse() {
    core::server_ping(Target::HttpSse);
}

#[test]
fn list_changed_event_over_sse() {
    core::list_changed_event(Target::HttpSse);
}

#[test]
fn store_refreshes_tools_on_list_changed() {
    core::store_sees_new_tool(Target::HttpSse);
}

#[test]
fn mixed_content_kept_whole_through_the_store() {
    for t in TARGETS {
        core::store_mixed_content(t);
    }
}

/// `--expire-sessions-after 3`: the server forgets each session after 3 POSTs;
/// the session re-initializes transparently and every call succeeds.
#[test]
fn expired_sessions_are_renewed_transparently() {
    for t in TARGETS {
        let demo = Demo::start(t, &["--expire-sessions-after", "3"]);
        let s = demo.connect();
        for i in 0..20 {
            let msg = format!("call {i}");
            assert_eq!(call_ok(&s, "echo", json!({ "message": msg })).text(), msg);
        }
        let stats = call_ok(&s, "stats", json!({})).structured_content.unwrap();
        assert!(
            stats["sessions"].as_u64().unwrap() >= 8,
            "the server saw new sessions: {stats}"
        );
        assert!(s.list_tools().unwrap().len() >= 15);
    }
}

/// SSE streams closed early by the server are resumed with GET + Last-Event-ID.
#[test]
fn sse_stream_resumption() {
    let demo = Demo::start(Target::HttpSse, &["--sse-disconnect-every", "2"]);
    let s = demo.connect();
    for i in 0..6 {
        let msg = format!("resumed {i}");
        assert_eq!(call_ok(&s, "echo", json!({ "message": msg })).text(), msg);
    }
    assert_eq!(call_ok(&s, "sleep", json!({"ms": 50})).text(), "slept 50 ms");
}
