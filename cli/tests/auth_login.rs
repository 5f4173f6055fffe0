//! `mcpstore auth login|status|logout` against a protected demo-like MCP
//! server and a small authorization server on 127.0.0.1 (tests/auth_support):
//! the login prints the authorization URL, the test plays the browser, the
//! credential lands in the token file of the user's config directory, later
//! commands use it, and logout forgets it.

#[path = "../../tests/auth_support/mod.rs"]
mod auth_support;
#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use auth_support::{Knobs, OAuthWorld};
use common::{TempDir, cli_bin};
use serde_json::Value;

/// One GET without following redirects: the status and the `Location` header.
fn get(url: &str) -> (u16, Option<String>) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let location = text
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("location")))
        .map(|(_, v)| v.trim().to_owned());
    (status, location)
}

/// Runs the CLI with the config and the temp home; output and status.
fn cli(home: &TempDir, config: &str, args: &[&str]) -> (i32, String, String) {
    let out = common::isolated::command(cli_bin())
        .args(["--config", config])
        .args(args)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("MCPSTORE_LOG", "warn")
        .current_dir(home.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[test]
fn login_status_call_and_logout_through_the_cli() {
    let world = OAuthWorld::start(Knobs::default());
    let home = TempDir::new("mcps-auth-home");
    let config = home.path().join("mcp.json");
    std::fs::write(&config, format!(r#"{{"mcpServers": {{"web": {{"url": "{}"}}}}}}"#, world.mcp_url))
        .unwrap();
    let config = config.to_string_lossy().into_owned();

    let (code, out, _) = cli(&home, &config, &["auth", "status", "web"]);
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(status["authorized"], false, "{status}");

    // Login: read the URL the CLI prints, and be the browser.
    let mut child = common::isolated::command(cli_bin())
        .args(["--config", &config, "auth", "login", "web"])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("MCPSTORE_LOG", "warn")
        .env("PATH", "/nonexistent") // no browser opener
        .current_dir(home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut url = None;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let line = line.trim().to_owned();
        if line.starts_with("http://") && line.contains("code_challenge") {
            url = Some(line);
            break;
        }
    }
    let url = url.expect("the CLI printed the authorization URL");
    let (status, location) = get(&url);
    assert_eq!(status / 100, 3, "the authorization server redirects");
    let (status, _) = get(&location.expect("a Location"));
    assert_eq!(status, 200, "the CLI's loopback listener took the redirect");
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "auth login did not finish");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(exit.success(), "{out}");
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(status["authorized"], true, "{status}");
    assert_eq!(status["mode"], "oauth");

    // Another process finds the credential in the token file and calls.
    let (code, out, err) = cli(&home, &config, &["call", "web.echo", r#"{"message": "authorized"}"#]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("authorized"), "{out}");
    let (_, out, _) = cli(&home, &config, &["auth", "status", "web"]);
    assert!(out.contains(r#""authorized":true"#), "{out}");
    assert!(!out.contains("access_token"), "no secrets: {out}");

    let (code, _, err) = cli(&home, &config, &["auth", "logout", "web"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = cli(&home, &config, &["auth", "status", "web"]);
    assert!(out.contains(r#""authorized":false"#), "{out}");
}
