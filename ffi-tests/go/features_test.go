package mcpstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The paths of node and server-everything (scripts/install-test-deps.sh): from
// MCPSTORE_NODE and MCPSTORE_EVERYTHING_JS, else under target/test-deps.
var everythingNode, everythingJS string

// dependency is $name, else its place under target/test-deps (checked by the tests that use it).
func dependency(name, underTestDeps string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	p, _ := filepath.Abs(filepath.Join("../../target/test-deps", underTestDeps))
	return p
}

// openEverything starts server-everything over stdio in a store whose
// handlers are registered before the service is added (the server offers
// its sampling, elicitation and roots tools only to clients that declared them).
func openEverything(t *testing.T, sampling, elicitation Handler) *Store {
	t.Helper()
	for _, p := range []string{everythingNode, everythingJS} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("test dependency missing (run `bash scripts/install-test-deps.sh`): %v", err)
		}
	}
	s, err := Open(`{"mcpServers": {}, "performance": {"min_connections": 1, "max_connections": 1, "handler_timeout": 10}}`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.SetSamplingHandler("", sampling, true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetElicitationHandler("", elicitation, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoots("", []Root{{URI: "file:///srv/go-project", Name: "project"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddService("everything", map[string]any{"command": everythingNode, "args": []string{everythingJS, "stdio"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListTools("everything"); err != nil {
		t.Fatalf("server-everything did not start: %v", err)
	}
	return s
}

// waitEvent takes events from q until one has type typ.
func waitEvent(t *testing.T, q *EventQueue, typ string) Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		e, err := q.Next(500 * time.Millisecond)
		if err != nil {
			if e, ok := err.(*Error); ok && e.Status == StatusNotReady {
				continue
			}
			t.Fatalf("Next: %v", err)
		}
		if e.Type == typ {
			return e
		}
	}
	t.Fatalf("no %s event within 30 s", typ)
	return Event{}
}

func TestFeaturesResourcesPromptsCompletions(t *testing.T) {
	s := openEverything(t, nil, nil)
	resources, err := s.ListResources("everything")
	if err != nil || len(resources) == 0 || resources[0]["service"] != "everything" {
		t.Fatalf("resources: %v %v", err, resources)
	}
	templates, err := s.ListResourceTemplates("")
	if err != nil || !strings.Contains(fmt.Sprint(templates), "dynamic/blob") {
		t.Fatalf("templates: %v %v", err, templates)
	}
	if svc, err := s.ResolveResource("demo://resource/dynamic/text/7"); err != nil || svc != "everything" {
		t.Fatalf("resolve: %q %v", svc, err)
	}
	text, err := s.ReadResource("demo://resource/dynamic/text/7")
	if err != nil || len(text.Contents) == 0 || text.Contents[0].Text == nil || *text.Contents[0].Text == "" {
		t.Fatalf("text: %v %+v", err, text)
	}
	blob, err := s.ReadResourceWith("everything", "demo://resource/dynamic/blob/7", &CallOptions{Timeout: 20 * time.Second})
	if err != nil || len(blob.Contents) == 0 || blob.Contents[0].Blob == "" {
		t.Fatalf("blob: %v %+v", err, blob)
	}
	_, err = s.ReadResource("nothing://here")
	asError(t, err, StatusResourceNotFound)

	prompts, err := s.ListPrompts("")
	if err != nil || !strings.Contains(fmt.Sprint(prompts), "args-prompt") {
		t.Fatalf("prompts: %v %v", err, prompts)
	}
	got, err := s.GetPrompt("args-prompt", map[string]string{"city": "Paris"})
	if err != nil || len(got.Messages) == 0 || !strings.Contains(got.JSON, "Paris") {
		t.Fatalf("args-prompt: %v %+v", err, got)
	}
	_, err = s.GetPrompt("no-such-prompt", nil)
	asError(t, err, StatusPromptNotFound)
	c, err := s.Complete("", PromptRef("completable-prompt"), "department", "", nil)
	if err != nil || len(c.Values) == 0 {
		t.Fatalf("complete: %v %+v", err, c)
	}
	narrowed, err := s.Complete("everything", PromptRef("completable-prompt"), "name", "", map[string]string{"department": "Engineering"})
	if err != nil || len(narrowed.Values) == 0 {
		t.Fatalf("complete with context: %v %+v", err, narrowed)
	}
	r, err := s.CallTool("get-structured-content", map[string]string{"location": "Chicago"})
	if err != nil || r.SchemaMismatch != "" {
		t.Fatalf("structured content: %v %+v", err, r)
	}
	asError(t, s.SetLogLevel("everything", "loud"), StatusInvalidArgument)
}

func TestFeaturesEventsAndHandlers(t *testing.T) {
	var sampled, elicited atomic.Int32
	// Answers from a goroutine of its own, after the handler returned.
	sampling := func(req Request, reply *Reply) {
		sampled.Add(1)
		var params struct {
			MaxTokens int `json:"maxTokens"`
		}
		if err := req.Decode(&params); err != nil || req.Service != "everything" {
			_ = reply.Error(-32602, "bad request")
			return
		}
		go func() {
			time.Sleep(50 * time.Millisecond)
			_ = reply.Result(map[string]any{
				"role": "assistant", "model": "go-model",
				"content": map[string]string{"type": "text", "text": fmt.Sprintf("go says 4 in %d tokens", params.MaxTokens)},
			})
		}()
	}
	elicitation := func(req Request, reply *Reply) {
		elicited.Add(1)
		if !strings.Contains(req.JSON, `"requestedSchema"`) {
			_ = reply.Error(-32602, "no schema")
			return
		}
		_ = reply.Result(`{"action": "accept", "content": {"name": "Grace Hopper"}}`)
	}
	s := openEverything(t, sampling, elicitation)

	r, err := s.CallTool("trigger-sampling-request", map[string]any{"prompt": "2+2?", "maxTokens": 7})
	if err != nil || r.IsError || !strings.Contains(r.Text, "go says 4 in 7 tokens") {
		t.Fatalf("sampling: %v %+v", err, r)
	}
	r, err = s.CallTool("trigger-elicitation-request", nil)
	if err != nil || r.IsError || !strings.Contains(r.Text, "Grace Hopper") || !strings.Contains(r.Text, "dark and stormy") {
		t.Fatalf("elicitation: %v %+v", err, r)
	}
	if sampled.Load() != 1 || elicited.Load() != 1 {
		t.Fatalf("handler calls: %d %d", sampled.Load(), elicited.Load())
	}
	r, err = s.CallTool("get-roots-list", nil)
	if err != nil || !strings.Contains(r.Text, "file:///srv/go-project") {
		t.Fatalf("roots: %v %+v", err, r)
	}
	// A Go roots handler for the service; the server asks again.
	if err := s.SetRootsHandler("everything", func(_ Request, reply *Reply) {
		_ = reply.Result(map[string]any{"roots": []Root{{URI: "file:///srv/from-go"}}})
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err = s.CallTool("get-roots-list", nil)
		if err == nil && strings.Contains(r.Text, "file:///srv/from-go") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roots from the Go handler: %v %+v", err, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.UseAcceptDefaults(""); err != nil {
		t.Fatal(err)
	}
	r, err = s.CallTool("trigger-elicitation-request", nil)
	if err != nil || !strings.Contains(r.Text, "declined") || elicited.Load() != 1 {
		t.Fatalf("accept defaults (name has no default: declined): %v %+v", err, r)
	}

	// Events: through a queue and through the callback.
	q, err := s.NewEventQueue()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var logs atomic.Int32
	if err := s.OnEvent(func(e Event) {
		if e.Type == "log" {
			logs.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLogLevel("everything", "debug"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CallTool("toggle-simulated-logging", nil); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, q, "log")
	if e.Service != "everything" || e.Level == "" || !strings.Contains(e.JSON, `"data"`) {
		t.Fatalf("log event %+v", e)
	}
	for start := time.Now(); logs.Load() == 0 && time.Since(start) < 30*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	if logs.Load() == 0 {
		t.Fatal("the event callback saw no log event")
	}
	if err := s.OnEvent(nil); err != nil {
		t.Fatal(err)
	}
	_, _ = s.CallTool("toggle-simulated-logging", nil)

	// A subscription's updates arrive as events.
	uri := "demo://resource/dynamic/text/2"
	if svc, err := s.SubscribeResource("", uri); err != nil || svc != "everything" {
		t.Fatalf("subscribe: %q %v", svc, err)
	}
	if subs, err := s.Subscriptions("everything"); err != nil || len(subs) != 1 || subs[0] != uri {
		t.Fatalf("subscriptions: %v %v", err, subs)
	}
	if _, err := s.CallTool("toggle-subscriber-updates", nil); err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, q, "resource_updated"); e.URI != uri {
		t.Fatalf("update %+v", e)
	}
	_, _ = s.CallTool("toggle-subscriber-updates", nil)
	if err := s.UnsubscribeResource("", uri); err != nil {
		t.Fatal(err)
	}
	if q.Dropped() != 0 {
		t.Fatalf("dropped %d", q.Dropped())
	}

	// After Close the queue drains and then reports the store closed.
	_ = s.Close()
	for {
		_, err := q.Next(time.Second)
		if err == nil {
			continue
		}
		asError(t, err, StatusClosed)
		break
	}
	if err := s.SetSamplingHandler("", nil, false); err != ErrClosed {
		t.Fatalf("a handler set on a closed store: %v", err)
	}
}
