//! Unit tests of the boundary and of the pieces no C program can reach (panics).

use std::ffi::{CStr, c_char};
use std::sync::Arc;

use serde_json::json;

use super::args::{str_arg, wait_ms};
use super::boundary::{boundary, guard};
use super::error::Failure;
use super::error::mcps_error;
use super::error_api::{mcps_error_code, mcps_error_free, mcps_error_message, mcps_error_rpc_code};
use super::result::{mcps_result_is_error, mcps_result_json, mcps_result_text};
use super::result::{new_result, release_result};
use super::strings::to_cstring;
use crate::error::ErrorCode;
use crate::protocol::ToolResult;

fn message(e: *const mcps_error) -> String {
    // SAFETY: `e` is a live error object; its message is NUL-terminated.
    unsafe { CStr::from_ptr(mcps_error_message(e)) }.to_string_lossy().into_owned()
}

#[test]
fn a_panic_becomes_the_panic_status_and_an_error_object() {
    let mut err: *mut mcps_error = std::ptr::null_mut();
    let status = boundary(&mut err, || panic!("boom"));
    assert_eq!(status, ErrorCode::Panic);
    assert!(!err.is_null());
    // SAFETY: `err` was just written by `boundary`.
    assert_eq!(unsafe { mcps_error_code(err) }, ErrorCode::Panic);
    assert!(message(err).contains("boom"), "{}", message(err));
    // SAFETY: owned error object, freed once.
    unsafe { mcps_error_free(err) };

    assert_eq!(boundary(std::ptr::null_mut(), || panic!("no err_out")), ErrorCode::Panic);
    assert_eq!(guard(7, || panic!("in a getter")), 7);
}

#[test]
fn success_writes_no_error_and_failures_keep_their_code() {
    let mut err: *mut mcps_error = std::ptr::null_mut();
    assert_eq!(boundary(&mut err, || Ok(())), ErrorCode::Ok);
    assert!(err.is_null());
    let status = boundary(&mut err, || {
        Err(crate::Error::Rpc { code: -32000, message: "nope".into(), data: None }.into())
    });
    assert_eq!(status, ErrorCode::Rpc);
    // SAFETY: `err` was just written by `boundary`.
    assert_eq!(unsafe { mcps_error_rpc_code(err) }, -32000);
    // SAFETY: owned error object, freed once.
    unsafe { mcps_error_free(err) };
    let status = boundary(&mut err, || Err(Failure::new(ErrorCode::NotReady, "later")));
    assert_eq!(status, ErrorCode::NotReady);
    assert_eq!(message(err), "later");
    // SAFETY: owned error object, freed once.
    unsafe { mcps_error_free(err) };
}

#[test]
fn string_arguments_are_checked() {
    let bad: [u8; 3] = [0x66, 0xff, 0];
    // SAFETY: NULL and NUL-terminated buffers.
    unsafe {
        assert!(str_arg(std::ptr::null(), "x").is_err());
        let e = str_arg(bad.as_ptr().cast::<c_char>(), "tool").err();
        assert!(e.is_some_and(|f| f.code == ErrorCode::InvalidArgument));
        assert_eq!(str_arg(c"ok".as_ptr(), "x").ok(), Some("ok"));
    }
    assert_eq!(to_cstring("a\0b".into()).as_bytes(), b"a");
}

#[test]
fn waits_in_slices_and_stops_at_the_limit() {
    let mut calls = 0;
    assert!(!wait_ms(0, |_| {
        calls += 1;
        false
    }));
    assert_eq!(calls, 1);
    assert!(wait_ms(u64::MAX, |slice| slice > std::time::Duration::ZERO));
    let start = std::time::Instant::now();
    assert!(!wait_ms(30, |slice| {
        std::thread::sleep(slice);
        false
    }));
    assert!(start.elapsed() >= std::time::Duration::from_millis(30));
}

#[test]
fn results_render_json_and_text_and_recycle() {
    let tool_result = Arc::new(
        ToolResult::from_value(json!({
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b\u{0}c"}],
            "isError": true,
        }))
        .unwrap_or_default(),
    );
    for _ in 0..2 {
        let r = new_result(crate::exec::ToolOutput::fresh(tool_result.clone()));
        // SAFETY: `r` is a live result; the strings live as long as it.
        unsafe {
            let json = CStr::from_ptr(mcps_result_json(&*r)).to_str().unwrap_or_default();
            assert!(json.contains("\"isError\":true"), "{json}");
            assert!(json.contains("b\\u0000c"), "{json}");
            assert_eq!(CStr::from_ptr(mcps_result_text(&*r)).to_bytes(), b"a\nb");
            assert!(mcps_result_is_error(&*r));
        }
        release_result(r);
    }
    let stats = crate::objpool::object_pool_stats();
    assert!(stats.contains_key("c_results"));
}

#[test]
fn a_schema_mismatch_is_lent_by_the_result_and_cleared_on_reuse() {
    use super::result::mcps_result_schema_mismatch;
    let tool_result = Arc::new(ToolResult::from_value(json!({"content": []})).unwrap_or_default());
    let output = crate::exec::ToolOutput::fresh(tool_result.clone())
        .with_schema_mismatch(Some("structuredContent.sum: \"three\" is not a number".into()));
    let r = new_result(output);
    // SAFETY: `r` is a live result; the string lives as long as it.
    let text = unsafe { CStr::from_ptr(mcps_result_schema_mismatch(&*r)) };
    assert!(text.to_string_lossy().contains("is not a number"), "{text:?}");
    release_result(r);
    let r = new_result(crate::exec::ToolOutput::fresh(tool_result));
    // SAFETY: as above; NULL is a valid argument.
    unsafe {
        assert!(mcps_result_schema_mismatch(&*r).is_null());
        assert!(mcps_result_schema_mismatch(std::ptr::null()).is_null());
    }
    release_result(r);
}
