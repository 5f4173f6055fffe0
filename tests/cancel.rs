//! Cancellation: a cancelled HTTP call releases its thread, its pool slot and
//! its connection at once (the waiting side closes the connection) and the
//! server is told; one `CancelToken` stops every call that holds it.

mod common;

use std::time::{Duration, Instant};

use common::{demo_http, demo_stdio, store_with};
use mcpstore::{CallOptions, CancelToken, Error, ToolCall};
use serde_json::json;

fn with_token(token: &CancelToken) -> CallOptions {
    CallOptions { cancel: Some(token.clone()), ..Default::default() }
}

#[test]
fn a_cancelled_http_call_returns_at_once_and_the_server_is_told() {
    common::bounded(Duration::from_secs(60), || {
        let server = demo_http(&[]);
        let store = store_with("web", server.config());
        let token = CancelToken::new();
        let canceller = {
            let token = token.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                let at = Instant::now();
                token.cancel();
                at
            })
        };
        let r = store.call_tool_with("web.sleep", json!({"ms": 10_000}), &with_token(&token));
        let returned = Instant::now();
        let cancelled_at = canceller.join().unwrap();
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        // The bound is 100 ms; a loaded 2-core machine gets a margin, far from the 10 s sleep.
        let took = returned.duration_since(cancelled_at);
        assert!(took < Duration::from_millis(750), "returned {took:?} after the cancel");
        assert_eq!(store.pool_stats()["web"].in_flight, 0, "the pool slot is free");
        let mut last = serde_json::Value::Null;
        let told = common::wait_until(Duration::from_secs(5), || {
            last = common::demo_stats(&store, "web.stats");
            last["cancelled"].as_u64() >= Some(1) && last["in_flight"].as_u64() == Some(0)
        });
        assert!(told, "the server was told and stopped the sleep: {last}");
    });
}

#[test]
fn one_token_stops_every_call_that_holds_it() {
    common::bounded(Duration::from_secs(60), || {
        let http = demo_http(&[]);
        let web = store_with("web", http.config());
        let local = store_with("local", demo_stdio(&[]));
        let token = CancelToken::new();
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let store = if i == 1 { &web } else { &local };
                let tool = if i == 1 { "web.sleep" } else { "local.sleep" };
                store
                    .submit(ToolCall {
                        options: with_token(&token),
                        ..ToolCall::new(tool, json!({"ms": 10_000}))
                    })
                    .unwrap()
            })
            .collect();
        let direct = std::thread::scope(|s| {
            let t =
                s.spawn(|| local.call_tool_with("local.sleep", json!({"ms": 10_000}), &with_token(&token)));
            std::thread::sleep(Duration::from_millis(300));
            let at = Instant::now();
            token.cancel();
            (t.join().unwrap(), at)
        });
        let (r, cancelled_at) = direct;
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        for h in handles {
            assert!(matches!(h.wait_timeout(Duration::from_secs(2)), Err(Error::Cancelled)));
        }
        assert!(cancelled_at.elapsed() < Duration::from_secs(5), "all stopped long before their sleeps");
        // A call started with a cancelled token never starts.
        let r = local.call_tool_with("local.echo", json!({"message": "late"}), &with_token(&token));
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    });
}
