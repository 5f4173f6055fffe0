//! The interactive authorizer: a listener on 127.0.0.1 (RFC 8252 §7.3)
//! receives the browser's redirect; the authorization URL is printed and,
//! where a desktop opener exists, opened.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::authorizer::{AuthorizationRequest, Authorizer};
use super::url;
use crate::config::is_loopback;
use crate::error::{AuthStep, Error, Result};

/// The longest one browser connection may take to send its request line.
const READ_LIMIT: Duration = Duration::from_secs(5);
/// Listeners prepared but never used (a registration failed in between) are dropped after this.
const STALE: Duration = Duration::from_secs(600);

/// Authorizes in the user's browser: listens on 127.0.0.1 (the configured
/// redirect URI's port, or a free one for port 0), prints the authorization
/// URL to standard error, opens it when `open_browser` and an opener
/// (`xdg-open`, `open`, `start`) exists, and waits for the redirect.
#[derive(Debug)]
pub struct LoopbackAuthorizer {
    open_browser: bool,
    listeners: Mutex<HashMap<String, (TcpListener, Instant)>>,
}

impl Default for LoopbackAuthorizer {
    fn default() -> Self {
        LoopbackAuthorizer::new()
    }
}

impl LoopbackAuthorizer {
    /// A loopback authorizer that opens the browser.
    pub fn new() -> LoopbackAuthorizer {
        LoopbackAuthorizer { open_browser: true, listeners: Mutex::new(HashMap::new()) }
    }

    /// Whether to try to open the URL in a browser (default yes; it is always printed).
    pub fn open_browser(mut self, open: bool) -> Self {
        self.open_browser = open;
        self
    }
}

impl Authorizer for LoopbackAuthorizer {
    fn redirect_uri(&self, configured: &str) -> Result<String> {
        let bad = |m: &str| Error::auth(AuthStep::Authorization, format!("redirect URI {configured}: {m}"));
        let parts = url::parse(configured).ok_or_else(|| bad("not an absolute http URL"))?;
        if !parts.scheme.eq_ignore_ascii_case("http") || !is_loopback(parts.host) {
            return Err(bad("the loopback authorizer needs http://127.0.0.1:PORT/..."));
        }
        let port: u16 = parts.port.unwrap_or("80").parse().map_err(|_| bad("bad port"))?;
        // Always 127.0.0.1, even for `localhost`: a name could resolve elsewhere (RFC 8252 §8.3).
        let listener =
            TcpListener::bind(("127.0.0.1", port)).map_err(|e| bad(&format!("cannot listen: {e}")))?;
        let port = listener.local_addr().map_err(|e| bad(&e.to_string()))?.port();
        let path = if parts.path.is_empty() { "/" } else { parts.path };
        let uri = format!("http://127.0.0.1:{port}{path}");
        let mut listeners = self.listeners.lock();
        listeners.retain(|_, (_, at)| at.elapsed() < STALE);
        listeners.insert(uri.clone(), (listener, Instant::now()));
        Ok(uri)
    }

    fn authorize(&self, request: &AuthorizationRequest<'_>) -> Result<String> {
        let listener =
            self.listeners.lock().remove(request.redirect_uri).map(|(l, _)| l).ok_or_else(|| {
                Error::auth(
                    AuthStep::Authorization,
                    "the loopback authorizer did not prepare this redirect URI",
                )
            })?;
        eprintln!("To authorize '{}', open this URL in a browser:\n\n  {}\n", request.service, request.url);
        if self.open_browser {
            open_in_browser(request.url);
        }
        let expected_path = url::parse(request.redirect_uri).map_or("/", |p| p.path).to_owned();
        listener.set_nonblocking(true).map_err(|e| Error::auth(AuthStep::Authorization, e.to_string()))?;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    let left = request.deadline.saturating_duration_since(Instant::now());
                    let limit = READ_LIMIT.min(left).max(Duration::from_millis(10));
                    if let Some(target) = answer(stream, &expected_path, limit) {
                        return Ok(format!("http://127.0.0.1:{}{target}", port_of(request.redirect_uri)));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    return Err(Error::auth(AuthStep::Authorization, format!("the listener failed: {e}")));
                }
            }
            if Instant::now() >= request.deadline {
                return Err(Error::auth(
                    AuthStep::Authorization,
                    format!("no redirect from the browser reached {} in time", request.redirect_uri),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn port_of(uri: &str) -> &str {
    url::parse(uri).and_then(|p| p.port).unwrap_or("80")
}

/// Reads one HTTP request; returns its target when it is the redirect (and
/// tells the browser it may close the page), else answers 404.
fn answer(mut stream: TcpStream, expected_path: &str, limit: Duration) -> Option<String> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(limit));
    let _ = stream.set_write_timeout(Some(limit));
    let mut line = String::new();
    let mut reader = BufReader::new(std::io::Read::take(&stream, 16 * 1024));
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let target = line.split_whitespace().nth(1)?.to_owned();
    let path = target.split('?').next().unwrap_or("");
    let (status, body) = if line.starts_with("GET ") && path == expected_path {
        ("200 OK", "Authorization received. You can close this window.")
    } else {
        ("404 Not Found", "Not found.")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    (status.starts_with("200")).then_some(target)
}

/// Opens `url` with the desktop's opener, if there is one; failures are ignored
/// (the URL was printed).
fn open_in_browser(url: &str) {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    let spawned = command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Ok(mut child) = spawned {
        // Reap it in the background so it leaves no zombie.
        std::thread::spawn(move || {
            let _ = child.wait();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receives_the_redirect() {
        let a = LoopbackAuthorizer::new().open_browser(false);
        let uri = a.redirect_uri("http://localhost:0/callback").unwrap();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"), "{uri}");
        assert!(!uri.contains(":0/"));
        let browser = {
            let uri = uri.clone();
            std::thread::spawn(move || {
                let addr = uri.trim_start_matches("http://").split('/').next().unwrap().to_owned();
                // A stray request first (a favicon), then the redirect.
                for target in ["/favicon.ico", "/callback?code=abc&state=xyz"] {
                    let mut s = TcpStream::connect(&addr).unwrap();
                    write!(s, "GET {target} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
                    let mut reply = String::new();
                    let _ = std::io::Read::read_to_string(&mut s, &mut reply);
                }
            })
        };
        let request = AuthorizationRequest {
            service: "s",
            url: "http://127.0.0.1:1/authorize",
            redirect_uri: &uri,
            deadline: Instant::now() + Duration::from_secs(10),
        };
        let redirect = a.authorize(&request).unwrap();
        browser.join().unwrap();
        assert_eq!(redirect, format!("{uri}?code=abc&state=xyz"));
    }

    #[test]
    fn gives_up_at_the_deadline() {
        let a = LoopbackAuthorizer::new().open_browser(false);
        let uri = a.redirect_uri("http://127.0.0.1:0/cb").unwrap();
        let started = Instant::now();
        let request = AuthorizationRequest {
            service: "s",
            url: "http://127.0.0.1:1/authorize",
            redirect_uri: &uri,
            deadline: Instant::now() + Duration::from_millis(300),
        };
        let e = a.authorize(&request).unwrap_err();
        assert!(matches!(e, Error::Auth { step: AuthStep::Authorization, .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(a.redirect_uri("https://example.com/cb").is_err());
    }
}
