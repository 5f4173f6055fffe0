//! Core behaviour over stdio against the demo server (issue 2): handshake,
//! tools, errors, concurrency on one session, timeouts, crashes, garbage,
//! protocol versions, server pings, list_changed, mixed content.

mod common;

use std::time::Duration;

use common::core::{self, Target};

const T: Target = Target::Stdio;

/// Runs a check over stdio, failing (not hanging) if it takes over 60 s.
fn check(f: fn(Target)) {
    common::bounded(Duration::from_secs(60), move || f(T));
}

#[test]
fn handshake() {
    check(core::handshake);
}

#[test]
fn list_tools_with_and_without_pagination() {
    check(core::list_tools);
}

#[test]
fn every_tool() {
    check(core::every_tool);
}

#[test]
fn tool_errors_are_results() {
    check(core::tool_errors);
}

#[test]
fn json_rpc_errors() {
    check(core::rpc_errors);
}

#[test]
fn eight_threads_share_one_session() {
    check(core::concurrent_calls);
}

#[test]
fn timeout_fires_and_session_stays_usable() {
    check(core::timeout_keeps_session);
}

#[test]
fn server_crash_mid_call_is_an_error() {
    check(core::crash_mid_call);
}

#[test]
fn garbage_output_is_a_protocol_error() {
    check(core::garbage_reply);
}

#[test]
fn protocol_versions() {
    check(core::protocol_versions);
}

#[test]
fn server_to_client_ping() {
    check(core::server_ping);
}

#[test]
fn store_refreshes_tools_on_list_changed() {
    check(core::store_sees_new_tool);
}

#[test]
fn mixed_content_kept_whole_through_the_store() {
    check(core::store_mixed_content);
}
