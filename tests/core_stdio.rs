//! Core behaviour over stdio against the demo server (issue 2): handshake,
//! tools, errors, concurrency on one session, timeouts, crashes, garbage,
//! protocol versions, server pings, list_changed, mixed content.

mod common;

use common::core::{self, Target};

const T: Target = Target::Stdio;

#[test]
fn handshake() {
    core::handshake(T);
}

#[test]
fn list_tools_with_and_without_pagination() {
    core::list_tools(T);
}

#[test]
fn every_tool() {
    core::every_tool(T);
}

#[test]
fn tool_errors_are_results() {
    core::tool_errors(T);
}

#[test]
fn json_rpc_errors() {
    core::rpc_errors(T);
}

#[test]
fn eight_threads_share_one_session() {
    core::concurrent_calls(T);
}

#[test]
fn timeout_fires_and_session_stays_usable() {
    core::timeout_keeps_session(T);
}

#[test]
fn server_crash_mid_call_is_an_error() {
    core::crash_mid_call(T);
}

#[test]
fn garbage_output_is_a_protocol_error() {
    core::garbage_reply(T);
}

#[test]
fn protocol_versions() {
    core::protocol_versions(T);
}

#[test]
fn server_to_client_ping() {
    core::server_ping(T);
}

#[test]
fn list_changed_event() {
    core::list_changed_event(T);
}

#[test]
fn store_refreshes_tools_on_list_changed() {
    core::store_sees_new_tool(T);
}

#[test]
fn mixed_content_kept_whole_through_the_store() {
    core::store_mixed_content(T);
}
