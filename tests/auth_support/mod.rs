//! A small OAuth world on 127.0.0.1 for the authorization tests: an
//! authorization server (metadata, dynamic registration, authorize with
//! PKCE, token with authorization code, refresh and client credentials) and
//! an MCP server that is a protected resource accepting only its tokens.
//! Both are plain std::net servers, one thread per connection, `Connection:
//! close`. Knobs make the authorization server misbehave on purpose; counters
//! show what the client did.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// How the authorization server behaves.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// Access token lifetime.
    pub token_lifetime: Duration,
    /// The metadata document: normal, not JSON, or without PKCE methods.
    pub metadata: Metadata,
    /// The redirect of `/authorize` carries another `state`.
    pub wrong_state: bool,
    /// The token endpoint answers 400 `invalid_client`.
    pub token_error: bool,
    /// The token endpoint never answers.
    pub token_hangs: bool,
    /// How long the token endpoint takes to answer (widens races).
    pub token_delay: Duration,
    /// The scope `tools/call` of `write` needs.
    pub write_scope: &'static str,
    /// A client credentials client: (id, secret) for Basic, or an ES256 public key for JWTs.
    pub cc_secret: Option<(String, String)>,
    /// The P-256 public key (uncompressed point) that verifies client assertions.
    pub cc_jwt_key: Option<Vec<u8>>,
}

/// What `/.well-known/oauth-authorization-server` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metadata {
    /// A correct document.
    Normal,
    /// `not json`.
    Garbage,
    /// A document without `code_challenge_methods_supported`.
    NoPkce,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            token_lifetime: Duration::from_secs(3600),
            metadata: Metadata::Normal,
            wrong_state: false,
            token_error: false,
            token_hangs: false,
            token_delay: Duration::ZERO,
            write_scope: "mcp:write",
            cc_secret: None,
            cc_jwt_key: None,
        }
    }
}

/// What the client did.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Metadata documents served (protected resource + authorization server).
    pub metadata: usize,
    /// Dynamic registrations.
    pub registrations: usize,
    /// `/authorize` requests, with their `scope`.
    pub authorizations: Vec<String>,
    /// Token requests by grant type.
    pub grants: HashMap<String, usize>,
    /// MCP requests accepted with a valid token.
    pub authorized_requests: usize,
    /// MCP requests refused (401/403).
    pub refused_requests: usize,
    /// Tool calls run.
    pub tool_calls: usize,
}

impl Counts {
    /// Token requests of `grant`.
    pub fn grant(&self, grant: &str) -> usize {
        self.grants.get(grant).copied().unwrap_or(0)
    }
}

#[derive(Default)]
struct State {
    knobs: Knobs,
    counts: Counts,
    /// code -> (challenge, scope)
    codes: HashMap<String, (String, String)>,
    /// access token -> (expiry, scopes)
    tokens: HashMap<String, (Instant, String)>,
    /// refresh token -> scope
    refresh: HashMap<String, String>,
    next: u64,
}

/// The running pair of servers; stopped on drop.
pub struct OAuthWorld {
    /// The MCP endpoint (the protected resource).
    pub mcp_url: String,
    /// The authorization server's issuer.
    pub issuer: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl OAuthWorld {
    /// Starts both servers with `knobs`.
    pub fn start(knobs: Knobs) -> OAuthWorld {
        let rs = TcpListener::bind("127.0.0.1:0").expect("bind rs");
        let auth = TcpListener::bind("127.0.0.1:0").expect("bind as");
        let mcp_url = format!("http://{}/mcp", rs.local_addr().expect("addr"));
        let issuer = format!("http://{}", auth.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State { knobs, ..State::default() }));
        let stop = Arc::new(AtomicBool::new(false));
        let world = Arc::new((mcp_url.clone(), issuer.clone()));
        for (listener, is_as) in [(rs, false), (auth, true)] {
            let (state, stop, world) = (state.clone(), stop.clone(), world.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let (state, world) = (state.clone(), world.clone());
                    std::thread::spawn(move || {
                        let _ = serve(conn, &state, &world, is_as);
                    });
                }
            });
        }
        OAuthWorld { mcp_url, issuer, state, stop }
    }

    /// What the client did so far.
    pub fn counts(&self) -> Counts {
        self.state.lock().counts.clone()
    }

    /// Changes the knobs.
    pub fn set(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut self.state.lock().knobs);
    }

    /// Makes every access token issued so far invalid (as if they expired).
    pub fn revoke_access_tokens(&self) {
        self.state.lock().tokens.clear();
    }

    /// Every access and refresh token issued and still known (to check they are never shown).
    pub fn issued_secrets(&self) -> Vec<String> {
        let st = self.state.lock();
        st.tokens.keys().chain(st.refresh.keys()).cloned().collect()
    }
}

impl Drop for OAuthWorld {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for url in [&self.mcp_url, &self.issuer] {
            let addr = url.trim_start_matches("http://").split('/').next().unwrap_or("").to_owned();
            let _ = TcpStream::connect(addr); // wakes the accept loop
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

fn read_request(conn: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    Some(Request { method, path: path.to_owned(), query, headers, body })
}

fn respond(mut conn: &TcpStream, status: u16, headers: &[(&str, String)], body: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        _ => "Other",
    };
    let mut head =
        format!("HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())
}

fn json_reply(conn: &TcpStream, status: u16, body: &Value) -> std::io::Result<()> {
    respond(conn, status, &[("content-type", "application/json".into())], &body.to_string())
}

fn serve(
    conn: TcpStream,
    state: &Mutex<State>,
    world: &(String, String),
    is_as: bool,
) -> std::io::Result<()> {
    let Some(req) = read_request(&conn) else { return Ok(()) };
    if is_as {
        authorization_server(&conn, state, world, req)
    } else {
        resource_server(&conn, state, world, req)
    }
}

fn authorization_server(
    conn: &TcpStream,
    state: &Mutex<State>,
    (mcp_url, issuer): &(String, String),
    req: Request,
) -> std::io::Result<()> {
    let _ = mcp_url;
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/.well-known/oauth-authorization-server") => {
            let mut st = state.lock();
            st.counts.metadata += 1;
            let mut doc = json!({
                "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"), "registration_endpoint": format!("{issuer}/register"),
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "private_key_jwt"],
                "scopes_supported": ["mcp:read", "mcp:write", "offline_access"],
                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            });
            match st.knobs.metadata {
                Metadata::Garbage => {
                    return respond(conn, 200, &[("content-type", "application/json".into())], "not json");
                }
                Metadata::NoPkce => {
                    doc.as_object_mut().map(|o| o.remove("code_challenge_methods_supported"));
                }
                Metadata::Normal => {}
            }
            json_reply(conn, 200, &doc)
        }
        ("POST", "/register") => {
            let mut st = state.lock();
            st.counts.registrations += 1;
            st.next += 1;
            json_reply(
                conn,
                201,
                &json!({"client_id": format!("dyn-{}", st.next), "token_endpoint_auth_method": "none"}),
            )
        }
        ("GET", "/authorize") => {
            let mut st = state.lock();
            let scope = req.query.get("scope").cloned().unwrap_or_default();
            st.counts.authorizations.push(scope.clone());
            st.next += 1;
            let code = format!("code-{}", st.next);
            let challenge = req.query.get("code_challenge").cloned().unwrap_or_default();
            st.codes.insert(code.clone(), (challenge, scope));
            let state_param = if st.knobs.wrong_state {
                "forged".to_owned()
            } else {
                req.query.get("state").cloned().unwrap_or_default()
            };
            let redirect = req.query.get("redirect_uri").cloned().unwrap_or_default();
            let sep = if redirect.contains('?') { '&' } else { '?' };
            let location = format!("{redirect}{sep}code={code}&state={state_param}");
            respond(conn, 302, &[("location", location)], "")
        }
        ("POST", "/token") => token_endpoint(conn, state, issuer, &req),
        _ => respond(conn, 404, &[], "not found"),
    }
}

fn token_endpoint(
    conn: &TcpStream,
    state: &Mutex<State>,
    issuer: &str,
    req: &Request,
) -> std::io::Result<()> {
    let form: HashMap<String, String> = form_urlencoded::parse(&req.body).into_owned().collect();
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    let knobs = {
        let mut st = state.lock();
        *st.counts.grants.entry(grant.clone()).or_default() += 1;
        st.knobs.clone()
    };
    if knobs.token_hangs {
        std::thread::sleep(Duration::from_secs(60));
        return Ok(());
    }
    std::thread::sleep(knobs.token_delay);
    let refuse = |error: &str| {
        json_reply(conn, 400, &json!({"error": error, "error_description": "refused by the test server"}))
    };
    if knobs.token_error {
        return refuse("invalid_client");
    }
    if !form.contains_key("resource") {
        return refuse("invalid_target");
    }
    let mut st = state.lock();
    let scope = match grant.as_str() {
        "authorization_code" => {
            let Some((challenge, scope)) = form.get("code").and_then(|c| st.codes.remove(c)) else {
                return refuse("invalid_grant");
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
            if URL_SAFE_NO_PAD.encode(digest.as_ref()) != challenge {
                return refuse("invalid_grant");
            }
            scope
        }
        "refresh_token" => match form.get("refresh_token").and_then(|r| st.refresh.remove(r)) {
            Some(scope) => scope,
            None => return refuse("invalid_grant"),
        },
        "client_credentials" => {
            if !client_authenticated(&knobs, req, &form, issuer) {
                return json_reply(conn, 401, &json!({"error": "invalid_client"}));
            }
            form.get("scope").cloned().unwrap_or_default()
        }
        _ => return refuse("unsupported_grant_type"),
    };
    st.next += 1;
    let access = format!("access-{}-{}", st.next, "x".repeat(8));
    st.tokens.insert(access.clone(), (Instant::now() + knobs.token_lifetime, scope.clone()));
    let mut body = json!({"access_token": access, "token_type": "Bearer", "expires_in": knobs.token_lifetime.as_secs_f64(), "scope": scope});
    if grant != "client_credentials" {
        let refresh = format!("refresh-{}", st.next);
        st.refresh.insert(refresh.clone(), scope);
        body["refresh_token"] = refresh.into();
    }
    drop(st);
    json_reply(conn, 200, &body)
}

/// Basic (id:secret) or an ES256 client assertion whose `aud` is the issuer.
fn client_authenticated(knobs: &Knobs, req: &Request, form: &HashMap<String, String>, issuer: &str) -> bool {
    if let (Some((id, secret)), Some(basic)) = (&knobs.cc_secret, req.headers.get("authorization")) {
        let decoded = basic.strip_prefix("Basic ").and_then(|b| STANDARD.decode(b).ok());
        return decoded.is_some_and(|d| d == format!("{id}:{secret}").as_bytes());
    }
    let (Some(key), Some(jwt)) = (&knobs.cc_jwt_key, form.get("client_assertion")) else { return false };
    let Some((input, sig)) = jwt.rsplit_once('.') else { return false };
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else { return false };
    let verifier = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, key);
    if verifier.verify(input.as_bytes(), &sig).is_err() {
        return false;
    }
    let claims = input.split('.').nth(1).and_then(|c| URL_SAFE_NO_PAD.decode(c).ok());
    let claims: Value = claims.and_then(|c| serde_json::from_slice(&c).ok()).unwrap_or(Value::Null);
    claims["aud"] == issuer && form.get("client_assertion_type").is_some_and(|t| t.ends_with("jwt-bearer"))
}

fn resource_server(
    conn: &TcpStream,
    state: &Mutex<State>,
    (mcp_url, issuer): &(String, String),
    req: Request,
) -> std::io::Result<()> {
    let prm_url = format!("{}/.well-known/oauth-protected-resource/mcp", mcp_url.trim_end_matches("/mcp"));
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/.well-known/oauth-protected-resource/mcp") => {
            state.lock().counts.metadata += 1;
            json_reply(
                conn,
                200,
                &json!({"resource": mcp_url, "authorization_servers": [issuer], "scopes_supported": ["mcp:read"]}),
            )
        }
        ("POST", "/mcp") => {
            let message: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let method = message["method"].as_str().unwrap_or("").to_owned();
            let token =
                req.headers.get("authorization").and_then(|h| h.strip_prefix("Bearer ")).map(str::to_owned);
            let mut st = state.lock();
            let scopes = token
                .as_ref()
                .and_then(|t| st.tokens.get(t))
                .filter(|(exp, _)| *exp > Instant::now())
                .map(|(_, s)| s.clone());
            let Some(scopes) = scopes else {
                st.counts.refused_requests += 1;
                let challenge = format!(
                    r#"Bearer error="invalid_token", error_description="no valid token", resource_metadata="{prm_url}""#
                );
                drop(st);
                return respond(
                    conn,
                    401,
                    &[("www-authenticate", challenge), ("content-type", "application/json".into())],
                    r#"{"error":"invalid_token"}"#,
                );
            };
            let needed = st.knobs.write_scope;
            if method == "tools/call"
                && message["params"]["name"] == "write"
                && !scopes.split(' ').any(|s| s == needed)
            {
                st.counts.refused_requests += 1;
                let challenge = format!(
                    r#"Bearer error="insufficient_scope", scope="mcp:read {needed}", resource_metadata="{prm_url}""#
                );
                drop(st);
                return respond(
                    conn,
                    403,
                    &[("www-authenticate", challenge)],
                    r#"{"error":"insufficient_scope"}"#,
                );
            }
            st.counts.authorized_requests += 1;
            if method == "tools/call" {
                st.counts.tool_calls += 1;
            }
            drop(st);
            let Some(id) = message.get("id").cloned() else { return respond(conn, 202, &[], "") };
            let result = match method.as_str() {
                "initialize" => {
                    json!({"protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {}},
                                       "serverInfo": {"name": "protected", "version": "1"}})
                }
                "tools/list" => json!({"tools": [
                    {"name": "echo", "inputSchema": {"type": "object"}},
                    {"name": "write", "inputSchema": {"type": "object"}}]}),
                "tools/call" => {
                    let text = message["params"]["arguments"]["message"].as_str().unwrap_or("ok").to_owned();
                    json!({"content": [{"type": "text", "text": text}]})
                }
                _ => json!({}),
            };
            json_reply(conn, 200, &json!({"jsonrpc": "2.0", "id": id, "result": result}))
        }
        _ => respond(conn, 405, &[], ""),
    }
}
