//! The library's own memory footprint: RSS after 1,000 and after 100,000 echo
//! calls over stdio (no growth beyond noise), and the idle RSS of a store with
//! 10 services.
//!
//! Run: `cargo build --release --bins && cargo run --release --example footprint`

use std::time::Duration;

use mcpstore::LiveObjects;
use mcpstore::{BatchOptions, PerformanceConfig, ServiceConfig, Store, ToolCall};
use serde_json::json;

fn demo_server() -> String {
    let exe = std::env::current_exe().expect("example path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    dir.join("mcpstore-demo-server").to_string_lossy().into_owned()
}

fn rss_mb(store: &Store) -> f64 {
    store.memory_monitor().take_sample(LiveObjects::default()).rss_mb
}

fn main() -> Result<(), mcpstore::Error> {
    let server = demo_server();
    let before_store = {
        let probe = Store::new()?;
        rss_mb(&probe)
    };

    let ten = Store::new()?;
    for i in 0..10 {
        ten.add_service(&format!("s{i}"), ServiceConfig::stdio(server.clone(), Vec::<String>::new()))?;
    }
    ten.wait_ready(Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    let idle_ten = rss_mb(&ten);
    let sessions: usize = ten.pool_stats().values().map(|p| p.open).sum();
    drop(ten);

    let store = Store::builder().performance(PerformanceConfig::new()).build()?;
    store.add_service("demo", ServiceConfig::stdio(server.clone(), Vec::<String>::new()))?;
    store.wait_ready(Duration::from_secs(30));
    let mut done = 0u64;
    let mut call_until = |target: u64| -> Result<(), mcpstore::Error> {
        while done < target {
            store.call_tool("echo", json!({ "message": done.to_string() }))?;
            done += 1;
        }
        Ok(())
    };
    call_until(1_000)?;
    let after_1k = rss_mb(&store);
    call_until(100_000)?;
    let after_100k = rss_mb(&store);
    let calls: Vec<ToolCall> =
        (0..1000).map(|i| ToolCall::new("echo", json!({"message": i.to_string()}))).collect();
    for _ in 0..20 {
        store.batch_call(&calls, &BatchOptions::default());
    }
    let after_batches = rss_mb(&store);
    drop(store);
    println!("RSS of this process (MB):");
    println!("  empty store                      {before_store:8.2}");
    println!("  idle store with 10 services      {idle_ten:8.2}   ({sessions} sessions open)");
    println!("  after     1,000 echo calls       {after_1k:8.2}");
    println!("  after   100,000 echo calls       {after_100k:8.2}   (growth {:+.2})", after_100k - after_1k);
    println!("  after 20 batches of 1,000        {after_batches:8.2}");
    Ok(())
}
