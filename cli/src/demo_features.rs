//! The part of `mcpstore demo` beyond tools: resources (text, blob, a
//! template, a subscription and its update), prompts, completions, logging,
//! and the tools that ask the client for sampling, elicitation and roots.
//! Every step checks what came back; a mismatch fails the tour.

use std::path::Path;
use std::time::{Duration, Instant};

use mcpstore::{
    CallOptions, CompletionRef, CreateMessageResult, ElicitRequest, ElicitResult, Error, Event, EventQueue,
    HandlerError, LogLevel, RequestContext, Root, StoreBuilder,
};
use serde_json::{Map, Value, json};

use crate::demo_cmd::{Expect, Tour};

/// How long the tour waits for an event the server sends on its own.
const EVENT_WAIT: Duration = Duration::from_secs(10);

/// The model the tour lends the demo server (`ask_model`): it answers in kind.
fn tour_model(
    _: &RequestContext,
    request: mcpstore::CreateMessageRequest,
) -> Result<CreateMessageResult, HandlerError> {
    let question = request
        .messages
        .last()
        .and_then(|m| m.content.get("text"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    Ok(CreateMessageResult::text("mcpstore-demo-model", format!("You asked: {question}")))
}

/// The user the tour plays (`ask_user`): fills in the name; the schema's defaults do the rest.
fn tour_user(_: &RequestContext, request: ElicitRequest) -> Result<ElicitResult, HandlerError> {
    match request {
        ElicitRequest::Form { .. } => {
            let mut content = Map::new();
            content.insert("name".into(), json!("demo user"));
            Ok(ElicitResult::accept(content))
        }
        ElicitRequest::Url { .. } => Ok(ElicitResult::decline()),
    }
}

/// The tour's store builder: the model, the user and `root` as the only root.
pub fn with_handlers(builder: StoreBuilder, root: &Path) -> StoreBuilder {
    builder.sampling_handler(tour_model).elicitation_handler(tour_user).roots(vec![Root::directory(root)])
}

/// The first event that `wanted` picks within [`EVENT_WAIT`].
fn wait_event(queue: &EventQueue, wanted: impl Fn(&Event) -> bool) -> Option<Event> {
    wait_events(queue, &[&wanted]).pop().flatten()
}

/// For each of `wanted`, the first event it picks within [`EVENT_WAIT`]
/// (in any order; `None` for those that did not come).
fn wait_events(queue: &EventQueue, wanted: &[&dyn Fn(&Event) -> bool]) -> Vec<Option<Event>> {
    let mut found: Vec<Option<Event>> = vec![None; wanted.len()];
    let deadline = Instant::now() + EVENT_WAIT;
    while found.iter().any(Option::is_none) {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
        let Ok(event) = queue.recv_timeout(left) else { break };
        if let Some(i) = (0..wanted.len()).find(|&i| found[i].is_none() && wanted[i](&event)) {
            found[i] = Some(event);
        }
    }
    found
}

impl Tour {
    /// Records a failure unless `ok`.
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.fail(what());
        }
    }

    fn resources(&mut self, queue: &EventQueue) -> Result<(), Error> {
        println!("\n== resources (a URI resolves to the service that lists it, or give the service)");
        let listed = self.store.list_resources(Some("local"))?;
        for (service, r) in &listed {
            println!("  {service}: {} ({})", r.uri, r.mime_type.as_deref().unwrap_or("?"));
        }
        let readme =
            self.store.read_resource_with(Some("local"), "demo://docs/readme", &CallOptions::default())?;
        println!("  read demo://docs/readme -> {}", readme.text().lines().next().unwrap_or(""));
        self.check(readme.text().contains("mcpstore"), || format!("the readme reads {:?}", readme.text()));
        let logo =
            self.store.read_resource_with(Some("web"), "demo://docs/logo.png", &CallOptions::default())?;
        let bytes = logo.contents.first().map(|c| c.bytes()).transpose().map_err(Error::Internal)?;
        let png = bytes.as_deref().is_some_and(|b| b.starts_with(b"\x89PNG"));
        println!("  read demo://docs/logo.png -> {} bytes of PNG", bytes.as_ref().map_or(0, Vec::len));
        self.check(png, || "the logo is not a PNG".into());
        match self.store.read_resource("demo://docs/readme") {
            Err(e @ Error::AmbiguousResource { .. }) => {
                println!("  read demo://docs/readme (no service) -> {e}  (as intended)")
            }
            other => self.fail(format!("an ambiguous URI gave {other:?}")),
        }
        for (service, t) in self.store.list_resource_templates(Some("web"))? {
            println!("  template {service}: {}", t.uri_template);
        }
        let uri = "demo://notes/tour";
        let service = self.store.subscribe_resource(Some("web"), uri)?;
        println!("  subscribed to {uri} on {service}");
        self.call("web.write_note", json!({"name": "tour", "text": "written by the tour"}), Expect::Ok);
        // A new note: the server says the list changed (the store refreshes web's
        // index, then tells) and that the subscribed resource was updated.
        let updated = |e: &Event| matches!(e, Event::ResourceUpdated { uri: u, .. } if u == uri);
        let listed = |e: &Event| matches!(e, Event::ResourcesListChanged { service } if service == "web");
        let events = wait_events(queue, &[&updated, &listed]);
        for (event, kind) in events.iter().zip(["resource_updated", "resources_list_changed"]) {
            match event {
                Some(e) => println!("  event: {}", e.to_json()),
                None => self.fail(format!("no {kind} event for {uri} on web")),
            }
        }
        // Both services have the notes template, but only web lists the note now.
        let note = self.store.read_resource(uri)?.text();
        println!("  read {uri} (resolves to web, which lists it) -> {note}");
        self.check(note == "written by the tour", || format!("the note reads {note:?}"));
        Ok(())
    }

    fn prompts_and_completions(&mut self) -> Result<(), Error> {
        println!("\n== prompts and completions");
        for (service, p) in self.store.list_prompts(Some("local"))? {
            let args: Vec<&str> = p.arguments.iter().map(|a| a.name.as_str()).collect();
            println!("  {service}.{}({})", p.name, args.join(", "));
        }
        let args = json!({"topic": "connection pools", "style": "brief"});
        let Value::Object(args) = args else { unreachable!("an object") };
        let prompt = self.store.get_prompt("local.summarize", args)?;
        let text = prompt.messages.first().and_then(|m| m.content.get("text")).and_then(Value::as_str);
        println!("  local.summarize -> {}", text.unwrap_or("(no text)"));
        self.check(text.is_some_and(|t| t.contains("connection pools")), || {
            format!("the prompt gave {text:?}")
        });
        let styles = CompletionRef::Prompt("summarize".into());
        let done = self.store.complete(Some("local"), &styles, "style", "de", &Map::new())?;
        println!("  complete summarize.style \"de\" -> {:?}", done.values);
        self.check(done.values == ["detailed"], || format!("style completions {:?}", done.values));
        let notes = CompletionRef::Resource("demo://notes/{name}".into());
        let done = self.store.complete(Some("web"), &notes, "name", "to", &Map::new())?;
        println!("  complete demo://notes/{{name}} \"to\" -> {:?}", done.values);
        self.check(done.values.iter().any(|v| v == "tour"), || format!("note completions {:?}", done.values));
        Ok(())
    }

    fn logging(&mut self, queue: &EventQueue) -> Result<(), Error> {
        println!("\n== logging (set_log_level, then notifications/message arrive as events)");
        self.store.set_log_level(Some("local"), LogLevel::Warning)?;
        self.call("local.log", json!({"level": "info", "message": "filtered out"}), Expect::Ok);
        self.call("local.log", json!({"level": "error", "message": "this one passes"}), Expect::Ok);
        let log = wait_event(queue, |e| matches!(e, Event::Log { .. }));
        println!("  event: {}", log.as_ref().map_or("none".into(), |e| e.to_json().to_string()));
        let passed = matches!(&log, Some(Event::Log { level: LogLevel::Error, data, .. }) if data == "this one passes");
        self.check(passed, || format!("expected the error message first, got {log:?}"));
        Ok(())
    }

    fn client_requests(&mut self, root: &Path) {
        println!("\n== the server asks the client: sampling, elicitation, roots");
        self.expect_text("local.ask_model", json!({"question": "2+2?"}), "You asked: 2+2?");
        self.expect_text(
            "web.ask_user",
            json!({"question": "Who are you?"}),
            "accept name=demo user age=30 subscribe=false",
        );
        let root_uri = Root::directory(root).uri;
        self.expect_text("local.list_roots", json!({}), &root_uri);
    }

    /// Calls a tool that should succeed with exactly `want` as its text.
    fn expect_text(&mut self, name: &str, args: Value, want: &str) {
        match self.store.call_tool(name, args.clone()) {
            Ok(r) if !r.is_error && r.text() == want => println!("  {name} {args} -> {want}"),
            Ok(r) => self.fail(format!("{name} {args}: expected {want:?}, got {:?}", r.text())),
            Err(e) => self.fail(format!("{name} {args}: {e}")),
        }
    }

    /// The whole features part of the tour.
    pub fn features(&mut self, root: &Path) -> Result<(), Error> {
        let queue = self.store.event_queue();
        self.resources(&queue)?;
        self.prompts_and_completions()?;
        self.logging(&queue)?;
        self.client_requests(root);
        Ok(())
    }
}
