//! The HTTP requests of the authorization steps: metadata GETs, form POSTs to
//! the token endpoint, JSON POSTs to the registration endpoint. Each runs
//! within the caller's deadline and fails as an [`Error::Auth`] naming its
//! step; bodies are bounded. Nothing here logs or returns what was sent
//! (forms carry secrets and codes).

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::PoolConfig;
use crate::error::{AuthStep, Error, Result};
use crate::protocol::jsonrpc::snippet;

/// The largest metadata or token response read.
const MAX_BODY: u64 = 1 << 20;

/// A response of an authorization step.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The body (at most [`MAX_BODY`] bytes).
    pub(crate) body: Vec<u8>,
    /// The `Location` header, for redirects.
    pub(crate) location: Option<String>,
}

impl Reply {
    /// Whether the status is 2xx.
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as a JSON object, or why it is not one.
    pub(crate) fn json_object(&self) -> std::result::Result<serde_json::Map<String, Value>, String> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("the body is not a JSON object".into()),
            Err(e) => Err(format!("the body is not JSON ({e}): {}", snippet(&self.body))),
        }
    }

    /// `error: error_description` of an OAuth error body, else the status and a snippet.
    pub(crate) fn describe_error(&self) -> String {
        if let Ok(map) = self.json_object()
            && let Some(Value::String(error)) = map.get("error")
        {
            return match map.get("error_description").and_then(Value::as_str) {
                Some(d) => format!("HTTP {}: {error}: {}", self.status, clip(d)),
                None => format!("HTTP {}: {error}", self.status),
            };
        }
        format!("HTTP {}: {}", self.status, snippet(&self.body))
    }
}

fn clip(s: &str) -> &str {
    let end = s.char_indices().nth(200).map_or(s.len(), |(i, _)| i);
    &s[..end]
}

/// Makes the authorization requests of one service.
#[derive(Clone)]
pub(crate) struct AuthHttp {
    agent: ureq::Agent,
}

impl std::fmt::Debug for AuthHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthHttp")
    }
}

impl AuthHttp {
    /// An agent like the transport's (its connections stop when the call is
    /// cancelled), connecting within `pool.connection_timeout`.
    pub(crate) fn new(pool: &PoolConfig) -> AuthHttp {
        AuthHttp { agent: crate::transport::http::agent_for(pool) }
    }

    /// GETs `url`; follows redirects only when `follow` (metadata yes, the
    /// authorization endpoint never: its redirect is the answer).
    pub(crate) fn get(&self, url: &str, follow: bool, step: AuthStep, deadline: Instant) -> Result<Reply> {
        let left = time_left(step, url, deadline)?;
        let result = self
            .agent
            .get(url)
            .header("accept", "application/json")
            .config()
            .max_redirects(if follow { 5 } else { 0 })
            .timeout_global(Some(left))
            .build()
            .call();
        read(result, url, step, left)
    }

    /// POSTs a form (`application/x-www-form-urlencoded`), with HTTP Basic
    /// client authentication when `basic` is given.
    pub(crate) fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<&str>,
        step: AuthStep,
        deadline: Instant,
    ) -> Result<Reply> {
        let left = time_left(step, url, deadline)?;
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            body.append_pair(k, v);
        }
        let mut request = self
            .agent
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        if let Some(credentials) = basic {
            let mut value = ureq::http::HeaderValue::from_str(credentials)
                .map_err(|_| Error::auth(step, "the client credentials cannot be sent in a header"))?;
            value.set_sensitive(true);
            request = request.header("authorization", value);
        }
        let result = request
            .config()
            .max_redirects(0)
            .timeout_global(Some(left))
            .build()
            .send(body.finish().as_bytes());
        read(result, url, step, left)
    }

    /// POSTs an MCP `ping` without credentials to learn the server's
    /// challenge: `Some(WWW-Authenticate)` when it refuses with 401 or 403.
    pub(crate) fn probe(&self, url: &str, deadline: Instant) -> Result<Option<String>> {
        let left = time_left(AuthStep::ProtectedResource, url, deadline)?;
        let body = br#"{"jsonrpc":"2.0","id":"mcpstore-auth-probe","method":"ping"}"#;
        let result = self
            .agent
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .config()
            .max_redirects(0)
            .timeout_global(Some(left))
            .build()
            .send(&body[..]);
        let response = result.map_err(|e| {
            Error::auth(AuthStep::ProtectedResource, format!("request to {} failed: {e}", endpoint(url)))
        })?;
        if !matches!(response.status().as_u16(), 401 | 403) {
            return Ok(None);
        }
        let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok());
        Ok(Some(challenge.unwrap_or("").to_owned()))
    }

    /// POSTs a JSON document.
    pub(crate) fn post_json(
        &self,
        url: &str,
        body: &Value,
        step: AuthStep,
        deadline: Instant,
    ) -> Result<Reply> {
        let left = time_left(step, url, deadline)?;
        let result = self
            .agent
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .config()
            .max_redirects(0)
            .timeout_global(Some(left))
            .build()
            .send(body.to_string().as_bytes());
        read(result, url, step, left)
    }
}

/// What a request may take of the time left before `deadline`: all but a
/// little (a tenth, at most 250 ms), so that a server that hangs fails the
/// step with an error naming it before the caller's own deadline passes.
fn time_left(step: AuthStep, url: &str, deadline: Instant) -> Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    let limit = left.saturating_sub((left / 10).min(Duration::from_millis(250)));
    if limit.is_zero() {
        return Err(Error::auth(step, format!("no time left for the request to {}", endpoint(url))));
    }
    Ok(limit)
}

/// A URL without its query (which may carry a state or a code) for messages.
pub(crate) fn endpoint(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn read(
    result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: &str,
    step: AuthStep,
    limit: Duration,
) -> Result<Reply> {
    let where_ = endpoint(url);
    let failed = |e: ureq::Error| match e {
        ureq::Error::Timeout(_) => {
            Error::auth(step, format!("{where_} did not answer within {} ms", limit.as_millis()))
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::Interrupted => Error::Cancelled,
        other => Error::auth(step, format!("request to {where_} failed: {other}")),
    };
    let mut response = result.map_err(failed)?;
    let status = response.status().as_u16();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_BODY)
        .read_to_end(&mut body)
        .map_err(|e| failed(ureq::Error::from(e)))?;
    Ok(Reply { status, body, location })
}
