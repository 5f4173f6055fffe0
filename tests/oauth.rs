//! OAuth 2.1 against a protected MCP server and a small authorization server
//! started by the test on 127.0.0.1 (tests/auth_support): login, calls,
//! expiry and refresh (ahead of time, on a 401, one refresh for many
//! refusals), logout, credentials kept across stores, step-up, client
//! credentials; and every failing step (bad metadata, a wrong state, no PKCE,
//! a token endpoint that errors or hangs) as a clear error within the call's deadline.

#[path = "auth_support/mod.rs"]
mod auth_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_support::{Knobs, Metadata, OAuthWorld};
use mcpstore::{
    AuthConfig, AuthMode, AuthStep, AuthorizationRequest, Authorizer, BatchConfig, CallOptions, Error,
    FileTokenStore, HeadlessAuthorizer, HttpConfig, LoopbackAuthorizer, MemoryTokenStore, PoolConfig,
    SecretSource, ServiceConfig, Store, TokenStore,
};
use serde_json::json;

/// What a clock bound may add to the limit it checks on a loaded 2-core machine.
const LOAD_MARGIN: Duration = Duration::from_millis(1500);

fn pool(timeout: Duration) -> PoolConfig {
    PoolConfig {
        min_connections: 0,
        max_connections: 4,
        connection_timeout: timeout,
        read_timeout: timeout,
        retry_delay: Duration::from_millis(20),
        ..PoolConfig::default()
    }
}

fn builder(timeout: Duration, tokens: Arc<dyn TokenStore>) -> mcpstore::StoreBuilder {
    Store::builder()
        .pool(pool(timeout))
        .batch(BatchConfig { call_timeout: timeout, ..BatchConfig::default() })
        .token_store(tokens)
}

fn echo(store: &Store, message: &str) -> mcpstore::Result<String> {
    store.call_tool("web.echo", json!({ "message": message })).map(|r| r.text())
}

/// Plays the user's browser for the loopback authorizer: follows the
/// authorization URL to its redirect and delivers it to the listener.
struct Browser(LoopbackAuthorizer);

impl Authorizer for Browser {
    fn redirect_uri(&self, configured: &str) -> mcpstore::Result<String> {
        self.0.redirect_uri(configured)
    }

    fn authorize(&self, request: &AuthorizationRequest<'_>) -> mcpstore::Result<String> {
        let url = request.url.to_owned();
        std::thread::spawn(move || {
            let agent: ureq::Agent =
                ureq::Agent::config_builder().max_redirects(0).http_status_as_error(false).build().into();
            let answer = agent.get(&url).call().expect("authorization endpoint");
            let location = answer.headers().get("location").expect("a redirect").to_str().unwrap().to_owned();
            let page = agent.get(&location).call().expect("the loopback listener");
            assert_eq!(page.status(), 200);
        });
        self.0.authorize(request)
    }
}

fn browser() -> Arc<dyn Authorizer> {
    Arc::new(Browser(LoopbackAuthorizer::new().open_browser(false)))
}

fn assert_auth_error(e: &Error, step: AuthStep, words: &str) {
    match e {
        Error::Auth { step: s, message } if *s == step && message.contains(words) => {}
        other => panic!("expected an auth error at {step:?} mentioning {words:?}, got {other:?}"),
    }
    assert_eq!(e.code() as i32, 203);
}

#[test]
fn login_calls_refresh_and_logout() {
    let world = OAuthWorld::start(Knobs::default());
    let tokens = Arc::new(MemoryTokenStore::new());
    let store = builder(Duration::from_secs(10), tokens.clone()).build().unwrap();
    store.add_service("web", ServiceConfig::http(&world.mcp_url)).unwrap();

    // No authorizer and no login yet: a clear error at once.
    let started = Instant::now();
    let e = echo(&store, "x").unwrap_err();
    assert_auth_error(&e, AuthStep::Authorization, "auth login web");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(!store.auth_status("web").unwrap().authorized);

    // Login: the loopback authorizer, a test thread in the browser's place.
    let status = store.auth_login_with("web", Some(browser()), Duration::from_secs(20)).unwrap();
    assert!(status.authorized && status.renewable, "{status:?}");
    assert_eq!(status.mode, "oauth");
    assert_eq!(status.issuer.as_deref(), Some(world.issuer.as_str()));
    assert_eq!(status.resource.as_deref(), Some(world.mcp_url.as_str()));
    assert_eq!(
        status.scopes,
        ["mcp:read", "offline_access"],
        "PRM scopes, and offline_access as the AS lists it"
    );
    let counts = world.counts();
    assert_eq!((counts.registrations, counts.authorizations.len()), (1, 1), "{counts:?}");

    for i in 0..5 {
        assert_eq!(echo(&store, &format!("m{i}")).unwrap(), format!("m{i}"));
    }

    // A 401 on an expired token: refreshed, the call goes through.
    world.set(|k| k.token_lifetime = Duration::from_secs(3));
    world.revoke_access_tokens();
    assert_eq!(echo(&store, "after expiry").unwrap(), "after expiry");
    assert_eq!(world.counts().grant("refresh_token"), 1);

    // Ahead of expiry (3 s tokens are renewed 2 s early): refreshed before any refusal.
    std::thread::sleep(Duration::from_millis(1500));
    world.set(|k| k.token_lifetime = Duration::from_secs(3600));
    let refused = world.counts().refused_requests;
    assert_eq!(echo(&store, "renewed").unwrap(), "renewed");
    let counts = world.counts();
    assert_eq!(counts.grant("refresh_token"), 2, "{counts:?}");
    assert_eq!(counts.refused_requests, refused, "renewed before the token was refused");

    // Many refusals at once: one refresh (single flight); every call completes.
    world.set(|k| k.token_delay = Duration::from_millis(300));
    world.revoke_access_tokens();
    std::thread::scope(|s| {
        let calls: Vec<_> = (0..8)
            .map(|i| {
                s.spawn({
                    let store = &store;
                    move || echo(store, &format!("c{i}"))
                })
            })
            .collect();
        for (i, c) in calls.into_iter().enumerate() {
            assert_eq!(c.join().unwrap().unwrap(), format!("c{i}"));
        }
    });
    let counts = world.counts();
    assert_eq!(counts.grant("refresh_token"), 3, "one refresh for all: {counts:?}");
    assert_eq!(counts.authorizations.len(), 1, "never a new login");
    assert_eq!(counts.grant("authorization_code"), 1);

    // No token or refresh token anywhere the user can see.
    let status = store.auth_status("web").unwrap();
    let shown = format!("{status:?} {} {store:?} {} {e}", status.to_json(), store.stats().to_json());
    for secret in world.issued_secrets() {
        assert!(!shown.contains(&secret), "a token was shown: {shown}");
    }

    // Logout: forgotten in memory and in the store; the next call needs a login again.
    store.auth_logout("web").unwrap();
    assert!(!store.auth_status("web").unwrap().authorized);
    assert!(tokens.list().unwrap().is_empty());
    assert_auth_error(&echo(&store, "x").unwrap_err(), AuthStep::Authorization, "auth login web");
}

#[test]
fn a_credentials_file_serves_the_next_store() {
    let world = OAuthWorld::start(Knobs::default());
    let dir = std::env::temp_dir().join(format!("mcps-oauth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = dir.join("credentials.json");
    {
        let store = builder(Duration::from_secs(10), Arc::new(FileTokenStore::new(&file)))
            .authorizer(Arc::new(HeadlessAuthorizer::new()))
            .build()
            .unwrap();
        store.add_service("web", ServiceConfig::http(&world.mcp_url)).unwrap();
        assert_eq!(echo(&store, "first").unwrap(), "first");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A new store without an authorizer: the stored token, no new login.
    let store = builder(Duration::from_secs(10), Arc::new(FileTokenStore::new(&file))).build().unwrap();
    store.add_service("web", ServiceConfig::http(&world.mcp_url)).unwrap();
    assert!(store.auth_status("web").unwrap().authorized, "status from the file, before any request");
    assert_eq!(echo(&store, "second").unwrap(), "second");
    let counts = world.counts();
    assert_eq!((counts.authorizations.len(), counts.registrations), (1, 1), "{counts:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&world.issuer) && text.contains("dynamic"), "keyed by issuer and client: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_login_while_a_call_authorizes_asks_the_user_once() {
    // The code exchange takes 2 s: time for the login to start while the call's authorization runs,
    // even on a loaded machine.
    let world = OAuthWorld::start(Knobs { token_delay: Duration::from_secs(2), ..Knobs::default() });
    let store = builder(Duration::from_secs(10), Arc::new(MemoryTokenStore::new()))
        .authorizer(Arc::new(HeadlessAuthorizer::new()))
        .build()
        .unwrap();
    store.add_service("web", ServiceConfig::http(&world.mcp_url)).unwrap();
    std::thread::scope(|s| {
        let call = s.spawn(|| echo(&store, "first"));
        // The call's authorization is under way (its code is being exchanged, slowly).
        let started = Instant::now();
        while world.counts().authorizations.is_empty() {
            assert!(started.elapsed() < Duration::from_secs(10), "the call never authorized");
            std::thread::sleep(Duration::from_millis(5));
        }
        let status = store.auth_login_with("web", None, Duration::from_secs(10)).unwrap();
        assert!(status.authorized, "{status:?}");
        assert_eq!(call.join().unwrap().unwrap(), "first");
    });
    let counts = world.counts();
    assert_eq!(counts.authorizations.len(), 1, "the login took the call's authorization: {counts:?}");
    assert_eq!(counts.grant("authorization_code"), 1, "{counts:?}");
    // A login with no authorization under way authorizes anew.
    store.auth_login_with("web", None, Duration::from_secs(10)).unwrap();
    assert_eq!(world.counts().authorizations.len(), 2);
}

#[test]
fn step_up_asks_for_the_union_of_scopes() {
    let world = OAuthWorld::start(Knobs::default());
    let store = builder(Duration::from_secs(10), Arc::new(MemoryTokenStore::new()))
        .authorizer(Arc::new(HeadlessAuthorizer::new()))
        .build()
        .unwrap();
    store.add_service("web", ServiceConfig::http(&world.mcp_url)).unwrap();
    assert_eq!(echo(&store, "read").unwrap(), "read");
    let r = store.call_tool("web.write", json!({"message": "written"})).unwrap();
    assert_eq!(r.text(), "written");
    let counts = world.counts();
    assert_eq!(counts.authorizations.len(), 2, "{counts:?}");
    let second: Vec<&str> = counts.authorizations[1].split(' ').collect();
    for scope in ["mcp:read", "mcp:write"] {
        assert!(second.contains(&scope), "step-up asks for {scope}: {counts:?}");
    }
    assert_eq!(counts.tool_calls, 2, "the refused call ran once, after the step-up");
}

#[test]
fn client_credentials_with_a_jwt_and_with_a_secret() {
    use ring::signature::KeyPair;
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let key = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pkcs8.as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
    let world = OAuthWorld::start(Knobs {
        cc_jwt_key: Some(key.public_key().as_ref().to_vec()),
        cc_secret: None,
        ..Knobs::default()
    });
    let cc = |auth: AuthConfig| ServiceConfig::new(HttpConfig { auth, ..HttpConfig::new(&world.mcp_url) });
    let store = builder(Duration::from_secs(10), Arc::new(MemoryTokenStore::new())).build().unwrap();
    let jwt = AuthConfig {
        mode: AuthMode::ClientCredentials,
        client_id: Some("svc".into()),
        private_key: Some(SecretSource::Value(pem)),
        signing_alg: Some("ES256".into()),
        ..AuthConfig::default()
    };
    store.add_service("web", cc(jwt)).unwrap();
    assert_eq!(echo(&store, "m2m").unwrap(), "m2m");
    world.revoke_access_tokens();
    assert_eq!(echo(&store, "again").unwrap(), "again", "a refused token is replaced by a new grant");
    assert_eq!(world.counts().grant("client_credentials"), 2);
    let status = store.auth_status("web").unwrap();
    assert_eq!((status.mode, status.renewable), ("client_credentials", true));

    world.set(|k| {
        k.cc_jwt_key = None;
        k.cc_secret = Some(("svc".into(), "s3cret".into()));
    });
    let basic = AuthConfig {
        mode: AuthMode::ClientCredentials,
        client_id: Some("svc".into()),
        client_secret: Some(SecretSource::Value("s3cret".into())),
        ..AuthConfig::default()
    };
    store.add_service("basic", cc(basic)).unwrap();
    assert_eq!(store.call_tool("basic.echo", json!({"message": "b"})).unwrap().text(), "b");
}

/// A way to break the authorization server, the step that then fails, and words of its error.
type Breakage = (&'static str, Box<dyn Fn(&mut Knobs)>, AuthStep, &'static str);

/// Each broken step fails the call with an error naming it, within the call's deadline.
#[test]
fn broken_steps_fail_clearly_in_time() {
    let limit = Duration::from_secs(3);
    let cases: Vec<Breakage> = vec![
        (
            "bad metadata",
            Box::new(|k| k.metadata = Metadata::Garbage),
            AuthStep::ServerMetadata,
            "invalid authorization server metadata",
        ),
        ("no PKCE", Box::new(|k| k.metadata = Metadata::NoPkce), AuthStep::ServerMetadata, "PKCE"),
        ("wrong state", Box::new(|k| k.wrong_state = true), AuthStep::Authorization, "state"),
        ("token error", Box::new(|k| k.token_error = true), AuthStep::Token, "invalid_client"),
        ("token hangs", Box::new(|k| k.token_hangs = true), AuthStep::Token, "did not answer"),
    ];
    for (name, knob, step, words) in cases {
        let mut knobs = Knobs::default();
        knob(&mut knobs);
        let world = OAuthWorld::start(knobs);
        let store = builder(limit, Arc::new(MemoryTokenStore::new()))
            .authorizer(Arc::new(HeadlessAuthorizer::new()))
            .build()
            .unwrap();
        store.add_service("web", ServiceConfig::http(&world.mcp_url)).unwrap();
        let started = Instant::now();
        let options = CallOptions { timeout: Some(limit), ..CallOptions::default() };
        let e = store.call_tool_with("web.echo", json!({"message": "x"}), &options).unwrap_err();
        let took = started.elapsed();
        assert_auth_error(&e, step, words);
        assert!(took < limit + LOAD_MARGIN, "{name}: took {took:?}");
        let counts = world.counts();
        match name {
            "no PKCE" => assert!(counts.authorizations.is_empty(), "{name}: never authorizes: {counts:?}"),
            "wrong state" => {
                assert_eq!(counts.grant("authorization_code"), 0, "{name}: the code is never used")
            }
            _ => {}
        }
        assert_eq!(counts.tool_calls, 0, "{name}");
    }
}
